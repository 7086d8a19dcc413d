"""The client role: commit to private local data, then train from the published global model and
prove it. The proof's commitments are `zkfl.protocol.ClientCommitments`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zkfl.circuits import TrainingStepSpec
from zkfl.data.batches import ClientData
from zkfl.errors import ConfigError, LinkError
from zkfl.fixedpoint import FixedArray
from zkfl.protocol import ClientCommitments
from zkfl.zk.commitments import keys_commitment
from zkfl.zk.prover import CircuitKeys, Proof, prove


@dataclass(frozen=True)
class ClientUpdate:
    """A proven client update. `vector` = new weights then 1 (fixed point): the sum of a round's
    vectors is FedAvg's input, and the coordinator sums their commitments (`update_hash`'s points)."""

    vector: FixedArray
    proof: Proof

    @property
    def weights(self) -> FixedArray:
        return self.vector[:-1]

    @property
    def commitments(self) -> ClientCommitments:
        return ClientCommitments.from_proof(self.proof.data)

    @property
    def global_hash(self) -> int:
        return self.commitments.model

    @property
    def data_hash(self) -> int:
        return self.commitments.data

    @property
    def context_hash(self) -> int:
        return self.commitments.context

    @property
    def update_hash(self) -> int:
        return self.commitments.update


def train_and_prove(
    keys: CircuitKeys,
    spec: TrainingStepSpec,
    global_weights: FixedArray,
    data: ClientData,
    context: FixedArray,
    proof_path: str | os.PathLike[str],
) -> ClientUpdate:
    """Run the spec's k SGD steps from `global_weights` on `data`, proven for the submitter and
    federation that `context` names (`zkfl.protocol.context`); then check that every commitment in
    the proof is the one we compute independently of the prover."""
    global_weights = np.asarray(global_weights, dtype=np.int64)
    if global_weights.shape != (spec.num_params,):
        raise ConfigError(f"global model has {global_weights.shape} weights, the circuit expects ({spec.num_params},)")
    data_vector = data.vector(spec)
    run = prove(keys, [global_weights, data_vector, np.asarray(context, dtype=np.int64)], Path(proof_path))
    update = ClientUpdate(run.outputs[0], run.proof)
    key = keys_commitment(keys)
    expected = ClientCommitments.of(key, global_weights, data_vector, context, update.vector)
    if update.commitments != expected:
        raise LinkError(
            "the proof's commitments are not the commitments of its inputs and output: "
            f"expected {expected.as_tuple()}, proof has {update.commitments.as_tuple()}"
        )
    return update
