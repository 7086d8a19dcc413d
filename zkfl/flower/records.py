"""What zkFL puts in Flower messages, in one place.

The global model and each update travel as an `ArrayRecord` holding one int64 vector: the
fixed-point integers the circuits commit to, so nothing is lost to floats on the way. A train reply
also carries, in the ConfigRecord `zkfl`, the receipt of the client's on-chain submission, which
the strategy checks against the chain and the store before it trusts the reply.

In a private federation (secure aggregation) a train reply carries no update, only the receipt,
and each round has two more exchanges, as query messages with their own actions: `zkfl_keys`
(the client enrols and shares its masking keys in the round's share window) and `zkfl_reveal`
(once the round's updates are final, it stores its answer for the unmasking). Their replies carry
a `MaskingReply` in the ConfigRecord `zkfl`: a CID in the store, which the strategy checks there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, RecordDict

from zkfl.errors import ConfigError
from zkfl.fixedpoint import FixedArray

ARRAYS = "arrays"  # Flower FedAvg's arrayrecord_key: the model sent, the update replied
METRICS = "metrics"
RECEIPT = "zkfl"
NUM_EXAMPLES = "num-examples"  # Flower FedAvg's weighted_by_key
TRAIN_SECONDS = "train-seconds"  # a client's whole train handler (register, prove, submit), wall time
KEYS_ACTION = "zkfl_keys"  # query.zkfl_keys: enrol, then share the round's masking keys
REVEAL_ACTION = "zkfl_reveal"  # query.zkfl_reveal: answer the round's unmasking
ROUND = "zkfl-round"  # in a masking query's ConfigRecord `config`: the coordinator round it is for

SHARED = "shared"  # a MaskingReply's status: keys shared (cid: the bundle), or revealed (cid: the reveal)
REVEALED = "revealed"
WAITING = "waiting"  # enrolled; the share window opens at block `opens_at`
SITTING_OUT = "sitting-out"  # not in the round's masking cohort (a channel key newer than the round)


def model_record(weights: FixedArray) -> ArrayRecord:
    return ArrayRecord([np.ascontiguousarray(weights, dtype=np.int64)])


def weights_of(record: ArrayRecord, what: str) -> FixedArray:
    """The one fixed-point vector of a zkFL ArrayRecord."""
    arrays = record.to_numpy_ndarrays()
    if len(arrays) != 1 or arrays[0].ndim != 1 or arrays[0].dtype != np.int64:
        shapes = [(a.dtype.name, a.shape) for a in arrays]
        raise ConfigError(
            f"{what} must be one int64 vector of fixed-point weights, got {shapes}; "
            "send zkfl.flower.model_record(weights)"
        )
    return arrays[0]


@dataclass(frozen=True)
class SubmissionReceipt:
    """A client's claim about its round: which account submitted which update (by commitment and
    CID) in which transaction. The strategy believes none of it until the chain and store agree."""

    client: str
    address: str
    round: int
    update_hash: int
    update_cid: str
    submit_tx: str

    def to_record(self) -> ConfigRecord:
        # the commitment is a 256-bit digest: wider than a ConfigRecord int, so it travels as hex
        return ConfigRecord({**asdict(self), "update_hash": hex(self.update_hash)})

    @classmethod
    def from_content(cls, content: RecordDict) -> SubmissionReceipt:
        if RECEIPT not in content.config_records:
            raise ConfigError(f"the reply has no {RECEIPT!r} receipt: it does not come from a zkFL client app")
        record = content.config_records[RECEIPT]
        try:
            round_number = record["round"]
            if not isinstance(round_number, int):
                raise TypeError(f"round {round_number!r} is not an int")
            return cls(
                str(record["client"]),
                str(record["address"]),
                round_number,
                int(str(record["update_hash"]), 16),
                str(record["update_cid"]),
                str(record["submit_tx"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"the reply's {RECEIPT!r} receipt is malformed: {exc!r}") from exc


@dataclass(frozen=True)
class MaskingReply:
    """A client's answer to a masking query: who it is, for which round, what it did, and the CID
    of what it stored (its key bundle or its reveal; empty when it stored nothing)."""

    client: str
    address: str
    round: int
    status: str
    cid: str = ""
    opens_at: int = 0

    def to_record(self) -> ConfigRecord:
        return ConfigRecord(asdict(self))

    @classmethod
    def from_content(cls, content: RecordDict) -> MaskingReply:
        record = content.config_records.get(RECEIPT)
        if record is None:
            raise ConfigError(f"the reply has no {RECEIPT!r} record: it does not come from a zkFL client app")
        try:
            reply = cls(
                str(record["client"]),
                str(record["address"]),
                int(record["round"]),  # type: ignore[arg-type]
                str(record["status"]),
                str(record.get("cid", "")),
                int(record.get("opens_at", 0)),  # type: ignore[arg-type]
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"the reply's {RECEIPT!r} record is malformed: {exc!r}") from exc
        if reply.status not in (SHARED, REVEALED, WAITING, SITTING_OUT):
            raise ConfigError(f"the reply's masking status {reply.status!r} is not one zkFL knows")
        return reply
