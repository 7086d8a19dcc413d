"""The coordinator contract from Python: its calls, views and events as typed records. The ABI is
the compiled artifact shipped with the package (`zkfl.evm.contracts`); deployment lives in
`zkfl.chain.deploy`, and reaching a chain in `zkfl.chain.rpc`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract

from zkfl.chain.rpc import Chain, ErrorDecoder, transact
from zkfl.errors import ChainError
from zkfl.evm.contracts import project_artifact
from zkfl.fixedpoint import FixedArray
from zkfl.protocol import context, optimistic_claim
from zkfl.prover import Proof

MESSAGES = {
    "WrongGlobalModel": lambda round, expected, got: (
        f"the proof starts from model hash {got:#x}, but round {round}'s global model hash is {expected:#x}"),
    "WrongDataCommitment": lambda client, got: (
        f"the proof's data commitment {got:#x} is not one that {client} committed at registration"),
    "WrongContext": lambda client, expected, got: (
        f"the proof is bound to context {got:#x}, but proofs from {client} in this federation must be bound to "
        f"{expected:#x}: it was made for another account, federation or chain; prove again for this one"),
    "ProofTooShort": lambda length, required: (
        f"the proof has {length} bytes, fewer than the {required} its commitments alone take: not a proof of this circuit"),
    "DataCommitmentUsed": lambda dataCommitment: (
        f"data batch {dataCommitment:#x} was already used in an accepted update; train on a fresh committed batch"),
    "NoDataCommitments": lambda: "at least one data commitment is required",
    "InvalidProof": lambda verifier: f"the verifier at {verifier} rejected the proof",
    "VerifierOutOfGas": lambda verifier: (
        f"the verifier at {verifier} ran out of gas before reaching a verdict; raise the gas limit"),
    "AlreadySubmitted": lambda round, client: f"{client} already submitted an update in round {round}",
    "NotRegistered": lambda client: f"{client} is not a registered client",
    "SubmissionClosed": lambda round, deadline, blockNumber: (
        f"round {round} closed for submissions at block {deadline} (now block {blockNumber})"),
    "SubmissionStillOpen": lambda round, deadline, blockNumber: (
        f"round {round} is still open until block {deadline} (now block {blockNumber}) and not every client submitted"),
    "SlotMismatch": lambda round, slot, expected, got: (
        f"input {slot} of the aggregation consumed commitment {got:#x}; round {round} holds {expected:#x} there "
        "(in slot order, or for a tree's root in leaf order)"),
    "WrongRound": lambda current, given: f"round {given} is not the open round ({current})",
    "DataAlreadyCommitted": lambda client, dataCommitment: (
        f"{client} already committed data commitment {dataCommitment:#x}"),
    "AlreadyRegistered": lambda client: f"{client} is already registered",
    "FederationFull": lambda slots: f"all {slots} client slots are taken",
    "NoAcceptedUpdates": lambda round: f"round {round} has no accepted update to aggregate",
    "WrongVerificationMode": lambda optimistic: (
        "this federation verifies proofs optimistically: submit with submitUpdateOptimistic" if optimistic else
        "this federation verifies every proof on submission: submit with submitUpdate (challenges do not apply)"),
    "WrongBond": lambda required, sent: f"a challenge posts a bond of exactly {required} wei, not {sent}",
    "NothingToChallenge": lambda round, slot: f"round {round} has no accepted update in slot {slot} to challenge",
    "ChallengeWindowClosed": lambda round, closedAt, blockNumber: (
        f"round {round}'s challenge window closed at block {closedAt} (now block {blockNumber})"),
    "ChallengeWindowOpen": lambda round, closesAt, blockNumber: (
        f"round {round}'s updates can be challenged until block {closesAt} (now block {blockNumber}); "
        "finalize after it"),
    "ClaimMismatch": lambda round, slot: (
        f"these proof bytes or commitments are not what slot {slot} of round {round} was submitted with"),
    "AlreadyDefended": lambda round, slot: (
        f"the proof of round {round} slot {slot} was already challenged and verified"),
    "ProofRequestPending": lambda round, slot, revealBy: (
        f"the proof of round {round} slot {slot} was requested and can be revealed until block {revealBy}: "
        "reveal it (revealProof) or, after that block, slash it (slashUnrevealed)"),
    "NoProofRequest": lambda round, slot: f"nobody requested the proof of round {round} slot {slot}",
    "RevealWindowClosed": lambda round, slot, revealBy, blockNumber: (
        f"the proof of round {round} slot {slot} had to be revealed by block {revealBy} (now block {blockNumber})"),
    "RevealWindowOpen": lambda round, slot, revealBy, blockNumber: (
        f"the proof of round {round} slot {slot} can still be revealed until block {revealBy} (now block "
        f"{blockNumber})"),
    "ProofRequestsOpen": lambda round, open: (
        f"round {round} has {open} proof request(s) not yet revealed or slashed; finalize after them"),
    "NotATree": lambda: "this federation aggregates flat: it has no leaves (finalize the round with FedAvg of its slots)",
    "NoSuchLeaf": lambda leaf, leaves: f"leaf {leaf} does not exist: the federation has {leaves} leaves",
    "EmptyLeaf": lambda round, leaf: f"leaf {leaf} holds no accepted update in round {round}: it needs no proof",
    "LeafAlreadyAggregated": lambda round, leaf: f"leaf {leaf} of round {round} is already proven for its updates",
    "LeafNotAggregated": lambda round, leaf: (
        f"leaf {leaf} holds accepted updates in round {round} but no proven partial sum: prove and submit it first"),
    "PendingSubmission": lambda round, client, withdrawableAfter: (
        f"{client} has an update waiting in round {round}; it can withdraw once the round is finalized, or "
        f"after block {withdrawableAfter} if the aggregator has not finalized it by then"),
}
"""A sentence for each custom error of Coordinator.sol, keyed by name, taking the error's ABI
parameters by name (tests/test_chain.py ties the two together)."""


EAGER, OPTIMISTIC = "eager", "optimistic"
VERIFICATION_MODES = (EAGER, OPTIMISTIC)
OPTIMISTIC_TERMS = ("challenge_window", "challenge_bond_wei", "challenger_share_bps")
"""The terms that only an optimistic federation has (an eager coordinator holds zeros)."""


@dataclass(frozen=True)
class FederationTerms:
    """A federation's economic and timing terms and its verification mode, as the coordinator
    fixes them at deployment (`Coordinator.Terms`). The defaults here are zkFL's only ones.

    `verification`: "eager" verifies every client proof on submission; "optimistic" accepts a
    submission with its proof's commitments and SHA-256 (the bytes go to the store), and verifies
    a proof only when it is challenged, until `challenge_window` blocks after the round's deadline."""

    stake_wei: int = 10**16
    reward_wei: int = 10**15
    submission_window: int = 100  # blocks a round accepts submissions
    finalization_grace: int = 100  # blocks after a deadline before a client with a pending update may withdraw
    verification: str = EAGER
    challenge_window: int = 20  # optimistic: blocks after the deadline in which updates can be challenged
    challenge_bond_wei: int = 10**16  # optimistic: a challenger's bond, paid to the client if its proof is valid
    challenger_share_bps: int = 5_000  # optimistic: part of a slashed stake paid to the challenger

    @property
    def optimistic(self) -> bool:
        return self.verification == OPTIMISTIC

    def problems(self) -> list[str]:
        """What is wrong with these terms (empty: nothing)."""
        found = [] if self.submission_window >= 1 else [
            f"submission_window must be at least 1 block, got {self.submission_window}"]
        if self.verification not in VERIFICATION_MODES:
            found.append(f"verification must be one of {', '.join(VERIFICATION_MODES)}, got {self.verification!r}")
        if self.optimistic and self.challenge_window < 1:
            found.append(f"an optimistic federation's challenge_window must be at least 1 block, got {self.challenge_window}")
        if self.optimistic and self.challenge_bond_wei < 1:
            found.append("an optimistic federation's challenge_bond_wei must be positive (a free challenge invites "
                         "griefing)")
        if not 0 <= self.challenger_share_bps <= 10_000:
            found.append(f"challenger_share_bps must be in 0..10000, got {self.challenger_share_bps}")
        return found

    def as_tuple(self) -> tuple[int, int, int, int, tuple[bool, int, int, int]]:
        """The constructor's `Terms` struct (an eager federation's challenge terms are zeros)."""
        optimism = ((True, self.challenge_window, self.challenge_bond_wei, self.challenger_share_bps)
                    if self.optimistic else (False, 0, 0, 0))
        return self.stake_wei, self.reward_wei, self.submission_window, self.finalization_grace, optimism


@dataclass(frozen=True)
class RoundState:
    round: int
    model_hash: int
    deadline: int
    accepted: int
    finalized: bool


@dataclass(frozen=True)
class ClientState:
    address: str
    registered: bool
    slot: int
    accepted_updates: int
    paid_updates: int
    stake: int
    context_hash: int  # digest of C(context) its proofs must carry


@dataclass(frozen=True)
class AcceptedUpdate:
    round: int
    client: str
    slot: int
    update_hash: int
    cid: str
    block: int
    tx_hash: str

    @classmethod
    def from_event(cls, e: Any) -> AcceptedUpdate:
        return cls(e.args.round, e.args.client, e.args.slot, e.args.updateHash, e.args.cid, e.blockNumber,
                   e.transactionHash.to_0x_hex())


@dataclass(frozen=True)
class AggregatedLeaf:
    """A LeafAggregated event: a leaf's proven partial sum."""

    round: int
    leaf: int
    prover: str
    partial_hash: int
    cid: str
    accepted_updates: int
    block: int
    tx_hash: str

    @classmethod
    def from_event(cls, e: Any) -> AggregatedLeaf:
        return cls(e.args.round, e.args.leaf, e.args.prover, e.args.partialHash, e.args.cid, e.args.acceptedUpdates,
                   e.blockNumber, e.transactionHash.to_0x_hex())


@dataclass(frozen=True)
class OpenedRound:
    """A RoundOpened event: the round's global model as published on-chain."""

    round: int
    model_hash: int
    model_cid: str
    deadline: int
    block: int

    @classmethod
    def from_event(cls, e: Any) -> OpenedRound:
        return cls(e.args.round, e.args.modelHash, e.args.modelCid, e.args.deadline, e.blockNumber)


@dataclass(frozen=True)
class FinalizedRound:
    round: int
    next_model_hash: int
    next_model_cid: str
    accepted_updates: int
    block: int
    tx_hash: str

    @classmethod
    def from_event(cls, e: Any) -> FinalizedRound:
        return cls(e.args.round, e.args.nextModelHash, e.args.nextModelCid, e.args.acceptedUpdates, e.blockNumber,
                   e.transactionHash.to_0x_hex())


class Coordinator:
    """Typed calls, views and events of a deployed coordinator."""

    def __init__(self, chain: Chain, address: str):
        self.chain = chain
        self.artifact = project_artifact("Coordinator")
        checksum = chain.w3.to_checksum_address(address)
        if not chain.w3.eth.get_code(checksum):
            raise ChainError(f"no contract at {address} on chain {chain.chain_id}: wrong address or wrong chain")
        self.contract: Contract = chain.w3.eth.contract(address=checksum, abi=self.artifact.abi)
        self.decoder = ErrorDecoder([self.artifact.abi], MESSAGES)

    @property
    def address(self) -> str:
        return self.contract.address

    # transactions -----------------------------------------------------------
    def register(self, signer: LocalAccount, data_commitments: Sequence[int], stake_wei: int | None = None) -> dict:
        """Join with the stake and the commitments of the data batches to train on (one per round)."""
        stake = int(self.contract.functions.stakeAmount().call()) if stake_wei is None else stake_wei
        return self._send(signer, self.contract.functions.register(list(data_commitments)), "registration", value=stake)

    def commit_data(self, signer: LocalAccount, data_commitments: Sequence[int]) -> dict:
        return self._send(signer, self.contract.functions.commitData(list(data_commitments)), "data commitment")

    def submit_update(self, signer: LocalAccount, round_no: int, proof: Proof | bytes, cid: str) -> dict:
        data = proof.data if isinstance(proof, Proof) else proof
        return self._send(signer, self.contract.functions.submitUpdate(round_no, data, cid),
                          f"update submission for round {round_no}")

    def submit_update_optimistic(self, signer: LocalAccount, round_no: int, proof: Proof | bytes, cid: str) -> dict:
        """An optimistic federation's submission: the proof's commitments and its SHA-256 (the
        proof bytes themselves belong in the store, where challengers fetch them)."""
        commitments, proof_sha256 = optimistic_claim(proof.data if isinstance(proof, Proof) else proof)
        call = self.contract.functions.submitUpdateOptimistic(round_no, commitments, proof_sha256, cid)
        return self._send(signer, call, f"optimistic update submission for round {round_no}")

    def challenge(self, signer: LocalAccount, round_no: int, slot: int, commitments: bytes, proof: bytes,
                  bond_wei: int | None = None) -> dict:
        """Challenge an optimistically accepted update with its proof bytes (posting the bond);
        `commitments` are the ones it was submitted with."""
        bond = self.challenge_bond_wei if bond_wei is None else bond_wei
        call = self.contract.functions.challenge(round_no, slot, keccak(commitments), proof)
        return self._send(signer, call, f"challenge of round {round_no} slot {slot}", value=bond)

    def request_proof(self, signer: LocalAccount, round_no: int, slot: int, bond_wei: int | None = None) -> dict:
        """Demand the proof of an optimistic update whose bytes are not in the store (posting the bond)."""
        bond = self.challenge_bond_wei if bond_wei is None else bond_wei
        return self._send(signer, self.contract.functions.requestProof(round_no, slot),
                          f"proof request for round {round_no} slot {slot}", value=bond)

    def reveal_proof(self, signer: LocalAccount, round_no: int, slot: int, commitments: bytes, proof: bytes) -> dict:
        """Answer a proof request with the proof bytes (the coordinator verifies them)."""
        call = self.contract.functions.revealProof(round_no, slot, keccak(commitments), proof)
        return self._send(signer, call, f"proof reveal for round {round_no} slot {slot}")

    def slash_unrevealed(self, signer: LocalAccount, round_no: int, slot: int) -> dict:
        return self._send(signer, self.contract.functions.slashUnrevealed(round_no, slot),
                          f"slashing the unrevealed proof of round {round_no} slot {slot}")

    def proof_request(self, round_no: int, slot: int) -> tuple[str, int] | None:
        """(requester, last block to reveal by) of a slot's open proof request, or None."""
        requester, reveal_by = self.contract.functions.proofRequest(round_no, slot).call()
        return None if int(requester, 16) == 0 else (requester, int(reveal_by))

    def aggregate_leaf(self, signer: LocalAccount, round_no: int, leaf: int, proof: Proof | bytes, cid: str) -> dict:
        """Submit a leaf's proven partial sum (any account may); `cid` is the partial sum vector's."""
        data = proof.data if isinstance(proof, Proof) else proof
        return self._send(signer, self.contract.functions.aggregateLeaf(round_no, leaf, data, cid),
                          f"leaf {leaf} of round {round_no}")

    def finalize_round(self, signer: LocalAccount, round_no: int, proof: Proof | bytes, cid: str) -> dict:
        data = proof.data if isinstance(proof, Proof) else proof
        return self._send(signer, self.contract.functions.finalizeRound(round_no, data, cid),
                          f"finalization of round {round_no}")

    def fund_rewards(self, signer: LocalAccount, wei: int) -> dict:
        return self._send(signer, self.contract.functions.fundRewards(), "reward funding", value=wei)

    def claim_rewards(self, signer: LocalAccount) -> dict:
        return self._send(signer, self.contract.functions.claimRewards(), "reward claim")

    def withdraw(self, signer: LocalAccount) -> dict:
        return self._send(signer, self.contract.functions.withdraw(), "withdrawal")

    def set_aggregator(self, signer: LocalAccount, account: str) -> dict:
        return self._send(signer, self.contract.functions.setAggregator(account), "aggregator change")

    # views: the federation's fixed parameters ---------------------------------
    @property
    def slots(self) -> int:
        return int(self.contract.functions.slots().call())

    @property
    def leaf_slots(self) -> int:
        """G: slots per leaf of the aggregation tree (0: flat)."""
        return int(self.contract.functions.leafSlots().call())

    @property
    def leaf_verifier(self) -> str | None:
        address = str(self.contract.functions.leafVerifier().call())
        return None if int(address, 16) == 0 else address

    @property
    def challenge_bond_wei(self) -> int:
        """The bond a challenge or a proof request posts (0 in an eager federation)."""
        return int(self.contract.functions.challengeBond().call())

    @property
    def empty_slot_hash(self) -> int:
        return int(self.contract.functions.emptySlotHash().call())

    @property
    def client_verifier(self) -> str:
        return str(self.contract.functions.clientVerifier().call())

    @property
    def aggregator_verifier(self) -> str:
        return str(self.contract.functions.aggregatorVerifier().call())

    @property
    def circuits_digest(self) -> bytes:
        return bytes(self.contract.functions.circuitsDigest().call())

    @property
    def federation_id(self) -> bytes:
        return bytes(self.contract.functions.federationId().call())

    def context(self, account: str) -> FixedArray:
        """The context input a client proof submitted here by `account` must carry."""
        return context(self.chain.chain_id, self.federation_id, account)

    def context_hash_of(self, account: str) -> int:
        """The coordinator's own computation of C(context) for `account` (digest)."""
        return int(self.contract.functions.contextHashOf(account).call())

    @property
    def owner(self) -> str:
        return str(self.contract.functions.owner().call())

    @property
    def terms(self) -> FederationTerms:
        f = self.contract.functions
        return FederationTerms(int(f.stakeAmount().call()), int(f.rewardPerUpdate().call()),
                               int(f.submissionWindow().call()), int(f.finalizationGrace().call()),
                               OPTIMISTIC if f.optimistic().call() else EAGER, int(f.challengeWindow().call()),
                               int(f.challengeBond().call()), int(f.challengerShareBps().call()))

    # views: state ---------------------------------------------------------------
    @property
    def aggregator(self) -> str:
        return str(self.contract.functions.aggregator().call())

    @property
    def registered_clients(self) -> int:
        return int(self.contract.functions.registeredClients().call())

    @property
    def reward_pool(self) -> int:
        return int(self.contract.functions.rewardPool().call())

    @property
    def current_round(self) -> int:
        return int(self.contract.functions.currentRound().call())

    def round(self, round_no: int) -> RoundState:
        model_hash, deadline, accepted, finalized = self.contract.functions.getRound(round_no).call()
        return RoundState(round_no, model_hash, deadline, accepted, finalized)

    def accepted_update_hash(self, round_no: int, slot: int) -> int:
        return int(self.contract.functions.acceptedUpdateHash(round_no, slot).call())

    def leaf_output_hash(self, round_no: int, leaf: int) -> int:
        """The digest of a leaf's proven partial sum (0: not proven for its current updates)."""
        return int(self.contract.functions.leafOutputHash(round_no, leaf).call())

    def leaf_accepted_updates(self, round_no: int, leaf: int) -> int:
        return int(self.contract.functions.leafAcceptedUpdates(round_no, leaf).call())

    def rewards_owed(self, account: str) -> int:
        return int(self.contract.functions.rewardsOwed(account).call())

    def client(self, account: str) -> ClientState:
        registered, slot, accepted, paid, stake, context_hash = self.contract.functions.getClient(account).call()
        return ClientState(account, registered, slot, accepted, paid, stake, context_hash)

    def data_batch(self, client: str, commitment: int) -> tuple[bool, bool]:
        """(committed, used) of a data batch of `client`."""
        committed, used = self.contract.functions.dataBatch(client, commitment).call()
        return committed, used

    # events -----------------------------------------------------------------
    def accepted_updates(self, round_no: int | None = None) -> list[AcceptedUpdate]:
        records = [AcceptedUpdate.from_event(e) for e in self.contract.events.UpdateAccepted.get_logs(from_block=0)]
        return [r for r in records if round_no is None or r.round == round_no]

    def aggregated_leaves(self, round_no: int | None = None) -> list[AggregatedLeaf]:
        records = [AggregatedLeaf.from_event(e) for e in self.contract.events.LeafAggregated.get_logs(from_block=0)]
        return [r for r in records if round_no is None or r.round == round_no]

    def opened_rounds(self) -> list[OpenedRound]:
        return [OpenedRound.from_event(e) for e in self.contract.events.RoundOpened.get_logs(from_block=0)]

    def finalized_rounds(self) -> list[FinalizedRound]:
        return [FinalizedRound.from_event(e) for e in self.contract.events.RoundFinalized.get_logs(from_block=0)]

    def _send(self, signer: LocalAccount, call: Any, what: str, value: int = 0) -> dict:
        return dict(transact(self.chain, signer, call, self.decoder, what, value=value))
