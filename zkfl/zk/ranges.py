"""What a circuit's fixed-point arithmetic can represent, and whether a client's data keeps its
training step inside that.

ezkl range-checks every value it rescales or compares by decomposing it into `decomp_legs` digits
of base `decomp_base`, so every intermediate value of the training step, at the circuit's scale,
must satisfy |v| * 2**scale <= base**legs - 1 (here 1024**3 - 1: |v| < 262,144). A value beyond
that makes witness generation fail with a "decomposition error". Data can drive the step there
(large features give large logits, gradients and then weights), so zkFL checks each committed batch
before it is registered and before it is proven: it runs the step in float64 and watches every
intermediate value, which predicts ezkl's failure to within a few percent. The range it accepts is
reported as the largest |feature| for which that batch's step stays representable.

For a user's own module the check never runs its Python (a participant may not have it, and a
manifest must not be able to make anyone import a file): it runs the circuit's ONNX graph instead
(onnxruntime, float32, every node's output watched), which is the step ezkl proves.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from zkfl.circuits import TrainingStepSpec
from zkfl.circuits.training import CONTEXT_LEN, SALT_LEN, data_vector
from zkfl.errors import ConfigError, DataRangeError
from zkfl.fixedpoint import MAX_ABS_INT, SCALE

if TYPE_CHECKING:
    import onnxruntime

SAFETY = 0.95
"""Margin under the decomposition bound: the circuit's fixed-point values differ slightly from the
float64 simulation (seen: within 3% at the bound)."""


@dataclass(frozen=True)
class CircuitRange:
    """The largest magnitude a circuit represents, in real units (value, not fixed-point integer)."""

    decomp_base: int
    decomp_legs: int
    scale: int

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> CircuitRange:
        run_args = settings["run_args"]
        scales = {*settings["model_input_scales"], *settings["model_output_scales"]}
        return cls(int(run_args["decomp_base"]), int(run_args["decomp_legs"]), max(scales, default=SCALE))

    @property
    def max_abs(self) -> float:
        """|v| the circuit's decomposition range checks accept."""
        return (self.decomp_base**self.decomp_legs - 1) / 2**self.scale

    @property
    def max_input(self) -> float:
        """|x| an input can have: within the decomposition range and exact through ezkl's float32 inputs."""
        return min(self.max_abs, MAX_ABS_INT / 2**self.scale)

    def describe(self) -> str:
        return (
            f"±{self.max_abs:,.0f}, what decomposition base {self.decomp_base} with {self.decomp_legs} legs "
            f"represents at scale {self.scale}"
        )


def step_peak(
    spec: TrainingStepSpec, theta: npt.ArrayLike, x: np.ndarray, y: np.ndarray, graph: Path | None = None
) -> tuple[float, str]:
    """The largest |intermediate value| of the training step from `theta` on (x, y), and the operation
    that produced it: in float64 with torch for a built-in family, on the circuit's `graph` for a
    user's model (whose Python a participant never runs)."""
    data = data_vector(spec, np.asarray(x, dtype=np.float64), y, np.zeros(SALT_LEN))
    if not spec.model.user_code:
        from zkfl.circuits.graphs import training_step_peak  # torch loads only when a batch is checked

        return training_step_peak(spec, np.asarray(theta, dtype=np.float64), data)
    if graph is None:
        raise ConfigError("the range check of a user's model runs the circuit's ONNX graph: pass its path")
    return graph_peak(graph, np.asarray(theta, dtype=np.float64), data)


def graph_peak(graph: Path, theta: np.ndarray, data: np.ndarray) -> tuple[float, str]:
    """The largest |value| any node of the training-step graph computes from (theta, data), and that
    node's operator."""
    session, ops = _watching_session(str(graph))
    feeds = dict(zip([i.name for i in session.get_inputs()], (theta, data, np.zeros(CONTEXT_LEN)), strict=False))
    outputs = session.run(None, {name: np.asarray(v, dtype=np.float32) for name, v in feeds.items()})
    peaks = [float(np.max(np.abs(o))) if np.size(o) and np.issubdtype(o.dtype, np.floating) else 0.0 for o in outputs]
    worst = int(np.argmax(peaks))
    return peaks[worst], ops[worst]


@lru_cache(maxsize=2)
def _watching_session(graph: str) -> tuple[onnxruntime.InferenceSession, list[str]]:
    """An onnxruntime session of `graph` whose outputs are every node's outputs, and their operators."""
    import onnx
    import onnxruntime

    model = onnx.load(graph)
    known = {o.name for o in model.graph.output}
    ops = ["output" for _ in model.graph.output]
    for node in model.graph.node:
        for name in node.output:
            if name and name not in known and node.op_type != "Constant":
                model.graph.output.append(onnx.ValueInfoProto(name=name))
                known.add(name)
                ops.append(node.op_type)
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]), ops


def accepted_feature_bound(
    spec: TrainingStepSpec,
    theta: npt.ArrayLike,
    x: np.ndarray,
    y: np.ndarray,
    limit: float,
    iterations: int = 40,
    graph: Path | None = None,
) -> float:
    """The largest max|x'| over rescalings x' = s·x of this batch whose step stays below `limit`."""
    largest = float(np.max(np.abs(x))) if x.size else 0.0
    if largest == 0.0:
        return 0.0
    lo, hi = 0.0, 1.0
    while step_peak(spec, theta, x * hi, y, graph)[0] < limit and hi < 2**20:
        lo, hi = hi, hi * 2
    for _ in range(iterations):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if step_peak(spec, theta, x * mid, y, graph)[0] < limit else (lo, mid)
    return lo * largest


@dataclass(frozen=True)
class Batch:
    """Samples to check: features (n x D), labels, and where each row came from (for messages)."""

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray  # row index of each sample in `source`
    source: str  # e.g. "data file alice.npz"


def check_features(circuit: CircuitRange, x: np.ndarray, source: str) -> None:
    """Every feature must be representable as a circuit input at all."""
    if not x.size:
        return
    worst = np.unravel_index(int(np.argmax(np.abs(x))), x.shape)
    value = float(x[worst])
    if abs(value) > circuit.max_input:
        raise DataRangeError(
            f"{source}: x[{worst[0]}, {worst[1]}] = {value:g} (sample {worst[0]}, feature {worst[1]}) is outside the "
            f"range a circuit input can take, |x| <= {circuit.max_input:g}; rescale the features (for example, "
            "standardize them or divide by their largest value)"
        )


def check_batch(
    spec: TrainingStepSpec,
    circuit: CircuitRange,
    theta: npt.ArrayLike,
    batch: Batch,
    model: str,
    graph: Path | None = None,
) -> None:
    """Raise DataRangeError, naming the offending value, its position and the accepted range, if the
    training step from `theta` (the `model`, e.g. "the round-3 global model") on this batch would
    leave the circuit's range. `graph`: the circuit's ONNX graph, for a model whose Python is not here."""
    check_features(circuit, batch.x, batch.source)
    limit = SAFETY * circuit.max_abs
    peak, op = step_peak(spec, theta, batch.x, batch.y, graph)
    if peak < limit:
        return
    bound = accepted_feature_bound(spec, theta, batch.x, batch.y, limit, graph=graph)
    i, j = np.unravel_index(int(np.argmax(np.abs(batch.x))), batch.x.shape)
    row = int(batch.rows[i])
    raise DataRangeError(
        f"{batch.source}: x[{row}, {j}] = {float(batch.x[i, j]):g} (sample {row}, feature {j}) is outside the range "
        f"this circuit accepts for its batch, |x| <= {bound:.4g} (from {model}): with it the training step reaches "
        f"{peak:.4g} (in a {op}), beyond the circuit's {circuit.describe()}. Rescale the features (for example, "
        "standardize them or divide by their largest value), or lower the learning rate"
    )
