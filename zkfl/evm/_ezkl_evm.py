"""Run one of ezkl's async EVM calls in a throwaway process: they can crash the Python
interpreter at exit, so the caller runs this as a subprocess and checks the files it wrote.

    python -m zkfl.evm._ezkl_evm verifier VK SETTINGS SOL ABI SRS [--reusable]
    python -m zkfl.evm._ezkl_evm vka VK SETTINGS VKA SRS
"""

from __future__ import annotations

import asyncio
import sys

import ezkl


async def _main(argv: list[str]) -> object:
    if argv[0] == "verifier":
        vk, settings, sol, abi, srs = argv[1:6]
        return await ezkl.create_evm_verifier(vk, settings, sol, abi, srs, "--reusable" in argv)
    if argv[0] == "vka":
        vk, settings, vka, srs = argv[1:5]
        return await ezkl.create_evm_vka(vk, settings, vka, srs)
    raise SystemExit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    print(asyncio.run(_main(sys.argv[1:])), flush=True)
