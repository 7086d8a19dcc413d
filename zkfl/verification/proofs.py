"""Checking proofs where they were used: a proof is read back from the transaction that submitted
it (the chain is the record, not anyone's files), then verified off-chain with ezkl against the
federation's verification key and on-chain with an `eth_call` to the deployed verifier. An
optimistic submission carries only the proof's commitments and SHA-256: its bytes come from the
store, under the CID that hash gives, and must start with exactly those commitments."""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_typing import HexStr
from web3.exceptions import ContractLogicError, Web3RPCError

from zkfl.chain.coordinator import Coordinator
from zkfl.chain.rpc import Chain
from zkfl.circuits.kinds import CircuitKind
from zkfl.errors import ChainError, ConfigError, IntegrityError, StoreError
from zkfl.protocol import starts_with_claim
from zkfl.store.artifacts import ArtifactStore
from zkfl.store.cid import raw_cid
from zkfl.zk.prover import EZKL_VERSION, CircuitKeys, Proof, VerifierKeys, verify


@dataclass(frozen=True)
class SubmittedProof:
    """A proof as a coordinator transaction carried it."""

    kind: CircuitKind
    round: int
    sender: str
    proof: bytes
    cid: str
    tx_hash: str
    gas_used: int


def submitted_proof(coordinator: Coordinator, tx_hash: str, store: ArtifactStore | None = None) -> SubmittedProof:
    """Decode a submitUpdate, submitUpdateOptimistic (its proof from `store`) or finalizeRound
    transaction of `coordinator`."""
    w3 = coordinator.chain.w3
    tx = w3.eth.get_transaction(HexStr(tx_hash))
    if tx["to"] is None or w3.to_checksum_address(tx["to"]) != coordinator.address:
        raise ChainError(f"transaction {tx_hash} was not sent to the coordinator {coordinator.address}")
    function, args = coordinator.contract.decode_function_input(tx["input"])
    kinds = {
        "submitUpdate": CircuitKind.CLIENT,
        "submitUpdateOptimistic": CircuitKind.CLIENT,
        "finalizeRound": CircuitKind.AGGREGATOR,
    }
    if function.fn_name not in kinds:
        raise ChainError(f"transaction {tx_hash} calls {function.fn_name}, not a proof submission")
    receipt = w3.eth.get_transaction_receipt(HexStr(tx_hash))
    if function.fn_name == "submitUpdateOptimistic":
        proof = optimistic_proof(store, bytes(args["commitments"]), bytes(args["proofSha256"]), tx_hash)
    else:
        proof = bytes(args["proof"])
    return SubmittedProof(
        kinds[function.fn_name], args["round"], tx["from"], proof, args["cid"], tx_hash, receipt["gasUsed"]
    )


def optimistic_proof(store: ArtifactStore | None, commitments: bytes, proof_sha256: bytes, tx_hash: str) -> bytes:
    """The bytes of an optimistically submitted proof, from the store: the content under CIDv1 raw
    sha2-256 of `proof_sha256` (checked on read), and starting with the submitted commitments."""
    if store is None:
        raise ConfigError(
            f"transaction {tx_hash} submitted its proof optimistically: its bytes are in the store, "
            "so give a store to read them from"
        )
    cid = raw_cid(proof_sha256)
    try:
        proof = store.get(cid)
    except StoreError as exc:
        raise StoreError(
            f"the proof of optimistic submission {tx_hash} is not available from the store ({cid}): {exc}"
        ) from exc
    if not starts_with_claim(proof, commitments):
        raise IntegrityError(
            f"the stored proof {cid} of optimistic submission {tx_hash} does not start with the "
            "commitments it was submitted with"
        )
    return proof


def write_proof_file(proof: bytes, path: str | os.PathLike[str]) -> Proof:
    """An ezkl proof file from the proof bytes alone (what ezkl's verify reads; no public instances)."""
    body: dict[str, Any] = {
        "protocol": None,
        "instances": [[]],
        "proof": list(proof),
        "hex_proof": None,
        "split": None,
        "pretty_public_inputs": None,
        "timestamp": None,
        "version": EZKL_VERSION,
    }
    Path(path).write_text(json.dumps(body))
    return Proof.load(path)


def verify_offchain(keys: CircuitKeys | VerifierKeys, proof: bytes) -> float:
    """Verify with ezkl against `keys`' verification key; returns the seconds it took. Raises ProofError."""
    with tempfile.TemporaryDirectory() as tmp:
        proof_file = write_proof_file(proof, Path(tmp) / "proof.json")
        start = time.perf_counter()
        verify(keys, proof_file)
        return time.perf_counter() - start


def verify_onchain(chain: Chain, verifier: str, proof: bytes) -> bool:
    """`eth_call` the verifier contract: True if it returns true, False if it returns false or reverts."""
    contract = chain.w3.eth.contract(address=chain.w3.to_checksum_address(verifier), abi=VERIFIER_ABI)
    try:
        return bool(contract.functions.verifyProof(proof, []).call())
    except (ContractLogicError, Web3RPCError, ValueError):
        return False


VERIFIER_ABI = [
    {
        "type": "function",
        "name": "verifyProof",
        "stateMutability": "view",
        "inputs": [{"name": "proof", "type": "bytes"}, {"name": "instances", "type": "uint256[]"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]
"""IHalo2Verifier (zkfl/contracts/IHalo2Verifier.sol): what every ezkl verifier and our adapter expose."""
