"""A private round's masking as anyone derives it from the chain and the store, with no secret: its
cohort, terms and neighbour graph (`masking_round`), the key bundles shared in it, the clients in
its sum. The pipeline (clients and aggregator), the round checker and the audit all use these."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass

from zkfl.chain.coordinator import Coordinator
from zkfl.errors import MaskingError, ZkflError
from zkfl.federation.terms import MIN_COHORT
from zkfl.privacy.graph import default_degree, default_threshold, neighbour_graph
from zkfl.privacy.keys import PublicKey
from zkfl.privacy.masking import Advertisement, ShareBundle
from zkfl.privacy.records import bundle_from_json
from zkfl.privacy.terms import MaskingTerms, round_domain
from zkfl.store.artifacts import ArtifactStore
from zkfl.store.cid import raw_cid


@dataclass(frozen=True)
class MaskingRound:
    """A round's masking as everyone derives it from the chain: its terms, its cohort (address ->
    channel key) and its neighbour graph."""

    round: int
    terms: MaskingTerms
    cohort: dict[str, PublicKey]
    graph: dict[str, tuple[str, ...]]


def masking_round(coordinator: Coordinator, update_len: int, round_no: int) -> MaskingRound:
    """Round `round_no`'s masking from the chain: its cohort, terms (default degree and threshold for
    its size, the domain of this chain, federation and round) and neighbour graph."""
    cohort = {c: PublicKey.from_bytes(k) for c, k in coordinator.masking_cohort(round_no).items()}
    if len(cohort) < MIN_COHORT:
        raise MaskingError(
            f"round {round_no}'s masking cohort has {len(cohort)} client(s) with a channel key; private updates need "
            f"at least {MIN_COHORT} (with two, each learns the other's update from the sum)"
        )
    degree = default_degree(len(cohort))
    domain = round_domain(coordinator.chain.chain_id, coordinator.federation_id, round_no)
    terms = MaskingTerms(domain, update_len, degree, default_threshold(degree))
    return MaskingRound(round_no, terms, cohort, neighbour_graph(list(cohort), degree, domain))


def shared_bundles(store: ArtifactStore, coordinator: Coordinator, setting: MaskingRound) -> dict[str, ShareBundle]:
    """The key bundles of the round's cohort members that shared (KeysShared), from the store. A
    bundle that is missing, malformed or another client's counts as not shared."""
    bundles: dict[str, ShareBundle] = {}
    for event in coordinator.shared_keys(setting.round):
        dealer = event.client.lower()
        if dealer not in setting.cohort:
            continue
        try:
            bundle = bundle_from_json(json.loads(store.get(raw_cid(event.bundle_sha256))))
        except (ValueError, KeyError, TypeError, ZkflError):
            continue
        if bundle.dealer == dealer:
            bundles[dealer] = bundle
    return bundles


def adverts_of(setting: MaskingRound, bundles: dict[str, ShareBundle]) -> dict[str, Advertisement]:
    """Each sharer's advertisement: its channel key (from the chain) and its round mask key (its bundle)."""
    return {d: Advertisement(d, setting.cohort[d], b.mask_key) for d, b in bundles.items() if b.mask_key is not None}


def summed_clients(coordinator: Coordinator, round_no: int) -> list[str]:
    """The clients whose updates are in the round's sum now (accepted and not removed since)."""
    return sorted(
        e.client.lower()
        for e in coordinator.accepted_updates(round_no)
        if coordinator.accepted_update_hash(round_no, e.slot) == e.update_hash
    )


def unshared_submitters(submitters: Collection[str], sharers: Collection[str]) -> dict[str, str]:
    """The rule for an update whose sender shared no key bundle in its round (none on-chain, or one
    the store cannot serve): nobody masked with it and its self mask cannot be removed, so it is
    excluded (the coordinator stores no flag for it: see `shareKeys`)."""
    shared = {c.lower() for c in sharers}
    return {
        client.lower(): "it submitted without a usable key bundle shared in the round: its upload cannot be unmasked"
        for client in submitters
        if client.lower() not in shared
    }
