"""The masking records as JSON, in one place: what goes to the store (key bundles, masked uploads,
reveals, a round's unmasking record) and what a client keeps privately (its round secrets)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zkfl.privacy.keys import KeyPair, PublicKey
from zkfl.privacy.masking import ClientSecrets, MaskedUpload, Reveal, ShareBundle
from zkfl.privacy.shares import Secret

FORMAT = "zkfl-secagg-v1"


def bundle_to_json(bundle: ShareBundle) -> dict[str, Any]:
    if bundle.mask_key is None:
        raise ValueError("a published bundle carries its dealer's mask key")
    return {
        "format": FORMAT,
        "dealer": bundle.dealer,
        "mask_key": bundle.mask_key.to_bytes().hex(),
        "self_seed_hash": bundle.self_seed_hash.hex(),
        "sealed": {h: {k.value: v.hex() for k, v in kinds.items()} for h, kinds in bundle.sealed.items()},
        "hashes": {h: {k.value: v.hex() for k, v in kinds.items()} for h, kinds in bundle.hashes.items()},
    }


def bundle_from_json(body: Mapping[str, Any]) -> ShareBundle:
    _check(body, "key bundle")
    return ShareBundle(
        body["dealer"],
        bytes.fromhex(body["self_seed_hash"]),
        {h: {Secret(k): bytes.fromhex(v) for k, v in kinds.items()} for h, kinds in body["sealed"].items()},
        {h: {Secret(k): bytes.fromhex(v) for k, v in kinds.items()} for h, kinds in body["hashes"].items()},
        PublicKey.from_bytes(bytes.fromhex(body["mask_key"])),
    )


def upload_to_json(upload: MaskedUpload) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "client": upload.client,
        "masked": [f"{v:064x}" for v in upload.masked],
        "pair_mask_point": upload.pair_mask_point.hex(),
    }


def upload_from_json(body: Mapping[str, Any]) -> MaskedUpload:
    _check(body, "masked upload")
    return MaskedUpload(body["client"], [int(v, 16) for v in body["masked"]], bytes.fromhex(body["pair_mask_point"]))


def reveal_to_json(answer: Reveal) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "holder": answer.holder,
        "shares": {d: [kind.value, share.hex()] for d, (kind, share) in answer.shares.items()},
        "self_seed": None if answer.self_seed is None else answer.self_seed.hex(),
        "pair_seeds": {n: seed.hex() for n, seed in answer.pair_seeds.items()},
    }


def reveal_from_json(body: Mapping[str, Any]) -> Reveal:
    _check(body, "reveal")
    return Reveal(
        body["holder"],
        {d: (Secret(kind), bytes.fromhex(share)) for d, (kind, share) in body["shares"].items()},
        None if body["self_seed"] is None else bytes.fromhex(body["self_seed"]),
        {n: bytes.fromhex(seed) for n, seed in body["pair_seeds"].items()},
    )


def secrets_to_json(secrets_: ClientSecrets) -> dict[str, Any]:
    """A client's round secrets: kept privately (mode 0600), never published."""
    return {
        "format": FORMAT,
        "client": secrets_.client,
        "channel": f"{secrets_.channel.secret:064x}",
        "mask": f"{secrets_.mask.secret:064x}",
        "self_seed": secrets_.self_seed.hex(),
    }


def secrets_from_json(body: Mapping[str, Any]) -> ClientSecrets:
    _check(body, "round secrets")
    return ClientSecrets(
        body["client"],
        KeyPair.from_secret(int(body["channel"], 16)),
        KeyPair.from_secret(int(body["mask"], 16)),
        bytes.fromhex(body["self_seed"]),
    )


def _check(body: Mapping[str, Any], what: str) -> None:
    if not isinstance(body, Mapping) or body.get("format") != FORMAT:
        raise ValueError(
            f"not a zkFL {what} ({FORMAT}): format {body.get('format') if isinstance(body, Mapping) else None!r}"
        )
