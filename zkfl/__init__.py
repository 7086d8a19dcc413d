"""zkFL: verifiable federated learning. Every local SGD step and every FedAvg is proven with ezkl
(halo2/KZG); proofs link through Poseidon hashes of fixed-point weights."""

__version__ = "0.1.0"
