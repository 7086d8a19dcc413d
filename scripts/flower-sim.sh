#!/usr/bin/env bash
# The digits federation as a Flower app on Flower's simulation engine (Ray): `flwr run` starts a
# local SuperLink in simulation mode, which runs the ServerApp (ZkFedAvg) and one ClientApp per
# SuperNode on Ray workers. Every client proof and every aggregation is real; the workspace, its
# devnet and store are under runs/flower-digits.
#
#   scripts/flower-sim.sh [ROUNDS] [CPUS_PER_CLIENT]
#
# CPUS_PER_CLIENT (default 1) is both Ray's CPU reservation per ClientApp and the prover's thread
# count, so that two provers never share a core: Ray runs floor(cores / CPUS_PER_CLIENT) clients at
# once. On a Ray cluster, export RAY_ADDRESS=<head>:6379 before running this script: the
# simulation then schedules its ClientApps on the cluster's nodes. ZKFL_WORKSPACE (default
# runs/flower-digits) names another workspace directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-10}"
CPUS="${2:-1}"
WORKSPACE="$(realpath -m "${ZKFL_WORKSPACE:-runs/flower-digits}")"
export PATH="$PWD/.venv/bin:$PATH"
export FLWR_HOME="$PWD/runs/flower-home" FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1
# the app's dependencies are this checkout's .venv: no `uv sync` from a package index at run time
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1
export FLWR_LOCAL_SUPERLINK_HTTP_API_PORT="${FLWR_LOCAL_SUPERLINK_HTTP_API_PORT:-39091}"
mkdir -p "$FLWR_HOME"
stop() {  # `flwr run` leaves its local simulation SuperLink running; the devnet is stopped, its state kept
    pkill -f "flower-superlink.*--port $FLWR_LOCAL_SUPERLINK_HTTP_API_PORT" 2>/dev/null || true
    [ -f "$WORKSPACE/zkfl.toml" ] && zkfl devnet stop -w "$WORKSPACE" >/dev/null 2>&1 || true
}
trap stop EXIT
flwr run examples/flower-digits --stream \
    --federation-config "num-supernodes=4 client-resources-num-cpus=$CPUS" \
    --run-config "workspace='$WORKSPACE' num-server-rounds=$ROUNDS prover-threads=$CPUS"
cat "$WORKSPACE/reports/flower.json"
