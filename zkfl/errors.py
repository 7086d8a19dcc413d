"""One small exception hierarchy. Every message says what was expected, what was found,
and what to do about it."""


class ZkflError(Exception):
    """Base class of every error zkFL raises on purpose."""


class ConfigError(ZkflError):
    """A configuration, a shape or a scale does not fit what the circuit expects."""


class ArtifactError(ZkflError):
    """A file zkFL needs (ONNX graph, settings, keys, SRS) is missing or corrupt."""


class ProofError(ZkflError):
    """Proving failed, or a proof does not verify against the circuit it claims."""


class LinkError(ProofError):
    """Proofs verify individually but their Poseidon hash links do not match."""


class StoreError(ZkflError):
    """The content-addressed store could not store or return an artifact intact."""


class ChainError(ZkflError):
    """The chain rejected a transaction or could not be reached."""
