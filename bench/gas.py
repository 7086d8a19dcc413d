"""Gas report: deploy gas, verifier runtime sizes, and gas per client submission and per
finalization (from receipts) for digits-sized circuits on a real anvil, each next to a bare call
of the same generated verifier with the same proof, so the coordinator's own overhead shows.
Also how the number of inner columns and of public instances move a verifier's gas.

    python bench/gas.py            # prints JSON
    python bench/gas.py --quick    # small circuits (a smoke run)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from eth_account import Account
from sklearn.datasets import load_digits

from zkfl.aggregator import aggregate_and_prove, empty_slot_hash
from zkfl.build import build_circuits
from zkfl.chain.coordinator import (
    Coordinator,
    FederationConfig,
    deploy_circuit_verifier,
    deploy_federation,
    proof_calldata,
)
from zkfl.chain.devnet import DEV_MNEMONIC, start_devnet, stop_devnet
from zkfl.chain.rpc import ErrorDecoder, connect, transact
from zkfl.circuits import TrainingStepSpec
from zkfl.client import make_client_data, train_and_prove
from zkfl.commitments import poseidon
from zkfl.evm.solidity import compile_files
from zkfl.evm.verifier import VerifierTooLarge, verifier_source
from zkfl.fixedpoint import quantize
from zkfl.prover import ProverConfig


IHALO2_ABI = [{"type": "function", "name": "verifyProof", "stateMutability": "view", "outputs": [{"name": "", "type": "bool"}],
               "inputs": [{"name": "proof", "type": "bytes"}, {"name": "instances", "type": "uint256[]"}]}]


def calldata_bytes(tx_input: bytes) -> dict[str, int]:
    zeros = tx_input.count(0)
    return {"bytes": len(tx_input), "zero_bytes": zeros, "calldata_gas": 4 * zeros + 16 * (len(tx_input) - zeros)}


def bare_verify(chain, signer, address: str, abi: list, proof) -> dict:
    """A transaction straight to the verifier with the same proof and instances."""
    contract = chain.w3.eth.contract(address=address, abi=abi)
    proof_bytes, instances = proof_calldata(proof)
    call = contract.functions.verifyProof(proof_bytes, instances)
    if call.call({"from": signer.address}) is not True:  # a "false" costs gas too: only count accepted proofs
        raise RuntimeError(f"the verifier at {address} did not accept the proof")
    receipt = transact(chain, signer, call, ErrorDecoder([abi]), "bare verifier call")
    tx = chain.w3.eth.get_transaction(receipt["transactionHash"])
    return {"gas": receipt["gasUsed"], **calldata_bytes(bytes(tx["input"]))}


def tx_record(chain, receipt: dict) -> dict:
    tx = chain.w3.eth.get_transaction(receipt["transactionHash"])
    return {"gas": receipt["gasUsed"], **calldata_bytes(bytes(tx["input"]))}


def federation_case(chain, accounts, spec: TrainingStepSpec, slots: int, cache: Path, config: ProverConfig) -> dict:
    circuits = build_circuits(spec, slots, cache, config=config)
    digits = load_digits()
    rng = np.random.default_rng(0)
    genesis = quantize(spec.init_params(seed=0))
    datas, updates = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(slots):
            idx = rng.choice(len(digits.target), size=spec.sample_count, replace=False)
            data = make_client_data(spec, digits.data[idx] / 16.0, digits.target[idx])
            datas.append(data)
            updates.append(train_and_prove(circuits.client, spec, genesis, data, Path(tmp) / f"c{i}.json"))
        aggregate = aggregate_and_prove(circuits.aggregator, circuits.fedavg, updates, Path(tmp) / "agg.json")
        owner, aggregator, clients = accounts[0], accounts[1], accounts[2:2 + slots]
        fed_config = FederationConfig(poseidon(genesis), "bafy-genesis", aggregator.address,
                                      empty_slot_hash(circuits.fedavg), submission_window=1000)
        deployment = deploy_federation(chain, owner, circuits, fed_config, cache)
        coordinator = Coordinator(chain, deployment.coordinator, cache)
        submissions = []
        for client, data, update in zip(clients, datas, updates, strict=True):
            coordinator.register(client, [data.commitment(spec)])
            submissions.append(tx_record(chain, coordinator.submit_update(client, 0, update.proof, "b" * 59)))
        finalization = tx_record(chain, coordinator.finalize_round(aggregator, 0, aggregate.proof, "b" * 59))
        bare_client = bare_verify(chain, owner, deployment.client_verifier, IHALO2_ABI, updates[0].proof)
        bare_agg = bare_verify(chain, owner, deployment.aggregator_verifier, IHALO2_ABI, aggregate.proof)
        sizes = {}
        for role, keys in (("client_verifier", circuits.client), ("aggregator_verifier", circuits.aggregator)):
            sizes[role] = compile_files([verifier_source(keys, cache)], cache)["Halo2Verifier"].runtime_size
    submit_gas = statistics.median(s["gas"] for s in submissions)
    return {
        "case": f"{spec.family}-d{spec.features}-b{spec.batch_size}-k{spec.local_steps}-K{slots}",
        "client_logrows": circuits.client.circuit.logrows,
        "client_inner_cols": circuits.client.circuit.settings["run_args"]["num_inner_cols"],
        "aggregator_logrows": circuits.aggregator.circuit.logrows,
        "deploy_gas": deployment.deploy_gas,
        "runtime_bytes": sizes,
        "submission": {"gas_median": submit_gas, "runs": submissions},
        "bare_client_verify": bare_client,
        "coordinator_overhead_per_submission": submit_gas - bare_client["gas"],
        "finalization": finalization,
        "bare_aggregator_verify": bare_agg,
        "coordinator_overhead_per_finalization": finalization["gas"] - bare_agg["gas"],
    }


def columns_case(chain, owner, spec: TrainingStepSpec, cols: int, cache: Path) -> dict:
    """Verifier gas of the same client circuit laid out with `cols` inner columns, through the
    dedicated verifier (when it fits EIP-170) and through the reusable verifier + VKA; each kind
    must accept the proof and reject it with one byte flipped."""
    circuits = build_circuits(spec, 2, cache, config=ProverConfig(num_inner_cols=cols))
    digits = load_digits()
    idx = np.arange(spec.sample_count)
    data = make_client_data(spec, digits.data[idx] / 16.0, digits.target[idx])
    dedicated_size = compile_files([verifier_source(circuits.client, cache)], cache)["Halo2Verifier"].runtime_size
    result = {"inner_cols": cols, "logrows": circuits.client.circuit.logrows, "rows": circuits.client.circuit.num_rows,
              "dedicated_runtime_bytes": dedicated_size}
    with tempfile.TemporaryDirectory() as tmp:
        update = train_and_prove(circuits.client, spec, quantize(spec.init_params(0)), data, Path(tmp) / "c.json")
        for kind in ("dedicated", "reusable"):
            try:
                deployed = deploy_circuit_verifier(chain, owner, circuits.client, cache, reusable=kind == "reusable")
            except VerifierTooLarge:
                result[kind] = "over the EIP-170 size limit"
                continue
            bare = bare_verify(chain, owner, deployed.address, IHALO2_ABI, update.proof)
            result[kind] = {"verify_gas": bare["gas"], "proof_calldata_bytes": bare["bytes"],
                            "deploy_gas": deployed.deploy_gas,
                            "tampered_rejected": rejects_tampered(chain, deployed.address, update.proof)}
    return result


def rejects_tampered(chain, address: str, proof) -> bool:
    contract = chain.w3.eth.contract(address=address, abi=IHALO2_ABI)
    proof_bytes, instances = proof_calldata(proof)
    tampered = bytearray(proof_bytes)
    tampered[len(tampered) // 2] ^= 0x01
    try:
        return contract.functions.verifyProof(bytes(tampered), instances).call() is False
    except Exception:  # a revert is a rejection too
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", choices=["all", "federations", "columns"], default="all")
    parser.add_argument("--cache", type=Path, default=Path(".zkfl-cache/bench"))
    args = parser.parse_args()
    if args.quick:
        federations = [(TrainingStepSpec("logreg", 16, 4, 4, 1), 2)]
        column_spec = TrainingStepSpec("logreg", 16, 4, 4, 1)
    else:
        federations = [(TrainingStepSpec("logreg", 64, 10, 8, 1), 2), (TrainingStepSpec("logreg", 64, 10, 8, 1), 4)]
        column_spec = TrainingStepSpec("logreg", 64, 10, 8, 1)
    Account.enable_unaudited_hdwallet_features()
    accounts = [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(8)]
    with tempfile.TemporaryDirectory() as devnet_dir:
        devnet = start_devnet(devnet_dir)
        try:
            chain = connect(devnet.rpc_url, devnet.chain_id)
            report: dict = {"federations": [], "columns": []}
            for spec, slots in federations if args.part in ("all", "federations") else []:
                report["federations"].append(federation_case(chain, accounts, spec, slots, args.cache, ProverConfig()))
                print(f"[gas] {json.dumps(report['federations'][-1])}", file=sys.stderr, flush=True)
            for cols in (1, 2, 4) if args.part in ("all", "columns") else ():
                report["columns"].append(columns_case(chain, accounts[0], column_spec, cols, args.cache))
                print(f"[gas] {json.dumps(report['columns'][-1])}", file=sys.stderr, flush=True)
        finally:
            stop_devnet(devnet_dir)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
