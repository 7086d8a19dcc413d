"""Training-step circuits: one ONNX graph = k local SGD steps of a classifier (a `ModelFamily`),
with the backward pass derived by torch (`zkfl.circuits.derived`) and exported, so ezkl can prove "these new
weights are the SGD steps from *these* weights on *this* (committed) data".

Graph interface (identical for every model family, which is what lets proofs link):

    inputs   theta   (P,)            flat weights of the published global model
             data    (n*(D+C) + S,)  n = B*k samples: features row-major, then one-hot labels,
                                     then S salt elements (sliced off: they only blind the commitment)
             context (CONTEXT_LEN,)  who may submit the proof, and where (`zkfl.protocol.context`);
                                     not computed on: its commitment binds the proof
    output   update  (P + 1,)        the new flat weights, followed by 1

The final 1 is a constant of the graph, inside the committed update: summed over a round's
updates it counts them, and FedAvg divides by that count, so no client can weigh more than one
(every client trains on the same n samples, so the mean is sample-weighted FedAvg).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from zkfl.circuits.families import SOFTMAX_FLOOR, LogisticRegression, ModelFamily, model_from_json
from zkfl.errors import ConfigError
from zkfl.fixedpoint import SCALE

if TYPE_CHECKING:
    import torch

SALT_LEN = 8
"""Salt elements appended to every data batch. The data commitment is public, KZG commitments to
ezkl's polycommit columns are not blinded, and labels and pixels are low-entropy, so an unsalted
commitment could be brute-forced back to the data."""

UPDATE_NORMS = ("linf", "l2")

CONTEXT_LEN = 5
CONTEXT_BITS = 24
"""The context input: CONTEXT_LEN field elements of CONTEXT_BITS bits each (120 bits: inside the
integers ezkl's float inputs carry exactly, `zkfl.fixedpoint.MAX_ABS_INT`)."""


@dataclass(frozen=True)
class TrainingStepSpec:
    """Everything that fixes a training-step circuit's shape and arithmetic."""

    model: ModelFamily = LogisticRegression()
    batch_size: int = 8
    local_steps: int = 1
    learning_rate: float = 0.5
    update_bound: float | None = None
    """The proven norm bound on the update W' - W (weight units; None: unbounded): the circuit
    clips it to this norm (`update_norm`), so no client, however it poisons its data, moves the
    model further. Under private updates nobody sees an update, so only a proof can bound it."""
    update_norm: str = "linf"
    """`linf` clips each weight's change to [-bound, bound]; `l2` scales the change down to L2 norm
    bound when it is longer."""

    def __post_init__(self) -> None:
        if not isinstance(self.model, ModelFamily):
            raise ConfigError(f"model must be a ModelFamily (e.g. LogisticRegression(...)), got {self.model!r}")
        for name in ("batch_size", "local_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.learning_rate <= 8:
            raise ConfigError(f"learning_rate must be in (0, 8], got {self.learning_rate}")
        if self.update_norm not in UPDATE_NORMS:
            raise ConfigError(f"update_norm must be one of {', '.join(UPDATE_NORMS)}, got {self.update_norm!r}")
        if self.update_bound is not None and not 0 < self.update_bound <= 1024:
            raise ConfigError(f"update_bound must be in (0, 1024] weight units (or none), got {self.update_bound}")

    @property
    def features(self) -> int:
        return self.model.features

    @property
    def classes(self) -> int:
        return self.model.classes

    @property
    def num_params(self) -> int:
        return self.model.num_params

    @property
    def sample_count(self) -> int:
        """Samples consumed per round: fixed by the circuit, never a free input."""
        return self.batch_size * self.local_steps

    @property
    def data_len(self) -> int:
        return self.sample_count * (self.features + self.classes) + SALT_LEN

    @property
    def update_len(self) -> int:
        return self.num_params + 1

    def io_lengths(self) -> tuple[list[int], list[int]]:
        """Lengths of the graph's inputs (theta, data, context) and output (update)."""
        return [self.num_params, self.data_len, CONTEXT_LEN], [self.update_len]

    def module(self) -> torch.nn.Module:
        from zkfl.circuits.graphs import TrainingStep  # torch loads only when a graph is built

        return TrainingStep(self)

    def calibration_inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(theta, data, context) floats that drive every range the circuit must accept to its bound:
        a large output bias pushes logit gaps past SOFTMAX_FLOOR, so the calibrated exp table
        covers [SOFTMAX_FLOOR, 0] for any client's data."""
        theta = self.model.init_params(seed=1)
        theta[self.num_params - self.classes] = 4.0 * abs(SOFTMAX_FLOOR)  # output bias of class 0
        rng = np.random.default_rng(1)
        n = self.sample_count
        x = rng.uniform(0.0, 1.0, size=(n, self.features))
        y = np.eye(self.classes)[rng.integers(0, self.classes, size=n)]
        salt = rng.uniform(-1000.0, 1000.0, size=SALT_LEN)
        context = np.full(CONTEXT_LEN, float((1 << CONTEXT_BITS) - 1) / (1 << SCALE))  # the largest values
        return theta, np.concatenate([x.reshape(-1), y.reshape(-1), salt]), context

    def to_json(self) -> dict[str, Any]:
        body = {
            "model": self.model.to_json(),
            "batch_size": self.batch_size,
            "local_steps": self.local_steps,
            "learning_rate": self.learning_rate,
        }
        if self.update_bound is not None:  # an unbounded spec reads as before
            body |= {"update_bound": self.update_bound, "update_norm": self.update_norm}
        return body

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> TrainingStepSpec:
        return cls(
            model_from_json(body["model"]),
            body["batch_size"],
            body["local_steps"],
            body["learning_rate"],
            body.get("update_bound"),
            body.get("update_norm", "linf"),
        )


def data_vector(
    spec: TrainingStepSpec, features: np.ndarray, labels: np.ndarray, salt: np.ndarray, one: float = 1.0
) -> np.ndarray:
    """The graph's `data` input: features row-major, the labels one-hot (with `one` for a hit: 1.0 in
    float, 2**scale in fixed point), then the salt. `zkfl.circuits.graphs.split_data` is its inverse
    inside the graph."""
    one_hot = np.eye(spec.classes, dtype=np.asarray(features).dtype)[np.asarray(labels, dtype=np.int64)] * one
    return np.concatenate([np.asarray(features).reshape(-1), one_hot.reshape(-1), np.asarray(salt)])
