"""Workspace config and client data files: validated on the way in, with errors that name the problem."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import LOGREG

from zkfl.circuits import LogisticRegression, Mlp, TrainingStepSpec
from zkfl.data.batches import load_batches, load_dataset, make_batches, save_batches
from zkfl.errors import ConfigError
from zkfl.federation.terms import MIN_COHORT, PRIVATE, FederationTerms
from zkfl.pipeline.workspace import Workspace, WorkspaceConfig


def test_config_round_trips_through_toml() -> None:
    terms = FederationTerms(
        submission_window=20, registration_window=7, reveal_window=9, max_open_batches=3, bond_gas_price_wei=5
    )
    config = WorkspaceConfig(
        TrainingStepSpec(Mlp(hidden=16), batch_size=4, learning_rate=0.25),
        slots=3,
        terms=terms,
        rpc_url="http://127.0.0.1:8545",
        chain_id=5,
        srs="/srs/ceremony.srs",
    )
    assert WorkspaceConfig.from_toml(config.to_toml()) == config


def test_the_norm_bound_is_in_the_config_and_its_digest() -> None:
    bounded = WorkspaceConfig(TrainingStepSpec(update_bound=0.5, update_norm="l2"))
    assert "update_bound = 0.5" in bounded.to_toml() and 'update_norm = "l2"' in bounded.to_toml()
    assert WorkspaceConfig.from_toml(bounded.to_toml()) == bounded
    assert bounded.digest() != WorkspaceConfig().digest()
    assert WorkspaceConfig.from_toml("[training]\nupdate_bound = 0\n").training.update_bound is None
    before = WorkspaceConfig().sections()  # an unbounded config's digest is the one it had before the bound
    del before["training"]["update_bound"], before["training"]["update_norm"]
    assert WorkspaceConfig().digest() == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()
    with pytest.raises(ConfigError, match="update_norm must be one of linf, l2"):
        WorkspaceConfig.from_toml('[training]\nupdate_bound = 1.0\nupdate_norm = "l1"\n')


def test_every_default_comes_from_the_nested_types() -> None:
    config = WorkspaceConfig.from_toml("")
    assert config == WorkspaceConfig()
    assert config.training == TrainingStepSpec() and config.terms == FederationTerms()
    assert config.training.model == LogisticRegression()
    assert WorkspaceConfig.from_toml('[model]\nfamily = "mlp"\n').training.model == Mlp()


def test_every_term_counts_in_the_digest_of_an_eager_config_as_of_an_optimistic_one() -> None:
    eager = WorkspaceConfig()
    for changed in (
        FederationTerms(challenge_window=99),
        FederationTerms(reveal_window=7),
        FederationTerms(registration_window=3),
        FederationTerms(max_open_batches=2),
        FederationTerms(bond_gas_price_wei=1),
        FederationTerms(challenge_bond_wei=1),
    ):
        assert WorkspaceConfig(terms=changed).digest() != eager.digest(), changed  # openings dispute eager rounds too
    optimistic = WorkspaceConfig(terms=FederationTerms(verification="optimistic"))
    assert optimistic.digest() != eager.digest()
    assert (
        WorkspaceConfig(terms=FederationTerms(verification="optimistic", challenge_window=99)).digest()
        != optimistic.digest()
    )
    assert WorkspaceConfig.from_toml(optimistic.to_toml()) == optimistic


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[model]\nfamily = "logreg"\nlayers = 3\n', "unknown key 'layers' in [model] for model family 'logreg'"),
        ("[model]\nhidden = 3\n", "unknown key 'hidden' in [model] for model family 'logreg'"),
        ('[model]\nfamily = "cnn"\n', "unknown model family 'cnn'; expected one of: logreg, mlp"),
        ("[optimizer]\nlr = 1\n", "unknown section [optimizer]"),
        ('[training]\nbatch_size = "8"\n', "batch_size must be int"),
        ("[training]\nscale = 12\n", "was written by an earlier zkFL (it has [training] scale)"),
        ("[federation]\nslots = 0\n", "slots must be between 1 and 2^32 - 1, got 0"),
        ("[prover]\ninner_cols = 0\n", "[prover] inner_cols must be between 1 and 16, got 0"),
        ("[prover]\ndecomp_base = 1000\n", "[prover] decomp_base must be a power of two from 16 to 2^20"),
        ("[prover]\ndecomp_base = 16384\ndecomp_legs = 1\n", "decomp_legs 1 of base 16384 must cover at least 2^24"),
        ('[model]\nfamily = "torch"\n', "torch: source must be 'file.py:function'"),
        ("[federation]\nslots = 4\nleaf_slots = 2\n", "aggregates as a tree (leaf_slots), which zkFL retired"),
        (
            "[federation]\nslots = 2\n",
            "a private federation needs at least 3 client slots (a round's masking cohort), got 2: set more slots "
            'or updates = "public"',
        ),
        ("[federation]\nsubmission_window = 0\n", "submission_window must be at least 1, got 0"),
        ('[federation]\nverification = "lazy"\n', "verification must be one of eager, optimistic, got 'lazy'"),
        ("[federation]\nchallenge_window = 0\n", "challenge_window must be at least 1, got 0"),  # eager too
        (
            '[federation]\nverification = "optimistic"\nchallenge_bond_wei = 0\n',
            "challenge_bond_wei must be at least 1, got 0",
        ),
        ("[federation]\nreveal_window = 0\n", "reveal_window must be at least 1, got 0"),
        ("[federation]\nmax_open_batches = 0\n", "max_open_batches must be at least 1, got 0"),
        ("[federation]\nregistration_window = -1\n", "registration_window must not be negative, got -1"),
        ("[federation]\nchallenger_share_bps = 5001\n", "challenger_share_bps must be in 0..5000"),
        ('[chain]\nrpc_url = "ws://x"\n', "rpc_url must be 'devnet' or an http(s) URL"),
    ],
)
def test_invalid_configs_are_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        WorkspaceConfig.from_toml(text)


def test_new_federations_are_private_and_public_ones_take_fewer_than_three_slots() -> None:
    assert WorkspaceConfig().terms.updates == PRIVATE
    assert WorkspaceConfig(slots=MIN_COHORT).terms.private
    for slots in range(1, MIN_COHORT):
        with pytest.raises(ConfigError, match=f"a private federation needs at least {MIN_COHORT} client slots"):
            WorkspaceConfig(slots=slots)
        assert WorkspaceConfig.from_toml(f'[federation]\nslots = {slots}\nupdates = "public"\n').slots == slots


def test_init_is_idempotent_and_refuses_non_empty_directories(tmp_path: Path) -> None:
    config = WorkspaceConfig()
    _, created = Workspace.init(tmp_path / "ws", config)
    _, again = Workspace.init(tmp_path / "ws", config)
    assert (created, again) == (True, False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="exists and is not empty"):
        Workspace.init(tmp_path / "busy", config)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "keep me"


def test_not_deployed_workspace_says_to_run_setup(tmp_path: Path) -> None:
    ws, _ = Workspace.init(tmp_path, WorkspaceConfig())
    with pytest.raises(ConfigError, match="not deployed yet; run `zkfl setup"):
        ws.deployment()


def test_too_little_data_for_one_round_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tiny.npz"
    np.savez(path, x=np.zeros((LOGREG.sample_count - 1, LOGREG.features)), y=np.zeros(LOGREG.sample_count - 1, int))
    with pytest.raises(
        ConfigError, match=f"has {LOGREG.sample_count - 1} samples; one round needs {LOGREG.sample_count}"
    ):
        load_dataset(path, LOGREG)


def test_labels_out_of_range_are_named(tmp_path: Path) -> None:
    path = tmp_path / "labels.npz"
    np.savez(path, x=np.zeros((20, LOGREG.features)), y=np.full(20, LOGREG.classes))
    with pytest.raises(ConfigError, match=r"y must be integer classes in \[0, 3\)"):
        load_dataset(path, LOGREG)


@pytest.mark.prover
def test_batches_cover_the_data_and_never_share_a_commitment(logreg_circuits, tmp_path: Path) -> None:
    key = logreg_circuits.commitments
    n = LOGREG.sample_count
    x = np.arange(3 * n * LOGREG.features, dtype=float).reshape(3 * n, LOGREG.features) / 1000
    y = np.arange(3 * n) % LOGREG.classes
    batches = make_batches(LOGREG, x, y, 5, np.random.default_rng(0))  # more batches than one pass holds
    first_pass = np.concatenate([b.features[:, 0] for b in batches[:3]])
    assert sorted(first_pass) == sorted(np.round(x[:, 0] * 4096).astype(int))  # disjoint, covering pass
    assert len({b.commitment_hash(key, LOGREG) for b in batches}) == 5
    save_batches(tmp_path / "b.npz", batches)
    assert [b.commitment_hash(key, LOGREG) for b in load_batches(tmp_path / "b.npz")] == [
        b.commitment_hash(key, LOGREG) for b in batches
    ]
    assert (tmp_path / "b.npz").stat().st_mode & 0o777 == 0o600
