"""Secure aggregation (SecAgg+): the exact sum comes out with dropouts up to the threshold, the
store holds nothing from which an update can be computed without t + 1 colluders, and cheating
holders, dealers and clients are named. Pure protocol: no prover, no chain."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from zkfl.errors import CheatingError, MaskingError, UnmaskError
from zkfl.privacy import prg
from zkfl.privacy.graph import default_degree, default_threshold, neighbour_graph
from zkfl.privacy.keys import KeyPair, agreed_point, derive, is_agreed_point
from zkfl.privacy.local import PublicRecord, run_local
from zkfl.privacy.masking import ClientSecrets, Reveal, pair_seed, pair_sign, reveal
from zkfl.privacy.shares import Secret, rebuild, share_hash, unseal
from zkfl.privacy.terms import MaskingTerms, unmask_problem
from zkfl.privacy.unmasking import unmask

LENGTH = 40
DOMAIN = bytes(range(32))


def no_commit(values: prg.FieldVector) -> bytes:
    return bytes(64)


def clients(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return sorted(f"0x{rng.getrandbits(160):040x}" for _ in range(count))


def updates(members: list[str], seed: int = 1) -> dict[str, prg.FieldVector]:
    rng = random.Random(seed)
    return {c: prg.field_vector(rng.randint(-5000, 5000) for _ in range(LENGTH)) for c in members}


def terms_for(count: int) -> MaskingTerms:
    degree = default_degree(count)
    return MaskingTerms(DOMAIN, LENGTH, degree, default_threshold(degree))


def exact_sum(values: dict[str, prg.FieldVector], members: tuple[str, ...]) -> prg.FieldVector:
    total = [0] * LENGTH
    for c in members:
        total = prg.add(total, values[c])
    return total


def test_the_unmasked_sum_is_exactly_the_sum_of_the_updates_and_no_upload_is_its_update() -> None:
    members = clients(8)
    values = updates(members)
    record, result = run_local(terms_for(8), values, no_commit)
    assert result.total == exact_sum(values, record.summed)
    assert all(record.uploads[c].masked != values[c] for c in members)


def test_dropouts_after_sharing_and_after_submission_up_to_the_threshold_still_unmask() -> None:
    members = clients(8)
    values = updates(members)
    record, result = run_local(
        terms_for(8), values, no_commit, no_shares=members[:1], no_upload=members[1:3], no_reveal=members[3:5]
    )
    assert record.summed == tuple(members[3:])
    assert result.total == exact_sum(values, record.summed)
    assert set(result.mask_keys) == set(members[1:3])  # rebuilt: shared, then did not upload
    assert set(members[3:5]) <= set(result.self_seeds)  # rebuilt: uploaded, then did not answer


def test_a_third_of_the_clients_dropping_out_after_submission_still_unmasks() -> None:
    members = clients(12, seed=3)
    values = updates(members)
    record, result = run_local(terms_for(12), values, no_commit, no_reveal=members[::3])
    assert len(record.summed) == 12 and len(record.reveals) == 8
    assert result.total == exact_sum(values, record.summed)


def test_past_the_threshold_the_round_fails_by_name_before_anything_is_revealed() -> None:
    members = clients(8)
    terms = terms_for(8)
    graph = neighbour_graph(members, terms.degree, terms.domain)
    summed = members[: terms.threshold + 1]  # each summed client keeps t summed neighbours
    problem = unmask_problem(graph, summed, terms.threshold)
    assert problem is not None and "cannot be unmasked" in problem and "threshold" in problem
    me = ClientSecrets.generate(members[0])
    with pytest.raises(MaskingError, match="cannot be unmasked without exposing"):
        reveal(terms, me, graph, {}, {}, summed)
    with pytest.raises(UnmaskError, match="cannot be unmasked"):
        run_local(terms, updates(members), no_commit, no_upload=members[terms.threshold + 1 :])


def test_too_few_live_holders_fail_the_unmasking_with_the_count_and_what_to_do() -> None:
    members = clients(8)
    terms = terms_for(8)  # complete graph: 7 neighbours, t = 2, 3 shares needed
    silent = members[: 8 - terms.needed]  # the last summed client hears from only t holders
    with pytest.raises(UnmaskError, match=r"2 valid shares .* 3 are needed.*let it lapse"):
        run_local(terms, updates(members), no_commit, no_reveal=[*silent, members[-1]])


def _outsider_estimate(record: PublicRecord, victim: str, colluders: dict[str, ClientSecrets]) -> prg.FieldVector:
    """The best an attacker with the public record and the colluders' secrets computes of the victim's
    update: every secret of the victim it can rebuild or agree, removed from its masked upload."""
    terms, bundle = record.terms, record.bundles[victim]
    estimate = record.uploads[victim].masked
    opened: dict[Secret, list[bytes]] = {Secret.SELF_SEED: [], Secret.MASK_KEY: []}
    for holder, secrets_ in colluders.items():
        if holder in bundle.sealed:
            point = agreed_point(secrets_.channel.secret, record.adverts[victim].channel_key)
            key = derive(point, "share", terms.domain, victim, holder)
            for kind in Secret:
                share = unseal(key, terms.domain, victim, holder, kind, bundle.sealed[holder][kind])
                assert (
                    share is not None
                    and share_hash(terms.domain, victim, holder, kind, share) == (bundle.hashes[holder][kind])
                )
                opened[kind].append(share)
    self_seed = next((r.self_seed for r in record.reveals if r.holder == victim), None)
    if len(opened[Secret.SELF_SEED]) >= terms.needed:
        self_seed = rebuild(opened[Secret.SELF_SEED][: terms.needed])
    if self_seed is not None:
        estimate = prg.add(estimate, prg.mask(self_seed, terms.length), -1)
    mask_key = None
    if len(opened[Secret.MASK_KEY]) >= terms.needed:
        mask_key = int.from_bytes(rebuild(opened[Secret.MASK_KEY][: terms.needed]), "big")
    for other in record.graph[victim]:
        if other not in record.bundles:
            continue
        if mask_key is not None:
            seed = pair_seed(terms, mask_key, victim, other, record.adverts[other].mask_key)
        elif other in colluders:
            seed = pair_seed(terms, colluders[other].mask.secret, other, victim, record.adverts[victim].mask_key)
        else:
            continue
        estimate = prg.add(estimate, prg.mask(seed, terms.length), -pair_sign(victim, other))
    return estimate


def test_the_store_holds_nothing_from_which_an_update_can_be_computed_without_t_plus_1_colluders() -> None:
    """The attack: everything public after unmasking (masked uploads, sealed shares and their hashes, the
    revealed seeds) plus the secrets of t colluding neighbours of the victim, who open every share sealed
    for them. With t it gets a vector unrelated to the update; with t + 1 it gets the update itself."""
    members = clients(8)
    terms = terms_for(8)
    values = {c: prg.field_vector(np.arange(LENGTH) * (i + 1) - 7) for i, c in enumerate(members)}
    captured = {c: ClientSecrets.generate(c) for c in members}
    record, _ = run_local(terms, values, no_commit, no_upload=members[:1], secrets_=captured)
    victim = record.summed[0]
    neighbours = [n for n in record.graph[victim] if n in record.bundles]
    assert _outsider_estimate(record, victim, {}) != values[victim]
    few = _outsider_estimate(record, victim, {n: captured[n] for n in neighbours[: terms.threshold]})
    assert few != values[victim]
    residual = np.array(prg.signed(few), dtype=float)
    assert np.abs(residual).min() > 2**200  # still uniform field noise, not an update plus a little
    enough = _outsider_estimate(record, victim, {n: captured[n] for n in neighbours[: terms.needed]})
    assert enough == values[victim]


def test_a_holder_revealing_a_wrong_share_is_named_and_the_sum_still_comes_out() -> None:
    members = clients(8)
    values = updates(members)
    record, _ = run_local(terms_for(8), values, no_commit, no_reveal=members[:1])
    liar = record.reveals[0]
    forged = {d: (k, bytes([s[0] ^ 1]) + s[1:]) for d, (k, s) in liar.shares.items()}
    reveals = (dataclasses.replace(liar, shares=forged), *record.reveals[1:])
    r = record
    result = unmask(r.terms, r.graph, r.adverts, r.bundles, r.uploads, r.summed, reveals)
    assert result.total == exact_sum(values, record.summed)
    assert liar.holder in result.culprits and "does not match its hash" in result.culprits[liar.holder]


def test_a_client_whose_shares_do_not_rebuild_its_published_seed_is_named() -> None:
    members = clients(8)
    terms = terms_for(8)
    record, _ = run_local(terms, updates(members), no_commit, no_reveal=members[:1])
    cheat = members[0]
    bundle = dataclasses.replace(record.bundles[cheat], self_seed_hash=bytes(32))
    bundles = {**record.bundles, cheat: bundle}
    r = record
    with pytest.raises(CheatingError, match=cheat) as caught:
        unmask(r.terms, r.graph, r.adverts, bundles, r.uploads, r.summed, r.reveals)
    assert list(caught.value.culprits) == [cheat]


def test_a_false_pairwise_seed_skews_the_fast_sum_and_verifying_names_its_revealer() -> None:
    members = clients(8)
    values = updates(members)
    record, _ = run_local(terms_for(8), values, no_commit, no_upload=members[:1])
    liar = next(r for r in record.reveals if members[0] in r.pair_seeds)
    lie = dataclasses.replace(liar, pair_seeds={members[0]: bytes(32)})
    reveals = tuple(lie if r is liar else r for r in record.reveals)
    r = record
    assert unmask(r.terms, r.graph, r.adverts, r.bundles, r.uploads, r.summed, reveals).total != exact_sum(
        values, r.summed
    )
    verified = unmask(r.terms, r.graph, r.adverts, r.bundles, r.uploads, r.summed, reveals, verify=True)
    assert verified.total == exact_sum(values, r.summed)
    assert list(verified.culprits) == [liar.holder]


def test_the_neighbour_graph_is_symmetric_of_the_asked_degree_and_fixed_by_the_round() -> None:
    members = clients(30)
    graph = neighbour_graph(members, 8, DOMAIN)
    assert all(len(n) == 8 for n in graph.values())
    assert all(a in graph[b] for a in graph for b in graph[a])
    assert neighbour_graph(list(reversed(members)), 8, DOMAIN) == graph
    assert neighbour_graph(members, 8, bytes(32)) != graph
    assert default_degree(8) == 7 and default_degree(64) == 24 and default_degree(1000) == 40


def test_an_agreed_point_is_checked_by_anyone_and_a_wrong_one_is_refused() -> None:
    a, b, c = KeyPair.generate(), KeyPair.generate(), KeyPair.generate()
    point = agreed_point(a.secret, b.public)
    assert point == agreed_point(b.secret, a.public)
    assert is_agreed_point(point, a.public, b.public)
    assert not is_agreed_point(agreed_point(c.secret, b.public), a.public, b.public)


def test_masks_are_uniform_field_elements_and_differ_by_seed() -> None:
    one, two = prg.mask(bytes(32), 1000), prg.mask(bytes(31) + b"\x01", 1000)
    assert one != two and all(0 <= v < prg.FIELD for v in one)
    assert 0.4 < sum(v > prg.FIELD // 2 for v in one) / 1000 < 0.6


def test_bad_terms_are_refused_with_what_they_must_be() -> None:
    with pytest.raises(ValueError, match="below the number of neighbours"):
        MaskingTerms(DOMAIN, LENGTH, degree=4, threshold=4)
    assert isinstance(Reveal("0x1", {}), Reveal)
