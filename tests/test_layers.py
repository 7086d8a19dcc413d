"""The package's folders are its layers: a module imports only from its own layer or below."""

from __future__ import annotations

import ast
from pathlib import Path

import zkfl

PACKAGE = Path(zkfl.__file__).parent

LAYERS: tuple[tuple[str, ...], ...] = (
    ("zkfl.errors", "zkfl.atomic", "zkfl.fixedpoint", "zkfl.fedavg", "zkfl.charts", "zkfl.lazy"),  # pure
    ("zkfl.circuits",),  # what is proven: torch modules, no ezkl
    ("zkfl.data", "zkfl.store", "zkfl.zk"),  # data, storage, the prover and commitments
    ("zkfl.evm", "zkfl.protocol", "zkfl.privacy"),  # Solidity builds; the protocol's rules; secure aggregation
    ("zkfl.federation",),  # a federation's terms and manifest
    ("zkfl.chain",),  # reaching a chain; the coordinator binding
    ("zkfl.verification",),  # checking proofs and rounds
    ("zkfl.roles",),  # client, aggregator, responder, watchtower
    ("zkfl.audit", "zkfl.pipeline"),  # the auditor; the API behind the CLI
    ("zkfl.flower",),  # integrations
    ("zkfl.cli",),  # the shell
)
"""Bottom to top. `zkfl/__init__.py` (the public API) and `zkfl.contracts` (Solidity sources) sit
outside the layers."""


def layer_of(module: str) -> int | None:
    for rank, names in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in names):
            return rank
    return None


def imported_modules(path: Path) -> set[str]:
    """Every zkfl module the file imports, including imports inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "zkfl" or name.startswith("zkfl.")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_module_belongs_to_a_layer() -> None:
    outside = {"zkfl", "zkfl.contracts"}
    unplaced = sorted(
        name for path in PACKAGE.rglob("*.py") if (name := module_name(path)) not in outside and layer_of(name) is None
    )
    assert not unplaced, f"modules in no layer (add them to LAYERS): {unplaced}"


def test_no_import_runs_up_a_layer() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        rank = layer_of(importer)
        if rank is None:
            continue
        for imported in sorted(imported_modules(path)):
            target = layer_of(imported)
            if target is not None and target > rank:
                upward.append(f"{importer} (layer {rank}) imports {imported} (layer {target})")
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)
