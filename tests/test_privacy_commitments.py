"""Masked uploads of real proven updates, checked with real KZG commitments: anyone can check each
client's masked upload against its proof's update commitment, and the unmasked sum against the sum
of those commitments (the chain's rule); a tampered upload and a shifted commitment are named."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import ProvenRound

from zkfl.privacy import prg
from zkfl.privacy.checks import masking_problem, settle_pairs, sum_problem
from zkfl.privacy.local import PublicRecord, run_local
from zkfl.privacy.masking import ClientSecrets, pair_claims
from zkfl.privacy.terms import MaskingTerms
from zkfl.protocol import CLIENT_POINTS, proof_points, summed_commitment
from zkfl.zk.build import CircuitSet
from zkfl.zk.commitments import add_points, negate_point

pytestmark = pytest.mark.prover

DOMAIN = bytes(31) + b"\x07"


def update_point(update) -> bytes:
    return proof_points(update.proof.data, CLIENT_POINTS, "a client proof")[3]


@pytest.fixture(scope="module")
def masked_round(logreg_circuits: CircuitSet, full_round: ProvenRound):
    key = logreg_circuits.commitments
    names = [f"0x{i:040x}" for i in range(1, len(full_round.updates) + 1)]
    values = {n: prg.field_vector(u.vector) for n, u in zip(names, full_round.updates, strict=True)}
    points = {n: update_point(u) for n, u in zip(names, full_round.updates, strict=True)}
    terms = MaskingTerms(DOMAIN, len(next(iter(values.values()))), degree=2, threshold=1)
    secrets_ = {n: ClientSecrets.generate(n) for n in names}
    record, result = run_local(terms, values, key.field_point, secrets_=secrets_)
    return key, record, result, points, secrets_


def test_each_masked_upload_is_its_proven_update_plus_its_masks_and_the_sum_is_the_chains(masked_round) -> None:
    key, record, result, points, _ = masked_round
    zero = key.zero_point()
    for client, upload in record.uploads.items():
        assert (
            masking_problem(record.terms, key.field_point, zero, upload, points[client], result.self_seeds[client])
            is None
        )
    chain_sum = summed_commitment([points[c] for c in record.summed], zero)
    assert sum_problem(key.field_point, result.total, chain_sum) is None


def test_a_tampered_masked_upload_is_named_by_its_check_and_breaks_the_sum(masked_round) -> None:
    key, record, result, points, _ = masked_round
    zero = key.zero_point()
    victim = record.summed[1]
    upload = record.uploads[victim]
    tampered = dataclasses.replace(upload, masked=[upload.masked[0] + 1, *upload.masked[1:]])
    problem = masking_problem(record.terms, key.field_point, zero, tampered, points[victim], result.self_seeds[victim])
    assert problem is not None and victim in problem
    others = [c for c in record.summed if c != victim]
    for c in others:
        assert (
            masking_problem(record.terms, key.field_point, zero, record.uploads[c], points[c], result.self_seeds[c])
            is None
        )
    total = prg.add(result.total, [1] + [0] * (record.terms.length - 1))
    assert sum_problem(key.field_point, total, summed_commitment(list(points.values()), zero)) is not None


def test_a_commitment_offset_moved_into_a_pairwise_commitment_passes_its_own_check_and_is_named_by_the_pairs(
    masked_round,
) -> None:
    """Finding 4 of the security review: a proof whose C(u) is off by a point Z that no vector gives
    (a patched prover can put Z in the column's unusable rows). The cheater adds -Z to the pairwise
    commitment it publishes, so its own check passes; the unmasked sum then misses the chain's sum by
    Z, and settling the pairs names it, and only it. (Z here is any point: the checks see points only.)"""
    key, record, result, points, secrets_ = masked_round
    zero = key.zero_point()
    cheat = record.summed[0]
    offset = key.field_point([5, 6, 7])
    shifted_point = add_points(points[cheat], offset, negate_point(zero))
    upload = record.uploads[cheat]
    shifted_upload = dataclasses.replace(
        upload, pair_mask_point=add_points(upload.pair_mask_point, negate_point(offset), zero)
    )
    uploads = {**record.uploads, cheat: shifted_upload}
    assert (
        masking_problem(record.terms, key.field_point, zero, shifted_upload, shifted_point, result.self_seeds[cheat])
        is None
    )
    chain_sum = summed_commitment([shifted_point if c == cheat else points[c] for c in record.summed], zero)
    assert sum_problem(key.field_point, result.total, chain_sum) is not None
    claims = _claims(record, secrets_, key.field_point)
    honest = settle_pairs(
        record.terms,
        key.field_point,
        zero,
        record.graph,
        record.adverts,
        list(record.bundles),
        record.uploads,
        claims,
        {},
    )
    assert honest == {}
    named = settle_pairs(
        record.terms, key.field_point, zero, record.graph, record.adverts, list(record.bundles), uploads, claims, {}
    )
    assert list(named) == [cheat]
    lying = dict(claims)
    partner = record.graph[cheat][0]
    moved = {**claims[cheat].points, partner: add_points(claims[cheat].points[partner], negate_point(offset), zero)}
    lying[cheat] = dataclasses.replace(claims[cheat], points=moved)
    named = settle_pairs(
        record.terms, key.field_point, zero, record.graph, record.adverts, list(record.bundles), uploads, lying, {}
    )
    assert list(named) == [cheat] and "pairwise mask with" in named[cheat]


def _claims(record: PublicRecord, secrets_: dict[str, ClientSecrets], commit):
    shared = {c: record.adverts[c] for c in record.bundles}
    return {
        c: pair_claims(record.terms, secrets_[c], record.graph[c], shared, record.summed, commit) for c in record.summed
    }
