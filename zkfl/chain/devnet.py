"""A local anvil devnet owned by a directory: started on a free loopback port with `--state` in
that directory (dumped every 2 s and on exit, so the chain survives restarts), found again by its PID
file, stopped by PID."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from web3.types import RPCEndpoint

from zkfl.atomic import write_atomic
from zkfl.chain.rpc import Chain
from zkfl.errors import ChainError
from zkfl.evm.toolchain import anvil_binary

DEVNET_CHAIN_ID = 31337
DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""anvil's default mnemonic: its funded accounts' keys are public. Devnet only."""


@dataclass(frozen=True)
class Devnet:
    rpc_url: str
    pid: int
    port: int
    state_file: str
    chain_id: int = DEVNET_CHAIN_ID


def start_devnet(
    directory: str | os.PathLike[str], accounts: int = 10, startup_timeout: float = 20.0, trace_steps: bool = False
) -> Devnet:
    """The directory's running devnet, or a new anvil process (state kept in `anvil-state.json`).
    With `trace_steps`, anvil records opcode steps, which `debug_traceTransaction`'s struct logs need
    (the gas benches' breakdowns); without it they come back empty."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    running = find_devnet(directory)
    if running:
        return running
    port = _free_port()
    state = directory / "anvil-state.json"
    log = (directory / "anvil.log").open("ab")
    command = [
        str(anvil_binary()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(DEVNET_CHAIN_ID),
        "--accounts",
        str(accounts),
        "--mnemonic",
        DEV_MNEMONIC,
        "--state",
        str(state),
        "--state-interval",
        "2",
        "--silent",
        *(["--steps-tracing"] if trace_steps else []),
    ]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    devnet = Devnet(f"http://127.0.0.1:{port}", process.pid, port, str(state))
    deadline = time.monotonic() + startup_timeout
    while not _rpc_alive(devnet.rpc_url):
        if process.poll() is not None:
            raise ChainError(f"anvil exited with code {process.returncode} at start; see {directory / 'anvil.log'}")
        if time.monotonic() > deadline:
            process.kill()
            raise ChainError(f"anvil did not answer on {devnet.rpc_url} within {startup_timeout:.0f} s")
        time.sleep(0.05)
    write_atomic(directory / "devnet.json", json.dumps(asdict(devnet), indent=2))
    return devnet


def find_devnet(directory: str | os.PathLike[str]) -> Devnet | None:
    """The devnet recorded in `directory`, if its process is alive and answering."""
    record = Path(directory) / "devnet.json"
    if not record.is_file():
        return None
    devnet = Devnet(**json.loads(record.read_text()))
    if _pid_alive(devnet.pid) and _rpc_alive(devnet.rpc_url):
        return devnet
    record.unlink(missing_ok=True)
    return None


def stop_devnet(directory: str | os.PathLike[str], timeout: float = 10.0) -> bool:
    """Stop the directory's devnet (anvil writes its state file on the way out). True if one ran."""
    devnet = find_devnet(directory)
    if devnet is None:
        return False
    os.kill(devnet.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(devnet.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _pid_alive(devnet.pid):
        os.kill(devnet.pid, signal.SIGKILL)
    (Path(directory) / "devnet.json").unlink(missing_ok=True)
    return True


def mine_blocks(chain: Chain, blocks: int) -> None:
    """Advance a devnet's clock: anvil makes blocks only for transactions, so deadlines counted in
    blocks pass only when blocks are mined (anvil_mine)."""
    if blocks > 0:
        chain.w3.provider.make_request(RPCEndpoint("anvil_mine"), [hex(blocks)])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our exited child
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rpc_alive(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1.0) as response:
            return "result" in json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
