"""The documentation says what the code does: the library example runs and prints what its page
says, every module and exported name has an API page, every audit check id in the code is
documented (and every documented one exists), the errors tree is complete, and the README's
set-up commands and links are real. The site itself is built by `mkdocs build --strict`."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
import typer

import zkfl
from zkfl import errors
from zkfl.circuits.kinds import CircuitKind
from zkfl.cli.app import app
from zkfl.zk.prover import verify

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PACKAGE = ROOT / "zkfl"


def marked_block(page: Path, name: str) -> str:
    """The fenced code block right after the page's `<!-- test: NAME ... -->` marker."""
    text = page.read_text()
    match = re.search(rf"<!-- test: {re.escape(name)}\b[^>]*-->\n```[^\n]*\n(.*?)\n```", text, re.S)
    assert match, f"{page.name} has no code block marked '<!-- test: {name} -->'"
    return match.group(1)


def printed_block(page: Path, after: str) -> str:
    """The ```text block that follows the line `after` (what the page says the example prints)."""
    text = page.read_text()
    match = re.search(rf"{re.escape(after)}\n\n```text\n(.*?)\n```", text, re.S)
    assert match, f"{page.name} has no ```text block after {after!r}"
    return match.group(1)


@pytest.mark.prover
def test_the_library_example_runs_and_prints_what_its_page_says(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example as a user copies it: run in a fresh directory whose .zkfl-cache is the test
    session's cache (so its circuits and keys are built once for the whole suite)."""
    page = DOCS / "library.md"
    code = marked_block(page, "library-round")
    cache_dir.mkdir(parents=True, exist_ok=True)
    (tmp_path / ".zkfl-cache").symlink_to(cache_dir.resolve(), target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exec(compile(code, str(page), "exec"), namespace)  # the page's own example, as a user runs it
    assert stdout.getvalue().strip() == printed_block(page, "It prints:").strip()
    circuits, aggregate, updates = namespace["circuits"], namespace["aggregate"], namespace["updates"]
    verify(circuits.aggregator, aggregate.proof)
    for update in updates:
        verify(circuits.client, update.proof)
    assert (tmp_path / "fedavg.json").is_file() and (tmp_path / "client-1.json").is_file()
    assert aggregate.sum_hash == circuits.commitments.commitment_hash(updates[0].vector + updates[1].vector)
    assert not np.array_equal(aggregate.weights, namespace["genesis"]), "the round must move the model"


def documented_modules() -> set[str]:
    return {m for page in (DOCS / "api").glob("*.md") for m in re.findall(r"^::: ([\w.]+)", page.read_text(), re.M)}


def test_every_module_has_an_api_page() -> None:
    modules = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not any(part.startswith("_") and part != "__init__" for part in parts):
            modules.add(name)
    missing = sorted(modules - documented_modules() - {"zkfl.contracts"})
    assert not missing, f"modules without an API page (add `::: NAME` to a page in docs/api/): {missing}"


def test_every_exported_name_is_on_the_api_index() -> None:
    index = (DOCS / "api" / "index.md").read_text()
    missing = [name for name in zkfl.__all__ if name != "__version__" and f"[`{name}`]" not in index]
    assert not missing, f"zkfl exports names that docs/api/index.md does not list: {missing}"


def check_ids_in_code() -> tuple[set[str], list[re.Pattern[str]]]:
    """The ids the verification and audit code reports: literal ones, and patterns for the ones
    built with an f-string (`f"{kind}-proof-offchain"`)."""
    literal: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for path in [*(PACKAGE / "verification").glob("*.py"), *(PACKAGE / "audit").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called not in ("add", "Finding"):
                continue
            first = node.args[0]
            if (
                isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and re.fullmatch(r"[a-z-]+", first.value)
            ):
                literal.add(first.value)
            elif isinstance(first, ast.JoinedStr):
                parts = [re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z-]+" for v in first.values]
                patterns.append(re.compile("".join(parts)))
    return literal, patterns


def documented_check_ids() -> set[str]:
    page = (DOCS / "audit.md").read_text()
    table = page[page.index("| id | what must hold |") :]
    table = table[: table.index("\n\n")]
    return {i for row in table.splitlines()[2:] for i in re.findall(r"`([a-z-]+)`", row.split(" | ")[0])}


def test_every_audit_check_id_is_documented_and_every_documented_one_exists() -> None:
    literal, patterns = check_ids_in_code()
    documented = documented_check_ids()
    assert literal and patterns, "no check ids found in zkfl/verification and zkfl/audit"
    assert not literal - documented, f"check ids missing from docs/audit.md: {sorted(literal - documented)}"
    for pattern in patterns:
        assert any(pattern.fullmatch(i) for i in documented), f"no documented check id matches {pattern.pattern}"
    for kind in CircuitKind:
        assert {f"{kind}-proof-offchain", f"{kind}-proof-onchain"} <= documented, kind
    unknown = {i for i in documented - literal if not any(p.fullmatch(i) for p in patterns)}
    assert not unknown, f"docs/audit.md documents check ids the code never reports: {sorted(unknown)}"


def test_the_errors_docstring_tree_names_every_error() -> None:
    tree = errors.__doc__ or ""
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.ZkflError)]
    missing = [c.__name__ for c in classes if not re.search(rf"\b{c.__name__}\b", tree)]
    assert not missing, f"zkfl/errors.py's docstring tree lacks {missing}"


def test_the_readme_gives_the_two_set_up_commands_and_its_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme[readme.index("## Set-up: two commands") :]
    block = re.search(r"```bash\n(.*?)\n```", setup, re.S)
    assert block and [line.split("#")[0].strip() for line in block.group(1).splitlines()] == ["make demo", "make test"]
    targets = set(re.findall(r"^(\w+):", (ROOT / "Makefile").read_text(), re.M))
    assert {"demo", "test"} <= targets
    links = [link for link in re.findall(r"\]\(([^)#]+)[^)]*\)", readme) if "://" not in link]
    assert links, "the README links to no documentation page"
    broken = [link for link in links if not (ROOT / link).exists()]
    assert not broken, f"README links to missing files: {broken}"


def cli_commands() -> dict[str, set[str]]:
    """Every `zkfl` command (`devnet start` for a subcommand) with its long options."""
    found: dict[str, set[str]] = {}

    def walk(group: click.Group, prefix: str) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ")
            else:
                options = [p for p in command.params if isinstance(p, click.Option)]
                found[prefix + name] = {o for p in options for o in p.opts if o.startswith("--")}

    root = typer.main.get_command(app)
    assert isinstance(root, click.Group)
    walk(root, "")
    return found


def test_the_cli_reference_lists_every_command_with_exactly_its_options() -> None:
    """The options table says which commands take a workspace and --json; it must match the CLI."""
    page = (DOCS / "cli.md").read_text()
    table = page[page.index("| command | workspace | `--json` | other options |") :]
    table = table[: table.index("\n\n")]
    documented: dict[str, set[str]] = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        options = set(re.findall(r"--[a-z][a-z-]*", " ".join(cells[1:])))
        if cells[2].startswith("yes"):
            options.add("--json")
        for name in re.findall(r"`([a-z][a-z -]*)`", cells[0]):
            documented[name] = options
    commands = page[page.index("| command | does |") : page.index("## Options")]
    for name, options in cli_commands().items():
        assert f"| `{name}" in commands or f"/ `{name}" in commands, f"`zkfl {name}` is not in the commands table"
        assert name in documented, f"`zkfl {name}` is not in the options table"
        assert documented[name] == options, (
            f"zkfl {name}: the page says {sorted(documented[name])}, the CLI has {sorted(options)}"
        )
