"""zkFL as an installed package, not a checkout: the wheel holds every subpackage and the files the
library reads at run time, and a non-editable install in a fresh virtualenv runs commands that need
`zkfl.chain` and `zkfl.evm` (a devnet, a deployment, the shipped Solidity and its compiled form).
The virtualenv borrows this environment's third-party packages through a .pth file, which adds
their directory but not the editable install of this checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import init_options, use_session_cache

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.prover


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path
    zkfl: Path
    env: dict[str, str]
    cwd: Path

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args], capture_output=True, text=True, cwd=self.cwd, env=self.env, timeout=600, check=False
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("package")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(root / "dist"),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (root / "dist").glob("zkfl-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    clean = {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH"
    }  # else pip may see this checkout's zkfl as installed
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = root / "elsewhere"  # not the checkout: nothing may be found through the repository path
    work.mkdir()
    env = {**os.environ, "ZKFL_TOOLCHAIN_DIR": str(REPO), "PYTHONPATH": ""}
    yield Installed(wheel, python, venv / "bin" / "zkfl", env, work)


def test_the_wheel_holds_every_package_and_the_files_read_at_run_time(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for package in (
        "zkfl",
        "zkfl/audit",
        "zkfl/chain",
        "zkfl/circuits",
        "zkfl/cli",
        "zkfl/contracts",
        "zkfl/evm",
        "zkfl/flower",
        "zkfl/pipeline",
        "zkfl/verification",
    ):
        assert f"{package}/__init__.py" in names, package
    for data in (
        "Coordinator.sol",
        "ICoordinator.sol",
        "Commitments.sol",
        "Disputes.sol",
        "PullPayments.sol",
        "SlotBitmap.sol",
        "IHalo2Verifier.sol",
        "ReusableVerifierAdapter.sol",
        "solc.js",
        "compiled.json",
    ):
        assert f"zkfl/contracts/{data}" in names, data
    assert not any(name.startswith(("tests/", "bench/", "examples/")) for name in names)


def test_the_installed_package_is_imported_from_the_virtualenv(installed: Installed) -> None:
    done = installed.run(
        installed.python,
        "-c",
        "import zkfl, zkfl.audit, zkfl.chain.deploy, zkfl.evm.contracts, "
        "zkfl.flower, zkfl.pipeline.join, zkfl.pipeline.executors, zkfl.verification.round_checker, "
        "zkfl.roles.watchtower; "
        "print(zkfl.__file__); print(zkfl.flower.__file__)",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for module in done.stdout.split():
        assert Path(module).is_relative_to(installed.python.parents[1]), module


def test_the_installed_cli_deploys_and_reads_a_federation(
    installed: Installed, cache_dir: Path, logreg_circuits
) -> None:
    workspace = installed.cwd / "fed"
    created = installed.run(
        installed.zkfl,
        "init",
        workspace,
        *init_options(),
        "--json",
    )
    assert created.returncode == 0, created.stderr[-2000:]
    use_session_cache(workspace, cache_dir)
    try:
        setup = installed.run(installed.zkfl, "setup", "-w", workspace, "--json")
        assert setup.returncode == 0, setup.stderr[-3000:]
        status = installed.run(installed.zkfl, "status", "-w", workspace, "--json")
        assert status.returncode == 0, status.stderr[-3000:]
        assert json.loads(status.stdout)["coordinator"] == json.loads(setup.stdout)["coordinator"]
        assert json.loads(status.stdout)["current_round"] == 0
    finally:
        installed.run(installed.zkfl, "devnet", "stop", "-w", workspace)


def test_the_installed_solidity_front_end_compiles_with_the_toolchain(installed: Installed) -> None:
    code = (
        "from zkfl.evm.solidity import compile_sources; "
        "print(compile_sources({'A.sol': 'pragma solidity ^0.8.20; contract A { uint256 public x; }'})['A'].abi)"
    )
    done = installed.run(installed.python, "-c", code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'name': 'x'" in done.stdout
