"""Where the project-local EVM tools live: node, solc-js and anvil, installed by
`scripts/bootstrap.sh` from the pinned package.json into the repository's node_modules."""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

from zkfl.atomic import write_atomic
from zkfl.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = REPO_ROOT / "contracts"
SOLC_VERSION = "0.8.20"
"""solc-js version pinned in package.json; also the version ezkl asks for."""


def toolchain_dir() -> Path:
    """The directory holding node_modules (override with ZKFL_TOOLCHAIN_DIR)."""
    return Path(os.environ.get("ZKFL_TOOLCHAIN_DIR", REPO_ROOT)).resolve()


def node() -> str:
    found = shutil.which("node")
    if not found:
        raise ConfigError("node not found on PATH: install Node.js (>= 18), then run `make setup`")
    return found


def solc_script() -> Path:
    """The solc-js front end (contracts/tools/solc.js), checked to have its `solc` module."""
    script = CONTRACTS_DIR / "tools" / "solc.js"
    module = toolchain_dir() / "node_modules" / "solc" / "package.json"
    if not module.is_file():
        raise ConfigError(f"solc-js is not installed ({module} missing): run `make setup`")
    return script


def anvil_binary() -> Path:
    """The platform's anvil executable itself (not npm's node launcher, so that the PID we
    signal is anvil's and it dumps its --state file when stopped)."""
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower(), "")
    package = f"anvil-{platform.system().lower()}-{arch}"
    binary = toolchain_dir() / "node_modules" / "@foundry-rs" / package / "bin" / "anvil"
    if not binary.is_file():
        raise ConfigError(f"anvil is not installed ({binary} missing): run `make setup`")
    return binary


def ezkl_solc_home(cache_dir: Path) -> Path:
    """A private $HOME in which ezkl finds 'solc-0.8.20' where it looks (~/.svm/0.8.20/): a shim
    running solc-js, so ezkl's verifier generation never tries to download a compiler."""
    home = cache_dir / "ezkl-home"
    shim = home / ".svm" / SOLC_VERSION / f"solc-{SOLC_VERSION}"
    body = f'#!/bin/sh\nexec "{node()}" "{solc_script()}" "$@"\n'
    if not shim.is_file() or shim.read_text() != body:
        write_atomic(shim, body, mode=0o755)
    return home
