"""What every party of a round's masking agrees on before it starts, and the one rule that decides
whether a round may be unmasked at all."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from eth_utils import keccak


@dataclass(frozen=True)
class MaskingTerms:
    """A round's masking parameters. `domain` binds every key, seed, share and hash to one round of
    one federation; `threshold` is t: any t colluding neighbours learn nothing of a client's secrets,
    and t + 1 live neighbours rebuild them."""

    domain: bytes
    length: int
    degree: int
    threshold: int

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError("a masked vector has at least one element")
        if self.threshold < 1 or self.threshold >= max(self.degree, 2):
            raise ValueError(
                f"threshold {self.threshold} with {self.degree} neighbours: it must be at least 1 and below the "
                "number of neighbours (t + 1 of them rebuild a secret)"
            )

    @property
    def needed(self) -> int:
        """Shares that rebuild a secret: t + 1."""
        return self.threshold + 1


def round_domain(chain_id: int, federation_id: bytes, round_: int) -> bytes:
    """The 32 bytes that bind a round's masking to its federation and round."""
    return keccak(b"zkfl/v1/secagg" + chain_id.to_bytes(32, "big") + federation_id + round_.to_bytes(32, "big"))


def unmask_problem(graph: Mapping[str, Collection[str]], summed: Collection[str], threshold: int) -> str | None:
    """Why the round may not be unmasked (None if it may). Every client whose masked update is in
    the sum must keep more than t summed neighbours: its update hides behind their pairwise masks,
    which t colluders cannot all know. An honest client checks this before it reveals any share,
    and the aggregator before it asks; the round then fails with nothing revealed."""
    members = set(summed)
    for client in sorted(members):
        kept = len(members.intersection(graph.get(client, ())))
        if kept <= threshold:
            return (
                f"client {client}'s masked update would keep {kept} summed neighbours, and unmasking needs more than "
                f"the threshold t = {threshold}: too many clients dropped out. The round cannot be unmasked without "
                "exposing that update; let it lapse (its deadline passes and the next round starts from the same "
                "model) and lower the dropouts or the threshold in the federation's terms"
            )
    return None
