"""zkFL inside Flower (`flwr`, Message API): `zk_train`, the client app's train handler, and
`ZkFedAvg`, the strategy that proves and finalizes every round. Needs the `flower` extra."""

from zkfl.flower.client_app import ClientNode, zk_train
from zkfl.flower.records import SubmissionReceipt, model_record, weights_of
from zkfl.flower.strategy import DroppedReply, ZkFedAvg

__all__ = ["ClientNode", "DroppedReply", "SubmissionReceipt", "ZkFedAvg", "model_record", "weights_of", "zk_train"]
