"""A client's data file: every ordinary fault (no rows, an .npy, a CSV, float labels, one-hot
labels, pickled objects) is a ConfigError that names the file, what was found and the layout it
must have, never a traceback; and `zkfl run` says so (exit 2) before it deploys anything. The
breast-cancer example's writer gives every hospital a usable, standardized, non-IID shard."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import LOGREG

from zkfl.circuits import LogisticRegression, TrainingStepSpec
from zkfl.data.batches import load_dataset
from zkfl.data.datasets import BREAST_CANCER_CLIP, write_breast_cancer
from zkfl.errors import ConfigError
from zkfl.federation.terms import PUBLIC

D, C, N = LOGREG.features, LOGREG.classes, 3 * LOGREG.sample_count
RECIPE = "np.savez('data.npz', x=features.astype(np.float64), y=labels.astype(np.int64))"


def _good(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.uniform(size=(n, D)), rng.integers(0, C, size=n)


def _no_rows(path: Path) -> Path:
    np.savez(path.with_suffix(".npz"), x=np.zeros((0, D)), y=np.zeros(0, dtype=np.int64))
    return path.with_suffix(".npz")


def _npy(path: Path) -> Path:
    np.save(path.with_suffix(".npy"), _good()[0])
    return path.with_suffix(".npy")


def _csv(path: Path) -> Path:
    x, y = _good()
    np.savetxt(path.with_suffix(".csv"), np.column_stack([x, y]), delimiter=",")
    return path.with_suffix(".csv")


def _float_labels(path: Path) -> Path:
    x, y = _good()
    np.savez(path.with_suffix(".npz"), x=x, y=y.astype(np.float64))
    return path.with_suffix(".npz")


def _one_hot_labels(path: Path) -> Path:
    x, y = _good()
    np.savez(path.with_suffix(".npz"), x=x, y=np.eye(C)[y])
    return path.with_suffix(".npz")


def _object_arrays(path: Path) -> Path:
    x, y = _good()
    np.savez(path.with_suffix(".npz"), x=x.astype(object), y=y)
    return path.with_suffix(".npz")


def _empty_file(path: Path) -> Path:
    path.with_suffix(".npz").write_bytes(b"")
    return path.with_suffix(".npz")


FAULTS: list[tuple[str, Callable[[Path], Path], list[str]]] = [
    ("no-rows", _no_rows, ["holds no samples", f"(0, {D})", RECIPE]),
    ("npy", _npy, ["is a single .npy array, not an .npz archive", RECIPE]),
    ("csv", _csv, ["is not a readable .npz archive: it is text (CSV?)", "np.loadtxt", RECIPE]),
    ("float-labels", _float_labels, ["found dtype float64", "save y=y.astype(np.int64)"]),
    ("one-hot-labels", _one_hot_labels, [f"y has shape ({N}, {C}), one-hot rows", "y.argmax(axis=1)"]),
    ("object-arrays", _object_arrays, ["holds object arrays, not numbers", RECIPE]),
    ("empty-file", _empty_file, ["it is empty", RECIPE]),
]


@pytest.mark.parametrize(("fault", "make", "expected"), FAULTS, ids=[f[0] for f in FAULTS])
def test_an_ordinary_data_fault_is_named_with_the_file_and_the_layout_to_use(
    tmp_path: Path, fault: str, make: Callable[[Path], Path], expected: list[str]
) -> None:
    path = make(tmp_path / fault)
    with pytest.raises(ConfigError) as raised:
        load_dataset(path, LOGREG)
    message = str(raised.value)
    assert str(path) in message
    for part in expected:
        assert part in message, message
    assert "pickle" not in message.lower()  # numpy's message about pickles says nothing about the user's file


def test_a_good_file_loads_as_floats_and_class_indices(tmp_path: Path) -> None:
    x, y = _good()
    np.savez(tmp_path / "good.npz", x=x.astype(np.float32), y=y.astype(np.int32))
    features, labels = load_dataset(tmp_path / "good.npz", LOGREG)
    assert features.dtype == np.float64 and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, y)


def test_zkfl_run_names_a_csv_data_file_and_deploys_nothing(tmp_path: Path) -> None:
    zkfl = str(Path(sys.executable).with_name("zkfl"))
    workspace = tmp_path / "fed"
    args = ["--features", D, "--classes", C, "--batch-size", LOGREG.batch_size, "--local-steps", LOGREG.local_steps]
    args += ["--updates", PUBLIC]
    subprocess.run([zkfl, "init", workspace, *map(str, args)], check=True, capture_output=True)
    csv = _csv(tmp_path / "alice")
    done = subprocess.run(
        [zkfl, "run", "-w", str(workspace), "--data", str(csv)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "it is text (CSV?)" in done.stderr
    assert not (workspace / "state").exists() and not (workspace / "devnet").exists()  # refused before setup


def test_the_breast_cancer_writer_gives_five_non_iid_hospitals_disjoint_from_the_test_set(tmp_path: Path) -> None:
    spec = TrainingStepSpec(LogisticRegression(30, 2), batch_size=8, local_steps=4)  # the example's shape
    files, test = write_breast_cancer(tmp_path, clients=5, alpha=0.5, seed=0, min_samples=spec.sample_count)
    shards = [load_dataset(f, spec) for f in files]  # 30 features, classes in [0, 2), as the circuit takes them
    x_test, y_test = load_dataset(test, spec)
    assert len(shards) == 5 and all(len(y) >= spec.sample_count for _, y in shards)  # even the smallest trains
    x_train = np.concatenate([x for x, _ in shards])
    assert len(x_train) + len(x_test) == 569 and set(y_test) == {0, 1}
    benign_share = [float(y.mean()) for _, y in shards]
    assert max(benign_share) - min(benign_share) > 0.3, benign_share  # non-IID: hospitals see other case mixes
    # standardized on the training pool; clipping the skewed features' tails shrinks their spread a little
    std = x_train.std(axis=0)
    np.testing.assert_allclose(x_train.mean(axis=0), 0.0, atol=0.1)
    assert np.all((std > 0.7) & (std < 1 + 1e-9)) and np.sum(std > 0.99) >= 10, std
    assert np.abs(x_train).max() <= BREAST_CANCER_CLIP and np.abs(x_test).max() <= BREAST_CANCER_CLIP
    train_rows = {row.tobytes() for row in x_train}
    assert len(train_rows) == len(x_train)  # no sample given to two hospitals
    assert not train_rows & {row.tobytes() for row in x_test}  # nor both trained on and tested on
