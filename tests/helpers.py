"""Helpers that several test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from conftest import LOGREG, SLOTS
from multiformats import CID, multihash, varint

from zkfl.federation.terms import PUBLIC


def use_session_cache(workspace: Path, cache_dir: Path) -> None:
    """Link `workspace`'s build folder to the session cache (`cache_dir`), so that the workspace
    reuses the session's compiled circuits and keys instead of building its own."""
    (workspace / "build").symlink_to(cache_dir, target_is_directory=True)


def init_options() -> list[str | int | float]:
    """`zkfl init`'s options for the session's LOGREG federation of SLOTS slots (its circuits are the
    session cache's), with public updates."""
    return [
        "--features", LOGREG.features, "--classes", LOGREG.classes, "--batch-size", LOGREG.batch_size,
        "--local-steps", LOGREG.local_steps, "--lr", LOGREG.learning_rate, "--slots", SLOTS, "--updates", PUBLIC,
    ]  # fmt: skip


def write_data(path: Path, seed: int, samples: int = 24, features: int = LOGREG.features) -> Path:
    """A client's data file (`x`, `y` in an .npz) for the test circuits' classes: class c lights
    up feature c, so a federation trained on it learns something."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, LOGREG.classes, size=samples)
    x = rng.uniform(0.0, 0.5, size=(samples, features))
    x[np.arange(samples), y] += 0.5
    np.savez(path, x=x, y=y)
    return path


# a fake Kubo -----------------------------------------------------------------------------------

KUBO_SOFT_BLOCK_LIMIT = 2 << 20
"""Kubo refuses blocks over 2 MiB unless asked with allow-big-block (core/commands/cmdutils)."""


@dataclass
class FakeKubo:
    """Kubo's RPC API for the calls an IpfsStore makes (block/put, block/get, block/stat,
    dag/import), over a dict, answering as an offline Kubo would: the options Kubo honours, its
    defaults (cid-codec=raw, CIDv1 in base32), its error answers (HTTP 500 with a JSON Message) and
    its 2 MiB soft block limit. `blocks` maps base32 CIDs to bytes (edit it to tamper); `calls`
    records each (endpoint, options) so a test can see what a client sent."""

    url: str = ""
    blocks: dict[str, bytes] = field(default_factory=dict)
    pins: set[str] = field(default_factory=set)
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def options(self, endpoint: str) -> list[dict[str, str]]:
        """The options of every call to `endpoint`, in order."""
        return [options for name, options in self.calls if name == endpoint]

    def answer(self, endpoint: str, options: dict[str, str], body: bytes) -> tuple[int, bytes]:
        self.calls.append((endpoint, options))
        try:
            if endpoint == "block/put":
                return 200, json.dumps(self._block_put(options, body)).encode()
            if endpoint == "block/get":
                return 200, self.blocks[self._held(options)]
            if endpoint == "block/stat":
                key = self._held(options)
                stat = {"Key": _encode(CID.decode(key), options), "Size": len(self.blocks[key])}
                return 200, json.dumps(stat).encode()
            if endpoint == "dag/import":
                return 200, b"".join(json.dumps(root).encode() + b"\n" for root in self._dag_import(options, body))
            return 404, b"404 page not found"
        except _KuboError as exc:
            return 500, json.dumps({"Message": str(exc), "Code": 0, "Type": "error"}).encode()

    def _block_put(self, options: dict[str, str], data: bytes) -> dict[str, object]:
        codec, fmt = options.get("cid-codec", "raw"), options.get("format", "")
        if fmt and codec != "raw":
            raise _KuboError('unable to use "format" (deprecated) and a custom "cid-codec" at the same time')
        if options.get("mhtype", "sha2-256") != "sha2-256":
            raise _KuboError(f"unrecognized multihash function: {options['mhtype']}")
        digest = multihash.digest(data, "sha2-256")
        cid = CID("base58btc", 0, "dag-pb", digest) if fmt == "v0" else CID("base32", 1, fmt or codec, digest)
        self._store(cid, data, options, pin=_flag(options, "pin", False))
        return {"Key": _encode(cid, options), "Size": len(data)}

    def _dag_import(self, options: dict[str, str], car: bytes) -> list[dict[str, object]]:
        header_length, read, _ = varint.decode_raw(car)
        header = car[read : read + header_length]
        position = read + header_length
        roots = []
        while position < len(car):
            length, read, _ = varint.decode_raw(car[position:])
            section = car[position + read : position + read + length]
            position += read + length
            cid, data = _split_section(section)
            if hashlib.sha256(data).digest() != cid.raw_digest:
                raise _KuboError(f"block {cid} does not match its hash")
            self._store(cid, data, options, pin=False)
            if bytes(cid) in header:  # a root: the DAG-CBOR header links it by its binary CID
                roots.append(cid)
        if not _flag(options, "pin-roots", True):
            return []
        for cid in roots:
            self.pins.add(str(cid.set(base="base32")))
        return [{"Root": {"Cid": {"/": str(cid.set(base="base32"))}, "PinErrorMsg": ""}} for cid in roots]

    def _store(self, cid: CID, data: bytes, options: dict[str, str], pin: bool) -> None:
        if len(data) > KUBO_SOFT_BLOCK_LIMIT and not _flag(options, "allow-big-block", False):
            raise _KuboError(
                "produced block is over 2MiB: big blocks can't be exchanged with other peers. consider using "
                "UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override"
            )
        key = str(cid.set(base="base32")) if cid.version == 1 else str(cid)
        self.blocks[key] = data
        if pin:
            self.pins.add(key)

    def _held(self, options: dict[str, str]) -> str:
        try:
            cid = CID.decode(options["arg"])
        except (KeyError, ValueError) as exc:
            raise _KuboError(f"invalid path {options.get('arg')!r}: {exc}") from exc
        key = str(cid.set(base="base32")) if cid.version == 1 else str(cid)
        if key not in self.blocks:
            raise _KuboError(f"block was not found locally (offline): ipld: could not find {key}")
        return key


class _KuboError(Exception):
    """What Kubo answers as HTTP 500 {"Message": ..., "Type": "error"}."""


def _flag(options: dict[str, str], name: str, default: bool) -> bool:
    return options[name].lower() in ("true", "1", "") if name in options else default


def _encode(cid: CID, options: dict[str, str]) -> str:
    """A CID in the base the call asked for (Kubo's global cid-base option): base32 by default,
    base58btc for CIDv0."""
    return str(cid.set(base=options["cid-base"])) if "cid-base" in options and cid.version == 1 else str(cid)


def _split_section(section: bytes) -> tuple[CID, bytes]:
    """A CAR section's CIDv1 (version, codec, multihash code, digest length, digest) and its block."""
    position = 0
    for _ in range(3):  # CID version, codec, multihash function
        _, read, _ = varint.decode_raw(section[position:])
        position += read
    digest_length, read, _ = varint.decode_raw(section[position:])
    position += read + digest_length
    return CID.decode(section[:position]), section[position:]


def _kubo_handler(kubo: FakeKubo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            url = urllib.parse.urlparse(self.path)
            options = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if body and self.headers.get_content_type() == "multipart/form-data":
                boundary = self.headers.get_param("boundary")
                body = body[body.index(b"\r\n\r\n") + 4 : body.rindex(f"\r\n--{boundary}--".encode())]
            self._reply(*kubo.answer(url.path.removeprefix("/api/v0/"), options, body))

        def do_GET(self) -> None:
            self._reply(405, b"405 - Method Not Allowed")  # Kubo's RPC API takes POST only

        def _reply(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_kubo(blocks: dict[str, bytes] | None = None) -> Iterator[FakeKubo]:
    """A FakeKubo serving `blocks` on a free port of 127.0.0.1 until the block ends."""
    kubo = FakeKubo(blocks=dict(blocks or {}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _kubo_handler(kubo))
    kubo.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield kubo
    finally:
        server.shutdown()
        server.server_close()
