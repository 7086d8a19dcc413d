"""Key agreement for masking, on BN254 (py-ecc): a key pair is a secret scalar x with public
points x·G1 and x·G2. Two clients agree on the point x_a·x_b·G1, and derive keys and mask seeds
from it with HKDF-SHA256 (`cryptography`).

Why BN254 and not X25519: a pair's agreed point can be *checked by anyone* with one pairing
equation, e(Z, G2) = e(x_a·G1, x_b·G2). When the two ends of a pairwise mask disagree about it, the
agreed point settles who lied without revealing either secret (`zkfl.privacy.checks`). X25519
offers no such check short of revealing a private key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from py_ecc import optimized_bn128 as bn

from zkfl.privacy.prg import FIELD, SEED_BYTES

G1_BYTES = 64
G2_BYTES = 128


@dataclass(frozen=True)
class PublicKey:
    """x·G1 (64 bytes) and x·G2 (128 bytes), big-endian coordinates (G2 as EIP-197: imaginary first)."""

    g1: bytes
    g2: bytes

    def to_bytes(self) -> bytes:
        return self.g1 + self.g2

    @classmethod
    def from_bytes(cls, raw: bytes) -> PublicKey:
        if len(raw) != G1_BYTES + G2_BYTES:
            raise ValueError(f"a public key is {G1_BYTES + G2_BYTES} bytes, got {len(raw)}")
        key = cls(raw[:G1_BYTES], raw[G1_BYTES:])
        _g1(key.g1)
        _g2(key.g2)
        return key


@dataclass(frozen=True)
class KeyPair:
    secret: int
    public: PublicKey

    @classmethod
    def generate(cls) -> KeyPair:
        return cls.from_secret(secrets.randbelow(FIELD - 1) + 1)

    @classmethod
    def from_secret(cls, secret: int) -> KeyPair:
        if not 0 < secret < FIELD:
            raise ValueError("a secret key is a nonzero scalar below the group order")
        return cls(secret, PublicKey(_g1_bytes(bn.multiply(bn.G1, secret)), _g2_bytes(bn.multiply(bn.G2, secret))))

    def secret_bytes(self) -> bytes:
        return self.secret.to_bytes(32, "big")


def public_g1(secret: int) -> bytes:
    """x·G1 of a secret x (to check a reconstructed secret against its published key)."""
    return _g1_bytes(bn.multiply(bn.G1, secret))


def agreed_point(secret: int, peer: PublicKey) -> bytes:
    """The point both ends of a pair compute: our secret times the peer's G1 key."""
    return _g1_bytes(bn.multiply(_g1(peer.g1), secret))


def is_agreed_point(point: bytes, a: PublicKey, b: PublicKey) -> bool:
    """Whether `point` is the point `a` and `b` agree on: e(point, G2) = e(a.g1, b.g2). Anyone can
    run it. It assumes b's key is well formed (`is_well_formed`); check that too in a dispute."""
    return bn.pairing(bn.G2, _g1(point)) == bn.pairing(_g2(b.g2), _g1(a.g1))


def is_well_formed(key: PublicKey) -> bool:
    """Whether the G1 and G2 halves carry the same secret: e(x·G1, G2) = e(G1, x·G2)."""
    return bn.pairing(bn.G2, _g1(key.g1)) == bn.pairing(_g2(key.g2), bn.G1)


def derive(point: bytes, purpose: str, domain: bytes, a: str, b: str) -> bytes:
    """A 32-byte key or seed from an agreed point: HKDF-SHA256 with the purpose, the round's domain
    and the pair (in a canonical order, so both ends derive the same bytes) in its info."""
    low, high = sorted((a.lower(), b.lower()))
    info = b"zkfl/v1/" + purpose.encode() + b"/" + domain + low.encode() + high.encode()
    return HKDF(algorithm=hashes.SHA256(), length=SEED_BYTES, salt=None, info=info).derive(point)


def _g1_bytes(point: object) -> bytes:
    x, y = bn.normalize(point)  # type: ignore[arg-type]
    return int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")


def _g2_bytes(point: object) -> bytes:
    x, y = bn.normalize(point)  # type: ignore[arg-type]
    coeffs = (x.coeffs[1], x.coeffs[0], y.coeffs[1], y.coeffs[0])  # type: ignore[attr-defined]
    return b"".join(int(c).to_bytes(32, "big") for c in coeffs)


def _g1(raw: bytes) -> tuple[bn.FQ, bn.FQ, bn.FQ]:
    if len(raw) != G1_BYTES:
        raise ValueError(f"a G1 point is {G1_BYTES} bytes, got {len(raw)}")
    x, y = (int.from_bytes(raw[i : i + 32], "big") for i in (0, 32))
    point = (bn.FQ(x), bn.FQ(y), bn.FQ.one())
    if not bn.is_on_curve(point, bn.b):
        raise ValueError(f"not a point on BN254's G1: {raw.hex()[:32]}...")
    return point


def _g2(raw: bytes) -> tuple[bn.FQ2, bn.FQ2, bn.FQ2]:
    if len(raw) != G2_BYTES:
        raise ValueError(f"a G2 point is {G2_BYTES} bytes, got {len(raw)}")
    xi, xr, yi, yr = (int.from_bytes(raw[i : i + 32], "big") for i in range(0, G2_BYTES, 32))
    point = (bn.FQ2([xr, xi]), bn.FQ2([yr, yi]), bn.FQ2.one())
    if not bn.is_on_curve(point, bn.b2) or not bn.is_inf(bn.multiply(point, FIELD)):
        raise ValueError(f"not a point of BN254's G2 subgroup: {raw.hex()[:32]}...")
    return point
