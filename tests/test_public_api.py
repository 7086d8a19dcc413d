"""`zkfl`'s public API: every exported name resolves to the object its module defines, importing
`zkfl` stays cheap, and what type checkers see matches what runs."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import zkfl


def test_every_exported_name_resolves_to_its_module_object() -> None:
    for name, module in zkfl._EXPORTS.items():
        assert getattr(zkfl, name) is getattr(importlib.import_module(module), name), name
    assert set(zkfl.__all__) == {"__version__", *zkfl._EXPORTS}


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        zkfl.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("zkfl.no_such_thing resolved")


def test_importing_zkfl_loads_neither_torch_nor_ezkl() -> None:
    code = "import sys, zkfl; print(sorted(m for m in ('torch', 'ezkl', 'onnx', 'web3') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_names_type_checkers_see_are_the_exported_names() -> None:
    tree = ast.parse(Path(zkfl.__file__).read_text())
    guarded = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    seen = {
        alias.name: node.module for node in guarded.body if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    assert seen == zkfl._EXPORTS
