"""A federation workspace: one directory that holds a federation's config, compiled circuits and
keys, SRS reference, deployed addresses, round records and artifact store, so that every command
can be killed and re-run and continue from what the directory (and the chain) holds.

    zkfl.toml          the federation's config (written by `zkfl init`, read by every command)
    build/             ONNX graphs, compiled circuits, keys, dev SRS, verifier contracts (caches)
    settings/          the federation's circuit settings, when the workspace joined a federation
                       deployed elsewhere (`zkfl join`): circuits compile from these, not fresh ones
    store/             the local content-addressed artifact store (weights, proofs, reports)
    state/             deployment.json, rounds/<r>.json (the aggregator's records)
    clients/<name>/    a client's PRIVATE state: committed batches with their salts, round records
    devnet/            the local anvil (state file, PID record), when the chain is the devnet
    reports/           human-readable reports
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from zkfl.atomic import write_atomic
from zkfl.chain.coordinator import Coordinator
from zkfl.chain.devnet import DEV_MNEMONIC, DEVNET_CHAIN_ID, start_devnet, stop_devnet
from zkfl.chain.rpc import Chain, connect, signer_from_key
from zkfl.circuits import FAMILIES, TrainingStepSpec, model_from_json
from zkfl.circuits.kinds import CircuitKind
from zkfl.errors import ConfigError
from zkfl.federation.terms import MIN_COHORT, PUBLIC, FederationTerms
from zkfl.fixedpoint import FixedArray, quantize
from zkfl.store.artifacts import ArtifactStore, LocalStore, open_store
from zkfl.zk.build import CircuitSet, PublishedCircuit, build_circuits
from zkfl.zk.prover import ProverConfig
from zkfl.zk.srs import CeremonySrsSource, DevSrsSource, SrsSource

CONFIG_FILE = "zkfl.toml"
DEVNET = "devnet"
OWNER, AGGREGATOR = "owner", "aggregator"
KEY_ENV = {OWNER: "ZKFL_OWNER_KEY", AGGREGATOR: "ZKFL_AGGREGATOR_KEY"}
CLIENT_KEY_ENV = "ZKFL_CLIENT_KEY"
FIRST_CLIENT_ACCOUNT = 2  # devnet accounts: 0 owner, 1 aggregator, 2.. clients


@dataclass(frozen=True)
class WorkspaceConfig:
    """Everything that defines a federation: the training step (model, batch, steps, learning
    rate), the client slots (one FedAvg proof serves any number), the coordinator's terms, the
    chain, the store and the SRS. Every default is the one of the nested type. `rpc_url =
    "devnet"` means a local anvil that the workspace starts itself; `srs = "dev"` an INSECURE
    generated SRS, else a ceremony file path."""

    training: TrainingStepSpec = TrainingStepSpec()
    slots: int = 4
    genesis_seed: int = 0
    terms: FederationTerms = FederationTerms()
    rpc_url: str = DEVNET
    chain_id: int = 0  # 0: accept the node's chain id (the devnet's is 31337)
    ipfs_api: str = ""  # empty: the workspace's local store
    srs: str = "dev"
    prover: ProverConfig = ProverConfig()
    """ezkl's layout of the circuits: inner columns and the decomposition's base and legs (the rest of
    `ProverConfig` is fixed by zkFL); `bench/settings.py` measures the choices for a model."""

    def __post_init__(self) -> None:
        if not 1 <= self.slots < 1 << 32:
            raise ConfigError(f"slots must be between 1 and 2^32 - 1, got {self.slots}")
        if problems := self.terms.problems():
            raise ConfigError("; ".join(problems))
        if self.terms.private and self.slots < MIN_COHORT:
            raise ConfigError(
                f"a private federation needs at least {MIN_COHORT} client slots (a round's masking cohort), got "
                f'{self.slots}: set more slots or updates = "{PUBLIC}"'
            )
        prover = self.prover
        if not 1 <= prover.num_inner_cols <= 16:
            raise ConfigError(f"[prover] inner_cols must be between 1 and 16, got {prover.num_inner_cols}")
        if prover.decomp_base < 16 or prover.decomp_base & (prover.decomp_base - 1) or prover.decomp_base > 1 << 20:
            raise ConfigError(f"[prover] decomp_base must be a power of two from 16 to 2^20, got {prover.decomp_base}")
        if not 1 <= prover.decomp_legs <= 8 or prover.decomp_base**prover.decomp_legs < 1 << 24:
            raise ConfigError(
                f"[prover] decomp_legs {prover.decomp_legs} of base {prover.decomp_base} must cover at least 2^24 "
                "(scale-12 values up to 4096) with at most 8 legs"
            )
        if not (self.rpc_url == DEVNET or self.rpc_url.startswith(("http://", "https://"))):
            raise ConfigError(f"rpc_url must be {DEVNET!r} or an http(s) URL, got {self.rpc_url!r}")

    def genesis_weights(self) -> FixedArray:
        """Round 0's global model: the model family's genesis from `genesis_seed`."""
        return quantize(self.training.model.genesis(self.genesis_seed))

    def sections(self) -> dict[str, dict[str, Any]]:
        """The TOML sections of this config."""
        spec = self.training
        return {
            "model": spec.model.to_json(),
            "training": {
                "batch_size": spec.batch_size,
                "local_steps": spec.local_steps,
                "learning_rate": spec.learning_rate,
                "update_bound": spec.update_bound or 0.0,  # TOML has no null: 0 is no bound
                "update_norm": spec.update_norm,
            },
            "federation": {
                "slots": self.slots,
                "genesis_seed": self.genesis_seed,
                **asdict(self.terms),
            },
            "chain": {"rpc_url": self.rpc_url, "chain_id": self.chain_id},
            "store": {"ipfs_api": self.ipfs_api},
            "prover": {
                "srs": self.srs,
                "inner_cols": self.prover.num_inner_cols,
                "decomp_base": self.prover.decomp_base,
                "decomp_legs": self.prover.decomp_legs,
            },
        }

    def to_toml(self) -> str:
        lines = [
            "# zkFL federation config. Edit before `zkfl setup`; afterwards it is fixed by the",
            "# deployed circuits (setup refuses a config that no longer matches).",
            "",
        ]
        for section, values in self.sections().items():
            lines.append(f"[{section}]")
            lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
            lines.append("")
        return "\n".join(lines)

    @classmethod
    def from_toml(cls, text: str, source: str = CONFIG_FILE) -> WorkspaceConfig:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source} is not valid TOML: {exc}") from exc
        return cls.from_document(document, source)

    @classmethod
    def from_document(cls, document: dict[str, Any], source: str = CONFIG_FILE) -> WorkspaceConfig:
        """A config from TOML-shaped sections ({section: {key: value}}); what they leave out takes its
        default. Unknown sections and keys, and values of the wrong type, are errors naming `source`."""
        merged = cls().sections()
        if document.get("federation", {}).get("leaf_slots", 0):
            raise ConfigError(
                f"{source} aggregates as a tree (leaf_slots), which zkFL retired: one FedAvg proof over the "
                "sum of the updates serves any number of clients. Remove leaf_slots and set up a new federation"
            )
        document = {
            **document,
            "federation": {k: v for k, v in document.get("federation", {}).items() if k != "leaf_slots"},
        }
        if "scale" in document.get("training", {}):  # [training] scale went with the nested config
            raise ConfigError(
                f"{source} was written by an earlier zkFL (it has [training] scale), whose federations "
                "need a new setup: create a new workspace with `zkfl init`"
            )
        for section, table in document.items():
            if section not in merged or not isinstance(table, dict):
                raise ConfigError(f"{source}: unknown section [{section}]; expected {', '.join(merged)}")
            if section == "model":  # its keys are the family's
                merged["model"] = _family_defaults(table.get("family", merged["model"]["family"]), source)
            for key, value in table.items():
                if key not in merged[section]:
                    family = f" for model family {merged['model']['family']!r}" if section == "model" else ""
                    raise ConfigError(
                        f"{source}: unknown key {key!r} in [{section}]{family}; expected one of "
                        f"{', '.join(merged[section])}"
                    )
                if not _same_type(value, merged[section][key]):
                    raise ConfigError(f"{source}: {key} must be {type(merged[section][key]).__name__}, got {value!r}")
                merged[section][key] = value
        try:
            return cls.from_sections(merged)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from exc

    @classmethod
    def from_sections(cls, sections: dict[str, dict[str, Any]]) -> WorkspaceConfig:
        training = sections["training"]
        federation = dict(sections["federation"])
        spec = TrainingStepSpec(
            model_from_json(sections["model"]),
            training["batch_size"],
            training["local_steps"],
            float(training["learning_rate"]),
            float(training["update_bound"]) or None,
            training["update_norm"],
        )
        slots, seed = federation.pop("slots"), federation.pop("genesis_seed")
        return cls(
            spec,
            slots,
            seed,
            FederationTerms(**federation),
            sections["chain"]["rpc_url"],
            sections["chain"]["chain_id"],
            sections["store"]["ipfs_api"],
            sections["prover"]["srs"],
            ProverConfig(
                num_inner_cols=sections["prover"]["inner_cols"],
                decomp_base=sections["prover"]["decomp_base"],
                decomp_legs=sections["prover"]["decomp_legs"],
            ),
        )

    def digest(self) -> str:
        """Identity of the federation's config (deployment records it; a changed config is refused).
        Every term counts (an eager federation has dispute terms too: openings)."""
        sections = self.sections()
        if self.training.update_bound is None:  # an unbounded config keeps the digest it had before the bound
            sections["training"] = {k: v for k, v in sections["training"].items() if not k.startswith("update_")}
        return hashlib.sha256(json.dumps(sections, sort_keys=True).encode()).hexdigest()


def _family_defaults(name: Any, source: str) -> dict[str, Any]:
    if name not in FAMILIES:
        raise ConfigError(f"{source}: unknown model family {name!r}; expected one of: {', '.join(FAMILIES)}")
    family = FAMILIES[name]
    defaults = {field.name: field.default for field in fields(family)}  # a user's model has no default instance
    return {
        "family": name,
        **{key: list(value) if isinstance(value, tuple) else value for key, value in defaults.items()},
    }


def _same_type(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) or isinstance(expected, bool):
        return isinstance(value, bool) and isinstance(expected, bool)
    if isinstance(expected, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(expected))


class Workspace:
    """Paths, config and the connections (chain, store, signers) of one federation workspace."""

    def __init__(self, root: Path, config: WorkspaceConfig):
        self.root = root
        self.config = config

    # creation and opening ---------------------------------------------------------------------
    @classmethod
    def init(cls, root: str | os.PathLike[str], config: WorkspaceConfig) -> tuple[Workspace, bool]:
        """Create the workspace (True), or confirm an identical one exists (False)."""
        root = Path(root).resolve()
        path = root / CONFIG_FILE
        if path.is_file():
            existing = WorkspaceConfig.from_toml(path.read_text(), str(path))
            if existing != config:
                raise ConfigError(
                    f"{root} is already a workspace with a different config; edit {path} or choose another directory"
                )
            return cls(root, existing), False
        if root.exists() and any(root.iterdir()):
            raise ConfigError(f"{root} exists and is not empty; choose a new or empty directory")
        write_atomic(path, config.to_toml())
        return cls(root, config), True

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> Workspace:
        root = Path(root).resolve()
        path = root / CONFIG_FILE
        if not path.is_file():
            raise ConfigError(f"no zkFL workspace at {root} (no {CONFIG_FILE}); create one with `zkfl init {root}`")
        return cls(root, WorkspaceConfig.from_toml(path.read_text(), str(path)))

    # paths -------------------------------------------------------------------------------------
    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def devnet_dir(self) -> Path:
        return self.root / "devnet"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def client_dir(self, name: str) -> Path:
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"client name {name!r} must be letters, digits, '-' or '_'")
        return self.root / "clients" / name

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    # a client's records --------------------------------------------------------------------------
    def client_record_path(self, name: str) -> Path:
        """The client's registration: account, batches committed, slot."""
        return self.client_dir(name) / "client.json"

    def client_batches_path(self, name: str) -> Path:
        """The client's salted batches (private: its data and salts)."""
        return self.client_dir(name) / "batches.npz"

    def client_round_path(self, name: str, round_no: int) -> Path:
        """What the client proved (and submitted) in a round."""
        return self.client_dir(name) / "rounds" / f"{round_no}.json"

    def client_proof_path(self, name: str, round_no: int) -> Path:
        return self.client_dir(name) / "proofs" / f"round-{round_no}.json"

    def client_update_path(self, name: str, round_no: int) -> Path:
        """The client's update vector of a round, as stored (the bytes its CID addresses)."""
        return self.client_dir(name) / "updates" / f"round-{round_no}.bin"

    # the aggregator's records --------------------------------------------------------------------
    def round_record_path(self, round_no: int) -> Path:
        """The aggregator's record of a finalized round."""
        return self.state_dir / "rounds" / f"{round_no}.json"

    def fedavg_proof_path(self, round_no: int) -> Path:
        return self.state_dir / "proofs" / f"fedavg-{round_no}.json"

    def client_names(self) -> list[str]:
        clients = self.root / "clients"
        return sorted(p.name for p in clients.iterdir() if (p / "client.json").is_file()) if clients.is_dir() else []

    # records (JSON, written atomically) --------------------------------------------------------
    def read_record(self, path: Path) -> dict[str, Any] | None:
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError as exc:
            raise ConfigError(f"corrupt workspace record {path}: {exc}; delete it to rebuild it") from exc

    def write_record(self, path: Path, record: dict[str, Any]) -> None:
        write_atomic(path, json.dumps(record, indent=2, sort_keys=True))

    @property
    def deployment_path(self) -> Path:
        return self.state_dir / "deployment.json"

    def deployment(self) -> dict[str, Any]:
        record = self.read_record(self.deployment_path)
        if record is None:
            raise ConfigError(f"the federation in {self.root} is not deployed yet; run `zkfl setup -w {self.root}`")
        if record["config_digest"] != self.config.digest():
            raise ConfigError(
                f"{self.root / CONFIG_FILE} changed after setup; the deployed federation uses the old "
                "config. Restore it, or create a new workspace for the new config"
            )
        return record

    # connections -------------------------------------------------------------------------------
    @cached_property
    def store(self) -> ArtifactStore:
        return open_store(self.config.ipfs_api) if self.config.ipfs_api else LocalStore(self.root / "store")

    @property
    def srs_source(self) -> SrsSource:
        if self.config.srs == "dev":
            return DevSrsSource(self.build_dir / "srs")
        return CeremonySrsSource(Path(self.config.srs).expanduser())

    @property
    def published_paths(self) -> dict[CircuitKind, tuple[Path, Path]]:
        """Where a joined workspace keeps each circuit as the federation published it: (graph, settings)."""
        folder = self.root / "published"
        return {kind: (folder / f"{kind.graph_name}.onnx", folder / f"{kind.graph_name}.json") for kind in CircuitKind}

    def published_circuits(self) -> dict[CircuitKind, PublishedCircuit] | None:
        """The federation's published circuits, in a joined workspace (None in the owner's: it exports its own)."""
        paths = self.published_paths
        present = [path.is_file() for pair in paths.values() for path in pair]
        if not any(present):
            return None
        if not all(present):
            names = ", ".join(path.name for pair in paths.values() for path in pair)
            raise ConfigError(f"{self.root / 'published'} must hold {names}; run `zkfl join` again to restore them")
        return {
            kind: PublishedCircuit(graph.read_bytes(), settings.read_bytes())
            for kind, (graph, settings) in paths.items()
        }

    @cached_property
    def circuits(self) -> CircuitSet:
        """Compiled circuits and keys (built on first use, then read from the build cache)."""
        return build_circuits(
            self.config.training,
            self.config.slots,
            self.build_dir,
            self.srs_source,
            self.config.prover,
            published=self.published_circuits(),
        )

    @cached_property
    def chain(self) -> Chain:
        """The federation's chain; the local devnet is started (with its saved state) if needed."""
        if self.config.rpc_url == DEVNET:
            devnet = start_devnet(self.devnet_dir, accounts=FIRST_CLIENT_ACCOUNT + max(self.config.slots, 8))
            hint = f"the workspace's devnet stopped: start it (`zkfl devnet start -w {self.root}`) and run this again"
            return connect(devnet.rpc_url, DEVNET_CHAIN_ID, hint=hint)
        hint = (
            f'is the chain running? Start the node, or fix [chain] rpc_url in {self.root / CONFIG_FILE} ("devnet": '
            f"a local chain the workspace runs itself, started with `zkfl devnet start -w {self.root}`)"
        )
        return connect(self.config.rpc_url, self.config.chain_id or None, hint=hint)

    def stop_devnet(self) -> bool:
        return stop_devnet(self.devnet_dir)

    def coordinator(self) -> Coordinator:
        return Coordinator(self.chain, self.deployment()["coordinator"])

    def signer(self, role: str, client_index: int = 0) -> LocalAccount:
        """The account acting as `role` ("owner", "aggregator" or "client"). On the devnet these are
        anvil's public dev accounts; elsewhere keys come from ZKFL_OWNER_KEY, ZKFL_AGGREGATOR_KEY
        and ZKFL_CLIENT_KEY (hex private keys)."""
        if self.config.rpc_url == DEVNET:
            index = {OWNER: 0, AGGREGATOR: 1}.get(role, FIRST_CLIENT_ACCOUNT + client_index)
            Account.enable_unaudited_hdwallet_features()
            return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
        variable = KEY_ENV.get(role, CLIENT_KEY_ENV)
        key = os.environ.get(variable)
        if not key:
            raise ConfigError(f"set {variable} to the private key of the {role} account for {self.config.rpc_url}")
        return signer_from_key(key)
