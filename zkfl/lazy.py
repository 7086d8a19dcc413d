"""Names a package exports lazily (PEP 562): each is imported from its module on first use, then
kept in the package's namespace, so importing the package loads none of the heavy libraries
(torch, onnx, ezkl, web3) behind its names."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(namespace: dict[str, Any], exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `namespace` (the package's `globals()`): `exports` maps each
    name to the module that defines it."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups skip __getattr__
        return value

    return __getattr__
