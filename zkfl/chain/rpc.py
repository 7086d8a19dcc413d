"""A connection to any JSON-RPC chain and a signer, and transactions whose failures read well:
unreachable RPC, wrong chain id, insufficient funds, out of gas, and reverts with the
contract's custom errors decoded into sentences. A node that cannot be reached, at the start or
in the middle of a command, is a ChainError naming its URL, raised by the transport itself
(`ZkflHTTPProvider`), so every caller gets it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError, Web3RPCError
from web3.types import RPCEndpoint, RPCResponse, TxReceipt

from zkfl.errors import ChainError, ConfigError

GAS_HEADROOM = 1.2
OUT_OF_GAS_FRACTION = 0.95


@dataclass(frozen=True)
class Chain:
    w3: Web3
    chain_id: int
    rpc_url: str


class ZkflHTTPProvider(HTTPProvider):
    """web3's HTTP transport, with a connection that fails (refused, reset, timed out) raised as a
    ChainError naming the URL and `hint` (what to do), not as a requests error from deep inside web3."""

    def __init__(self, rpc_url: str, timeout: float, hint: str) -> None:
        super().__init__(rpc_url, request_kwargs={"timeout": timeout})
        self.hint = hint

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            return super().make_request(method, params)
        except requests.RequestException as exc:
            raise self._unreachable(str(method), exc) from exc

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        try:
            return super().make_batch_request(batch_requests)
        except requests.RequestException as exc:
            raise self._unreachable("a batch request", exc) from exc

    def _unreachable(self, what: str, exc: requests.RequestException) -> ChainError:
        reason = _connection_reason(exc)
        return ChainError(f"cannot reach a JSON-RPC node at {self.endpoint_uri} ({what}: {reason}); {self.hint}")


def connect(rpc_url: str, expected_chain_id: int | None = None, timeout: float = 30.0, hint: str = "") -> Chain:
    """A connection to the node at `rpc_url` (checked: it answers, with `expected_chain_id`). `hint`
    says what to do when the node cannot be reached, now or later (default: start it)."""
    provider = ZkflHTTPProvider(rpc_url, timeout, hint or "is the chain running? Start it, or check the URL")
    w3 = Web3(provider)
    try:
        chain_id = w3.eth.chain_id
    except ChainError:
        raise
    except Exception as exc:
        raise ChainError(f"cannot reach a JSON-RPC node at {rpc_url}: {exc}; {provider.hint}") from exc
    if expected_chain_id is not None and chain_id != expected_chain_id:
        raise ChainError(f"wrong chain: {rpc_url} is chain id {chain_id}, expected {expected_chain_id}")
    return Chain(w3, chain_id, rpc_url)


def signer_from_key(private_key: str) -> LocalAccount:
    try:
        return Account.from_key(private_key)
    except Exception as exc:
        raise ConfigError("invalid private key: expected 32 bytes as 0x-prefixed hex") from exc


def signer_from_keystore(path: str | os.PathLike[str], password: str | None = None) -> LocalAccount:
    """An encrypted JSON keystore; the password defaults to $ZKFL_KEYSTORE_PASSWORD."""
    password = password if password is not None else os.environ.get("ZKFL_KEYSTORE_PASSWORD")
    if password is None:
        raise ConfigError("keystore password missing: pass it or set ZKFL_KEYSTORE_PASSWORD")
    try:
        key = Account.decrypt(json.loads(Path(path).read_text()), password)
    except FileNotFoundError as exc:
        raise ConfigError(f"keystore not found: {path}") from exc
    except ValueError as exc:
        raise ConfigError(f"cannot decrypt keystore {path}: {exc}") from exc
    return Account.from_key(key)


class ErrorDecoder:
    """Custom-error selectors of a set of ABIs -> readable messages."""

    def __init__(self, abis: list[list[dict[str, Any]]], messages: Mapping[str, Callable[..., str]] | None = None):
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [i["type"] for i in item["inputs"]]
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                self._errors[selector] = (item["name"], [i["name"] for i in item["inputs"]], types)
        self._messages = dict(messages or {})

    def decode(self, data: str | bytes | None) -> str | None:
        if data is None:
            return None
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else bytes(data)
        if len(raw) < 4 or raw[:4] not in self._errors:
            return None
        name, names, types = self._errors[raw[:4]]
        values = [
            to_checksum_address(v) if t == "address" else v
            for t, v in zip(types, abi_decode(types, raw[4:]), strict=True)
        ]
        args = dict(zip(names, values, strict=True))
        if name in self._messages:
            try:
                return f"{name}: {self._messages[name](**args)}"
            except (TypeError, KeyError, ValueError):  # a message out of step with the ABI: show the raw error
                pass
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
        return f"{name}({shown})"


def transact(
    chain: Chain,
    signer: LocalAccount,
    call: Any,
    decoder: ErrorDecoder,
    what: str,
    value: int = 0,
    gas: int | None = None,
) -> TxReceipt:
    """Simulate, sign, send and wait for `call` (a web3 contract function or constructor).
    A revert in simulation raises ChainError with the decoded custom error; nothing is sent."""
    w3 = chain.w3
    params: dict[str, Any] = {"from": signer.address, "value": value, "chainId": chain.chain_id}
    try:
        estimate = call.estimate_gas(params)
    except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
        reason = decoder.decode(getattr(exc, "data", None)) or str(exc)
        raise ChainError(f"{what} rejected: {reason}") from exc
    except Web3RPCError as exc:
        raise _rpc_error(chain, signer, what, exc) from exc
    params["gas"] = gas if gas is not None else int(estimate * GAS_HEADROOM)
    params["nonce"] = w3.eth.get_transaction_count(signer.address, "pending")
    tx = call.build_transaction(params)
    signed = signer.sign_transaction(tx)
    try:
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    except Web3RPCError as exc:
        raise _rpc_error(chain, signer, what, exc) from exc
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    if receipt["status"] != 1:
        # An out-of-gas inside a called contract (e.g. the verifier) surfaces as a revert of the
        # caller with the last 1/64 of the gas left, so "used nearly all of it" is the signal.
        if receipt["gasUsed"] >= OUT_OF_GAS_FRACTION * params["gas"]:
            raise ChainError(
                f"{what} ran out of gas ({params['gas']} gas limit, {receipt['gasUsed']} used); raise the gas limit"
            )
        raise ChainError(f"{what} reverted on chain in tx {tx_hash.hex()}")
    return receipt


def _rpc_error(chain: Chain, signer: LocalAccount, what: str, exc: Web3RPCError) -> ChainError:
    text = str(exc)
    if "insufficient funds" in text.lower():
        balance = chain.w3.eth.get_balance(signer.address)
        return ChainError(f"{what}: account {signer.address} has insufficient funds ({balance} wei) for value + gas")
    if "gas required exceeds" in text.lower() or "out of gas" in text.lower():
        return ChainError(f"{what} ran out of gas: {text}")
    return ChainError(f"{what} failed at the node: {text}")


def _connection_reason(exc: requests.RequestException) -> str:
    """The innermost cause of a requests failure in a few words ("Connection refused"), not its
    whole chain of pool and adapter messages."""
    if isinstance(exc, requests.Timeout):
        return "no answer within the timeout"
    cause: BaseException = exc
    while cause.__context__ is not None or cause.__cause__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause)
    return text.split("] ", 1)[1] if text.startswith("[Errno") and "] " in text else text or type(cause).__name__


def _show(value: Any) -> str:
    if isinstance(value, int) and value > 2**64:
        return hex(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)
