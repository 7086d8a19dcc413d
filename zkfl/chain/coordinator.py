"""The coordinator contract from Python: its calls, views and events as typed records. The ABI is
the compiled artifact shipped with the package (`zkfl.evm.contracts`); deployment lives in
`zkfl.chain.deploy`, and reaching a chain in `zkfl.chain.rpc`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TransactionNotFound

from zkfl.chain.rpc import Chain, ErrorDecoder, transact
from zkfl.errors import ChainError
from zkfl.evm.contracts import project_artifact
from zkfl.federation.terms import EAGER, OPTIMISTIC, PRIVATE, PUBLIC, FederationTerms
from zkfl.fixedpoint import FixedArray
from zkfl.protocol import context, optimistic_claim, vector_from_opening
from zkfl.zk.commitments import point_hash
from zkfl.zk.prover import Proof

MESSAGES: dict[str, Callable[..., str]] = {
    "NotOwner": lambda caller: f"only the federation's owner may do this, not {caller}",
    "NotAggregator": lambda caller: f"only the federation's aggregator may do this, not {caller}",
    "WrongStake": lambda required, sent: f"registration stakes exactly {required} wei, not {sent}",
    "WrongGlobalModel": lambda round, expected, got: (
        f"the proof starts from model hash {got:#x}, but round {round}'s global model hash is {expected:#x}"
    ),
    "WrongDataCommitment": lambda client, got: (
        f"the proof's data commitment {got:#x} is not one that {client} committed at registration"
    ),
    "WrongContext": lambda client, expected, got: (
        f"the proof is bound to context {got:#x}, but proofs from {client} in this federation must be bound to "
        f"{expected:#x}: it was made for another account, federation or chain; prove again for this one"
    ),
    "ProofTooShort": lambda length, required: (
        f"the proof has {length} bytes, fewer than the {required} its commitments alone take: "
        "not a proof of this circuit"
    ),
    "DataCommitmentUsed": lambda dataCommitment: (
        f"data batch {dataCommitment:#x} was already used in an accepted update; train on a fresh committed batch"
    ),
    "NoDataCommitments": lambda: "at least one data commitment is required",
    "TooManyOpenBatches": lambda client, open, max: (
        f"{client} would hold {open} committed, unused data batches; this federation allows {max} at once: "
        "commit more after using some"
    ),
    "BatchNotYetUsable": lambda client, dataCommitment, usableFrom, round: (
        f"{client} committed data batch {dataCommitment:#x} while round {usableFrom - 1} was open, so it trains "
        f"from round {usableFrom} on, not in round {round} (a batch must be committed before its round's model "
        "is published); use an older batch, or submit it in a later round"
    ),
    "InvalidProof": lambda verifier: f"the verifier at {verifier} rejected the proof",
    "VerifierOutOfGas": lambda verifier: (
        f"the verifier at {verifier} ran out of gas before reaching a verdict; raise the gas limit"
    ),
    "AlreadySubmitted": lambda round, client: f"{client} already submitted an update in round {round}",
    "NotRegistered": lambda client: f"{client} is not a registered client",
    "SubmissionClosed": lambda round, deadline, blockNumber: (
        f"round {round} closed for submissions at block {deadline} (now block {blockNumber})"
    ),
    "SubmissionStillOpen": lambda round, deadline, blockNumber: (
        f"round {round} is still open until block {deadline} (now block {blockNumber}) and not every client submitted"
    ),
    "WrongUpdateSum": lambda round, expected, got: (
        f"the aggregation took commitment {got:#x} as its input, but the sum of round {round}'s accepted "
        f"updates commits to {expected:#x}: aggregate exactly the accepted updates (zkfl.fedavg.update_sum)"
    ),
    "WrongUpdatePoint": lambda round, slot, expected, got: (
        f"the point given for round {round} {_slot(slot)} hashes to {got:#x}, not the accepted {expected:#x}: "
        "take it from the slot's UpdateAccepted event"
    ),
    "WrongRound": lambda current, given: f"round {given} is not the open round ({current})",
    "DataAlreadyCommitted": lambda client, dataCommitment: (
        f"{client} already committed data commitment {dataCommitment:#x}"
    ),
    "AlreadyRegistered": lambda client: f"{client} is already registered",
    "FederationFull": lambda slots: f"all {slots} client slots are taken",
    "NoAcceptedUpdates": lambda round: (
        f"round {round} has no accepted update to aggregate; once its challenge window is over anyone can "
        "skip it (skipRound), and the next round starts from the same model"
    ),
    "WrongVerificationMode": lambda optimistic: (
        "this federation verifies proofs optimistically: submit with submitUpdateOptimistic"
        if optimistic
        else "this federation verifies every proof on submission: submit with submitUpdate "
        "(proof challenges do not apply)"
    ),
    "WrongBond": lambda required, sent: f"this posts a bond of exactly {required} wei, not {sent}",
    "NothingToChallenge": lambda round, slot: f"round {round} has no accepted update in slot {slot} to dispute",
    "ChallengeWindowClosed": lambda round, closedAt, blockNumber: (
        f"round {round}'s window for challenges and requests closed at block {closedAt} (now block {blockNumber})"
    ),
    "ChallengeWindowOpen": lambda round, closesAt, blockNumber: (
        f"round {round}'s updates can be challenged until block {closesAt} (now block {blockNumber}); finalize after it"
    ),
    "ClaimMismatch": lambda round, slot: (
        f"these proof bytes or commitments are not what slot {slot} of round {round} was submitted with"
    ),
    "AlreadyDefended": lambda round, slot: f"the proof of round {round} slot {slot} was already verified on-chain",
    "AlreadyOpened": lambda round, slot: f"the vector of round {round} {_slot(slot)} was already opened on-chain",
    "RequestPending": lambda round, slot, revealBy: (
        f"a request on round {round} {_slot(slot)} is open until block {revealBy}: answer it (revealProof or "
        "openVector) or, after that block, settle it (settleUnanswered)"
    ),
    "NoRequest": lambda round, slot: f"no request of this kind is open on round {round} {_slot(slot)}",
    "RevealWindowClosed": lambda round, slot, revealBy, blockNumber: (
        f"the request on round {round} {_slot(slot)} had to be answered by block {revealBy} (now block {blockNumber})"
    ),
    "RevealWindowOpen": lambda round, slot, revealBy, blockNumber: (
        f"the request on round {round} {_slot(slot)} can still be answered until block {revealBy} (now block "
        f"{blockNumber})"
    ),
    "DisputesOpen": lambda round, open: (
        f"round {round} has {open} request(s) not yet answered or settled; it can close only after them"
    ),
    "WrongVectorLength": lambda expected, got: f"an opening of this vector takes {expected} elements, not {got}",
    "WrongBasis": lambda: "the basis points are not the federation's (their hash differs from vectorBasisHash)",
    "WrongOpening": lambda round, slot, expected, got: (
        f"this vector's canonical commitment {got:#x} is not the {expected:#x} that round {round} holds for "
        f"{_slot(slot)}"
    ),
    "RoundNotStalled": lambda round, skippableAfter, blockNumber: (
        f"round {round} can still be finalized; it can be skipped after block {skippableAfter} (now block "
        f"{blockNumber})"
    ),
    "ModelNotDisputable": lambda round: (
        f"round {round}'s model was not published by an aggregation into it (the genesis, or a model carried over "
        "by a skipped round, which could be disputed in its own round)"
    ),
    "InvalidContextKey": lambda: "a commitment-key point is the identity: not a key of this federation's circuits",
    "InvalidPoint": lambda: "a point is not on the BN254 curve (the precompile refused it)",
    "InsufficientRewardPool": lambda available, owed: (
        f"the reward pool holds {available} wei, not enough for even one of the {owed} wei owed; claim after it "
        "is funded"
    ),
    "NothingToClaim": lambda account: f"{account} is owed no reward (only updates of finalized rounds earn one)",
    "NothingToWithdraw": lambda payee: f"nothing is credited to {payee}",
    "TransferFailed": lambda to, amount: f"{to} refused the {amount} wei sent to it; its credit stays",
    "ZeroAddress": lambda: "an address argument is zero",
    "InvalidConfig": lambda what: f"invalid coordinator config: {what}",
    "WrongChannelKeyLength": lambda length: (
        f"a channel key is 192 bytes (x·G1 then x·G2 of a BN254 secret), got {length}"
    ),
    "WrongUpdateMode": lambda privateUpdates: (
        "this federation's updates are private: that step does not apply (updates are never opened)"
        if privateUpdates
        else "this federation's updates are public: it has no key sharing and excludes no update"
    ),
    "OutsideShareWindow": lambda round, opensAt, closesAt, blockNumber: (
        f"round {round} takes masking keys in blocks {opensAt}..{closesAt} (now block {blockNumber})"
    ),
    "ShareWindowOpen": lambda round, closesAt: (
        f"round {round}'s share window runs until block {closesAt}: mask and submit after it, once every "
        "neighbour's keys are known"
    ),
    "NotInCohort": lambda round, client, firstRound: (
        f"{client} has set no channel key (setChannelKey) yet"
        if firstRound == 2**32 - 1
        else f"{client} joined or set its channel key after round {round}'s masking cohort was fixed; it takes "
        f"part from round {firstRound}"
    ),
    "UpdatesArePrivate": lambda round, slot: (
        f"round {round} {_slot(slot)} holds a private update: it is never opened (its masked upload is checked instead)"
    ),
    "SubmissionsStillOpen": lambda round, deadline: (
        f"round {round} takes submissions until block {deadline}: exclude an update only after that"
    ),
    "PendingSubmission": lambda round, client, withdrawableAfter: (
        f"{client} has an update waiting in round {round}; it can withdraw once the round is closed, or "
        f"after block {withdrawableAfter} if the aggregator has not finalized it by then"
    ),
}
"""A sentence for each custom error of the coordinator (ICoordinator.sol), keyed by name, taking
the error's ABI parameters by name (tests/test_chain.py ties the two together, both ways)."""

MODEL_SLOT = 2**256 - 1
"""The "slot" of a round's model in requests and openings (`Disputes.MODEL_SLOT`)."""

ROUND_NOT_OPENED, ROUND_OPEN, ROUND_FINALIZED, ROUND_SKIPPED = range(4)
"""`ICoordinator.RoundStatus`."""

PROOF_REQUEST, OPENING_REQUEST = 1, 2


def _slot(slot: int) -> str:
    return "model" if slot == MODEL_SLOT else f"slot {slot}"


@dataclass(frozen=True)
class RoundState:
    round: int
    model_hash: int
    deadline: int
    accepted: int
    finalized: bool
    skipped: bool = False

    @property
    def closed(self) -> bool:
        return self.finalized or self.skipped


@dataclass(frozen=True)
class ClientState:
    address: str
    registered: bool
    slot: int
    open_batches: int
    rewarded_updates: int  # updates of finalized rounds, folded in
    paid_updates: int
    has_pending: bool  # an accepted update whose round had not closed when last folded
    pending_round: int
    first_round: int  # the first round whose masking cohort it is in (private federations)
    stake: int
    context_hash: int  # digest of C(context) its proofs must carry


@dataclass(frozen=True)
class SharedKeys:
    """A KeysShared event: a client's masking keys for a round, pinned by its bundle's SHA-256."""

    round: int
    client: str
    bundle_sha256: bytes
    block: int


@dataclass(frozen=True)
class DisputeState:
    """A slot's disputes in a round (`slot` MODEL_SLOT: the round's model)."""

    requester: str | None  # an open request's
    reveal_by: int
    pending: int  # 0 none, PROOF_REQUEST, OPENING_REQUEST
    defended: bool  # its proof was verified on-chain
    opened: bool  # its vector was opened canonically on-chain


@dataclass(frozen=True)
class OpenRequest:
    """An open request (ProofRequested / OpeningRequested) still waiting for its answer."""

    round: int
    slot: int  # MODEL_SLOT for a round's model
    kind: int  # PROOF_REQUEST or OPENING_REQUEST
    requester: str
    reveal_by: int


@dataclass(frozen=True)
class AcceptedUpdate:
    round: int
    client: str
    slot: int
    update_hash: int
    update_point: bytes  # C(update), 64 bytes (x, y): what the round's sum adds
    cid: str
    block: int
    tx_hash: str

    @classmethod
    def from_event(cls, e: Any) -> AcceptedUpdate:
        return cls(
            e.args.round,
            e.args.client,
            e.args.slot,
            e.args.updateHash,
            b"".join(int(c).to_bytes(32, "big") for c in e.args.updatePoint),
            e.args.cid,
            e.blockNumber,
            e.transactionHash.to_0x_hex(),
        )


@dataclass(frozen=True)
class PendingProof:
    """A ProofPending event: an optimistic submission, with what its transaction's calldata carried
    (the chain keeps only the hash of the commitments; the proof bytes are in the store under
    CIDv1 raw sha2-256 of `proof_sha256`)."""

    round: int
    slot: int
    proof_sha256: bytes
    client: str
    commitments: bytes
    block: int
    tx_hash: str


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
    sum_hash: int  # C(sum of the accepted updates): the aggregation's input
    sum_cid: str
    block: int
    tx_hash: str

    @classmethod
    def from_event(cls, e: Any) -> FinalizedRound:
        return cls(
            e.args.round,
            e.args.nextModelHash,
            e.args.nextModelCid,
            e.args.acceptedUpdates,
            e.args.sumHash,
            e.args.sumCid,
            e.blockNumber,
            e.transactionHash.to_0x_hex(),
        )


@dataclass(frozen=True)
class SkippedRound:
    """A RoundSkipped event: the round closed without an aggregation."""

    round: int
    dropped_updates: int
    model_rolled_back: bool
    block: int
    tx_hash: str

    @classmethod
    def from_event(cls, e: Any) -> SkippedRound:
        return cls(
            e.args.round, e.args.droppedUpdates, e.args.modelRolledBack, e.blockNumber, e.transactionHash.to_0x_hex()
        )


def resolve_model_cids(opened: Sequence[OpenedRound]) -> list[OpenedRound]:
    """RoundOpened events in order, each with its model's CID: a round opened by a skip carries an
    empty CID, meaning the CID of the last earlier round opened with the same model hash."""
    known: dict[int, str] = {}
    resolved = []
    for event in opened:
        cid = event.model_cid or known.get(event.model_hash, "")
        if cid:
            known[event.model_hash] = cid
        resolved.append(replace(event, model_cid=cid))
    return resolved


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
        stake = self.stake_wei if stake_wei is None else stake_wei
        return self._send(signer, self.contract.functions.register(list(data_commitments)), "registration", value=stake)

    def commit_data(self, signer: LocalAccount, data_commitments: Sequence[int]) -> dict:
        return self._send(signer, self.contract.functions.commitData(list(data_commitments)), "data commitment")

    def submit_update(self, signer: LocalAccount, round_no: int, proof: Proof | bytes, cid: str) -> dict:
        data = proof.data if isinstance(proof, Proof) else proof
        return self._send(
            signer, self.contract.functions.submitUpdate(round_no, data, cid), f"update submission for round {round_no}"
        )

    def submit_update_optimistic(self, signer: LocalAccount, round_no: int, proof: Proof | bytes, cid: str) -> dict:
        """An optimistic federation's submission: the proof's commitments and its SHA-256 (the
        proof bytes themselves belong in the store, where challengers fetch them)."""
        commitments, proof_sha256 = optimistic_claim(proof.data if isinstance(proof, Proof) else proof)
        call = self.contract.functions.submitUpdateOptimistic(round_no, commitments, proof_sha256, cid)
        return self._send(signer, call, f"optimistic update submission for round {round_no}")

    def set_channel_key(self, signer: LocalAccount, channel_key: bytes) -> dict:
        """Set the client's channel key (private federations): it takes part from the next round on."""
        return self._send(signer, self.contract.functions.setChannelKey(channel_key), "channel key")

    def channel_keys(self) -> list[tuple[str, bytes, int, int, int]]:
        """(client, channel key, first round, block, log index) of every ChannelKeySet, oldest first."""
        events = self.contract.events.ChannelKeySet.get_logs(from_block=0)
        return [(e.args.client, bytes(e.args.channelKey), e.args.firstRound, e.blockNumber, e.logIndex) for e in events]

    def masking_cohort(self, round_no: int) -> dict[str, bytes]:
        """Round `round_no`'s masking cohort (private federations), client address (lower case) ->
        channel key: every client whose latest channel key with `firstRound` <= the round was set
        while it was registered, and that had not withdrawn before the round's share window opened
        (round 0: by `registrationEnds`; later rounds: before the round opened). The coordinator's
        `firstRound` makes this the set fixed before the round's window, whatever happens after."""
        if round_no == 0:
            cutoff = (int(self.contract.functions.registrationEnds().call()), 2**64)
        else:
            opened = self.contract.events.RoundOpened.get_logs(from_block=0, argument_filters={"round": round_no})
            if not opened:
                raise ChainError(f"round {round_no} has not opened: its masking cohort is not fixed yet")
            cutoff = (opened[0].blockNumber, opened[0].logIndex)
        membership: dict[str, tuple[tuple[int, int], bool]] = {}
        for name, joined in (("ClientRegistered", True), ("ClientWithdrawn", False)):
            for e in getattr(self.contract.events, name).get_logs(from_block=0):
                at = (e.blockNumber, e.logIndex)
                if at < cutoff and (
                    e.args.client.lower() not in membership or membership[e.args.client.lower()][0] < at
                ):
                    membership[e.args.client.lower()] = (at, joined)
        keys: dict[str, bytes] = {}
        for client, key, first_round, _, _ in self.channel_keys():
            if first_round <= round_no and membership.get(client.lower(), ((0, 0), False))[1]:
                keys[client.lower()] = key
        return dict(sorted(keys.items()))

    def share_keys(self, signer: LocalAccount, round_no: int, bundle_sha256: bytes) -> dict:
        """Share masking keys for a round (private federations): the bundle is in the store, and
        this pins its SHA-256 (the digest of its CID)."""
        call = self.contract.functions.shareKeys(round_no, bundle_sha256)
        return self._send(signer, call, f"masking keys for round {round_no}")

    def exclude_update(self, signer: LocalAccount, round_no: int, slot: int, evidence_cid: str) -> dict:
        """Exclude an accepted private update that the masking checks name (the aggregator only)."""
        point = self.accepted_point(round_no, slot)
        call = self.contract.functions.excludeUpdate(round_no, slot, point, evidence_cid)
        return self._send(signer, call, f"exclusion of round {round_no} slot {slot}")

    def share_window(self, round_no: int) -> tuple[int, int]:
        """(first block, last block) of the open round's share window (private federations)."""
        opens, closes = self.contract.functions.shareWindowOf(round_no).call()
        return int(opens), int(closes)

    def shared_keys(self, round_no: int) -> list[SharedKeys]:
        """The round's KeysShared events, oldest first."""
        events = self.contract.events.KeysShared.get_logs(from_block=0, argument_filters={"round": round_no})
        return [SharedKeys(e.args.round, e.args.client, bytes(e.args.bundleHash), e.blockNumber) for e in events]

    def excluded_updates(self, round_no: int | None = None) -> list[tuple[int, int, str, str]]:
        """(round, slot, client, evidence CID) of every UpdateExcluded."""
        events = self.contract.events.UpdateExcluded.get_logs(from_block=0)
        found = [(e.args.round, e.args.slot, e.args.client, e.args.evidenceCid) for e in events]
        return [f for f in found if round_no is None or f[0] == round_no]

    def challenge(
        self,
        signer: LocalAccount,
        round_no: int,
        slot: int,
        commitments: bytes,
        proof: bytes,
        bond_wei: int | None = None,
    ) -> dict:
        """Challenge an optimistically accepted update with its proof bytes (posting the bond);
        `commitments` are the ones it was submitted with."""
        bond = self.challenge_bond_wei if bond_wei is None else bond_wei
        call = self.contract.functions.challenge(round_no, slot, commitments, proof)
        return self._send(signer, call, f"challenge of round {round_no} slot {slot}", value=bond)

    def request_proof(self, signer: LocalAccount, round_no: int, slot: int, bond_wei: int | None = None) -> dict:
        """Demand the proof of an optimistic update whose bytes are not in the store (posting the bond)."""
        bond = self.challenge_bond_wei if bond_wei is None else bond_wei
        return self._send(
            signer,
            self.contract.functions.requestProof(round_no, slot),
            f"proof request for round {round_no} slot {slot}",
            value=bond,
        )

    def reveal_proof(self, signer: LocalAccount, round_no: int, slot: int, commitments: bytes, proof: bytes) -> dict:
        """Answer a proof request with the proof bytes (the coordinator verifies them; valid: the
        bond is credited to `signer`)."""
        call = self.contract.functions.revealProof(round_no, slot, commitments, proof)
        return self._send(signer, call, f"proof reveal for round {round_no} slot {slot}")

    def request_opening(self, signer: LocalAccount, round_no: int, slot: int, bond_wei: int | None = None) -> dict:
        """Demand the canonical opening of an accepted update (`slot`) or of the round's model
        (`MODEL_SLOT`), posting the bond."""
        bond = self.challenge_bond_wei if bond_wei is None else bond_wei
        return self._send(
            signer,
            self.contract.functions.requestOpening(round_no, slot),
            f"opening request for round {round_no} {_slot(slot)}",
            value=bond,
        )

    def open_vector(
        self, signer: LocalAccount, round_no: int, slot: int, values: Sequence[int], basis: Sequence[bytes]
    ) -> dict:
        """Answer an opening request with the vector (field elements) and the federation's basis points."""
        call = self.contract.functions.openVector(round_no, slot, list(values), b"".join(basis))
        return self._send(signer, call, f"opening of round {round_no} {_slot(slot)}")

    def settle_unanswered(self, signer: LocalAccount, round_no: int, slot: int) -> dict:
        """Settle a request nobody answered in time: slash the update (its point, from its
        UpdateAccepted event, leaves the round's sum), or roll back the model."""
        point = b"" if slot == MODEL_SLOT else self.accepted_point(round_no, slot)
        return self._send(
            signer,
            self.contract.functions.settleUnanswered(round_no, slot, point),
            f"settling the unanswered request on round {round_no} {_slot(slot)}",
        )

    def skip_round(self, signer: LocalAccount, round_no: int) -> dict:
        """Skip a round that cannot be finalized (no accepted update after its window, or left open
        by the aggregator past the grace): the next round starts from the same model."""
        return self._send(signer, self.contract.functions.skipRound(round_no), f"skipping round {round_no}")

    def withdraw_payments(self, signer: LocalAccount, payee: str | None = None) -> dict:
        """Send `payee` (default: the signer) everything credited to it."""
        return self._send(
            signer, self.contract.functions.withdrawPayments(payee or signer.address), "payment withdrawal"
        )

    def payments(self, account: str) -> int:
        """Wei credited to `account` and not yet withdrawn."""
        return int(self.contract.functions.payments(account).call())

    def dispute(self, round_no: int, slot: int) -> DisputeState:
        requester, reveal_by, pending, defended, opened = self.contract.functions.disputeOf(round_no, slot).call()
        return DisputeState(
            None if int(requester, 16) == 0 else requester, int(reveal_by), int(pending), bool(defended), bool(opened)
        )

    def proof_request(self, round_no: int, slot: int) -> tuple[str, int] | None:
        """(requester, last block to reveal by) of a slot's open proof request, or None."""
        state = self.dispute(round_no, slot)
        return (state.requester, state.reveal_by) if state.pending == PROOF_REQUEST and state.requester else None

    def open_requests(self, round_no: int) -> list[OpenRequest]:
        """The requests of a round still waiting for an answer or a settlement, from the events
        checked against storage."""
        found = {}
        for name, kind in (("ProofRequested", PROOF_REQUEST), ("OpeningRequested", OPENING_REQUEST)):
            for e in getattr(self.contract.events, name).get_logs(from_block=0):
                if e.args.round == round_no:
                    found[(e.args.slot, kind)] = e
        requests = []
        for (slot, kind), e in sorted(found.items()):
            state = self.dispute(round_no, slot)
            if state.pending != kind or state.requester is None:
                continue
            if state.requester == e.args.requester and state.reveal_by == e.args.revealBy:
                requests.append(OpenRequest(round_no, slot, kind, state.requester, state.reveal_by))
        return requests

    def opened_vector(self, round_no: int, slot: int) -> FixedArray | None:
        """The vector last opened on-chain for a slot (or MODEL_SLOT) of a round, read from the
        opening's calldata (None: never opened)."""
        events = [
            e
            for e in self.contract.events.VectorOpened.get_logs(from_block=0)
            if e.args.round == round_no and e.args.slot == slot
        ]
        return self.opened_vector_in(events[-1].transactionHash.to_0x_hex(), round_no, slot) if events else None

    def opened_vector_in(self, tx_hash: str, round_no: int, slot: int) -> FixedArray:
        """The vector that transaction `tx_hash` opened for `round_no`'s `slot`, decoded from its
        calldata (the coordinator checked it opens the commitment it holds). Only a direct call to
        the coordinator can be decoded."""
        w3 = self.chain.w3
        try:
            tx = w3.eth.get_transaction(HexStr(tx_hash))
        except TransactionNotFound as exc:
            raise ChainError(f"the opening transaction {tx_hash} is not on the chain") from exc
        if tx["to"] is None or w3.to_checksum_address(tx["to"]) != self.address:
            raise ChainError(
                f"the opening transaction {tx_hash} was not sent to the coordinator {self.address} "
                "(a call through another contract): its calldata does not hold the vector"
            )
        function, args = self.contract.decode_function_input(tx["input"])
        if function.fn_name != "openVector" or (args["round"], args["slot"]) != (round_no, slot):
            raise ChainError(
                f"transaction {tx_hash} is not the opening of round {round_no} {_slot(slot)} "
                f"(it calls {function.fn_name})"
            )
        return vector_from_opening(args["values"])

    @property
    def vector_basis_hash(self) -> bytes:
        return bytes(self.contract.functions.vectorBasisHash().call())

    @property
    def update_length(self) -> int:
        return int(self.contract.functions.updateLength().call())

    def model_bond(self, round_no: int) -> tuple[str | None, int]:
        """(publisher, bond) of the open round's model; (None, 0) for genesis, for a model carried
        over from a skipped round, and for any round but the open one (its bond was credited back)."""
        author, amount = self.contract.functions.modelBond(round_no).call()
        return (None if int(author, 16) == 0 else author), int(amount)

    def finalize_round(self, signer: LocalAccount, round_no: int, proof: Proof | bytes, cid: str, sum_cid: str) -> dict:
        """Finalize with the FedAvg proof over the sum of the accepted updates (stored under
        `sum_cid`), posting the next model's bond (the stake amount; credited back to the aggregator
        when the next round closes, unless nobody can open that model). A signer whose bond backs
        the open round's model posts nothing: that bond carries over to the next model."""
        data = proof.data if isinstance(proof, Proof) else proof
        author, _ = self.model_bond(round_no)
        return self._send(
            signer,
            self.contract.functions.finalizeRound(round_no, data, cid, sum_cid),
            f"finalization of round {round_no}",
            value=0 if author == signer.address else self.stake_wei,
        )

    def fund_rewards(self, signer: LocalAccount, wei: int) -> dict:
        return self._send(signer, self.contract.functions.fundRewards(), "reward funding", value=wei)

    def claim_rewards(self, signer: LocalAccount) -> dict:
        return self._send(signer, self.contract.functions.claimRewards(), "reward claim")

    def withdraw(self, signer: LocalAccount) -> dict:
        """Leave the federation: the slot is freed and the stake credited (`withdraw_payments`)."""
        return self._send(signer, self.contract.functions.withdraw(), "withdrawal")

    def set_aggregator(self, signer: LocalAccount, account: str) -> dict:
        return self._send(signer, self.contract.functions.setAggregator(account), "aggregator change")

    # views: the federation's fixed parameters ---------------------------------
    @property
    def slots(self) -> int:
        return int(self.contract.functions.slots().call())

    @property
    def challenge_bond_wei(self) -> int:
        """The bond a challenge or a request posts."""
        return int(self.contract.functions.challengeBond().call())

    @property
    def stake_wei(self) -> int:
        return int(self.contract.functions.stakeAmount().call())

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
        return FederationTerms(
            int(f.stakeAmount().call()),
            int(f.rewardPerUpdate().call()),
            int(f.submissionWindow().call()),
            int(f.finalizationGrace().call()),
            OPTIMISTIC if f.optimistic().call() else EAGER,
            int(f.challengeWindow().call()),
            int(f.challengeBond().call()),
            int(f.challengerShareBps().call()),
            int(f.registrationWindow().call()),
            int(f.revealWindow().call()),
            int(f.maxOpenBatches().call()),
            int(f.bondGasPrice().call()),
            PRIVATE if f.privateUpdates().call() else PUBLIC,
            int(f.shareWindow().call()) or FederationTerms.share_window,
        )

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
        """A round's state. The contract keeps the open round's record and a closed round's status
        only: a closed round's model, deadline and update count are read from its RoundOpened event
        and its closing one (RoundFinalized or RoundSkipped)."""
        status = self.round_status(round_no)
        if status == ROUND_OPEN:
            try:
                model_hash, deadline, accepted = self.contract.functions.getRound(round_no).call()
                return RoundState(round_no, model_hash, deadline, accepted, False, False)
            except ContractLogicError:  # it closed meanwhile
                status = self.round_status(round_no)
        if status == ROUND_NOT_OPENED:
            raise ChainError(f"round {round_no} has not opened yet (the open round is {self.current_round})")
        (opened,) = self.contract.events.RoundOpened.get_logs(from_block=0, argument_filters={"round": round_no})
        closing = (
            self.contract.events.RoundFinalized if status == ROUND_FINALIZED else self.contract.events.RoundSkipped
        )
        (closed,) = closing.get_logs(from_block=0, argument_filters={"round": round_no})
        accepted = closed.args.acceptedUpdates if status == ROUND_FINALIZED else closed.args.droppedUpdates
        return RoundState(
            round_no,
            opened.args.modelHash,
            opened.args.deadline,
            accepted,
            status == ROUND_FINALIZED,
            status == ROUND_SKIPPED,
        )

    def round_status(self, round_no: int) -> int:
        """ROUND_NOT_OPENED, ROUND_OPEN, ROUND_FINALIZED or ROUND_SKIPPED, as the contract keeps it."""
        return int(self.contract.functions.roundStatus(round_no).call())

    def accepted_update_hash(self, round_no: int, slot: int) -> int:
        return int(self.contract.functions.acceptedUpdateHash(round_no, slot).call())

    def accepted_sum(self) -> bytes:
        """C(sum of the open round's accepted updates), 64 bytes: what its aggregation must take."""
        x, y = self.contract.functions.acceptedSum().call()
        return int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")

    def accepted_sum_hash(self) -> int:
        """The hash of `accepted_sum`."""
        return point_hash(self.accepted_sum())

    def accepted_point(self, round_no: int, slot: int) -> bytes:
        """C(update) of the update accepted in a slot of a round, from its UpdateAccepted event
        (checked against the hash the round holds)."""
        held = self.accepted_update_hash(round_no, slot)
        for update in self.accepted_updates(round_no):
            if update.slot == slot and update.update_hash == held:
                return update.update_point
        raise ChainError(f"round {round_no} holds no accepted update in slot {slot}")

    def rewards_owed(self, account: str) -> int:
        return int(self.contract.functions.rewardsOwed(account).call())

    def client(self, account: str) -> ClientState:
        return ClientState(account, *self.contract.functions.getClient(account).call())

    def data_batch(self, client: str, commitment: int) -> tuple[bool, bool, int]:
        """(committed, used, first round it may train in) of a data batch of `client`."""
        committed, used, usable_from = self.contract.functions.dataBatch(client, commitment).call()
        return committed, used, int(usable_from)

    # events -----------------------------------------------------------------
    def pending_proofs(self, from_block: int = 0, to_block: int | None = None) -> list[PendingProof]:
        """The optimistic submissions (ProofPending) in these blocks, oldest first, each with the
        submitter and commitments decoded from its transaction."""
        last = "latest" if to_block is None else to_block
        events = self.contract.events.ProofPending.get_logs(from_block=from_block, to_block=last)
        pending = []
        for e in events:
            tx = self.chain.w3.eth.get_transaction(e.transactionHash)
            _, args = self.contract.decode_function_input(tx["input"])
            pending.append(
                PendingProof(
                    e.args.round,
                    e.args.slot,
                    bytes(e.args.proofSha256),
                    tx["from"],
                    bytes(args["commitments"]),
                    e.blockNumber,
                    e.transactionHash.to_0x_hex(),
                )
            )
        return pending

    def slashed_updates(self) -> set[tuple[int, int, str]]:
        """(round, slot, client) of every slashed update (UpdateSlashed events)."""
        return {
            (e.args.round, e.args.slot, e.args.client)
            for e in self.contract.events.UpdateSlashed.get_logs(from_block=0)
        }

    def slashed_in(self, receipt: Any) -> bool:
        """Whether a transaction's receipt carries an UpdateSlashed event of this coordinator."""
        return bool(self.contract.events.UpdateSlashed().process_receipt(receipt))

    def accepted_updates(self, round_no: int | None = None) -> list[AcceptedUpdate]:
        records = [AcceptedUpdate.from_event(e) for e in self.contract.events.UpdateAccepted.get_logs(from_block=0)]
        return [r for r in records if round_no is None or r.round == round_no]

    def opened_rounds(self) -> list[OpenedRound]:
        """Every RoundOpened, with a skipped round's empty CID resolved (`resolve_model_cids`)."""
        return resolve_model_cids(
            [OpenedRound.from_event(e) for e in self.contract.events.RoundOpened.get_logs(from_block=0)]
        )

    def skipped_rounds(self) -> list[SkippedRound]:
        return [SkippedRound.from_event(e) for e in self.contract.events.RoundSkipped.get_logs(from_block=0)]

    def finalized_rounds(self) -> list[FinalizedRound]:
        return [FinalizedRound.from_event(e) for e in self.contract.events.RoundFinalized.get_logs(from_block=0)]

    def _send(self, signer: LocalAccount, call: Any, what: str, value: int = 0) -> dict:
        return dict(transact(self.chain, signer, call, self.decoder, what, value=value))
