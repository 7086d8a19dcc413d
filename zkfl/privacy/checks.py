"""Checks anyone can run on a round's public masking record, with no secret: they catch a client
whose masked upload is not its proven update plus its masks, and name it.

Commitments are affine in their vectors (`zkfl.protocol.signed_sum_commitment`), so for each
summed client i, with u_i's commitment taken from its proof (the one the chain summed):

    C(y_i) = C(u_i) + C(self mask_i) + C(pairwise masks_i) - 2·C(0)          (`masking_problem`)

C(y_i) comes from the public masked vector, C(self mask_i) from the seed revealed at unmasking
(checked against the hash i published), C(pairwise masks_i) is what i published. If every client
passes and the unmasked sum still does not commit to the chain's sum (`sum_problem`), some client
moved an offset into its pairwise commitment that its partner's does not have: for example a proof
whose C(u_i) is off by a point in the span of the column's unusable rows. Then `settle_pairs` asks
each summed client for the commitment of each pairwise mask: they must add up to what it
published, both ends of a pair must agree, and where they do not, the point the pair agreed on
(checked with a pairing, `zkfl.privacy.keys.is_agreed_point`) gives the true mask. A mask with a
client that is not in the sum comes from that client's rebuilt mask key."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from zkfl.privacy import prg
from zkfl.privacy.keys import derive, is_agreed_point, is_well_formed
from zkfl.privacy.masking import Advertisement, Commit, MaskedUpload, PairClaims, pair_seed, pair_sign
from zkfl.privacy.terms import MaskingTerms
from zkfl.protocol import signed_sum_commitment


def masking_problem(
    terms: MaskingTerms, commit: Commit, zero: bytes, upload: MaskedUpload, update_point: bytes, self_seed: bytes
) -> str | None:
    """Why `upload` is not its proven update (`update_point`, from its proof) plus its masks (None if it is)."""
    self_point = commit(prg.mask(self_seed, terms.length))
    expected = signed_sum_commitment([update_point, self_point, upload.pair_mask_point], [1, 1, 1], zero)
    if commit(upload.masked) != expected:
        return (
            f"{upload.client}'s masked upload does not commit to its proven update plus its self mask and the pairwise "
            "masks it published: it uploaded another vector, or published a wrong pairwise commitment"
        )
    return None


def sum_problem(commit: Commit, total: prg.FieldVector, chain_sum: bytes) -> str | None:
    """Why the unmasked sum is not the vector the chain's sum of update commitments commits to."""
    if commit(total) != chain_sum:
        return (
            "the unmasked sum does not commit to the chain's sum of the accepted update commitments: a summed client's "
            "masks do not match its partners' (settle the pairs to name it)"
        )
    return None


def settle_pairs(
    terms: MaskingTerms,
    commit: Commit,
    zero: bytes,
    graph: Mapping[str, Collection[str]],
    adverts: Mapping[str, Advertisement],
    shared: Collection[str],
    uploads: Mapping[str, MaskedUpload],
    claims: Mapping[str, PairClaims],
    dropped_mask_keys: Mapping[str, int],
) -> dict[str, str]:
    """The clients a dispute names, and why. `shared`: the clients that shared keys; `uploads`: the
    summed clients'; `claims`: their answers (a summed client that did not answer is named);
    `dropped_mask_keys`: the rebuilt keys of the clients that shared but are not summed."""
    summed = set(uploads)
    shared_set = set(shared)
    culprits: dict[str, str] = {}
    for client in sorted(summed):
        answer = claims.get(client)
        partners = sorted(n for n in graph.get(client, ()) if n in shared_set)
        if answer is None or sorted(answer.points) != partners:
            culprits[client] = "did not answer the dispute with a commitment for each of its pairwise masks"
            continue
        signs = [pair_sign(client, n) for n in partners]
        if signed_sum_commitment([answer.points[n] for n in partners], signs, zero) != uploads[client].pair_mask_point:
            culprits[client] = "its pairwise masks' commitments do not add up to the one it published with its upload"
            continue
        for other in partners:
            if other in dropped_mask_keys:
                seed = pair_seed(terms, dropped_mask_keys[other], other, client, adverts[client].mask_key)
                if commit(prg.mask(seed, terms.length)) != answer.points[other]:
                    culprits[client] = f"its mask with {other} (not summed) is not the one {other}'s rebuilt key gives"
    for client in sorted(summed - set(culprits)):
        for other in sorted(n for n in graph.get(client, ()) if n in summed and n > client and n not in culprits):
            mine, theirs = claims[client].points[other], claims[other].points[client]
            if mine != theirs:
                true = _true_pair_point(terms, commit, adverts, claims, client, other)
                for side, partner, claim in ((client, other, mine), (other, client, theirs)):
                    if true is None or claim != true:
                        culprits[side] = f"its commitment of the pairwise mask with {partner} is not the pair's"
    return culprits


def _true_pair_point(
    terms: MaskingTerms,
    commit: Commit,
    adverts: Mapping[str, Advertisement],
    claims: Mapping[str, PairClaims],
    a: str,
    b: str,
) -> bytes | None:
    """C(the mask a and b agreed on), from an agreed point either end revealed that checks out."""
    key_a, key_b = adverts[a].mask_key, adverts[b].mask_key
    if not (is_well_formed(key_a) and is_well_formed(key_b)):
        return None
    for point in (claims[a].agreed.get(b), claims[b].agreed.get(a)):
        if point is not None and is_agreed_point(point, key_a, key_b):
            return commit(prg.mask(derive(point, "mask", terms.domain, a, b), terms.length))
    return None
