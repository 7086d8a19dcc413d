"""`zkfl` answers `--help` and `version` without loading the prover: the CLI module imports the
library (torch, ezkl, onnx, web3) only inside the command that runs. Each check runs in a fresh
interpreter, since this test session has long imported all of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer

from zkfl import __version__
from zkfl.cli.app import INIT_DEFAULTS, app

ZKFL = str(Path(sys.executable).with_name("zkfl"))
HEAVY = ("torch", "ezkl", "onnx", "web3")


def _heavy_modules_after(code: str) -> dict[str, list[str]]:
    """Run `code` in a fresh interpreter; it sets `seen[label]` to what it loaded, by label."""
    script = f"""
import json, sys
seen = {{}}
def loaded():
    return sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
{code}
print(json.dumps(seen))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_prover_chain_or_onnx_library() -> None:
    assert _heavy_modules_after("import zkfl.cli.app\nseen['import'] = loaded()") == {"import": []}


def test_help_and_version_load_no_prover_chain_or_onnx_library() -> None:
    commands = [
        ["--help"],
        ["version"],
        *[[name, "--help"] for name in ("init", "setup", "register", "prove", "submit", "aggregate", "verify")],
        *[[name, "--help"] for name in ("status", "run", "audit", "watch", "join", "export")],
        ["devnet", "--help"],
        ["devnet", "mine", "--help"],
    ]
    code = f"""
import contextlib, io
from zkfl.cli.app import app
for args in {commands!r}:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            app(args)
        except SystemExit as exc:
            assert exc.code == 0, (args, exc.code)
    seen[" ".join(args)] = loaded()
"""
    seen = _heavy_modules_after(code)
    assert seen == {" ".join(args): [] for args in commands}


def test_commands_that_read_a_workspace_load_neither_torch_nor_onnx(tmp_path: Path) -> None:
    """Reading a workspace's config, the chain or the store needs neither torch (only building a
    graph or checking a batch's ranges does) nor onnx (only compiling a graph does)."""
    workspace = tmp_path / "ws"
    commands = [
        ["init", str(workspace)],
        *[[*command, "-w", str(workspace)] for command in (["status"], ["verify", "--round", "0"], ["aggregate"])],
        ["submit", "--client", "a", "-w", str(workspace)],
        ["prove", "--client", "a", "-w", str(workspace)],
        ["status", "-w", str(tmp_path / "nowhere")],
    ]
    code = f"""
import contextlib, io
from zkfl.cli.app import app
for args in {commands!r}:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            app(args)
        except SystemExit as exc:
            assert exc.code in (0, 2), (args, exc.code)  # 2: not deployed, unknown client, no workspace
    seen[" ".join(args[:1])] = [name for name in loaded() if name in ("torch", "onnx")]
"""
    seen = _heavy_modules_after(code)
    assert seen == {args[0]: [] for args in commands}, seen


def test_version_names_zkfl_and_the_pinned_ezkl() -> None:
    from zkfl.zk.prover import EZKL_VERSION

    done = subprocess.run([ZKFL, "version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"zkfl {__version__} (ezkl {EZKL_VERSION})"


def test_init_help_quotes_the_config_defaults() -> None:
    """The defaults `zkfl init --help` quotes are written out (no torch for --help): they must be
    the config's own."""
    from zkfl.circuits import FAMILIES
    from zkfl.circuits.families import TorchModel
    from zkfl.cli import app as cli
    from zkfl.pipeline.workspace import DEVNET, WorkspaceConfig

    sections = WorkspaceConfig().sections()
    expected = {
        "families": tuple(name for name in FAMILIES if name != TorchModel.name),  # a user's model is named by file
        "family": sections["model"]["family"],
        "features": sections["model"]["features"],
        "classes": sections["model"]["classes"],
        "hidden": FAMILIES["mlp"]().to_json()["hidden"],
        "batch_size": sections["training"]["batch_size"],
        "local_steps": sections["training"]["local_steps"],
        "learning_rate": sections["training"]["learning_rate"],
        "slots": sections["federation"]["slots"],
        "updates": sections["federation"]["updates"],
    }
    assert expected == INIT_DEFAULTS
    assert cli.DEVNET == DEVNET == sections["chain"]["rpc_url"]


def test_every_registered_command_has_a_one_line_help() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    commands = dict(group.commands)
    devnet = commands["devnet"]
    assert isinstance(devnet, typer.core.TyperGroup)
    for name, command in [*commands.items(), *((f"devnet {n}", c) for n, c in devnet.commands.items())]:
        assert (command.help or "").strip(), f"`zkfl {name}` has no help"
