"""The aggregator's side of secure aggregation: from the masked uploads of the clients in the sum
and the live clients' reveals, the exact sum of their updates, and nothing else.

Sum over the summed clients of y_i, less each one's self mask (its seed rebuilt from its
neighbours' shares), less the pairwise masks it shares with neighbours that shared keys but are
not in the sum (their mask keys rebuilt from shares). Pairwise masks between summed clients cancel.
Every rebuilt secret is checked against what its dealer published; a revealed share against the
dealer's hash of it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from zkfl.errors import CheatingError, UnmaskError
from zkfl.privacy import prg
from zkfl.privacy.keys import public_g1
from zkfl.privacy.masking import Advertisement, MaskedUpload, Reveal, ShareBundle, pair_seed, pair_sign, self_seed_hash
from zkfl.privacy.shares import Secret, rebuild, share_hash
from zkfl.privacy.terms import MaskingTerms, unmask_problem


@dataclass(frozen=True)
class Unmasked:
    """The sum of the summed clients' updates (field elements); the self seeds and mask keys it
    took (published with the round, so that anyone can redo every step); and the clients named
    on the way: holders whose revealed shares were wrong, and, when verifying, summed clients
    whose revealed pairwise seeds differ from the ones their dropped neighbours' keys give."""

    total: prg.FieldVector
    self_seeds: Mapping[str, bytes]
    mask_keys: Mapping[str, int]
    culprits: Mapping[str, str] = field(default_factory=dict)


def unmask(
    terms: MaskingTerms,
    graph: Mapping[str, Collection[str]],
    adverts: Mapping[str, Advertisement],
    bundles: Mapping[str, ShareBundle],
    uploads: Mapping[str, MaskedUpload],
    summed: Collection[str],
    reveals: Collection[Reveal],
    *,
    verify: bool = False,
) -> Unmasked:
    """The sum. By default a summed client's own seeds are taken as it revealed them (its self seed
    checked against its published hash), and secrets are rebuilt from shares only for clients that
    did not answer: the chain's sum of commitments then checks the result (`zkfl.privacy.checks`).
    `verify=True` rebuilds every needed secret from shares and names the clients whose revealed
    seeds differ: the slow path, run when that check fails."""
    problem = unmask_problem(graph, summed, terms.threshold)
    if problem:
        raise UnmaskError(problem)
    members = sorted(set(summed))
    member_set = set(members)
    missing = [c for c in members if c not in uploads or c not in bundles]
    if missing:
        raise UnmaskError(f"summed clients without a masked upload or shares: {missing}")
    answers = {r.holder: r for r in reveals}
    shares, culprits = collect_shares(terms, bundles, member_set, reveals)
    book = _SecretBook(terms, adverts, bundles, shares)
    total = [0] * terms.length
    self_seeds: dict[str, bytes] = {}
    for client in members:
        own = answers.get(client)
        seed = own.self_seed if own is not None and not verify else None
        if seed is None or self_seed_hash(terms.domain, client, seed) != bundles[client].self_seed_hash:
            seed = book.self_seed(client)
        self_seeds[client] = seed
        total = prg.add(total, uploads[client].masked)
        total = prg.add(total, prg.mask(seed, terms.length), -1)
        for other in sorted(n for n in graph.get(client, ()) if n in bundles and n not in member_set):
            claimed = own.pair_seeds.get(other) if own is not None else None
            pair = claimed if claimed is not None and not verify else None
            if pair is None:
                pair = pair_seed(terms, book.mask_key(other), other, client, adverts[client].mask_key)
                if claimed is not None and claimed != pair:
                    culprits[client] = f"revealed a seed for its mask with {other} that {other}'s key does not give"
            total = prg.add(total, prg.mask(pair, terms.length), -pair_sign(client, other))
    if book.cheats:
        raise CheatingError(book.cheats)
    return Unmasked(total, self_seeds, book.mask_keys, culprits)


class _SecretBook:
    """Secrets rebuilt from shares on demand, each checked against what its dealer published."""

    def __init__(
        self,
        terms: MaskingTerms,
        adverts: Mapping[str, Advertisement],
        bundles: Mapping[str, ShareBundle],
        shares: Mapping[str, Mapping[str, bytes]],
    ) -> None:
        self.terms, self.adverts, self.bundles, self.shares = terms, adverts, bundles, shares
        self.self_seeds: dict[str, bytes] = {}
        self.mask_keys: dict[str, int] = {}
        self.cheats: dict[str, str] = {}

    def self_seed(self, dealer: str) -> bytes:
        if dealer not in self.self_seeds:
            seed = self._rebuild(dealer, Secret.SELF_SEED, "submitted")
            if self_seed_hash(self.terms.domain, dealer, seed) != self.bundles[dealer].self_seed_hash:
                self.cheats[dealer] = "its self-seed shares rebuild a seed other than the one it published the hash of"
            self.self_seeds[dealer] = seed
        return self.self_seeds[dealer]

    def mask_key(self, dealer: str) -> int:
        if dealer not in self.mask_keys:
            key = int.from_bytes(self._rebuild(dealer, Secret.MASK_KEY, "shared"), "big")
            if not 0 < key < prg.FIELD or public_g1(key) != self.adverts[dealer].mask_key.g1:
                self.cheats[dealer] = "its mask-key shares rebuild a key other than the one it advertised"
                key = 1
            self.mask_keys[dealer] = key
        return self.mask_keys[dealer]

    def _rebuild(self, dealer: str, kind: Secret, after: str) -> bytes:
        found = self.shares.get(dealer, {})
        if len(found) < self.terms.needed:
            raise UnmaskError(
                f"{len(found)} valid shares of {dealer}'s {kind.value} came back and {self.terms.needed} are "
                f"needed: too many of its neighbours dropped out after it {after}. The round cannot be unmasked; "
                "let it lapse (the next round starts from the same model)"
            )
        return rebuild([found[h] for h in sorted(found)[: self.terms.needed]])


def collect_shares(
    terms: MaskingTerms, bundles: Mapping[str, ShareBundle], members: set[str], reveals: Collection[Reveal]
) -> tuple[dict[str, dict[str, bytes]], dict[str, str]]:
    """The revealed shares that match their dealers' hashes, by dealer then holder; and the holders
    that revealed a share of the wrong kind or one that does not match (named, left out)."""
    shares: dict[str, dict[str, bytes]] = {}
    bad: dict[str, str] = {}
    for answer in reveals:
        for dealer, (kind, share) in answer.shares.items():
            bundle = bundles.get(dealer)
            if bundle is None or answer.holder not in bundle.hashes:
                continue
            wanted = Secret.SELF_SEED if dealer in members else Secret.MASK_KEY
            if kind is not wanted:
                bad[answer.holder] = f"revealed {dealer}'s {kind.value} share, the round calls for its {wanted.value}"
            elif share_hash(terms.domain, dealer, answer.holder, kind, share) != bundle.hashes[answer.holder][kind]:
                bad[answer.holder] = f"revealed a share of {dealer}'s {kind.value} that does not match its hash"
            else:
                shares.setdefault(dealer, {})[answer.holder] = share
    return shares, bad
