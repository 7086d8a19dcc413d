"""A client's private data on disk: the dataset file it brings (`.npz` with `x`: n x D floats and
`y`: n class indices) and the salted batches it commits to, one per round."""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from zkfl.atomic import write_atomic
from zkfl.circuits import TrainingStepSpec
from zkfl.client import ClientData, make_client_data
from zkfl.errors import ConfigError


def load_dataset(path: str | os.PathLike[str], spec: TrainingStepSpec) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) from an `.npz` file, checked against the circuit's shapes."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"data file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"x", "y"} - set(archive.files)
            if missing:
                raise ConfigError(f"data file {path} lacks array(s) {sorted(missing)}; expected 'x' (n x "
                                  f"{spec.features} features) and 'y' (n class indices)")
            x, y = archive["x"], archive["y"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ConfigError(f"data file {path} is not a readable .npz archive: {exc}") from exc
    if x.ndim != 2 or x.shape[1] != spec.features:
        raise ConfigError(f"data file {path}: x has shape {x.shape}, the model takes (n, {spec.features})")
    if y.shape != (x.shape[0],):
        raise ConfigError(f"data file {path}: y has shape {y.shape}, expected ({x.shape[0]},) to match x")
    if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
        raise ConfigError(f"data file {path}: x must be finite numbers")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= spec.classes:
        raise ConfigError(f"data file {path}: y must be integer classes in [0, {spec.classes})")
    if x.shape[0] < spec.sample_count:
        raise ConfigError(f"data file {path} has {x.shape[0]} samples; one round needs {spec.sample_count} "
                          f"(batch {spec.batch_size} x {spec.local_steps} local steps)")
    return x.astype(np.float64), y.astype(np.int64)


def make_batches(spec: TrainingStepSpec, x: npt.ArrayLike, y: npt.ArrayLike, count: int,
                 rng: np.random.Generator) -> list[ClientData]:
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
    arrays = {"features": np.stack([b.features for b in batches]), "labels": np.stack([b.labels for b in batches]),
              "salts": np.stack([b.salt for b in batches])}
    if all(b.rows is not None for b in batches):
        arrays["rows"] = np.stack([b.rows for b in batches])
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(path, buffer.getvalue(), mode=0o600)  # the salts keep the data commitments hiding


def load_batches(path: str | os.PathLike[str]) -> list[ClientData]:
    with np.load(path, allow_pickle=False) as archive:
        rows = archive["rows"] if "rows" in archive.files else [None] * len(archive["salts"])
        return [ClientData(features, labels, salt, r) for features, labels, salt, r
                in zip(archive["features"], archive["labels"], archive["salts"], rows, strict=True)]
