"""A connection to any JSON-RPC chain and a signer, and transactions whose failures read well:
unreachable RPC, wrong chain id, insufficient funds, out of gas, and reverts with the
contract's custom errors decoded into sentences."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError, Web3RPCError
from web3.types import TxReceipt

from zkfl.errors import ChainError, ConfigError

GAS_HEADROOM = 1.2
OUT_OF_GAS_FRACTION = 0.95


@dataclass(frozen=True)
class Chain:
    w3: Web3
    chain_id: int
    rpc_url: str


def connect(rpc_url: str, expected_chain_id: int | None = None, timeout: float = 30.0) -> Chain:
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        chain_id = w3.eth.chain_id
    except Exception as exc:
        raise ChainError(f"cannot reach a JSON-RPC node at {rpc_url}: {exc}. Is the chain running?") from exc
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


def _show(value: Any) -> str:
    if isinstance(value, int) and value > 2**64:
        return hex(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)
