"""zkFL inside Flower (`flwr`, Message API): `zk_train`, the client app's train handler (and, for
private federations, `zk_share_keys` and `zk_reveal`, its masking handlers), and `ZkFedAvg`, the
strategy that proves and finalizes every round. Needs the `flower` extra."""

from zkfl.flower.client_app import ClientNode, add_zk_handlers, zk_reveal, zk_share_keys, zk_train
from zkfl.flower.records import (
    KEYS_ACTION,
    REVEAL_ACTION,
    MaskingReply,
    SubmissionReceipt,
    model_record,
    weights_of,
)
from zkfl.flower.strategy import DroppedReply, ZkFedAvg

__all__ = [
    "KEYS_ACTION",
    "REVEAL_ACTION",
    "ClientNode",
    "DroppedReply",
    "MaskingReply",
    "SubmissionReceipt",
    "ZkFedAvg",
    "add_zk_handlers",
    "model_record",
    "weights_of",
    "zk_reveal",
    "zk_share_keys",
    "zk_train",
]
