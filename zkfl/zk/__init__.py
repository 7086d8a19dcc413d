"""The zero-knowledge machinery: the ezkl prover wrapper, SRS files and powers of tau, input ranges,
KZG commitments, and the build of a federation's circuit set."""
