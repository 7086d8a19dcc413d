"""Today's FedAvg before the chain summed the commitments: the K-input circuit, proven over given
updates. Run by `bench/scale.py --before DIR`, with DIR first on PYTHONPATH so that `import zkfl`
is that checkout's: the commit before this design (b6eac07), or any commit whose
`zkfl.zk.build.build_circuits(spec, slots, cache)` builds a K-input FedAvg:

    PYTHONPATH=DIR python bench/fedavg_before.py UPDATES.npy CACHE REPEATS

UPDATES.npy holds the K update vectors at scale 12, weights then a count; before, the last element
was the client's sample count, so it is set to the digits batch. Prints one JSON line: rows,
logrows, key sizes, prove seconds (each proof verified before it is written), peak RSS.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import zkfl
from zkfl.circuits import LogisticRegression, TrainingStepSpec
from zkfl.zk.build import build_circuits
from zkfl.zk.prover import prove

DIGITS = TrainingStepSpec(LogisticRegression(64, 10), batch_size=16, local_steps=1, learning_rate=1.5)


def main() -> None:
    updates_path, cache, repeats = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    updates = np.load(updates_path)
    updates[:, -1] = DIGITS.sample_count * 4096  # before: the sample count, not 1
    circuits = build_circuits(DIGITS, len(updates), cache)
    keys = circuits.aggregator
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            start = time.perf_counter()
            prove(keys, list(updates), Path(tmp) / f"proof-{i}.json")
            seconds.append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "zkfl_from": str(Path(zkfl.__file__).parent.parent),
                "inputs": len(updates),
                "rows": keys.circuit.num_rows,
                "logrows": keys.circuit.logrows,
                "pk_bytes": keys.pk_path.stat().st_size,
                "vk_bytes": keys.vk_path.stat().st_size,
                "prove_seconds": [round(s, 2) for s in seconds],
                "prove_median_seconds": round(statistics.median(seconds), 2),
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
