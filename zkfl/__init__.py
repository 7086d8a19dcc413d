"""zkFL: verifiable federated learning. Every local SGD step and every FedAvg is proven with ezkl
(halo2/KZG); proofs link through KZG commitments to fixed-point vectors."""

__version__ = "0.1.0"
