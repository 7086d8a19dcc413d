"""Proving that Ctrl-C can stop. ezkl holds the GIL for a whole proof, so in the process that
calls it an interrupt is only seen once the proof is done (half a minute and more). A
`ProverProcess` runs the proving call in a child process instead: the caller's main thread stays
free to take the interrupt, kills the child and removes the child's unfinished files, so the proof
file appears only once the child returned it, verified (`zkfl.zk.prover.prove`).

The child is spawned, not forked (a fork of a process whose ezkl thread pool has started
deadlocks in the child), and it ignores SIGINT: a terminal's Ctrl-C reaches the whole process
group, and only the parent decides. Started early, its imports (`preload`) overlap the caller's
own work."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import pickle
import shutil
import signal
import tempfile
import threading
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

from zkfl.errors import ProofError

T = TypeVar("T")
POLL_SECONDS = 0.2
"""How often the parent looks up from waiting (an interrupt is taken at once either way)."""


class Prover(Protocol):
    """Where a proving call runs. `prove_to(path, fn, *args)` calls `fn(*args, proof_path)` and
    returns its result; the file `path` exists only once the call returned."""

    def prove_to(self, path: Path, fn: Callable[..., T], *args: Any) -> T: ...


class InProcess:
    """Prove in this process: the library's default (an interrupt waits for the proof)."""

    def prove_to(self, path: Path, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args, path)


IN_PROCESS = InProcess()


class ProverProcess:
    """A spawned child that runs proving calls, one at a time, until closed; any interrupt or
    error while it proves kills it (use it in a `with` block)."""

    def __init__(self, preload: Sequence[str] = (), start: bool = True) -> None:
        """`start`: now (its imports overlap what the caller does next), else on the first call."""
        self._preload = tuple(preload)
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        if start:
            self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child_end, self._preload, logging.getLogger("ezkl").getEffectiveLevel()),
            name="zkfl-prover",
            daemon=True,
        )
        main = threading.current_thread() is threading.main_thread()  # (only it may set signal handlers)
        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None  # the child inherits SIG_IGN
        try:
            self._process.start()
        finally:
            if main:
                signal.signal(signal.SIGINT, interrupt)
            child_end.close()

    def prove_to(self, path: Path, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args, staged)` in the child, `staged` a path in a directory beside `path` that this
        process owns; its file is moved to `path` once the call returned. Interrupted or failed,
        the child is killed first, then the directory is removed: nothing is left behind."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.proving-"))
        try:
            result = self.call(fn, *args, staging / path.name)
            os.replace(staging / path.name, path)
            return result
        except BaseException:
            self.close()
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the child (`fn` importable by name, arguments picklable); its exception
        is raised here, with the child's traceback as a note."""
        if self._process is None:
            self._start()
        assert self._process is not None and self._conn is not None
        if not self._process.is_alive():
            raise ProofError(f"the prover process is gone (exit code {self._process.exitcode}); run the command again")
        self._conn.send((fn, args))
        while not self._conn.poll(POLL_SECONDS):  # the main thread runs here: Ctrl-C is taken at once
            pass
        try:
            ok, value = self._conn.recv()
        except EOFError:
            self._process.join()
            raise ProofError(
                f"the prover process died while proving (exit code {self._process.exitcode}); out of memory?"
            ) from None
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Kill the child if it still runs (an unfinished proof is worthless) and reap it."""
        if self._process is None or self._conn is None:
            return
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._conn.close()

    def __enter__(self) -> ProverProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _serve(conn: Connection, preload: tuple[str, ...], ezkl_log_level: int) -> None:
    """The child: import what it will need, then answer calls until the parent closes the pipe."""
    logging.getLogger("ezkl").setLevel(ezkl_log_level)
    for module in preload:
        importlib.import_module(module)
    while True:
        try:
            fn, args = conn.recv()
        except EOFError:
            return
        try:
            reply = (True, fn(*args))
        except BaseException as exc:
            reply = (False, _portable(exc))
        conn.send(reply)


def _portable(exc: BaseException) -> BaseException:
    """The exception, picklable, with the child's traceback as a note."""
    exc.add_note("in the prover process:\n" + "".join(traceback.format_exception(exc)).rstrip())
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
