"""The kinds of circuit a federation proves with: one name each, in manifests, JSON, findings and
file names. A `StrEnum`, so a kind compares and serializes as its plain value ("client")."""

from __future__ import annotations

from enum import StrEnum


class CircuitKind(StrEnum):
    CLIENT = "client"
    """A client's k local SGD steps (`TrainingStep`)."""
    AGGREGATOR = "aggregator"
    """FedAvg over the sum of a round's accepted updates (`FedAvg`): its output is the next global model."""

    @property
    def graph_name(self) -> str:
        """The file stem of the kind's ONNX graph, settings and keys."""
        return _GRAPH_NAMES[self]


_GRAPH_NAMES = {
    CircuitKind.CLIENT: "training_step",
    CircuitKind.AGGREGATOR: "fedavg",
}
