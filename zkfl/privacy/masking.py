"""A client's side of secure aggregation (SecAgg+), four steps:

1. advertise: two public keys per round, one to seal shares with (channel), one for masks;
2. share: Shamir shares of its self-mask seed and of its mask key, sealed for each neighbour,
   with SHA-256 of every share and of the seed, all public;
3. mask: y = u + PRG(self seed) + sum_j ±PRG(seed agreed with neighbour j), in the field, over the
   neighbours that shared; y and the commitment of its pairwise part go public;
4. reveal: per neighbour, the share of its self-mask seed if its update is in the sum, else the
   share of its mask key (never both), once the sum's members are public and the round may be
   unmasked (`zkfl.privacy.terms.unmask_problem`).

Records are public; `ClientSecrets` never leaves the client. Transport (store, chain, Flower
messages) is the caller's."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from zkfl.errors import MaskingError
from zkfl.privacy import prg
from zkfl.privacy.keys import KeyPair, PublicKey, agreed_point, derive
from zkfl.privacy.shares import Secret, seal, share_hash, split, unseal
from zkfl.privacy.terms import MaskingTerms, unmask_problem

Commit = Callable[[prg.FieldVector], bytes]
"""C(v) of a field vector as 64 bytes (`zkfl.zk.commitments.CommitmentKey.field_point`)."""


@dataclass(frozen=True)
class Advertisement:
    client: str
    channel_key: PublicKey
    mask_key: PublicKey


@dataclass(frozen=True)
class ClientSecrets:
    client: str
    channel: KeyPair
    mask: KeyPair
    self_seed: bytes

    @classmethod
    def generate(cls, client: str) -> ClientSecrets:
        return cls(client.lower(), KeyPair.generate(), KeyPair.generate(), secrets.token_bytes(prg.SEED_BYTES))

    def advertisement(self) -> Advertisement:
        return Advertisement(self.client, self.channel.public, self.mask.public)


@dataclass(frozen=True)
class ShareBundle:
    """A dealer's round: its mask key, its sealed shares (one per neighbour and secret) with the
    hashes that pin them, and the hash of its self-mask seed."""

    dealer: str
    self_seed_hash: bytes
    sealed: Mapping[str, Mapping[Secret, bytes]]
    hashes: Mapping[str, Mapping[Secret, bytes]]
    mask_key: PublicKey | None = None


@dataclass(frozen=True)
class MaskedUpload:
    """What a client publishes for its update: the masked vector and C(its pairwise mask sum)."""

    client: str
    masked: prg.FieldVector
    pair_mask_point: bytes


@dataclass(frozen=True)
class Reveal:
    """One live client's answer at unmasking: for each neighbour that shared, one share; and, if
    its own update is in the sum, its own self-mask seed and the seeds of its pairwise masks with
    neighbours that are not (what their shares would reveal anyway, without rebuilding: the
    aggregator rebuilds from shares only for clients that did not answer, or on a mismatch)."""

    holder: str
    shares: Mapping[str, tuple[Secret, bytes]]
    self_seed: bytes | None = None
    pair_seeds: Mapping[str, bytes] = field(default_factory=dict)


def self_seed_hash(domain: bytes, client: str, seed: bytes) -> bytes:
    """What a client publishes of its self-mask seed, so that a rebuilt seed can be checked."""
    return hashlib.sha256(b"zkfl/v1/self-seed/" + domain + client.lower().encode() + seed).digest()


def pair_sign(client: str, neighbour: str) -> int:
    """+1 for the lower address of a pair, -1 for the higher: the pair's masks cancel in the sum."""
    return 1 if client.lower() < neighbour.lower() else -1


def pair_seed(terms: MaskingTerms, secret: int, client: str, neighbour: str, neighbour_key: PublicKey) -> bytes:
    return derive(agreed_point(secret, neighbour_key), "mask", terms.domain, client, neighbour)


def share_secrets(
    terms: MaskingTerms, me: ClientSecrets, neighbours: Collection[str], channel_keys: Mapping[str, PublicKey]
) -> ShareBundle:
    """Step 2: split both secrets among the neighbours with a channel key and seal each share for its holder."""
    holders = sorted(n for n in neighbours if n in channel_keys)
    if len(holders) < terms.needed:
        raise MaskingError(
            f"{me.client} has {len(holders)} neighbours with a channel key and {terms.needed} must hold its shares: "
            "too few clients take part in this round's masking"
        )
    parts = {
        Secret.SELF_SEED: split(me.self_seed, terms.needed, len(holders)),
        Secret.MASK_KEY: split(me.mask.secret_bytes(), terms.needed, len(holders)),
    }
    sealed: dict[str, dict[Secret, bytes]] = {}
    hashes: dict[str, dict[Secret, bytes]] = {}
    for index, holder in enumerate(holders):
        key = _sealing_key(terms, me, channel_keys[holder], me.client, holder)
        sealed[holder] = {kind: seal(key, terms.domain, me.client, holder, kind, p[index]) for kind, p in parts.items()}
        hashes[holder] = {k: share_hash(terms.domain, me.client, holder, k, p[index]) for k, p in parts.items()}
    return ShareBundle(me.client, self_seed_hash(terms.domain, me.client, me.self_seed), sealed, hashes, me.mask.public)


def _sealing_key(terms: MaskingTerms, me: ClientSecrets, peer: PublicKey, dealer: str, holder: str) -> bytes:
    return derive(agreed_point(me.channel.secret, peer), "share", terms.domain, dealer, holder)


def pair_masks(
    terms: MaskingTerms, me: ClientSecrets, neighbours: Collection[str], adverts: Mapping[str, Advertisement]
) -> dict[str, prg.FieldVector]:
    """The unsigned mask this client shares with each neighbour (those in `adverts`, i.e. that shared)."""
    return {
        n: prg.mask(pair_seed(terms, me.mask.secret, me.client, n, adverts[n].mask_key), terms.length)
        for n in sorted(neighbours)
        if n in adverts
    }


def mask_update(
    terms: MaskingTerms,
    me: ClientSecrets,
    update: prg.FieldVector,
    neighbours: Collection[str],
    shared: Mapping[str, Advertisement],
    commit: Commit,
) -> MaskedUpload:
    """Step 3: the masked update over the neighbours that shared (`shared`: their advertisements)."""
    if len(update) != terms.length:
        raise MaskingError(f"an update of {len(update)} elements; this round masks {terms.length}")
    pairs = [0] * terms.length
    for n, mask in pair_masks(terms, me, neighbours, shared).items():
        pairs = prg.add(pairs, mask, pair_sign(me.client, n))
    masked = prg.add(prg.add(update, prg.mask(me.self_seed, terms.length)), pairs)
    return MaskedUpload(me.client, masked, commit(pairs))


def reveal(
    terms: MaskingTerms,
    me: ClientSecrets,
    graph: Mapping[str, Collection[str]],
    bundles: Mapping[str, ShareBundle],
    adverts: Mapping[str, Advertisement],
    summed: Collection[str],
) -> Reveal:
    """Step 4: for each neighbour that shared with us, the share its state calls for. Refuses (with
    nothing revealed) when the round may not be unmasked. A share that does not open, or that
    does not match its dealer's hash, is left out (the dealer's fault; the others' shares suffice)."""
    problem = unmask_problem(graph, summed, terms.threshold)
    if problem:
        raise MaskingError(problem)
    members = set(summed)
    own_pairs: dict[str, bytes] = {}
    if me.client in members:
        own_pairs = {
            n: pair_seed(terms, me.mask.secret, me.client, n, adverts[n].mask_key)
            for n in sorted(graph.get(me.client, ()))
            if n in bundles and n in adverts and n not in members
        }
    shares: dict[str, tuple[Secret, bytes]] = {}
    for dealer in sorted(graph.get(me.client, ())):
        bundle = bundles.get(dealer)
        if bundle is None or me.client not in bundle.sealed or dealer not in adverts:
            continue
        kind = Secret.SELF_SEED if dealer in members else Secret.MASK_KEY
        key = _sealing_key(terms, me, adverts[dealer].channel_key, dealer, me.client)
        share = unseal(key, terms.domain, dealer, me.client, kind, bundle.sealed[me.client][kind])
        expected = bundle.hashes[me.client][kind]
        if share is not None and share_hash(terms.domain, dealer, me.client, kind, share) == expected:
            shares[dealer] = (kind, share)
    if me.client not in members:
        return Reveal(me.client, shares)
    return Reveal(me.client, shares, me.self_seed, own_pairs)


@dataclass(frozen=True)
class PairClaims:
    """In a dispute: a summed client's commitment of each pairwise mask it used (unsigned), and the
    point it agreed with each summed neighbour, for a pair whose two ends claim different masks."""

    client: str
    points: Mapping[str, bytes]
    agreed: Mapping[str, bytes]


def pair_claims(
    terms: MaskingTerms,
    me: ClientSecrets,
    neighbours: Collection[str],
    shared: Mapping[str, Advertisement],
    summed: Collection[str],
    commit: Commit,
) -> PairClaims:
    """What an honest client answers in a dispute. Its agreed points with summed neighbours reveal
    one pairwise mask each, never its self seed or mask key: its update stays hidden."""
    masks = pair_masks(terms, me, neighbours, shared)
    agreed = {n: agreed_point(me.mask.secret, shared[n].mask_key) for n in masks if n in set(summed)}
    return PairClaims(me.client, {n: commit(m) for n, m in masks.items()}, agreed)
