"""Output of the `zkfl` commands: JSON for programs (`--json`), rich text for people, and the
exit codes CI can gate on."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress as Spinner
from rich.progress import SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from zkfl.errors import VERIFICATION_FAILURES, ZkflError

EXIT_OK = 0
EXIT_VERIFICATION_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3

err = Console(stderr=True, log_path=False)
T = TypeVar("T")


def to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_json(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def emit(value: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    if as_json:
        typer.echo(json.dumps(to_json(value), indent=2))
    else:
        human(value)


@contextmanager
def progress_reporter(as_json: bool) -> Iterator[Callable[[str], None]]:
    """The library's progress steps (`zkfl.pipeline.progress`), for people, on stderr: a line per
    step as it starts, with the time since the command started, and on a terminal a spinner with
    the running step and its own time. With `--json`, nothing: stdout carries one JSON document,
    and stderr only an error."""
    if as_json:
        yield _quiet
        return
    started = time.perf_counter()
    spinner = Spinner(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True
    )
    task: TaskID | None = None

    def report(step: str) -> None:
        nonlocal task
        err.print(f"[dim]{time.perf_counter() - started:7.1f} s[/dim]  {escape(step)}", highlight=False, soft_wrap=True)
        if not err.is_terminal:  # a log or a pipe: the lines are the record
            return
        if task is None:
            spinner.start()
            task = spinner.add_task(escape(step), total=None)
        else:
            spinner.reset(task, description=escape(step))

    try:
        yield report
    finally:
        if task is not None:  # (stopping one never started prints a blank line)
            spinner.stop()


def _quiet(step: str) -> None:
    """Progress in `--json` mode: none."""


LOADING = "loading zkFL (torch, ezkl, web3)"
"""The first step of every command that runs the library: its imports take seconds."""


def run_with_progress(action: Callable[[Callable[[str], None]], T], as_json: bool) -> T:
    """`run` an action that reports progress steps, rendered while it runs (`progress_reporter`);
    the first step is the library's loading, which the action starts with."""
    with progress_reporter(as_json) as progress:
        progress(LOADING)
        return run(lambda: action(progress), as_json)


def run(action: Callable[[], T], as_json: bool) -> T:
    """Run a library call; map failures to exit codes: a proof, link or content that does not verify
    (`VERIFICATION_FAILURES`) -> 1, any other ZkflError (bad input, missing artifact, chain
    refusal) -> 2, a bug -> 3."""
    logging.getLogger("ezkl").setLevel(logging.ERROR)  # calibration tables; our errors carry the facts
    try:
        return action()
    except ZkflError as exc:
        code = exit_code(exc)
        _fail(type(exc).__name__, str(exc), code, as_json)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]: artifacts are written atomically; run the command again to continue")
        raise typer.Exit(130) from None
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        _fail(
            "InternalError", f"{type(exc).__name__}: {exc} (a zkFL bug; please report it)", EXIT_INTERNAL_ERROR, as_json
        )
    raise AssertionError("unreachable")


def exit_code(exc: ZkflError) -> int:
    """1 for what does not verify, 2 for every other zkFL error."""
    return EXIT_VERIFICATION_FAILED if isinstance(exc, VERIFICATION_FAILURES) else EXIT_USER_ERROR


def fail(message: str, code: int, as_json: bool, kind: str = "VerificationFailed", details: Any = None) -> None:
    """Exit with `code`; with `--json`, stdout gets one object: `details` plus the error fields."""
    _fail(kind, message, code, as_json, details)


def _fail(kind: str, message: str, code: int, as_json: bool, details: Any = None) -> None:
    if as_json:
        payload = {**(to_json(details) if details else {}), "error": kind, "message": message, "exit_code": code}
        typer.echo(json.dumps(payload, indent=2))
    # the message verbatim (escaped: "[foo]" is text, not markup) and whole (one line, never wrapped)
    err.print(f"[bold red]error[/bold red] ({kind}): {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
