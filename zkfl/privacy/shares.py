"""Shamir shares of a client's two mask secrets, sealed for each neighbour.

Shares come from Flower's `flwr.common.secure_aggregation.crypto.shamir` (pycryptodome's Shamir
over GF(2^128)). Each share is sealed with ChaCha20-Poly1305 (`cryptography`) under a key derived
from the dealer's and holder's agreed point (`zkfl.privacy.keys`), and the dealer publishes
SHA-256 of each share, so a holder who reveals a wrong share is caught, and a dealer whose sealed
share does not match its own hash is caught by the holder opening it with the pair's key."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from flwr.common.secure_aggregation.crypto.shamir import combine_shares, create_shares


class Secret(StrEnum):
    """Which secret a share is of. A holder reveals, per dealer, one kind only (`zkfl.privacy.masking`)."""

    SELF_SEED = "self-seed"  # revealed for a client whose masked update is in the sum
    MASK_KEY = "mask-key"  # revealed for a client whose masked update is not


_NONCE = bytes(12)
"""Each sealing key seals one message (it is derived per dealer, holder, round and secret)."""


def split(secret: bytes, needed: int, holders: int) -> list[bytes]:
    """`holders` shares of which any `needed` rebuild the secret (fewer reveal nothing)."""
    if not 1 <= needed <= holders:
        raise ValueError(f"cannot need {needed} of {holders} shares")
    return create_shares(secret, needed, holders)


def rebuild(shares: list[bytes]) -> bytes:
    return combine_shares(shares)


def share_hash(domain: bytes, dealer: str, holder: str, kind: Secret, share: bytes) -> bytes:
    """What the dealer publishes for each share: SHA-256 of it, bound to round, pair and kind."""
    return hashlib.sha256(_label(domain, dealer, holder, kind) + share).digest()


def seal(key: bytes, domain: bytes, dealer: str, holder: str, kind: Secret, share: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(_NONCE, share, _label(domain, dealer, holder, kind))


def unseal(key: bytes, domain: bytes, dealer: str, holder: str, kind: Secret, sealed: bytes) -> bytes | None:
    """The share, or None if `sealed` does not open under `key` (a garbled or misaddressed share)."""
    try:
        return ChaCha20Poly1305(key).decrypt(_NONCE, sealed, _label(domain, dealer, holder, kind))
    except InvalidTag:
        return None


def _label(domain: bytes, dealer: str, holder: str, kind: Secret) -> bytes:
    return b"zkfl/v1/share/" + domain + dealer.lower().encode() + holder.lower().encode() + kind.value.encode()
