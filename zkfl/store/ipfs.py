"""The artifact store on an IPFS node, through its HTTP RPC API (`/api/v0`). Every artifact is one
raw block under the CID computed here (CIDv1, raw, sha2-256), so an IPFS store and a local store
name the same bytes alike, and every CID the node answers is checked against that one.

The requests are those that Kubo and js-ipfs (npm `ipfs`, what `scripts/ipfs.sh` runs) both honour
the same way:

- `block/put` sends `format=raw` beside `cid-codec=raw` (js-ipfs ignores `cid-codec` and would
  store a CIDv0 dag-pb block) and `cid-base=base32` (js-ipfs answers some CIDs in base58);
- reads send the node a `timeout=`: a node looks for a block it lacks on the network, and js-ipfs
  looks forever, even offline;
- js-ipfs refuses API requests over 1 MiB and Kubo blocks over its soft limit (1 or 2 MiB), so an
  artifact over `MAX_BLOCK_BYTES` is imported as a CAR file holding that one raw block
  (`dag/import`, with Kubo's `allow-big-block`). Its CID is still the CID of its bytes; but IPFS
  peers exchange blocks up to 2 MiB only, so such an artifact (a federation's SRS) is served by
  this node's API and not fetched over the IPFS network by other nodes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from multiformats import CID, varint

from zkfl.errors import ContentMismatchError, StoreError
from zkfl.store.cid import check_cid, content_id, verified

MAX_BLOCK_BYTES = 1 << 20
"""The largest `block/put` request body: js-ipfs refuses bigger requests (multipart framing
included). A bigger artifact goes through `dag/import` as a one-block CAR file."""

_ANSWER_GRACE_S = 5.0
"""How much longer than the node's own `timeout=` the client waits for its answer."""


class _Refused(StoreError):
    """The node answered, with an error (as opposed to not answering at all)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class IpfsStore:
    """An IPFS node's HTTP RPC API (Kubo or js-ipfs): each artifact one raw block, CIDv1, sha2-256.
    `timeout` bounds how long the node may look for a block (and how long a call waits)."""

    def __init__(self, api_url: str, timeout: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"IpfsStore({self.api_url!r})"

    def put(self, data: bytes) -> str:
        cid = content_id(data)
        body, content_type = _multipart(data)
        if len(body) <= MAX_BLOCK_BYTES:
            params = {"format": "raw", "cid-codec": "raw", "mhtype": "sha2-256", "pin": "true", "cid-base": "base32"}
            reply = _json_object(self._call("block/put", params, body, content_type), "block/put", self.api_url)
            self._expect_cid(reply.get("Key"), cid, "block/put")
            return cid
        body, content_type = _multipart(one_block_car(cid, data))
        answer = self._call("dag/import", {"pin-roots": "true", "allow-big-block": "true"}, body, content_type)
        roots = [
            _json_object(line, "dag/import", self.api_url).get("Root") for line in answer.splitlines() if line.strip()
        ]
        root = next((r for r in roots if isinstance(r, dict)), None)
        if root is None:
            raise StoreError(
                f"the IPFS node at {self.api_url} imported the {len(data)}-byte artifact {cid} but named no root "
                f"(it answered {answer[:200]!r}); check that it is a Kubo or js-ipfs node"
            )
        self._expect_cid((root.get("Cid") or {}).get("/"), cid, "dag/import")
        if root.get("PinErrorMsg"):
            raise StoreError(f"the IPFS node at {self.api_url} stored {cid} but did not pin it: {root['PinErrorMsg']}")
        return cid

    def get(self, cid: str) -> bytes:
        check_cid(cid)
        try:
            data = self._call("block/get", {"arg": cid, "timeout": self._node_timeout()})
        except _Refused as exc:
            raise StoreError(
                f"{cid} is not on the IPFS node at {self.api_url} (it answered: {exc.reason}): the artifact was "
                f"never stored there or the node lost it; put it again from a store that holds it"
            ) from exc
        return verified(cid, data, self.api_url)

    def has(self, cid: str) -> bool:
        """Whether the node holds (or finds within `timeout`) a block under `cid`; an unreachable
        node is a StoreError, not a no."""
        check_cid(cid)
        try:
            reply = self._call("block/stat", {"arg": cid, "cid-base": "base32", "timeout": self._node_timeout()})
        except _Refused:
            return False
        self._expect_cid(_json_object(reply, "block/stat", self.api_url).get("Key"), cid, "block/stat")
        return True

    def _node_timeout(self) -> str:
        return f"{round(self.timeout * 1000)}ms"  # a Go duration, which js-ipfs parses too

    def _expect_cid(self, answered: Any, cid: str, endpoint: str) -> None:
        """The node's CID for what we sent must be `cid`, in whatever base it spells it."""
        try:
            theirs = CID.decode(answered)
        except (TypeError, ValueError, KeyError) as exc:
            raise StoreError(
                f"the IPFS node at {self.api_url} answered {endpoint} with {answered!r} where the CID {cid} "
                f"was expected; check that it is a Kubo or js-ipfs node"
            ) from exc
        ours = CID.decode(cid)
        if theirs == ours:
            return
        if (theirs.version, theirs.codec, theirs.hashfun) == (ours.version, ours.codec, ours.hashfun):
            raise ContentMismatchError(
                f"the IPFS node at {self.api_url} stored the artifact as {answered}, but its bytes are {cid}: "
                f"the node received or hashed other bytes; it is faulty or was tampered with"
            )
        raise StoreError(
            f"the IPFS node at {self.api_url} stored the artifact as {answered} (CIDv{theirs.version}, "
            f"{theirs.codec.name}, {theirs.hashfun.name}) where its CID is {cid} (CIDv1, raw, sha2-256): the node "
            f"ignored {endpoint}'s format=raw and cid-codec=raw; use Kubo or js-ipfs (scripts/ipfs.sh)"
        )

    def _call(self, endpoint: str, params: dict[str, str], body: bytes = b"", content_type: str | None = None) -> bytes:
        url = f"{self.api_url}/api/v0/{endpoint}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, data=body, method="POST")
        if content_type:
            request.add_header("Content-Type", content_type)
        wait = self.timeout + _ANSWER_GRACE_S
        try:
            with urllib.request.urlopen(request, timeout=wait) as response:
                answer: bytes = response.read()
                return answer
        except urllib.error.HTTPError as exc:
            reason = _reason(exc.read())
            message = f"the IPFS node at {self.api_url} refused {endpoint}: HTTP {exc.code}: {reason}"
            raise _Refused(message, reason) from exc
        except TimeoutError as exc:
            raise StoreError(f"the IPFS API at {self.api_url} did not answer {endpoint} within {wait:g} s") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise StoreError(
                f"cannot reach the IPFS API at {self.api_url}: {exc}; start a node (scripts/ipfs.sh start) "
                f"or check the URL"
            ) from exc


def one_block_car(cid: str, data: bytes) -> bytes:
    """A CARv1 file (https://ipld.io/specs/transport/car/carv1/) with `data` as its one block and
    root: a varint-framed DAG-CBOR header {"roots": [cid], "version": 1}, then one varint-framed
    section of the CID's bytes and the data."""
    cid_bytes = bytes(CID.decode(cid))
    link = b"\x00" + cid_bytes  # DAG-CBOR links are tag 42 over the binary CID behind a zero byte
    header = b"\xa2" + b"\x65roots" + b"\x81\xd8\x2a\x58" + bytes([len(link)]) + link + b"\x67version\x01"
    return varint.encode(len(header)) + header + varint.encode(len(cid_bytes) + len(data)) + cid_bytes + data


def _multipart(data: bytes) -> tuple[bytes, str]:
    """`data` as the one file of a multipart/form-data body, as the RPC API takes file arguments."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _json_object(answer: bytes, endpoint: str, api_url: str) -> dict[str, Any]:
    try:
        value = json.loads(answer)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise StoreError(
            f"the IPFS node at {api_url} answered {endpoint} with {answer[:200]!r}, not a JSON object; "
            "check that the URL is a Kubo or js-ipfs RPC API"
        )
    return value


def _reason(answer: bytes) -> str:
    """The message of an RPC error answer ({"Message": ..., "Code": ..., "Type": "error"})."""
    try:
        message = json.loads(answer).get("Message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else repr(answer[:200])
