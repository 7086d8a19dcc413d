"""All four masking steps for clients that run in one process (`zkfl run`, tests, benches), with
dropouts at each step. Each client still sees only what the protocol gives it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from zkfl.errors import UnmaskError
from zkfl.privacy import prg
from zkfl.privacy.graph import neighbour_graph
from zkfl.privacy.masking import (
    Advertisement,
    ClientSecrets,
    Commit,
    MaskedUpload,
    Reveal,
    ShareBundle,
    mask_update,
    reveal,
    share_secrets,
)
from zkfl.privacy.terms import MaskingTerms, unmask_problem
from zkfl.privacy.unmasking import Unmasked, unmask


@dataclass(frozen=True)
class PublicRecord:
    """Everything a round's masking publishes: what an outsider (and the auditor) can read."""

    terms: MaskingTerms
    graph: Mapping[str, tuple[str, ...]]
    adverts: Mapping[str, Advertisement]
    bundles: Mapping[str, ShareBundle]
    uploads: Mapping[str, MaskedUpload]
    summed: tuple[str, ...]
    reveals: tuple[Reveal, ...]


def advertise(clients: Collection[ClientSecrets]) -> dict[str, Advertisement]:
    return {c.client: c.advertisement() for c in clients}


def run_local(
    terms: MaskingTerms,
    updates: Mapping[str, prg.FieldVector],
    commit: Commit,
    *,
    no_shares: Collection[str] = (),
    no_upload: Collection[str] = (),
    no_reveal: Collection[str] = (),
    secrets_: Mapping[str, ClientSecrets] | None = None,
) -> tuple[PublicRecord, Unmasked]:
    """Mask `updates` (client -> field vector) and unmask their sum. Clients in `no_shares` drop out
    after advertising, those in `no_upload` after sharing, those in `no_reveal` after uploading.
    `secrets_` are the clients' own (drawn here if not given)."""
    if secrets_ is None:
        secrets_ = {c: ClientSecrets.generate(c) for c in sorted(updates)}
    adverts = advertise(secrets_.values())
    graph = neighbour_graph(list(adverts), terms.degree, terms.domain)
    bundles = {
        c: share_secrets(terms, s, graph[c], {a: v.channel_key for a, v in adverts.items()})
        for c, s in secrets_.items()
        if c not in set(no_shares)
    }
    shared = {c: adverts[c] for c in bundles}
    uploads = {
        c: mask_update(terms, secrets_[c], updates[c], graph[c], shared, commit)
        for c in bundles
        if c not in set(no_upload)
    }
    summed = tuple(sorted(uploads))
    problem = unmask_problem(graph, summed, terms.threshold)
    if problem:
        raise UnmaskError(problem)
    reveals = tuple(
        reveal(terms, secrets_[c], graph, bundles, adverts, summed) for c in summed if c not in set(no_reveal)
    )
    record = PublicRecord(terms, graph, adverts, bundles, uploads, summed, reveals)
    return record, unmask(terms, graph, adverts, bundles, uploads, summed, reveals)
