"""Where the EVM tools live: node, the pinned npm packages (anvil and solc-js) in a node_modules
directory, and zkFL's solc-js front end, which ships with the package (zkfl/contracts/solc.js).

The node_modules directory is $ZKFL_TOOLCHAIN_DIR/node_modules when that is set; otherwise the
nearest one holding the pinned packages, looking upward from the current directory and then from
the Python environment (a checkout's .venv sits beside the node_modules that `make setup` installs).
An installed zkFL never looks for them through its own location.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from importlib import resources
from pathlib import Path

from zkfl.atomic import write_atomic
from zkfl.errors import ConfigError

SOLC_VERSION = "0.8.20"
"""solc-js version pinned in package.json; also the version ezkl asks for."""

TOOLCHAIN_ENV = "ZKFL_TOOLCHAIN_DIR"
_MARKER = Path("node_modules") / "solc" / "package.json"


def toolchain_dir() -> Path:
    """The directory whose node_modules holds anvil and solc-js."""
    configured = os.environ.get(TOOLCHAIN_ENV)
    if configured:
        directory = Path(configured).expanduser().resolve()
        if not (directory / _MARKER).is_file():
            raise ConfigError(
                f"{TOOLCHAIN_ENV}={configured}, but {directory / _MARKER} is missing: run `npm ci` "
                "there with zkFL's package.json (or `make setup` in a zkFL checkout)"
            )
        return directory
    for start in (Path.cwd(), Path(sys.prefix)):
        for directory in (start.resolve(), *start.resolve().parents):
            if (directory / _MARKER).is_file():
                return directory
    raise ConfigError(
        "the EVM toolchain (anvil and solc-js from npm) was not found above the current directory or "
        f"the Python environment: run `make setup` in a zkFL checkout, or `npm ci` with zkFL's "
        f"package.json in a directory and set {TOOLCHAIN_ENV} to it"
    )


def node() -> str:
    found = shutil.which("node")
    if not found:
        raise ConfigError("node not found on PATH: install Node.js (>= 18), then run `make setup`")
    return found


def solc_script() -> Path:
    """zkFL's solc-js front end (package data). It needs the `solc` npm module: see `node_env`."""
    script = Path(str(resources.files("zkfl.contracts") / "solc.js"))
    if not script.is_file():
        raise ConfigError(f"zkFL's solc-js front end is missing at {script}: reinstall zkfl")
    return script


def node_env() -> dict[str, str]:
    """The environment in which node resolves `require("solc")` from the toolchain's node_modules."""
    return {**os.environ, "NODE_PATH": str(toolchain_dir() / "node_modules")}


def solc_command() -> list[str]:
    """argv of a native-solc-compatible compiler (run it with `node_env()`)."""
    return [node(), str(solc_script())]


def anvil_binary() -> Path:
    """The platform's anvil executable itself (not npm's node launcher, so that the PID we
    signal is anvil's and it dumps its --state file when stopped)."""
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), ""
    )
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
    node_path = node_env()["NODE_PATH"]
    body = f'#!/bin/sh\nNODE_PATH="{node_path}" exec "{node()}" "{solc_script()}" "$@"\n'
    if not shim.is_file() or shim.read_text() != body:
        write_atomic(shim, body, mode=0o755)
    return home
