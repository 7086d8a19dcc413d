"""The kinds of circuit a federation proves with: one name each, in manifests, JSON, findings and
file names. A `StrEnum`, so a kind compares and serializes as its plain value ("client")."""

from __future__ import annotations

from enum import StrEnum


class CircuitKind(StrEnum):
    CLIENT = "client"
    """A client's k local SGD steps (`TrainingStep`)."""
    AGGREGATOR = "aggregator"
    """The FedAvg of a round's inputs (`FedAvg`), whose output is the next global model."""
    LEAF = "leaf"
    """A tree leaf's exact partial sum of its slots (`PartialSum`)."""

    @property
    def graph_name(self) -> str:
        """The file stem of the kind's ONNX graph, settings and keys."""
        return _GRAPH_NAMES[self]


_GRAPH_NAMES = {
    CircuitKind.CLIENT: "training_step",
    CircuitKind.AGGREGATOR: "fedavg",
    CircuitKind.LEAF: "partial_sum",
}
