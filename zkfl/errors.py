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
    ├── MaskingError           a masking step cannot go on with what it was given
    │   ├── UnmaskError        too many dropouts: the round cannot be unmasked without exposing an update
    │   └── RevealAgain        the round's sum changed (an update was excluded): the live clients answer again
    ├── ProofError             proving failed, or a proof does not verify          (exit 1)
    └── IntegrityError         a link or content check failed                      (exit 1)
        ├── LinkError          commitments that must be equal are not
        ├── CheatingError      a masking record does not check out: names the clients (`culprits`)
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


class MaskingError(ZkflError):
    """A secure-aggregation step cannot go on with what it was given (too few neighbours, a round
    that may not be unmasked)."""


class UnmaskError(MaskingError):
    """The round cannot be unmasked: too many dropouts for its threshold. Nothing is revealed past what
    the message says, and nothing is lost: the round lapses and the next starts from the same model."""


class RevealAgain(MaskingError):
    """Updates left the round's sum (excluded by the masking checks) after its clients revealed:
    the reveals answer for the old sum, so the live clients must reveal again (`zkfl reveal`), and
    the aggregator then unmasks the rest."""


class ProofError(ZkflError):
    """Proving failed, or a proof does not verify against the circuit it claims."""


class IntegrityError(ZkflError):
    """Something verifiable does not verify: a commitment link, or content against its address."""


class LinkError(IntegrityError):
    """Proofs or artifacts verify individually but their commitments do not link up."""


class CheatingError(IntegrityError):
    """Part of a round's masking record does not check out, and the clients behind it are named
    (`culprits`: client -> why). They are excluded from the round; the others' sum still comes out."""

    def __init__(self, culprits: dict[str, str]) -> None:
        self.culprits = dict(culprits)
        super().__init__("; ".join(f"{client}: {why}" for client, why in sorted(self.culprits.items())))


class ContentMismatchError(IntegrityError, StoreError):
    """The bytes a store returned under a CID are not the bytes that CID names."""


VERIFICATION_FAILURES: tuple[type[ZkflError], ...] = (ProofError, IntegrityError)
"""What exits with code 1 ("does not verify"); any other ZkflError exits with 2."""
