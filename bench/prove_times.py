"""Prove times of circuits exported by `bench/scale.py --export DIR`, with ezkl alone (no zkFL, no
torch): for a bigger machine that only has Python and the ezkl package.

    python bench/prove_times.py DIR [--repeats 3]     # JSON on stdout

Per circuit: key setup time, then `--repeats` proofs, each verified (a time counts only for a proof
that verified); the median is quoted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import ezkl


def time_circuit(directory: Path, srs: Path, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        if not ezkl.setup(str(directory / "circuit.ezkl"), str(work / "vk.key"), str(work / "pk.key"), str(srs)):
            raise RuntimeError(f"{directory.name}: setup failed")
        setup_seconds = time.perf_counter() - start
        ezkl.gen_witness(
            str(directory / "input.json"),
            str(directory / "circuit.ezkl"),
            str(work / "witness.json"),
            str(work / "vk.key"),
            str(srs),
        )
        seconds = []
        for i in range(repeats):
            proof = work / f"proof-{i}.json"
            start = time.perf_counter()
            ezkl.prove(
                str(work / "witness.json"), str(directory / "circuit.ezkl"), str(work / "pk.key"), str(proof), str(srs)
            )
            elapsed = time.perf_counter() - start
            if not ezkl.verify(str(proof), str(directory / "settings.json"), str(work / "vk.key"), str(srs)):
                raise RuntimeError(f"{directory.name}: proof {i} did not verify")
            seconds.append(elapsed)
        return {
            "circuit": directory.name,
            "setup_seconds": round(setup_seconds, 2),
            "prove_seconds": [round(s, 2) for s in seconds],
            "prove_median_seconds": round(statistics.median(seconds), 2),
            "pk_bytes": (work / "pk.key").stat().st_size,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = []
    for circuit in sorted(p for p in args.directory.iterdir() if (p / "circuit.ezkl").is_file()):
        logrows = json.loads((circuit / "settings.json").read_text())["run_args"]["logrows"]
        results.append(time_circuit(circuit, args.directory / f"k{logrows}.srs", args.repeats))
        print(f"[prove_times] {json.dumps(results[-1])}", file=sys.stderr, flush=True)
    print(
        json.dumps(
            {
                "cpus": os.cpu_count(),
                "ezkl": ezkl.__version__ if hasattr(ezkl, "__version__") else None,
                "circuits": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
