"""The example federations' data: scikit-learn's bundled digits and breast-cancer sets (no
download), split non-IID across the clients, written as the `.npz` files clients bring (`x`:
features, `y`: classes). Needs the `examples` extra (scikit-learn)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TEST_FRACTION = 0.25
"""Share of each dataset held out, stratified by class, as the federation's public test set."""

BREAST_CANCER_CLIP = 4.0
"""Standardized breast-cancer features are clipped to ±4 standard deviations: the raw set has
z-scores up to ~14 (a few skewed size and area features, 0.4 % of the values beyond 4); clipping
bounds every input and logit of the training step far inside the circuit's fixed-point range."""

MAX_DRAWS = 1000
"""How often `dirichlet_shards` redraws a split before it gives up on its minimum shard size."""


def dirichlet_shards(
    labels: np.ndarray, clients: int, alpha: float, rng: np.random.Generator, min_size: int = 0
) -> list[np.ndarray]:
    """Indices per client; each class is spread over the clients by a Dirichlet(alpha) draw,
    redrawn from the same generator until every client holds at least `min_size` samples (a
    client needs one round's samples to take part; the first draw is kept when it has them)."""
    if min_size * clients > len(labels):
        raise ValueError(f"{len(labels)} samples cannot give {clients} clients {min_size} each")
    for _ in range(MAX_DRAWS):
        shards = _dirichlet_draw(labels, clients, alpha, rng)
        if min(len(s) for s in shards) >= min_size:
            return shards
    raise ValueError(f"no Dirichlet(alpha={alpha}) split in {MAX_DRAWS} draws gives every client {min_size} samples")


def _dirichlet_draw(labels: np.ndarray, clients: int, alpha: float, rng: np.random.Generator) -> list[np.ndarray]:
    shards: list[list[int]] = [[] for _ in range(clients)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        cuts = (np.cumsum(rng.dirichlet([alpha] * clients)) * len(idx)).astype(int)[:-1]
        for shard, part in zip(shards, np.split(idx, cuts), strict=True):
            shard.extend(part.tolist())
    return [np.array(s, dtype=np.int64) for s in shards]


def write_digits(
    directory: Path, clients: int, alpha: float, seed: int, centered: bool = True
) -> tuple[list[Path], Path]:
    """The clients' private .npz files and the held-out test set, pixels (0-16) centered on the
    training pool's per-pixel mean and divided by 8, so features lie in (-2, 2) (`centered=False`:
    scaled to [0, 1]).

    Centering is what lets logistic regression learn this much in 10 short rounds: on raw [0, 1]
    pixels float FedAvg ends at 84-90 % on this split, on centered ones at 92-94 % (docs/benchmarks.md). The
    per-pixel mean stands for normalization constants a federation publishes, as MNIST's are."""
    from sklearn.datasets import load_digits

    x_train, x_test, y_train, y_test = _split(load_digits(return_X_y=True), seed)
    mean = x_train.mean(axis=0) if centered else 0.0
    scale = 8.0 if centered else 16.0
    return write_federation(
        directory, ((x_train - mean) / scale, y_train), ((x_test - mean) / scale, y_test), clients, alpha, seed
    )


def write_breast_cancer(
    directory: Path, clients: int, alpha: float, seed: int, min_samples: int = 1
) -> tuple[list[Path], Path]:
    """The hospitals' private .npz files and the held-out test set of the Wisconsin breast-cancer
    data (569 samples, 30 features; class 0 malignant, 1 benign). Every feature is standardized
    with the training pool's mean and standard deviation, the normalization constants a consortium
    publishes, and clipped to ±`BREAST_CANCER_CLIP`. Every hospital gets at least `min_samples`
    training samples (pass the round's sample count, batch size x local steps, so each can train)."""
    from sklearn.datasets import load_breast_cancer

    x_train, x_test, y_train, y_test = _split(load_breast_cancer(return_X_y=True), seed)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)

    def standardize(x: np.ndarray) -> np.ndarray:
        return np.clip((x - mean) / std, -BREAST_CANCER_CLIP, BREAST_CANCER_CLIP)

    return write_federation(
        directory, (standardize(x_train), y_train), (standardize(x_test), y_test), clients, alpha, seed, min_samples
    )


def _split(dataset: tuple[np.ndarray, np.ndarray], seed: int) -> list[np.ndarray]:
    """(x_train, x_test, y_train, y_test) of (data, target), stratified by class."""
    from sklearn.model_selection import train_test_split

    data, target = dataset
    return list(train_test_split(data, target, test_size=TEST_FRACTION, random_state=seed, stratify=target))


def write_federation(
    directory: Path,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    clients: int,
    alpha: float,
    seed: int,
    min_samples: int = 0,
) -> tuple[list[Path], Path]:
    """`client-<i>.npz` for each Dirichlet(alpha) shard of the training pool and `test.npz`."""
    directory.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = train, test
    files = []
    rng = np.random.default_rng(seed)
    for i, rows in enumerate(dirichlet_shards(y_train, clients, alpha, rng, min_samples)):
        path = directory / f"client-{i}.npz"
        np.savez(path, x=x_train[rows], y=y_train[rows])
        files.append(path)
    np.savez(directory / "test.npz", x=x_test, y=y_test)
    return files, directory / "test.npz"
