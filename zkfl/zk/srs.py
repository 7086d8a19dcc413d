"""The structured reference string (KZG powers of tau) that keys, proofs and verifiers share.

Two sources, never a download:
- a *dev* SRS made here with `ezkl.gen_srs`. Its secret is drawn on this machine and not provably
  destroyed, so anyone holding it could forge proofs: fine for tests and demos, INSECURE for a
  real federation. Each call draws a new secret, so one file must serve every key, proof and
  verifier of a federation.
- a *ceremony* SRS given by the user as a file (e.g. from a perpetual powers-of-tau ceremony,
  converted to ezkl's format), used as is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import ezkl

from zkfl.errors import ArtifactError, ConfigError

log = logging.getLogger(__name__)

DEV_SRS_WARNING = (
    "INSECURE DEV SRS: generated locally by ezkl.gen_srs; its toxic waste is not provably "
    "destroyed and proofs made with it can be forged. Use only for tests and demos; give a "
    "ceremony SRS file for a real federation."
)


@dataclass(frozen=True)
class Srs:
    path: Path
    logrows: int
    sha256: str
    dev: bool

    def require(self, logrows: int) -> None:
        """Refuse a circuit that needs more rows than this SRS has powers for."""
        if logrows > self.logrows:
            raise ConfigError(
                f"SRS too small: the circuit needs logrows {logrows}, the SRS at {self.path} "
                f"has logrows {self.logrows}; use an SRS with at least 2^{logrows} powers"
            )

    def to_json(self) -> dict[str, object]:
        return {"path": str(self.path), "logrows": self.logrows, "sha256": self.sha256, "dev": self.dev}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def srs_logrows(path: Path) -> int:
    """Read k from ezkl's SRS header (halo2's ParamsKZG: u32 little-endian k first)."""
    try:
        with path.open("rb") as handle:
            header = handle.read(4)
    except OSError as exc:
        raise ArtifactError(f"cannot read SRS file {path}: {exc.strerror}") from exc
    if len(header) < 4:
        raise ArtifactError(f"corrupt SRS file {path}: shorter than its 4-byte header")
    k = int.from_bytes(header, "little")
    if not 1 <= k <= 28:
        raise ArtifactError(f"corrupt SRS file {path}: header says logrows {k}, expected 1..28")
    expected = raw_srs_size(k)
    actual = path.stat().st_size
    if actual != expected:
        raise ArtifactError(
            f"corrupt SRS file {path}: logrows {k} needs {expected} bytes in halo2's raw format, "
            f"the file has {actual} (truncated, or not an ezkl/halo2 KZG SRS)"
        )
    return k


def raw_srs_size(logrows: int) -> int:
    """Bytes of a halo2 ParamsKZG file: k, 2^k G1 powers, 2^k Lagrange G1, then g2 and s*g2."""
    return 4 + 2 * (1 << logrows) * 64 + 2 * 128


def load_srs(path: str | os.PathLike[str]) -> Srs:
    """A user-supplied (ceremony) SRS file, used in place."""
    srs_path = Path(path).resolve()
    if not srs_path.is_file():
        raise ArtifactError(f"SRS file not found: {srs_path}")
    sidecar = _sidecar(srs_path)
    dev = bool(sidecar.is_file() and json.loads(sidecar.read_text()).get("dev"))
    return Srs(srs_path, srs_logrows(srs_path), file_sha256(srs_path), dev)


_warned: set[Path] = set()


def dev_srs(directory: str | os.PathLike[str], logrows: int) -> Srs:
    """The directory's dev SRS for exactly `logrows`, generated once (atomically) and then reused,
    because every key and proof made with it depends on its secret.

    One file per logrows, not one big file: given a larger SRS, ezkl recomputes the Lagrange basis
    on every load (measured: setup and prove of a logrows-14 circuit took 12.6 s and 13.3 s with a
    logrows-17 file, 2.4 s and 2.6 s with a logrows-14 file)."""
    directory = Path(directory)
    path = directory / f"dev-k{logrows}.srs"
    if path not in _warned:  # loud, but once per file and process rather than on every lookup
        _warned.add(path)
        log.warning(DEV_SRS_WARNING)
    if path.exists():
        return load_srs(path)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        tmp_path = Path(tmp) / path.name
        ezkl.gen_srs(str(tmp_path), logrows)
        _sidecar(tmp_path).write_text(json.dumps({"dev": True, "warning": DEV_SRS_WARNING}))
        shutil.move(_sidecar(tmp_path), _sidecar(path))
        os.replace(tmp_path, path)
    return load_srs(path)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


class SrsSource(Protocol):
    """Where the SRS for a circuit of a given size comes from."""

    def for_logrows(self, logrows: int) -> Srs: ...


@dataclass(frozen=True)
class DevSrsSource:
    """Insecure dev SRS files, one per logrows, kept in `directory`."""

    directory: Path

    def for_logrows(self, logrows: int) -> Srs:
        return dev_srs(self.directory, logrows)


@dataclass(frozen=True)
class CeremonySrsSource:
    """One user-supplied SRS file; circuits up to its size use it (a larger file costs ezkl a
    Lagrange-basis recomputation per load, so a file of the exact size is fastest)."""

    path: Path

    def for_logrows(self, logrows: int) -> Srs:
        srs = load_srs(self.path)
        srs.require(logrows)
        return srs
