"""Solidity build and the devnet, with the real solc-js and anvil (no proofs needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from zkfl.chain.devnet import DEV_MNEMONIC, find_devnet, start_devnet, stop_devnet
from zkfl.chain.rpc import connect
from zkfl.errors import ConfigError
from zkfl.evm.solidity import MAX_RUNTIME_BYTES, ContractArtifact, check_deployable, compile_sources


def test_compile_returns_abi_and_bytecode_and_caches(tmp_path: Path) -> None:
    source = "pragma solidity ^0.8.20; contract Box { uint256 public v; function set(uint256 x) external { v = x; } }"
    first = compile_sources({"Box.sol": source}, tmp_path)["Box"]
    assert {item["name"] for item in first.abi if item["type"] == "function"} == {"v", "set"}
    assert first.bytecode.startswith("0x60") and first.runtime_size > 0
    assert len(list((tmp_path / "solc").glob("*.json"))) == 1
    assert compile_sources({"Box.sol": source}, tmp_path)["Box"] == first


def test_compile_error_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"(?s)Solidity compilation failed:.*Undeclared identifier"):
        compile_sources(
            {"Bad.sol": "pragma solidity ^0.8.20; contract Bad { function f() external { y = 1; } }"}, tmp_path
        )
    assert not list((tmp_path / "solc").glob("*.json")), "a failed compile must not be cached"


def test_oversized_contract_is_refused_with_the_limit() -> None:
    too_big = ContractArtifact("Huge", [], "0x00", "0x" + "00" * (MAX_RUNTIME_BYTES + 1))
    with pytest.raises(
        ConfigError, match=f"{MAX_RUNTIME_BYTES + 1} bytes of runtime code, over the {MAX_RUNTIME_BYTES}-byte limit"
    ):
        check_deployable(too_big)


def test_devnet_state_survives_a_restart(tmp_path: Path) -> None:
    Account.enable_unaudited_hdwallet_features()
    sender = Account.from_mnemonic(DEV_MNEMONIC, account_path="m/44'/60'/0'/0/0")
    receiver = Account.create().address
    devnet = start_devnet(tmp_path)
    try:
        chain = connect(devnet.rpc_url, devnet.chain_id)
        tx = sender.sign_transaction(
            {
                "to": receiver,
                "value": 12345,
                "gas": 21000,
                "gasPrice": chain.w3.eth.gas_price,
                "nonce": 0,
                "chainId": devnet.chain_id,
            }
        )
        chain.w3.eth.wait_for_transaction_receipt(chain.w3.eth.send_raw_transaction(tx.raw_transaction))
        assert start_devnet(tmp_path).pid == devnet.pid, "a running devnet is reused, not started twice"
    finally:
        assert stop_devnet(tmp_path)
    assert find_devnet(tmp_path) is None
    restarted = start_devnet(tmp_path)
    try:
        assert connect(restarted.rpc_url).w3.eth.get_balance(receiver) == 12345
    finally:
        stop_devnet(tmp_path)
