"""Where a round's client proofs run in `zkfl run`: one after another in this process
(`SerialExecutor`), or in parallel as Ray tasks on a local Ray or the cluster at RAY_ADDRESS
(`RayExecutor`), each task reserving the CPUs its prover uses and its proving key's memory, so Ray
never packs more proofs onto a node than it holds. (FedAvg is one proof over the sum, whatever the
number of clients: it runs where the aggregator is.)

A job is a client's whole prove step (`prove_update`), run here; only its proving call goes to the
executor's `Prover`. A Ray task reads the keys' files from the paths of the workspace's build, so
on a cluster every node must see that directory at the same path (a shared filesystem, or the same
build made on each node). A task returns the proof's bytes; this process writes them into the
workspace, which stays the source of truth.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from zkfl.atomic import write_atomic
from zkfl.errors import ConfigError
from zkfl.zk.prover import CircuitKeys, Proof
from zkfl.zk.prover_process import IN_PROCESS, Prover

T = TypeVar("T")

PROVER_MEMORY_PER_PK_BYTE = 4
"""A proof's peak memory, in bytes per byte of its proving key, plus PROVER_MEMORY_BASE (measured by
bench/scale.py: see docs/benchmarks.md)."""
PROVER_MEMORY_BASE = 512 * 2**20

Job = Callable[[Prover], T]
"""A client's prove step, given the prover its proving call runs on."""


class ProofExecutor(Protocol):
    def run(self, jobs: Sequence[Job[T]]) -> list[T | Exception]:
        """Run every job; each one's result, or the error it raised, in the jobs' order."""
        ...


class SerialExecutor:
    """Every client's proof in this process, one after another."""

    def run(self, jobs: Sequence[Job[T]]) -> list[T | Exception]:
        results: list[T | Exception] = []
        for job in jobs:
            try:
                results.append(job(IN_PROCESS))
            except Exception as exc:  # the caller decides per client (a client without a batch sits out)
                results.append(exc)
        return results


def proof_resources(keys: CircuitKeys, cpus: int) -> dict[str, float]:
    """What one proof reserves on a Ray node: `cpus` CPUs and the memory its proving key needs."""
    pk_bytes = keys.pk_path.stat().st_size
    return {"num_cpus": cpus, "memory": PROVER_MEMORY_PER_PK_BYTE * pk_bytes + PROVER_MEMORY_BASE}


def _prove_in_task(fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> tuple[Any, bytes]:
    """A Ray task: prove into a temporary file on whatever node it runs; return the result and the
    proof file's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        result = fn(*args, path)
        return result, path.read_bytes()


@dataclass
class RayProver:
    """A `Prover` whose calls run as Ray tasks of `cpus` CPUs (the prover's threads); a task whose
    worker dies is retried `max_retries` times, an error in the proof itself (bad input) is not."""

    cpus: int = 1
    max_retries: int = 2

    def prove_to(self, path: Path, fn: Callable[..., T], *args: Any) -> T:
        import ray

        keys = next((a for a in args if isinstance(a, CircuitKeys)), None)
        if keys is None:
            raise ConfigError("a Ray proof needs the circuit's keys among its arguments")
        task = ray.remote(_prove_in_task).options(
            max_retries=self.max_retries,
            retry_exceptions=False,
            runtime_env={"env_vars": {"RAYON_NUM_THREADS": str(self.cpus)}},
            **proof_resources(keys, self.cpus),
        )
        result, proof_file = ray.get(task.remote(fn, args, Path(path).name))
        write_atomic(Path(path), proof_file)
        return replace(result, proof=Proof.load(Path(path)))


@dataclass
class RayExecutor:
    """Every client's proof as a Ray task at once (each reserving `cpus_per_client` CPUs and its
    proving key's memory); `address`: a Ray cluster (default RAY_ADDRESS; neither: a local Ray of
    this machine's CPUs)."""

    cpus_per_client: int = 1
    address: str | None = None

    def run(self, jobs: Sequence[Job[T]]) -> list[T | Exception]:
        if not jobs:
            return []
        try:
            import ray
        except ImportError as exc:
            raise ConfigError("the Ray executor needs Ray: pip install 'ray[default]' (or zkfl[flower])") from exc
        if not ray.is_initialized():
            ray.init(
                address=self.address or os.environ.get("RAY_ADDRESS"), include_dashboard=False, log_to_driver=False
            )
        prover = RayProver(self.cpus_per_client)

        def attempt(job: Job[T]) -> T | Exception:
            try:
                return job(prover)
            except Exception as exc:
                return exc

        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:  # each thread waits on its Ray task
            return list(pool.map(attempt, jobs))


EXECUTORS = ("serial", "ray")


def executor_named(name: str, cpus_per_client: int = 1) -> ProofExecutor:
    """The executor the CLI names: "serial" or "ray"."""
    if cpus_per_client < 1:
        raise ConfigError(f"cpus per client must be at least 1, got {cpus_per_client}")
    if name == "serial":
        return SerialExecutor()
    if name == "ray":
        return RayExecutor(cpus_per_client)
    raise ConfigError(f"unknown executor {name!r}: expected one of {', '.join(EXECUTORS)}")
