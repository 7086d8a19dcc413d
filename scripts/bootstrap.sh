#!/usr/bin/env bash
# Set up everything the project needs, project-locally and idempotently:
#   .venv/          Python 3.11 with the pinned ezkl, the CPU build of torch, and pyproject.toml's deps
#   node_modules/   the pinned EVM toolchain from package-lock.json: anvil and solc-js
# Each part is reinstalled only when its manifest changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
quiet() { grep -v "^WARNING: Location" || true; }

py_stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$py_stamp" ]; then
    [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
    # torch is pinned to the CPU build (torch==2.13.0); an unpinned torch would pull GBs of CUDA wheels.
    .venv/bin/python -m pip install --quiet --upgrade "pip>=24" 2>&1 | quiet
    .venv/bin/python -m pip install --quiet -e ".[dev,examples]" 2>&1 | quiet
    .venv/bin/python -c "import zkfl, zkfl.circuits, ezkl, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
    rm -f .venv/.installed-*
    touch "$py_stamp"
fi

js_stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$js_stamp" ]; then
    command -v npm >/dev/null 2>&1 || { echo "npm not found: install Node.js >= 18 (e.g. apt-get install nodejs npm)" >&2; exit 1; }
    # exact versions from the lockfile, into ./node_modules only (never global)
    npm ci --no-audit --no-fund --loglevel=error
    node_modules/.bin/anvil --version >/dev/null
    node contracts/tools/solc.js --version >/dev/null
    rm -f node_modules/.installed-*
    touch "$js_stamp"
fi
