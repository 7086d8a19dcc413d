"""A federation's terms: its verification mode, economics and timing, as the coordinator fixes them
at deployment. One place for the rules the contract, the pipeline and the audit share."""

from __future__ import annotations

from dataclasses import dataclass

EAGER, OPTIMISTIC = "eager", "optimistic"
VERIFICATION_MODES = (EAGER, OPTIMISTIC)
PUBLIC, PRIVATE = "public", "private"
UPDATE_MODES = (PUBLIC, PRIVATE)
MIN_COHORT = 3
"""With two clients, the sum and one's own update give the other's: masking starts at three."""
MAX_CHALLENGER_SHARE_BPS = 5_000


@dataclass(frozen=True)
class FederationTerms:
    """A federation's economic and timing terms and its verification mode, as the coordinator
    fixes them at deployment (`ICoordinator.Terms`). The defaults here are zkFL's only ones.

    `verification`: "eager" verifies every client proof on submission; "optimistic" accepts a
    submission with its proof's commitments and SHA-256 (the bytes go to the store), and verifies
    a proof only when it is challenged, until `challenge_window` blocks after the round's deadline.
    In both, an accepted update's vector (and a round's model) can be requested for a canonical
    opening on-chain, answered within `reveal_window` blocks; the bond covers the answer's gas
    at `bond_gas_price_wei`.

    `updates`: "private" (the default) uploads each update masked (secure aggregation,
    `zkfl.privacy`): each round opens with `share_window` blocks in which clients share their
    masking keys, and no update is ever opened; a round's masking needs at least `MIN_COHORT`
    clients. "public" puts each update in the store as it is."""

    stake_wei: int = 10**16
    reward_wei: int = 10**15
    submission_window: int = 100  # blocks a round accepts submissions
    finalization_grace: int = 100  # blocks after the challenge window before a pending client may leave
    verification: str = EAGER
    challenge_window: int = 20  # blocks after the deadline in which updates can be challenged or requested
    challenge_bond_wei: int = 10**16  # a challenge's or request's bond, paid to whoever answers it
    challenger_share_bps: int = 5_000  # part of a slashed stake paid to the challenger (at most 5000)
    registration_window: int = 50  # blocks after deployment whose committed batches train from round 0
    reveal_window: int = 20  # blocks a requested proof or opening has to appear
    max_open_batches: int = 16  # committed, unused data batches a client may hold at once
    bond_gas_price_wei: int = 0  # the bond must cover an answer's gas at this price (0: not checked)
    updates: str = PRIVATE
    share_window: int = 10  # blocks at a round's start (round 0: after registration) to share masking keys

    @property
    def private(self) -> bool:
        return self.updates == PRIVATE

    @property
    def optimistic(self) -> bool:
        return self.verification == OPTIMISTIC

    def problems(self) -> list[str]:
        """What is wrong with these terms (empty: nothing)."""
        found = []
        for name in (
            "submission_window",
            "challenge_window",
            "reveal_window",
            "max_open_batches",
            "challenge_bond_wei",
        ):
            if getattr(self, name) < 1:
                found.append(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("registration_window", "finalization_grace", "stake_wei", "reward_wei", "bond_gas_price_wei"):
            if getattr(self, name) < 0:
                found.append(f"{name} must not be negative, got {getattr(self, name)}")
        if self.updates not in UPDATE_MODES:
            found.append(f"updates must be one of {', '.join(UPDATE_MODES)}, got {self.updates!r}")
        if self.private and not 1 <= self.share_window < self.submission_window - self.registration_window:
            found.append(
                f"share_window must be at least 1 and end before submissions do: below submission_window - "
                f"registration_window = {self.submission_window - self.registration_window}, got {self.share_window}"
            )
        if self.verification not in VERIFICATION_MODES:
            found.append(f"verification must be one of {', '.join(VERIFICATION_MODES)}, got {self.verification!r}")
        if not 0 <= self.challenger_share_bps <= MAX_CHALLENGER_SHARE_BPS:
            found.append(
                f"challenger_share_bps must be in 0..{MAX_CHALLENGER_SHARE_BPS} (a cheater challenging "
                f"itself must still lose half its stake), got {self.challenger_share_bps}"
            )
        return found

    def as_tuple(self) -> tuple:
        """The constructor's `Terms` struct."""
        return (
            self.stake_wei,
            self.reward_wei,
            self.registration_window,
            self.submission_window,
            self.finalization_grace,
            self.max_open_batches,
            self.optimistic,
            (
                self.challenge_window,
                self.reveal_window,
                self.challenge_bond_wei,
                self.bond_gas_price_wei,
                self.challenger_share_bps,
            ),
            self.private,
            self.share_window if self.private else 0,
        )
