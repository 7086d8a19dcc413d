"""A client's private data on disk: the dataset file it brings (`.npz` with `x`: n x D floats and
`y`: n class indices) and the salted batches it commits to, one per round."""

from __future__ import annotations

import io
import os
import secrets
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from zkfl.atomic import write_atomic
from zkfl.circuits import SALT_LEN, TrainingStepSpec
from zkfl.circuits.training import data_vector
from zkfl.errors import ConfigError
from zkfl.fixedpoint import SCALE, FixedArray, quantize
from zkfl.zk.commitments import CommitmentKey

SALT_BITS = 23
"""Salt elements are uniform in (-2**23, 2**23): 8 x ~24 bits, and exact through float32 inputs."""


def new_salt(rng: secrets.SystemRandom | None = None) -> FixedArray:
    """Fresh salt for a data commitment, from the OS's CSPRNG (never a seeded generator)."""
    rng = rng or secrets.SystemRandom()
    bound = (1 << SALT_BITS) - 1
    return np.array([rng.randint(-bound, bound) for _ in range(SALT_LEN)], dtype=np.int64)


@dataclass(frozen=True)
class ClientData:
    """A client's private training data for one round, quantized, with the salt that blinds
    its commitment. `vector` is exactly the `data` input of the training-step graph."""

    features: FixedArray  # n x D fixed point
    labels: npt.NDArray[np.int64]  # n class indices
    salt: FixedArray  # SALT_LEN fixed-point elements
    rows: npt.NDArray[np.int64] | None = None  # where each sample sits in the client's data file, if known

    def vector(self, spec: TrainingStepSpec) -> FixedArray:
        return data_vector(spec, self.features, self.labels, self.salt, one=1 << SCALE)

    def commitment_hash(self, key: CommitmentKey, spec: TrainingStepSpec) -> int:
        return key.commitment_hash(self.vector(spec))


def make_client_data(
    spec: TrainingStepSpec,
    features: npt.ArrayLike,
    labels: npt.ArrayLike,
    salt: FixedArray | None = None,
) -> ClientData:
    """Validate and quantize a client's samples (floats, class indices) for `spec`."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    n, d = spec.sample_count, spec.features
    if x.shape != (n, d):
        raise ConfigError(
            f"wrong data shape: the circuit takes {n} samples (batch {spec.batch_size} x "
            f"{spec.local_steps} local steps) of {d} features, got features of shape {x.shape}"
        )
    if y.shape != (n,):
        raise ConfigError(f"wrong label shape: expected ({n},) class indices, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= spec.classes:
        raise ConfigError(f"labels must be integers in [0, {spec.classes}), got {y.min()}..{y.max()}")
    salt = new_salt() if salt is None else np.asarray(salt, dtype=np.int64)
    if salt.shape != (SALT_LEN,):
        raise ConfigError(f"salt must have {SALT_LEN} elements, got shape {salt.shape}")
    return ClientData(quantize(x), y.astype(np.int64), salt)


def npz_layout(spec: TrainingStepSpec) -> str:
    """What a data file must hold, with a one-line numpy recipe to make one (for error messages)."""
    return (
        f"a client's data file is an .npz archive with 'x': n x {spec.features} floats and 'y': n integer "
        f"class indices in [0, {spec.classes}); make one with numpy: "
        "np.savez('data.npz', x=features.astype(np.float64), y=labels.astype(np.int64))"
    )


def load_dataset(path: str | os.PathLike[str], spec: TrainingStepSpec) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) from an `.npz` file, checked against the circuit's shapes. Every fault of
    the file is a ConfigError naming it, what was found, and the layout it must have."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"data file not found: {path}")
    layout = npz_layout(spec)
    x, y = _read_npz(path, layout)
    if x.ndim != 2 or x.shape[1] != spec.features:
        raise ConfigError(f"data file {path}: x has shape {x.shape}, the model takes (n, {spec.features}); {layout}")
    if x.shape[0] == 0:
        raise ConfigError(f"data file {path} holds no samples (x has shape {x.shape}); {layout}")
    if y.ndim == 2 and y.shape == (x.shape[0], spec.classes):
        raise ConfigError(
            f"data file {path}: y has shape {y.shape}, one-hot rows; zkFL takes class indices: save "
            "y=y.argmax(axis=1) instead"
        )
    if y.shape != (x.shape[0],):
        raise ConfigError(f"data file {path}: y has shape {y.shape}, expected ({x.shape[0]},) to match x; {layout}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ConfigError(f"data file {path}: x has dtype {x.dtype}, expected floats; {layout}")
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise ConfigError(f"data file {path}: x has {bad} NaN or infinite value(s); drop or impute them first")
    classes = f"y must be integer classes in [0, {spec.classes})"
    if not np.issubdtype(y.dtype, np.integer):
        whole = np.issubdtype(y.dtype, np.floating) and bool(np.all(np.isfinite(y)) and np.all(y == np.round(y)))
        fix = "its values are whole numbers: save y=y.astype(np.int64)" if whole else layout
        raise ConfigError(f"data file {path}: {classes}, found dtype {y.dtype}; {fix}")
    if y.min() < 0 or y.max() >= spec.classes:
        raise ConfigError(
            f"data file {path}: {classes} (the model has {spec.classes} classes), found {y.min()}..{y.max()}; "
            "map the labels to indices 0, 1, ... or init a workspace with more classes"
        )
    if x.shape[0] < spec.sample_count:
        raise ConfigError(
            f"data file {path} has {x.shape[0]} samples; one round needs {spec.sample_count} "
            f"(batch {spec.batch_size} x {spec.local_steps} local steps)"
        )
    return x.astype(np.float64), y.astype(np.int64)


NPZ_MAGIC, NPY_MAGIC = b"PK\x03\x04", b"\x93NUMPY"


def _read_npz(path: Path, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """The 'x' and 'y' arrays of an .npz archive; anything else (an .npy array, text, a pickle)
    is named for what it is."""
    with path.open("rb") as handle:
        head = handle.read(len(NPY_MAGIC))
    if head.startswith(NPY_MAGIC):
        raise ConfigError(f"data file {path} is a single .npy array, not an .npz archive of 'x' and 'y'; {layout}")
    if not head.startswith(NPZ_MAGIC):
        if not head:
            kind = "empty"
        elif _looks_like_text(path):
            kind = "text (CSV?); read it with np.loadtxt(path, delimiter=',') and save x and y as below"
        else:
            kind = "neither an .npz nor an .npy file"
        raise ConfigError(f"data file {path} is not a readable .npz archive: it is {kind}; {layout}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"x", "y"} - set(archive.files)
            if missing:
                raise ConfigError(
                    f"data file {path} lacks array(s) {sorted(missing)} (it has {sorted(archive.files)}); {layout}"
                )
            return archive["x"], archive["y"]
    except ValueError as exc:  # allow_pickle=False refuses object arrays (numpy's message speaks of pickles)
        raise ConfigError(f"data file {path} holds object arrays, not numbers; {layout}") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ConfigError(f"data file {path} is not a readable .npz archive: {exc}; {layout}") from exc


def _looks_like_text(path: Path) -> bool:
    with path.open("rb") as handle:
        sample = handle.read(4096)
    return bool(sample) and b"\x00" not in sample


def make_batches(
    spec: TrainingStepSpec, x: npt.ArrayLike, y: npt.ArrayLike, count: int, rng: np.random.Generator
) -> list[ClientData]:
    """`count` round batches of `spec.sample_count` samples: the data is shuffled and cut into
    disjoint batches, reshuffled for each further pass; every batch gets its own fresh salt,
    so no two commitments are equal even when a later pass repeats samples."""
    x, y = np.asarray(x), np.asarray(y)
    n = spec.sample_count
    order: list[int] = []
    while len(order) < count * n:
        perm = rng.permutation(len(y))
        order.extend(perm[: len(perm) - len(perm) % n].tolist())
    rows = np.array(order[: count * n]).reshape(count, n)
    return [replace(make_client_data(spec, x[r], y[r]), rows=r) for r in rows]


def save_batches(path: str | os.PathLike[str], batches: list[ClientData]) -> None:
    arrays = {
        "features": np.stack([b.features for b in batches]),
        "labels": np.stack([b.labels for b in batches]),
        "salts": np.stack([b.salt for b in batches]),
    }
    rows = [b.rows for b in batches if b.rows is not None]
    if len(rows) == len(batches):
        arrays["rows"] = np.stack(rows)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)  # numbers only, read back with allow_pickle=False
    write_atomic(path, buffer.getvalue(), mode=0o600)  # the salts keep the data commitments hiding


def load_batches(path: str | os.PathLike[str]) -> list[ClientData]:
    with np.load(path, allow_pickle=False) as archive:
        rows = archive["rows"] if "rows" in archive.files else [None] * len(archive["salts"])
        return [
            ClientData(features, labels, salt, r)
            for features, labels, salt, r in zip(
                archive["features"], archive["labels"], archive["salts"], rows, strict=True
            )
        ]
