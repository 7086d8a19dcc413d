#!/usr/bin/env bash
# The digits federation on Flower's deployment runtime, as it runs across machines, here as
# separate processes on one machine:
#   1. the server's workspace is set up (devnet, circuits, keys, verifiers, coordinator);
#   2. each of 4 clients joins from the chain and the store alone (`zkfl join`: its own workspace,
#      circuits and keys built locally and checked against the coordinator's circuits digest);
#   3. a SuperLink and 4 SuperNodes start, each SuperNode with its own workspace, data file and
#      account key (ZKFL_CLIENT_KEY);
#   4. `flwr run` runs the app against the SuperLink; the ServerApp proves and finalizes each round.
#   5. a third party's audit of the whole run, from the chain and the store alone (`zkfl audit`).
# Everything lives under runs/flower-deployment (ZKFL_DEPLOYMENT_ROOT); every process started here
# is stopped at the end. ZKFL_CLIENTS (default 4) sets the number of clients, ZKFL_RUN_CONFIG adds
# run-config overrides ("batch-size=2"), ZKFL_SUPERLINK_PORT the SuperLink's port (the SuperNodes
# take the next ones), PROVER_THREADS each prover's threads (default 1).
#
#   scripts/flower-deployment.sh [ROUNDS] [--restart-node I]
#
# --restart-node I is the fault drill: SuperNode I is killed (with its ClientApp) while it proves
# the second round, and started again with the same workspace, data and key. The second round
# finalizes without it after the deadline (or with it, when its update reached the chain before the
# kill); from the third round on it takes part again, resuming from its workspace.
#
# Across machines: start the SuperLink with --host 0.0.0.0, give each SuperNode --superlink
# <link-host>:<port>, make the chain's RPC URL and the store (an IPFS API, `--store http://...`)
# reachable from the clients, and give each client its own key.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-10}"
RESTART_NODE=""
if [ "${2:-}" = "--restart-node" ]; then RESTART_NODE="${3:?--restart-node needs a node index}"; fi
CLIENTS="${ZKFL_CLIENTS:-4}"
ROOT="$(realpath -m "${ZKFL_DEPLOYMENT_ROOT:-runs/flower-deployment}")"
LINK_PORT="${ZKFL_SUPERLINK_PORT:-39191}"
export PATH="$PWD/.venv/bin:$PATH"
export FLWR_HOME="$ROOT/flwr-home" FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1
export FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1  # the app runs in this checkout's .venv
mkdir -p "$ROOT/logs" "$FLWR_HOME"
rm -f "$ROOT"/pids/*
# Each SuperLink and SuperNode runs in its own process group (setsid), recorded in $ROOT/pids, so
# that a SuperNode stops with its ClientApps and provers, and everything stops at the end.
mkdir -p "$ROOT/pids"
stop_group() { [ -f "$ROOT/pids/$1" ] && kill -- "-$(cat "$ROOT/pids/$1")" 2>/dev/null || true; }
cleanup() {
    [ -n "${DRILL:-}" ] && kill "$DRILL" 2>/dev/null || true
    for f in "$ROOT"/pids/*; do [ -f "$f" ] && stop_group "$(basename "$f")"; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

RUN_CONFIG="workspace='$ROOT/server' num-server-rounds=$ROUNDS clients=$CLIENTS prover-threads=${PROVER_THREADS:-1} ${ZKFL_RUN_CONFIG:-}"
echo "== setting up the federation (server workspace $ROOT/server)"
python - "$RUN_CONFIG" <<'PY'
import sys, tomllib
from pathlib import Path
from flwr.common.config import parse_config_args
sys.path.insert(0, "examples/flower-digits")
from flower_digits.server_app import prepare_federation
config = tomllib.loads(Path("examples/flower-digits/pyproject.toml").read_text())["tool"]["flwr"]["app"]["config"]
prepare_federation({**config, **parse_config_args([sys.argv[1]])})  # the run config `flwr run` will pass
PY
RPC_URL=$(python -c "from zkfl.pipeline.workspace import Workspace; print(Workspace.open('$ROOT/server').chain.rpc_url)")
COORDINATOR=$(python -c "from zkfl.pipeline.workspace import Workspace; print(Workspace.open('$ROOT/server').deployment()['coordinator'])")

JOINS=()  # the clients join at once, as they would on their own machines
for i in $(seq 0 $((CLIENTS - 1))); do
    echo "== client $i joins $COORDINATOR on $RPC_URL"
    zkfl join "$ROOT/client-$i" --rpc-url "$RPC_URL" --coordinator "$COORDINATOR" --store "$ROOT/server/store" --json \
        > "$ROOT/logs/join-$i.json" 2> "$ROOT/logs/join-$i.log" &
    JOINS+=($!)
done
for i in $(seq 0 $((CLIENTS - 1))); do
    wait "${JOINS[$i]}" || { echo "FAILED: client $i could not join (see $ROOT/logs/join-$i.log)" >&2; exit 1; }
    mkdir -p "$ROOT/client-$i/data"
    cp "$ROOT/server/data/client-$i.npz" "$ROOT/client-$i/data/"  # stands for the data the client brings
done

echo "== SuperLink on 127.0.0.1:$LINK_PORT and $CLIENTS SuperNodes"
setsid flower-superlink --insecure --port "$LINK_PORT" > "$ROOT/logs/superlink.log" 2>&1 &
echo $! > "$ROOT/pids/superlink"
sleep 3
start_supernode() {  # its own process group, so that the drill can kill it with its ClientApp
    local i=$1 key
    # devnet account 2 + i: the key this client registers and submits with
    key=$(python -c "from zkfl.pipeline.workspace import Workspace; print(Workspace.open('$ROOT/server').signer('client', $i).key.hex())")
    ZKFL_CLIENT_KEY="0x${key#0x}" setsid flower-supernode --insecure --superlink "127.0.0.1:$LINK_PORT" \
        --port $((LINK_PORT + 10 + i)) \
        --node-config "partition-id=$i workspace='$ROOT/client-$i' data-file='$ROOT/client-$i/data/client-$i.npz'" \
        >> "$ROOT/logs/supernode-$i.log" 2>&1 &
    echo $! > "$ROOT/pids/supernode-$i"
}
for i in $(seq 0 $((CLIENTS - 1))); do start_supernode "$i"; done
if [ -n "$RESTART_NODE" ]; then
    (   # once round 1 (the second) is open and node $RESTART_NODE proves it, kill the node; start it again
        python - "$ROOT/client-$RESTART_NODE" "$RESTART_NODE" <<'PY'
import sys, time
from pathlib import Path
from zkfl.pipeline.workspace import Workspace
ws = Workspace.open(sys.argv[1])
proofs = ws.client_dir(f"client-{sys.argv[2]}") / "proofs"
while ws.coordinator().current_round < 1 or not any(p.is_dir() for p in proofs.glob("tmp*")):
    time.sleep(1)  # a temporary directory there: the proof of round 1 is under way
PY
        sleep 5
        echo "== drill: killing SuperNode $RESTART_NODE mid-proof, then starting it again"
        stop_group "supernode-$RESTART_NODE"
        sleep 5
        start_supernode "$RESTART_NODE"
    ) &
    DRILL=$!
fi
python - "$FLWR_HOME/config.toml" "$LINK_PORT" <<'PY'
import sys
from pathlib import Path
path, port = Path(sys.argv[1]), sys.argv[2]
text = path.read_text() if path.is_file() else '[superlink]\ndefault = "local"\n\n[superlink.local]\naddress = ":local:"\n'
if "[superlink.zkfl-deployment]" not in text:
    text += f'\n[superlink.zkfl-deployment]\naddress = "127.0.0.1:{port}"\ninsecure = true\n'
path.write_text(text)
PY
echo "== flwr run (logs: $ROOT/logs)"
flwr run examples/flower-digits zkfl-deployment --stream --run-config "$RUN_CONFIG"
cat "$ROOT/server/reports/flower.json"
FINALIZED=$(python -c "from zkfl.pipeline.workspace import Workspace; print(Workspace.open('$ROOT/server').coordinator().current_round)")
echo "== audit of the run from the chain and the store alone"
AUDIT=ok
zkfl audit --rpc-url "$RPC_URL" --coordinator "$COORDINATOR" --store "$ROOT/server/store" --out "$ROOT/audit" \
    > "$ROOT/logs/audit.log" 2>&1 || AUDIT="FAILED (see $ROOT/logs/audit.log)"
echo "audit: $AUDIT"
zkfl devnet stop -w "$ROOT/server" > /dev/null
[ "$AUDIT" = ok ] || exit 1
if [ "$FINALIZED" -lt "$ROUNDS" ]; then
    echo "FAILED: $FINALIZED of $ROUNDS rounds finalized on-chain; see $ROOT/logs and the dropped replies above" >&2
    exit 1
fi
echo "OK: $FINALIZED rounds finalized on-chain (summary: $ROOT/server/reports/flower.json)"
