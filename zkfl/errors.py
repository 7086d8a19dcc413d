"""One small exception hierarchy. Every message says what was expected, what was found, and what
to do about it. Two branches mean "something does not verify" and map to exit code 1 everywhere
(`VERIFICATION_FAILURES`): a proof that fails (`ProofError`) and an integrity failure
(`IntegrityError`: a link between commitments, or content that is not what its address says).
Everything else is bad input, a missing artifact or a refusal (exit 2).

    ZkflError
    ├── ConfigError            a configuration, shape, scale or data value the circuit cannot take
    │   ├── DataRangeError     data whose training step would leave the circuit's number range
    │   └── AggregationRangeError  a tree's partial sums would leave what its circuits represent
    ├── ArtifactError          a file zkFL needs is missing or corrupt
    ├── StoreError             the store cannot store or return an artifact
    ├── ChainError             the chain rejected a transaction or cannot be reached
    ├── ProofError             proving failed, or a proof does not verify          (exit 1)
    └── IntegrityError         a link or content check failed                      (exit 1)
        ├── LinkError          commitments that must be equal are not
        └── ContentMismatchError   bytes under a CID hash to another CID (also a StoreError)
"""


class ZkflError(Exception):
    """Base class of every error zkFL raises on purpose."""


class ConfigError(ZkflError):
    """A configuration, a shape, a scale or a data value does not fit what the circuit expects."""


class DataRangeError(ConfigError):
    """Data whose training step would produce a value the circuit cannot represent."""


class AggregationRangeError(ConfigError):
    """An aggregation tree whose partial sums would leave what its circuits represent."""


class ArtifactError(ZkflError):
    """A file zkFL needs (ONNX graph, settings, keys, SRS) is missing or corrupt."""


class StoreError(ZkflError):
    """The content-addressed store could not store or return an artifact."""


class ChainError(ZkflError):
    """The chain rejected a transaction or could not be reached."""


class ProofError(ZkflError):
    """Proving failed, or a proof does not verify against the circuit it claims."""


class IntegrityError(ZkflError):
    """Something verifiable does not verify: a commitment link, or content against its address."""


class LinkError(IntegrityError):
    """Proofs or artifacts verify individually but their commitments do not link up."""


class ContentMismatchError(IntegrityError, StoreError):
    """The bytes a store returned under a CID are not the bytes that CID names."""


VERIFICATION_FAILURES: tuple[type[ZkflError], ...] = (ProofError, IntegrityError)
"""What exits with code 1 ("does not verify"); any other ZkflError exits with 2."""
