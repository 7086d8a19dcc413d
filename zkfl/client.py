"""The client role: commit to private local data, then train from the published global model and
prove it. The proof's commitments are `zkfl.protocol.ClientCommitments`."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from zkfl.circuits import SALT_LEN, TrainingStepSpec
from zkfl.circuits.training import data_vector
from zkfl.errors import ConfigError, LinkError
from zkfl.fixedpoint import SCALE, FixedArray, dequantize, quantize
from zkfl.protocol import ClientCommitments, CommitmentKey, keys_commitment
from zkfl.prover import CircuitKeys, Proof, prove


SALT_BITS = 23
"""Salt elements are uniform in (-2**23, 2**23): 8 x ~24 bits, and exact through float32 inputs."""


def new_salt(rng: secrets.SystemRandom | None = None) -> FixedArray:
    """Fresh salt for a data commitment, from the OS's CSPRNG (never a seeded generator)."""
    rng = rng or secrets.SystemRandom()
    bound = (1 << SALT_BITS) - 1
    return np.array([rng.randint(-bound, bound) for _ in range(SALT_LEN)], dtype=np.int64)


@dataclass(frozen=True)
class ClientData:
    """A client's private training data for one round, quantized, with the salt that blinds
    its commitment. `vector` is exactly the `data` input of the training-step graph."""

    features: FixedArray  # n x D fixed point
    labels: npt.NDArray[np.int64]  # n class indices
    salt: FixedArray  # SALT_LEN fixed-point elements
    rows: npt.NDArray[np.int64] | None = None  # where each sample sits in the client's data file, if known

    def vector(self, spec: TrainingStepSpec) -> FixedArray:
        return data_vector(spec, self.features, self.labels, self.salt, one=1 << SCALE)

    def commitment(self, key: CommitmentKey, spec: TrainingStepSpec) -> int:
        return key.commit(self.vector(spec))


def make_client_data(
    spec: TrainingStepSpec,
    features: npt.ArrayLike,
    labels: npt.ArrayLike,
    salt: FixedArray | None = None,
) -> ClientData:
    """Validate and quantize a client's samples (floats, class indices) for `spec`."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    n, d = spec.sample_count, spec.features
    if x.shape != (n, d):
        raise ConfigError(
            f"wrong data shape: the circuit takes {n} samples (batch {spec.batch_size} x "
            f"{spec.local_steps} local steps) of {d} features, got features of shape {x.shape}"
        )
    if y.shape != (n,):
        raise ConfigError(f"wrong label shape: expected ({n},) class indices, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= spec.classes:
        raise ConfigError(f"labels must be integers in [0, {spec.classes}), got {y.min()}..{y.max()}")
    salt = new_salt() if salt is None else np.asarray(salt, dtype=np.int64)
    if salt.shape != (SALT_LEN,):
        raise ConfigError(f"salt must have {SALT_LEN} elements, got shape {salt.shape}")
    return ClientData(quantize(x), y.astype(np.int64), salt)


@dataclass(frozen=True)
class ClientUpdate:
    """A proven client update. `vector` = new weights then the sample count (fixed point): the
    exact field elements the FedAvg circuit consumes, so its slot commitment equals `update_hash`."""

    vector: FixedArray
    proof: Proof

    @property
    def weights(self) -> FixedArray:
        return self.vector[:-1]

    @property
    def sample_count(self) -> int:
        return int(self.vector[-1]) >> SCALE

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


def float_sgd_reference(spec: TrainingStepSpec, theta: npt.ArrayLike, data: ClientData) -> np.ndarray:
    """The same k SGD steps in float64 with torch autograd on the standard cross-entropy: an
    implementation independent of the hand-written backward pass, for checking proofs."""
    params = torch.tensor(np.asarray(theta, dtype=np.float64), requires_grad=False)
    x_all = torch.tensor(dequantize(data.features))
    y_all = torch.tensor(data.labels)
    for j in range(spec.local_steps):
        rows = slice(j * spec.batch_size, (j + 1) * spec.batch_size)
        params = params.detach().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(spec.model.logits(spec.model.unpack(params), x_all[rows]), y_all[rows])
        (grad,) = torch.autograd.grad(loss, params)
        params = params - spec.learning_rate * grad
    return params.detach().numpy()
