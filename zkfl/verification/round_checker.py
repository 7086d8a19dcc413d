"""The round checker: every check of one round of a federation, from the chain (its events and the
proofs in its transactions) and the store. `zkfl verify --round` runs it on one round of a
workspace's federation and `zkfl audit` on every round; both report the same check ids.

Per accepted update: `client-proof-transaction`, `client-links`, `data-commitment`,
`client-proof-offchain`, `client-proof-onchain`, `update-stored`, `update-hash`.
Per finalized round: `update-sum` (the sum of the accepted updates' commitments, recomputed with
py-ecc from the points in `UpdateAccepted`, is what the finalization recorded), `aggregator-proof-transaction`,
`aggregation-links`, `aggregator-proof-offchain`, `aggregator-proof-onchain`, `sum-stored`,
`sum-hash`, `sum-exact` (the stored sum is the exact sum of the stored updates), `next-model-stored`,
`next-model-hash`, `fedavg` (replayed from the stored sum).
Per round: `model-stored`, `model-hash`; per skipped round: `round-skipped` (it has no aggregation,
and its updates are in no FedAvg); once per verifier: `verifier-rejects-invalid`.
A vector missing from the store but opened on-chain (`VectorOpened`) is read from its opening's
calldata; one the chain already dealt with (a model nobody could open, rolled back) may be missing.
The rules themselves (commitment layout, sender binding, the sum rule, links, stored vectors) are
`zkfl.protocol`'s. Every commitment is recomputed from the stored vector with the federation's
commitment key (ezkl's `kzg_commit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zkfl.chain.coordinator import MODEL_SLOT, AcceptedUpdate, Coordinator, FinalizedRound
from zkfl.chain.history import FederationLog
from zkfl.circuits import FedAvgSpec
from zkfl.circuits.kinds import CircuitKind
from zkfl.errors import ZkflError
from zkfl.fedavg import fedavg_float_gap, fixed_point_fedavg, update_sum
from zkfl.fixedpoint import FixedArray
from zkfl.privacy.checks import masking_problem
from zkfl.privacy.masking import MaskedUpload
from zkfl.privacy.records import reveal_from_json, upload_from_json
from zkfl.privacy.unmasking import unmask
from zkfl.protocol import (
    AggregationCommitments,
    ClientCommitments,
    aggregation_link_problem,
    client_link_problem,
    commitment_mismatch,
    context,
    summed_commitment,
    vector_from_opening,
)
from zkfl.store.artifacts import ArtifactStore, get_json, get_vector
from zkfl.verification.findings import Findings
from zkfl.verification.masking import adverts_of, masking_round, shared_bundles
from zkfl.verification.proofs import SubmittedProof, submitted_proof, verify_offchain, verify_onchain
from zkfl.zk.commitments import CommitmentKey, point_hash
from zkfl.zk.prover import VerifierKeys


@dataclass(frozen=True)
class ProofVerdict:
    offchain: bool  # ezkl, with the federation's verification key
    onchain: bool | None  # eth_call to the deployed verifier (None: not asked)
    verify_seconds: float | None  # the off-chain verification alone
    tx_hash: str
    gas_used: int


@dataclass(frozen=True)
class UpdateRow:
    slot: int
    client: str
    update_hash: str
    cid: str
    proof: ProofVerdict
    stored_ok: bool  # fetched by CID and committing to the accepted commitment


@dataclass(frozen=True)
class AggregationRow:
    next_model_hash: str
    next_model_cid: str
    sum_hash: str  # the aggregation's input: C(sum of the accepted updates)
    sum_cid: str
    proof: ProofVerdict
    stored_ok: bool
    sum_ok: bool  # the sum's commitment is the sum of the accepted commitments, and the stored sum is it
    fedavg_exact: bool  # FedAvg replayed from the stored sum equals the published next model bit for bit
    float_max_abs_diff: float | None  # |published - float FedAvg of the same updates|, max over weights

    @classmethod
    def of(
        cls,
        finalized: FinalizedRound,
        proof: ProofVerdict,
        stored_ok: bool,
        sum_ok: bool,
        fedavg_exact: bool,
        float_gap: float | None,
    ) -> AggregationRow:
        """The row of a finalized round's aggregation, its hashes and CIDs from the finalization."""
        return cls(
            hex(finalized.next_model_hash),
            finalized.next_model_cid,
            hex(finalized.sum_hash),
            finalized.sum_cid,
            proof,
            stored_ok,
            sum_ok,
            fedavg_exact,
            float_gap,
        )


@dataclass
class RoundAudit:
    round: int
    model_hash: str
    model_cid: str
    finalized: bool
    skipped: bool = False  # closed without an aggregation (RoundSkipped)
    model_rolled_back: bool = False  # skipped because its model could not be opened
    updates: list[UpdateRow] = field(default_factory=list)
    aggregation: AggregationRow | None = None
    accuracy: float | None = None  # of this round's starting model, with an evaluation set


@dataclass(frozen=True)
class FederationView:
    """What checking rounds reads: the coordinator and its event log, the store, the federation's
    fixed parameters, and the keys to verify proofs and recompute commitments with (None where no
    trusted key is at hand)."""

    coordinator: Coordinator
    log: FederationLog
    store: ArtifactStore
    slots: int
    federation_id: bytes
    verifiers: dict[CircuitKind, str]  # the deployed verifier the coordinator calls for each kind
    keys: dict[CircuitKind, VerifierKeys | None]
    commitments: CommitmentKey | None
    fedavg: FedAvgSpec | None  # the FedAvg shape, to recompute it (None: unknown, so not recomputed)
    onchain: bool = True  # also eth_call each proof against the deployed verifiers
    private: bool = False  # updates are masked (secure aggregation): no update is stored in the clear

    @classmethod
    def read(
        cls,
        coordinator: Coordinator,
        store: ArtifactStore,
        keys: dict[CircuitKind, VerifierKeys | None],
        commitments: CommitmentKey | None,
        fedavg: FedAvgSpec | None,
        onchain: bool = True,
    ) -> FederationView:
        """The coordinator's fixed parameters and its event log, read from the chain."""
        verifiers = {
            CircuitKind.CLIENT: coordinator.client_verifier,
            CircuitKind.AGGREGATOR: coordinator.aggregator_verifier,
        }
        return cls(
            coordinator,
            FederationLog.read(coordinator),
            store,
            coordinator.slots,
            coordinator.federation_id,
            verifiers,
            keys,
            commitments,
            fedavg,
            onchain,
            bool(coordinator.contract.functions.privateUpdates().call()),
        )

    def sender_context(self, sender: str) -> int | None:
        """The digest of C(context) a proof submitted by `sender` must carry (None: no key)."""
        if self.commitments is None:
            return None
        return self.commitments.commitment_hash(context(self.coordinator.chain.chain_id, self.federation_id, sender))


class RoundChecker:
    """Checks rounds of one federation, recording every check in `findings`. Checks that span rounds
    (a data batch used once, one negative control per verifier, each stored vector fetched once)
    carry over between the rounds it checks."""

    def __init__(self, view: FederationView, findings: Findings | None = None):
        self.view = view
        self.findings = findings if findings is not None else Findings()
        self.verify_seconds: dict[str, list[float]] = {kind: [] for kind in CircuitKind}
        # cid -> (vector, its commitment, why none, where it came from)
        self._vectors: dict[str, tuple[FixedArray, int | None, str, str]] = {}
        self._used_batches: set[tuple[str, int]] = set()  # (client, data commitment)
        self._contexts: dict[str, int | None] = {}  # sender -> its context commitment, committed once
        self._controlled: set[str] = set()

    # ----------------------------------------------------------------------------- rounds
    def note_earlier_rounds(self, before: int) -> None:
        """Remember the data batches that rounds before `before` used, read from their transactions,
        so that checking one round alone still catches a batch used twice."""
        for r in range(before):
            for update in self.view.log.updates(r):
                try:
                    sub = submitted_proof(self.view.coordinator, update.tx_hash, self.view.store)
                    self._used_batches.add((sub.sender, ClientCommitments.from_proof(sub.proof).data))
                except ZkflError:
                    continue  # that round's own check reports the unreadable transaction

    def check_round(self, r: int) -> RoundAudit:
        log, findings = self.view.log, self.findings
        opened = log.opened[r]
        self._fetch(
            "model",
            f"round {r}",
            opened.model_cid,
            opened.model_hash,
            f"round {r}'s model",
            (r, MODEL_SLOT),
            self._withheld(r),
        )
        audit = RoundAudit(
            r, hex(opened.model_hash), opened.model_cid, r in log.finalized, r in log.skipped, log.rolled_back(r)
        )
        self._note_skip(r)
        vectors: dict[int, FixedArray | None] = {}
        uploads: dict[str, MaskedUpload | None] = {}
        for update in log.updates(r):
            where = f"round {r} slot {update.slot}"
            sub = self._submitted(CircuitKind.CLIENT, where, update.tx_hash)
            verdict = ProofVerdict(False, None, None, update.tx_hash, 0)
            if sub is not None:
                try:
                    proof = ClientCommitments.from_proof(sub.proof)
                    problem = client_link_problem(
                        proof, opened.model_hash, update.update_hash, self._sender_context(sub.sender)
                    )
                except ZkflError as exc:  # not a training-step proof: a finding, like the aggregation's
                    proof, problem = None, str(exc)
                findings.add("client-links", where, problem is None, problem or "")
                if proof is not None:
                    self._check_data_commitment(where, sub, proof.data)
                verdict = self._verify_proof(CircuitKind.CLIENT, where, sub)
            if self.view.private:  # only the masked upload is stored; the masking checks use it
                upload = self._masked_upload(where, update.cid)
                uploads[update.client.lower()] = upload
                stored = upload is not None
            else:
                vector = self._fetch(
                    "update", where, update.cid, update.update_hash, "accepted update", (r, update.slot)
                )
                vectors[update.slot] = vector
                stored = vector is not None
            audit.updates.append(
                UpdateRow(update.slot, update.client, hex(update.update_hash), update.cid, verdict, stored)
            )
        for update, evidence in log.excluded.get(r, []):
            self._check_exclusion(r, update, evidence)
        finalized = log.finalized.get(r)
        if finalized is not None and self.view.private:
            audit.aggregation = self._check_private_aggregation(r, finalized, uploads)
        elif finalized is not None:
            audit.aggregation = self._check_aggregation(r, finalized, vectors)
        return audit

    def _note_skip(self, r: int) -> None:
        """A skipped round passes as skipped (`round-skipped`): it has nothing to aggregate."""
        skip = self.view.log.skipped.get(r)
        if skip is None:
            return
        start = "the model before it (its own could not be opened)" if skip.model_rolled_back else "the same model"
        self.findings.add(
            "round-skipped",
            f"round {r}",
            True,
            f"skipped in {skip.tx_hash}: {skip.dropped_updates} accepted update(s) dropped, in no "
            f"aggregation; round {r + 1} starts from {start}",
        )

    def _withheld(self, r: int) -> str | None:
        """Why round `r`'s model may be missing from the store: the chain rolled it back."""
        if not self.view.log.rolled_back(r):
            return None
        return (
            f"nobody opened it on request, so the chain rolled round {r} back to the model before it and "
            "slashed its publisher's bond (ModelSlashed): no later round starts from it"
        )

    def _check_exclusion(self, r: int, update: AcceptedUpdate, evidence_cid: str) -> None:
        """`update-excluded`: an update the aggregator excluded has its evidence in the store, naming
        this client and round and the check it failed (the client kept its stake; the audit shows why)."""
        scope = f"round {r} slot {update.slot}"
        try:
            record = get_json(self.view.store, evidence_cid)
            named = record["client"] == update.client.lower() and record["round"] == r
            why = str(record["why"])
        except (ZkflError, ValueError, KeyError, TypeError) as exc:
            self.findings.add("update-excluded", scope, False, f"the exclusion's evidence {evidence_cid}: {exc}")
            return
        self.findings.add(
            "update-excluded",
            scope,
            named,
            f"excluded ({evidence_cid}): {why}"
            if named
            else f"the evidence {evidence_cid} names another client or round",
        )

    def _masked_upload(self, scope: str, cid: str) -> MaskedUpload | None:
        """A private update's masked upload from the store (`masked-upload-stored`)."""
        try:
            upload = upload_from_json(get_json(self.view.store, cid))
        except (ZkflError, ValueError, KeyError, TypeError) as exc:
            self.findings.add("masked-upload-stored", scope, False, f"masked upload {cid}: {exc}")
            return None
        self.findings.add("masked-upload-stored", scope, True, cid)
        return upload

    def intact_vector(self, cid: str) -> FixedArray | None:
        """A vector this checker fetched intact (its bytes match its CID), whatever it commits to."""
        entry = self._vectors.get(cid)
        return entry[0] if entry is not None else None

    # ----------------------------------------------------------------------------- parts
    def _check_aggregation(
        self, r: int, finalized: FinalizedRound, vectors: dict[int, FixedArray | None]
    ) -> AggregationRow:
        view, findings = self.view, self.findings
        scope = f"round {r} aggregation"
        updates = view.log.updates(r)
        sum_ok = self._check_update_sum(scope, updates, finalized)
        verdict = self._check_aggregation_proof(scope, finalized)
        total = self._fetch("sum", scope, finalized.sum_cid, finalized.sum_hash, "sum of the accepted updates")
        fetched = [vectors.get(u.slot) for u in updates]
        if total is None or any(v is None for v in fetched):
            findings.add(
                "sum-exact", scope, False, "cannot recompute: the stored sum or an accepted update is unavailable"
            )
            sum_ok = False
        else:
            summed = update_sum([v for v in fetched if v is not None])
            exact_sum = bool(np.array_equal(summed, total))
            findings.add(
                "sum-exact",
                scope,
                exact_sum,
                f"the stored sum is the exact sum of the {len(updates)} accepted update(s)"
                if exact_sum
                else "the stored sum is not the sum of the accepted updates",
            )
            sum_ok = sum_ok and exact_sum
        present = [v for v in fetched if v is not None]
        published, exact, float_gap = self._check_fedavg(
            r, scope, finalized, total, len(updates), present if len(present) == len(updates) else []
        )
        return AggregationRow.of(finalized, verdict, published is not None, sum_ok, exact, float_gap)

    def _check_aggregation_proof(self, scope: str, finalized: FinalizedRound) -> ProofVerdict:
        """`aggregator-proof-transaction`, `aggregation-links` and the proof's verification."""
        sub = self._submitted(CircuitKind.AGGREGATOR, scope, finalized.tx_hash)
        if sub is None:
            return ProofVerdict(False, None, None, finalized.tx_hash, 0)
        try:
            problem = aggregation_link_problem(
                AggregationCommitments.from_proof(sub.proof), finalized.sum_hash, finalized.next_model_hash
            )
        except ZkflError as exc:
            problem = str(exc)
        self.findings.add("aggregation-links", scope, problem is None, problem or "")
        return self._verify_proof(CircuitKind.AGGREGATOR, scope, sub)

    def _check_fedavg(
        self,
        r: int,
        scope: str,
        finalized: FinalizedRound,
        total: FixedArray | None,
        count: int,
        updates: list[FixedArray],
    ) -> tuple[FixedArray | None, bool, float | None]:
        """`next-model-stored`, `next-model-hash` and `fedavg` (replayed from the sum `total`); the
        published model, whether it is exact, and its gap to float FedAvg of `updates` (if given)."""
        view, findings = self.view, self.findings
        withheld = self._withheld(r + 1)
        published = self._fetch(
            "next-model",
            scope,
            finalized.next_model_cid,
            finalized.next_model_hash,
            "next model",
            (r + 1, MODEL_SLOT),
            withheld,
        )
        exact, float_gap = False, None
        if published is None and withheld is not None:
            findings.add("fedavg", scope, True, f"not recomputed: the next model is unavailable, and {withheld}")
        elif view.fedavg is None:
            findings.add("fedavg", scope, False, "cannot recompute: the model's shape is unknown (no trusted manifest)")
        elif total is None or published is None:
            findings.add("fedavg", scope, False, "cannot recompute: the stored sum or the next model is unavailable")
        else:
            spec = view.fedavg
            try:
                recomputed = fixed_point_fedavg(total)
            except ZkflError as exc:
                findings.add("fedavg", scope, False, f"cannot replay FedAvg from the stored sum: {exc}")
            else:
                exact = bool(np.array_equal(recomputed, published))
                diff = np.flatnonzero(recomputed != published)
                findings.add(
                    "fedavg",
                    scope,
                    exact,
                    f"the published next model equals the fixed-point FedAvg of the sum of {count} update(s)"
                    if exact
                    else f"the published next model is not the FedAvg of the stored sum: {diff.size} of "
                    f"{spec.num_params} elements differ (first at index {diff[0]}: published {published[diff[0]]}, "
                    f"FedAvg {recomputed[diff[0]]})",
                )
            if updates:
                float_gap = float(np.max(np.abs(fedavg_float_gap(updates, published, spec.num_params))))
        return published, exact, float_gap

    def _check_private_aggregation(
        self, r: int, finalized: FinalizedRound, uploads: dict[str, MaskedUpload | None]
    ) -> AggregationRow:
        """A private round's aggregation, with no secret: the proof and the sum rule as in a public
        round; the unmasking record (`unmasking-stored`) whose sum commits to the aggregation's input
        (`sum-hash`); each summed client's masked upload against its proof's update commitment, with
        the self seed revealed at unmasking (`masking-check`); the unmasking redone from the record's
        reveals and the shares alone (`unmask-replay`); FedAvg replayed from the sum."""
        view = self.view
        scope = f"round {r} aggregation"
        updates = view.log.updates(r)
        sum_ok = self._check_update_sum(scope, updates, finalized)
        verdict = self._check_aggregation_proof(scope, finalized)
        total, replayed = self._check_unmasking(r, scope, finalized, updates, uploads)
        published, exact, _ = self._check_fedavg(r, scope, finalized, total, len(updates), [])
        return AggregationRow.of(finalized, verdict, published is not None, sum_ok and replayed, exact, None)

    def _check_unmasking(
        self,
        r: int,
        scope: str,
        finalized: FinalizedRound,
        updates: list[AcceptedUpdate],
        uploads: dict[str, MaskedUpload | None],
    ) -> tuple[FixedArray | None, bool]:
        """The sum from the round's unmasking record, if it commits to the aggregation's input; and
        whether every masking check and the unmasking's replay pass."""
        view, findings = self.view, self.findings
        try:
            record = get_json(view.store, finalized.sum_cid)
            total = np.asarray(record["sum"], dtype=np.int64)
            seeds = {c: bytes.fromhex(v) for c, v in record["self_seeds"].items()}
            reveals = [reveal_from_json(get_json(view.store, cid)) for cid in record["reveal_cids"]]
        except (ZkflError, ValueError, KeyError, TypeError) as exc:
            findings.add("unmasking-stored", scope, False, f"the unmasking record {finalized.sum_cid}: {exc}")
            return None, False
        findings.add("unmasking-stored", scope, True, f"{finalized.sum_cid}: {len(reveals)} reveal(s)")
        if view.commitments is None or view.fedavg is None:
            findings.add("masking-check", scope, False, "cannot check: no trusted commitment key or model shape")
            return None, False
        key = view.commitments
        actual = key.commitment_hash(total)
        problem = commitment_mismatch(actual, finalized.sum_hash, "the unmasked sum")
        findings.add("sum-hash", scope, problem is None, problem or f"commitment {finalized.sum_hash:#x}")
        setting = masking_round(view.coordinator, view.fedavg.update_len, r)
        zero, ok = key.zero_point(), problem is None
        summed = {}
        for update in updates:
            client, where = update.client.lower(), f"round {r} slot {update.slot}"
            upload, seed = uploads.get(client), seeds.get(client)
            if upload is None or seed is None:
                ok = findings.add("masking-check", where, False, "no masked upload or no revealed self seed to check")
                continue
            summed[client] = upload
            why = masking_problem(setting.terms, key.field_point, zero, upload, update.update_point, seed)
            ok = (
                findings.add("masking-check", where, why is None, why or "masked upload = proven update + masks") and ok
            )
        if len(summed) != len(updates):
            return None, False
        try:
            bundles = shared_bundles(view.store, view.coordinator, setting)
            result = unmask(
                setting.terms,
                setting.graph,
                adverts_of(setting, bundles),
                bundles,
                summed,
                sorted(summed),
                reveals,
                verify=True,
            )
            replayed = bool(np.array_equal(vector_from_opening(result.total), total))
            detail = "the unmasking, redone from the reveals and the shares, gives the recorded sum"
        except ZkflError as exc:
            replayed, detail = False, f"cannot redo the unmasking: {exc}"
        if not replayed and not detail.startswith("cannot"):
            detail = "the unmasking, redone from the reveals and the shares, gives another sum than the record's"
        findings.add("unmask-replay", scope, replayed, detail)
        return (total if problem is None else None), ok and replayed

    def _check_update_sum(self, scope: str, updates: list[AcceptedUpdate], finalized: FinalizedRound) -> bool:
        """`update-sum`: the points the round's UpdateAccepted events carry hash to the accepted
        commitments, and their sum (the sum rule, with py-ecc) is the input the finalization recorded."""
        commitments = self.view.commitments
        if commitments is None:
            return self.findings.add("update-sum", scope, False, "cannot recompute: no trusted commitment key")
        wrong = [u.slot for u in updates if point_hash(u.update_point) != u.update_hash]
        if wrong:
            return self.findings.add(
                "update-sum", scope, False, f"slot(s) {wrong}: the event's point is not the accepted commitment"
            )
        try:
            expected = point_hash(summed_commitment([u.update_point for u in updates], commitments.zero_point()))
        except ZkflError as exc:
            return self.findings.add("update-sum", scope, False, str(exc))
        problem = commitment_mismatch(finalized.sum_hash, expected, "the finalized aggregation's input")
        detail = f"C(sum) of {len(updates)} accepted update(s) is the finalization's input"
        return self.findings.add("update-sum", scope, problem is None, problem or detail)

    def _submitted(self, kind: CircuitKind, scope: str, tx_hash: str) -> SubmittedProof | None:
        try:
            sub = submitted_proof(self.view.coordinator, tx_hash, self.view.store)
        except ZkflError as exc:
            self.findings.add(f"{kind}-proof-transaction", scope, False, str(exc))
            return None
        if sub.kind != kind:
            self.findings.add(
                f"{kind}-proof-transaction", scope, False, f"transaction {tx_hash} carries a {sub.kind} proof"
            )
            return None
        return sub

    def _verify_proof(self, kind: CircuitKind, scope: str, sub: SubmittedProof) -> ProofVerdict:
        view, findings = self.view, self.findings
        keys = view.keys.get(kind)
        seconds = None
        if keys is None:
            offchain = findings.add(
                f"{kind}-proof-offchain", scope, False, "no trusted verification key to verify with"
            )
        else:
            try:
                seconds = verify_offchain(keys, sub.proof)
                offchain = findings.add(f"{kind}-proof-offchain", scope, True, f"{seconds:.3f} s")
                self.verify_seconds[kind].append(seconds)
            except ZkflError as exc:
                offchain = findings.add(f"{kind}-proof-offchain", scope, False, str(exc))
        onchain = None
        if view.onchain:
            chain, verifier = view.coordinator.chain, view.verifiers[kind]
            onchain = verify_onchain(chain, verifier, sub.proof)
            findings.add(
                f"{kind}-proof-onchain", scope, onchain, "" if onchain else f"the verifier {verifier} rejects it"
            )
            if kind not in self._controlled:  # once per verifier: a corrupted proof must be rejected
                self._controlled.add(kind)
                corrupted = bytearray(sub.proof)
                corrupted[len(corrupted) // 2] ^= 0x01
                rejects = not verify_onchain(chain, verifier, bytes(corrupted))
                findings.add(
                    "verifier-rejects-invalid",
                    f"{kind} verifier",
                    rejects,
                    f"{verifier} rejects a proof with one flipped byte"
                    if rejects
                    else f"{verifier} ACCEPTS a proof with one flipped byte: it does not verify proofs",
                )
        return ProofVerdict(
            offchain, onchain, round(seconds, 4) if seconds is not None else None, sub.tx_hash, sub.gas_used
        )

    def _sender_context(self, sender: str) -> int | None:
        if sender not in self._contexts:
            self._contexts[sender] = self.view.sender_context(sender)
        return self._contexts[sender]

    def _check_data_commitment(self, scope: str, sub: SubmittedProof, commitment: int) -> None:
        """The batch was committed by the sender, usable in this round, and not used before."""
        batch = (sub.sender, commitment)
        usable_from = self.view.log.commitments.get(batch)
        reused = batch in self._used_batches
        self._used_batches.add(batch)
        problem = (
            f"never committed by the sender {sub.sender}"
            if usable_from is None
            else "already used by its sender"
            if reused
            else f"committed to train from round {usable_from} on, not in round {sub.round}"
            if usable_from > sub.round
            else None
        )
        self.findings.add(
            "data-commitment",
            scope,
            problem is None,
            "" if problem is None else f"data commitment {commitment:#x} was {problem}",
        )

    def _fetch(
        self,
        check: str,
        scope: str,
        cid: str,
        expected: int,
        what: str,
        opening: tuple[int, int] | None = None,
        settled: str | None = None,
    ) -> FixedArray | None:
        """The vector under `cid` if it is intact (`{check}-stored`) and commits to the chain's
        `expected` (`{check}-hash`); each CID is fetched and committed to once. `opening` is the
        (round, slot) whose on-chain opening stands in for a store that cannot serve it;
        `settled` says why its absence is no fault (the chain already dealt with it)."""
        entry = self._vectors.get(cid) or self._load(cid, opening)
        if isinstance(entry, str):
            self.findings.add(
                f"{check}-stored",
                scope,
                settled is not None,
                f"{what} {cid}: {entry}" + (f"; {settled}" if settled else ""),
            )
            return None
        vector, actual, reason, source = entry
        self.findings.add(f"{check}-stored", scope, True, source)
        problem = (
            f"the {what} at {cid} cannot be committed to: {reason}"
            if actual is None
            else commitment_mismatch(actual, expected, f"the {what} at {cid}")
        )
        self.findings.add(f"{check}-hash", scope, problem is None, problem or f"commitment {expected:#x}")
        return vector if problem is None else None

    def _load(self, cid: str, opening: tuple[int, int] | None) -> tuple[FixedArray, int | None, str, str] | str:
        """(vector, its commitment or None, why none, where it came from) from the store, else from
        its on-chain opening; or why neither can serve it."""
        try:
            vector, source = get_vector(self.view.store, cid), cid
        except ZkflError as exc:
            if opening is None or (tx := self.view.log.openings.get(opening)) is None:
                return str(exc)
            try:
                vector = self.view.coordinator.opened_vector_in(tx, *opening)
            except ZkflError as chain_exc:
                return f"{exc}; and its on-chain opening {tx} cannot be read: {chain_exc}"
            source = f"not usable from the store ({exc}); read from its on-chain opening, transaction {tx}"
        commitment, reason = None, "no trusted commitment key (circuit settings, vk and SRS)"
        if self.view.commitments is not None:
            try:
                commitment, reason = self.view.commitments.commitment_hash(vector), ""
            except ZkflError as exc:
                reason = str(exc)
        self._vectors[cid] = (vector, commitment, reason, source)
        return self._vectors[cid]
