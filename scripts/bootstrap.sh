#!/usr/bin/env bash
# Set up everything the project needs, project-locally and idempotently:
#   node_modules/   the pinned EVM toolchain from package-lock.json: anvil and solc-js
#   .venv/          Python 3.11 with the pinned ezkl, the CPU build of torch, and pyproject.toml's deps
#   zkfl/contracts/compiled.json   zkFL's contracts compiled by the pinned solc-js (package data)
#   tools/ipfs/node_modules/   a pinned IPFS node (js-ipfs) for the IPFS store's tests and `make demo STORE=ipfs`
# The npm and pip parts are reinstalled only when their manifest changed since the last install.
# The toolchain comes first: building the zkfl package compiles its contracts with solc-js.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
quiet() { grep -v "^WARNING: Location" || true; }

js_stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$js_stamp" ]; then
    command -v npm >/dev/null 2>&1 || { echo "npm not found: install Node.js >= 18 (e.g. apt-get install nodejs npm)" >&2; exit 1; }
    # exact versions from the lockfile, into ./node_modules only (never global)
    npm ci --no-audit --no-fund --loglevel=error
    node_modules/.bin/anvil --version >/dev/null
    NODE_PATH=node_modules node zkfl/contracts/solc.js --version >/dev/null
    rm -f node_modules/.installed-*
    touch "$js_stamp"
fi

ipfs_stamp="tools/ipfs/node_modules/.installed-$(cat tools/ipfs/package.json tools/ipfs/package-lock.json | sha256sum | cut -c1-16)"
install_ipfs() {
    # js-ipfs (npm `ipfs`, archived but a full node with Kubo's RPC API) at the lockfile's versions, in
    # tools/ipfs/ only (minutes, once). `npm ci` refuses this lockfile (it lacks an optional native
    # dependency), so `npm install` from it, without optional packages or install scripts.
    (cd tools/ipfs && npm install --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error)
    tools/ipfs/node_modules/.bin/jsipfs --version >/dev/null
    rm -f tools/ipfs/node_modules/.installed-*
    touch "$ipfs_stamp"
}
ipfs_job=""
if [ ! -f "$ipfs_stamp" ]; then
    # downloads in the background while pip installs (both are mostly waiting on the registries)
    install_ipfs > .ipfs-install.log 2>&1 &
    ipfs_job=$!
fi

py_stamp=".venv/.installed-$(sha256sum pyproject.toml setup.py | sha256sum | cut -c1-16)"
if [ ! -f "$py_stamp" ]; then
    [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
    # torch is pinned to the CPU build (torch==2.13.0); an unpinned torch would pull GBs of CUDA wheels.
    .venv/bin/python -m pip install --quiet --upgrade "pip>=24" 2>&1 | quiet
    .venv/bin/python -m pip install --quiet -e ".[dev,examples]" 2>&1 | quiet
    .venv/bin/python -c "import zkfl, zkfl.circuits, ezkl, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
    rm -f .venv/.installed-*
    touch "$py_stamp"
fi

# an edited contract is recompiled here (a no-op while compiled.json matches the sources)
.venv/bin/python -m zkfl.evm.contracts >/dev/null

if [ -n "$ipfs_job" ]; then
    wait "$ipfs_job" || { cat .ipfs-install.log >&2; echo "installing the IPFS node failed (log above)" >&2; exit 1; }
    rm -f .ipfs-install.log
fi
