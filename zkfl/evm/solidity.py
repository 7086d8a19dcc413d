"""Compile Solidity with solc-js's standard-JSON `compile()`: optimizer on with few runs (small
bytecode), viaIR off (ezkl's verifiers hit "stack too deep" under viaIR), a pinned EVM version.
Outputs are cached by the SHA-256 of the full compiler input."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfl.atomic import write_atomic
from zkfl.errors import ConfigError
from zkfl.evm.toolchain import SOLC_VERSION, node_env, solc_command

EVM_VERSION = "shanghai"
OPTIMIZER_RUNS = 1
MAX_RUNTIME_BYTES = 24_576
"""EIP-170: the largest deployable contract runtime."""


@dataclass(frozen=True)
class ContractArtifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # creation code, 0x-hex
    deployed_bytecode: str  # runtime code, 0x-hex

    @property
    def runtime_size(self) -> int:
        return (len(self.deployed_bytecode) - 2) // 2

    @classmethod
    def from_output(cls, name: str, body: dict[str, Any]) -> ContractArtifact:
        """One contract of solc's standard-JSON output."""
        return cls(
            name,
            body["abi"],
            "0x" + body["evm"]["bytecode"]["object"],
            "0x" + body["evm"]["deployedBytecode"]["object"],
        )


def compiler_input(sources: Mapping[str, str]) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "viaIR": False,
            "evmVersion": EVM_VERSION,
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
        },
    }


def compile_sources(
    sources: Mapping[str, str], cache_dir: str | os.PathLike[str] | None = None
) -> dict[str, ContractArtifact]:
    """Compile `{file name: source}`; returns every contract by name, with the output cached under
    `cache_dir` by the SHA-256 of the compiler input. Raises ConfigError with the compiler's
    messages when compilation fails."""
    payload = json.dumps(compiler_input(sources), sort_keys=True)
    key = hashlib.sha256(f"solc-js {SOLC_VERSION}\n{payload}".encode()).hexdigest()
    cached = Path(cache_dir) / "solc" / f"{key}.json" if cache_dir is not None else None
    if cached is not None and cached.is_file():
        output = json.loads(cached.read_text())
    else:
        output = _run_solc(payload)
        if cached is not None:
            write_atomic(cached, json.dumps(output))
    return {
        name: ContractArtifact.from_output(name, body)
        for contracts in output.get("contracts", {}).values()
        for name, body in contracts.items()
    }


def compile_files(paths: list[Path], cache_dir: str | os.PathLike[str]) -> dict[str, ContractArtifact]:
    """Compile .sol files; imports are resolved among the given files by their base names."""
    return compile_sources({p.name: p.read_text() for p in paths}, cache_dir)


def check_deployable(artifact: ContractArtifact) -> None:
    if artifact.runtime_size > MAX_RUNTIME_BYTES:
        raise ConfigError(
            f"contract {artifact.name} is {artifact.runtime_size} bytes of runtime code, over the "
            f"{MAX_RUNTIME_BYTES}-byte limit (EIP-170); it cannot be deployed"
        )


def _run_solc(payload: str) -> dict[str, Any]:
    proc = subprocess.run(
        [*solc_command(), "--standard-json"], input=payload, capture_output=True, text=True, env=node_env(), timeout=900
    )
    if proc.returncode != 0:
        raise ConfigError(f"solc-js failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    output = json.loads(proc.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise ConfigError(
            "Solidity compilation failed:\n" + "\n".join(e.get("formattedMessage", e["message"]) for e in errors)
        )
    return output
