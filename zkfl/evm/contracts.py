"""zkFL's own contracts (the coordinator, the verifier interface, the reusable-verifier adapter) in
their compiled form: ABI and bytecode, shipped as package data in zkfl/contracts/compiled.json.

Building the package compiles them (setup.py runs `python -m zkfl.evm.contracts`, and so does
`make setup` for a checkout), so an installed zkFL calls, deploys and audits a coordinator without
a Solidity compiler. The file records the SHA-256 of the sources it came from, and a compiled file
that no longer matches the shipped sources is refused rather than used.

    python -m zkfl.evm.contracts     # (re)compile zkfl/contracts/*.sol into compiled.json
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path

from zkfl.atomic import write_atomic
from zkfl.errors import ConfigError
from zkfl.evm.solidity import EVM_VERSION, OPTIMIZER_RUNS, ContractArtifact, compile_sources
from zkfl.evm.toolchain import SOLC_VERSION

SOURCES = (
    "Commitments.sol",
    "Coordinator.sol",
    "Disputes.sol",
    "ICoordinator.sol",
    "IHalo2Verifier.sol",
    "PullPayments.sol",
    "ReusableVerifierAdapter.sol",
    "SlotBitmap.sol",
)
COMPILED = "compiled.json"


def _package_dir() -> Path:
    return Path(str(resources.files("zkfl.contracts")))


def contract_sources() -> dict[str, str]:
    """{file name: Solidity source} of zkFL's contracts, as shipped."""
    return {name: (_package_dir() / name).read_text() for name in SOURCES}


def sources_digest(sources: dict[str, str]) -> str:
    payload = json.dumps(
        {"solc": SOLC_VERSION, "evm": EVM_VERSION, "runs": OPTIMIZER_RUNS, "sources": sources}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def build_contracts(directory: Path | None = None) -> Path:
    """Compile the shipped sources with the pinned solc-js into `compiled.json` (atomically); a
    file already up to date is kept."""
    directory = directory or _package_dir()
    sources = contract_sources()
    digest = sources_digest(sources)
    target = directory / COMPILED
    if target.is_file() and json.loads(target.read_text()).get("sources_sha256") == digest:
        return target
    artifacts = compile_sources(sources)
    body = {
        "sources_sha256": digest,
        "solc": SOLC_VERSION,
        "contracts": {
            name: {"abi": a.abi, "bytecode": a.bytecode, "deployed_bytecode": a.deployed_bytecode}
            for name, a in sorted(artifacts.items())
        },
    }
    write_atomic(target, json.dumps(body, indent=1, sort_keys=True), mode=0o644)  # package data: world-readable
    return target


@cache
def _compiled() -> dict[str, ContractArtifact]:
    path = _package_dir() / COMPILED
    if not path.is_file():
        raise ConfigError(
            f"zkFL's compiled contracts are missing ({path}): run `make setup` in a checkout, or "
            "`python -m zkfl.evm.contracts` (needs Node.js and the npm toolchain)"
        )
    body = json.loads(path.read_text())
    if body.get("sources_sha256") != sources_digest(contract_sources()):
        raise ConfigError(
            f"{path} was compiled from other sources than the shipped zkfl/contracts/*.sol: "
            "run `make setup` (or `python -m zkfl.evm.contracts`) to recompile"
        )
    return {
        name: ContractArtifact(name, c["abi"], c["bytecode"], c["deployed_bytecode"])
        for name, c in body["contracts"].items()
    }


def project_artifact(name: str) -> ContractArtifact:
    """The compiled ABI and bytecode of one of zkFL's contracts (e.g. "Coordinator")."""
    artifacts = _compiled()
    if name not in artifacts:
        raise ConfigError(f"no contract {name!r} among zkFL's compiled contracts ({', '.join(sorted(artifacts))})")
    return artifacts[name]


if __name__ == "__main__":
    print(build_contracts())
