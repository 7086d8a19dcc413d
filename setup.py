"""Packaging metadata lives in pyproject.toml. This file adds one build step: compiling zkFL's own
Solidity contracts (zkfl/contracts/*.sol) with the pinned solc-js into zkfl/contracts/compiled.json,
which ships as package data, so an installed zkfl needs no Solidity compiler to call, deploy or
audit a coordinator. It needs Node.js and the npm toolchain (`npm ci`, or `make setup`)."""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithContracts(build_py):
    def run(self) -> None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))  # this source tree's zkfl (stdlib-only imports)
        from zkfl.evm.contracts import build_contracts

        build_contracts()
        super().run()


setup(cmdclass={"build_py": BuildPyWithContracts})
