"""Where a round's leaf proofs run: one after another in this process (`SerialExecutor`), or as
Ray tasks on a local Ray or the cluster at RAY_ADDRESS (`RayExecutor`).

A job carries everything its proof needs but the keys' files, which it reads from the paths of
the workspace's build: on a cluster, every node must see that directory at the same path (a
shared filesystem, or the same build made on each node). A task returns the proof's bytes; the
caller, not the task, writes them into the workspace, so the workspace stays the source of truth.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from zkfl.atomic import write_atomic
from zkfl.circuits import PartialSumSpec
from zkfl.errors import ConfigError
from zkfl.roles.aggregator import LeafResult, SlotUpdate, sum_and_prove
from zkfl.zk.prover import CircuitKeys, Proof

PROVER_MEMORY_PER_PK_BYTE = 4
"""A leaf proof's peak memory, in bytes per byte of its proving key, plus PROVER_MEMORY_BASE
(measured by bench/scale.py: see docs/benchmarks.md)."""
PROVER_MEMORY_BASE = 512 * 2**20


@dataclass(frozen=True)
class LeafJob:
    """One leaf proof: its G slots (None: empty) and where its proof file goes."""

    leaf: int
    keys: CircuitKeys
    spec: PartialSumSpec
    slots: tuple[SlotUpdate | None, ...]
    proof_path: Path


def prove_leaf(job: LeafJob) -> LeafResult:
    return sum_and_prove(job.keys, job.spec, job.leaf, job.slots, job.proof_path)


class LeafExecutor(Protocol):
    def run(self, jobs: Sequence[LeafJob]) -> Iterator[LeafResult]:
        """Prove every job; yield each result as it finishes (in any order)."""
        ...


class SerialExecutor:
    """Every leaf in this process, one after another."""

    def run(self, jobs: Sequence[LeafJob]) -> Iterator[LeafResult]:
        for job in jobs:
            yield prove_leaf(job)


def leaf_resources(keys: CircuitKeys, cpus: int) -> dict[str, float]:
    """What one leaf proof reserves on a Ray node: `cpus` CPUs and the memory its proving key
    needs, so Ray never packs more proofs onto a node than it can hold."""
    pk_bytes = keys.pk_path.stat().st_size
    return {"num_cpus": cpus, "memory": PROVER_MEMORY_PER_PK_BYTE * pk_bytes + PROVER_MEMORY_BASE}


def _prove_in_task(job: LeafJob) -> tuple[LeafResult, bytes]:
    """A Ray task: prove into a temporary file on whatever node it runs; return the result and
    the proof file's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        result = prove_leaf(LeafJob(job.leaf, job.keys, job.spec, job.slots, Path(tmp) / job.proof_path.name))
        return result, result.proof.path.read_bytes()


@dataclass
class RayExecutor:
    """Leaves as Ray tasks, each reserving `cpus_per_leaf` CPUs (its prover uses that many
    threads) and its proving key's memory. A task whose worker dies is retried `max_retries`
    times; an error in the proof itself (bad input) is not retried. `address`: a Ray cluster
    (default RAY_ADDRESS; neither: a local Ray of this machine's CPUs)."""

    cpus_per_leaf: int = 1
    address: str | None = None
    max_retries: int = 2

    def run(self, jobs: Sequence[LeafJob]) -> Iterator[LeafResult]:
        if not jobs:
            return
        try:
            import ray
        except ImportError as exc:
            raise ConfigError("the Ray executor needs Ray: pip install 'ray[default]' (or zkfl[flower])") from exc
        address = self.address or os.environ.get("RAY_ADDRESS")
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        threads = {"env_vars": {"RAYON_NUM_THREADS": str(self.cpus_per_leaf)}}
        task = ray.remote(_prove_in_task).options(
            max_retries=self.max_retries,
            retry_exceptions=False,
            runtime_env=threads,
            **leaf_resources(jobs[0].keys, self.cpus_per_leaf),
        )
        pending = {task.remote(job): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(done[0])
            result, proof_file = ray.get(done[0])
            write_atomic(job.proof_path, proof_file)
            yield replace(result, proof=Proof.load(job.proof_path))


EXECUTORS = ("serial", "ray")


def executor_named(name: str, cpus_per_leaf: int = 1) -> LeafExecutor:
    """The executor the CLI names: "serial" or "ray"."""
    if cpus_per_leaf < 1:
        raise ConfigError(f"cpus per leaf must be at least 1, got {cpus_per_leaf}")
    if name == "serial":
        return SerialExecutor()
    if name == "ray":
        return RayExecutor(cpus_per_leaf)
    raise ConfigError(f"unknown executor {name!r}: expected one of {', '.join(EXECUTORS)}")
