#!/usr/bin/env bash
# Audit the example federation (`make demo`) the way an outsider would: from the chain's RPC URL,
# the coordinator address and the store only. Exits with `zkfl audit`'s code: 0 only if every
# check passes. Writes audit.json, audit.md and accuracy.png to runs/digits/reports/audit/.
set -euo pipefail
cd "$(dirname "$0")/.."
WS=runs/digits
ZKFL=.venv/bin/zkfl

# The example federation runs on the workspace's own anvil; start it (from its saved state) and
# read the public facts a third party would be given.
rpc_url=$($ZKFL devnet start -w "$WS" --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["rpc_url"])')
coordinator=$(.venv/bin/python -c 'import json; print(json.load(open("runs/digits/state/deployment.json"))["coordinator"])')
trap '$ZKFL devnet stop -w "$WS" >/dev/null' EXIT

# A fresh process with nothing but the chain, the address and the store (no workspace).
$ZKFL audit --rpc-url "$rpc_url" --coordinator "$coordinator" --store "$WS/store" \
    --eval "$WS/data/test.npz" --out "$WS/reports/audit" "$@"
