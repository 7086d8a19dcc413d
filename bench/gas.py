"""Gas report: deploy gas, verifier runtime sizes, and gas per client submission and per
finalization (from receipts) for digits-sized circuits on a real anvil, each next to a bare call
of the same generated verifier with the same proof, so the coordinator's own overhead shows.
Also how the number of inner columns moves a verifier's gas, through the dedicated verifier and
through ezkl's reusable verifier behind zkFL's adapter.

Only accepted verifications are quoted: every measured transaction is traced
(`debug_traceTransaction`, callTracer) and its call to the verifier must have returned true. A
verifier that returned false or reverted, or was starved of gas, fails the bench instead of giving
a (too low) figure.

    python bench/gas.py            # prints JSON
    python bench/gas.py --quick    # small circuits (a smoke run)
    python bench/gas.py --part columns --shape 8x2x4 --shape 32x1x8 --cols 1 --cols 2
    python bench/gas.py --part optimistic --slots 4 --slots 8
    python bench/gas.py --part private     # the extra gas per client of private updates

The optimistic part runs an optimistic federation of the example's shapes with K clients: gas per
honest submission (commitments + proof SHA-256, no verifier), per challenge of a valid proof (the
verifier must return true) and of an invalid one (the verifier must return false, the update must
be slashed), per finalization after the challenge window; and the amortized on-chain cost per
accepted update: a submission plus 1/K of the finalization.

The private part runs the example's federation twice from one set of proofs, public and private
(same deployer and salt, so the proofs are valid in both): in the private one each client first
shares its masking keys (`shareKeys`, one transaction) and submits after the share window. The extra
gas per client is that transaction plus the difference of the submissions (both verified true).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from eth_account import Account
from sklearn.datasets import load_digits

from zkfl.chain.coordinator import MODEL_SLOT, Coordinator
from zkfl.chain.deploy import FederationConfig, deploy_circuit_verifier, deploy_federation
from zkfl.chain.devnet import DEV_MNEMONIC, DEVNET_CHAIN_ID, mine_blocks, start_devnet, stop_devnet
from zkfl.chain.rpc import Chain, ErrorDecoder, connect, transact
from zkfl.circuits import LogisticRegression, TrainingStepSpec
from zkfl.data.batches import make_client_data
from zkfl.evm.contracts import project_artifact
from zkfl.evm.solidity import compile_files
from zkfl.evm.verifier import VerifierTooLarge, verifier_source
from zkfl.federation.terms import EAGER, OPTIMISTIC, PRIVATE, PUBLIC, FederationTerms
from zkfl.fixedpoint import quantize
from zkfl.privacy.keys import KeyPair
from zkfl.protocol import context, opening_values, optimistic_claim
from zkfl.roles.aggregator import aggregate_and_prove
from zkfl.roles.client import train_and_prove
from zkfl.verification.proofs import VERIFIER_ABI
from zkfl.zk.build import build_circuits
from zkfl.zk.prover import ProverConfig, prove

TRUE = "0x" + "00" * 31 + "01"
PUBLIC_TERMS = FederationTerms(submission_window=1000, updates=PUBLIC)
"""The measured public federations' terms: a submission window that outlasts any case."""


def verifier_calls(chain: Chain, tx_hash: str, verifier: str) -> list[dict]:
    """The frames of the transaction's call trace that call `verifier`."""
    trace = chain.w3.provider.make_request("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])["result"]
    frames, calls = [trace], []
    while frames:
        frame = frames.pop()
        frames.extend(frame.get("calls", []))
        if (frame.get("to") or "").lower() == verifier.lower():
            calls.append(frame)
    return calls


def verifier_returned_true(chain: Chain, tx_hash: str, verifier: str) -> bool:
    """Whether every call the transaction made to `verifier` returned true (its first word is 1),
    read from the transaction's call trace."""
    calls = verifier_calls(chain, tx_hash, verifier)
    return bool(calls) and all(not c.get("error") and (c.get("output") or "")[:66] == TRUE for c in calls)


def measured(chain: Chain, receipt: Any, verifier: str) -> dict[str, int]:
    """Gas and calldata of a transaction whose verifier call returned true (else the bench stops)."""
    tx_hash = receipt["transactionHash"].to_0x_hex()
    if receipt["status"] != 1 or not verifier_returned_true(chain, tx_hash, verifier):
        raise RuntimeError(
            f"transaction {tx_hash}: the verifier {verifier} did not return true; its gas is not "
            "the cost of an accepted verification"
        )
    tx_input = bytes(chain.w3.eth.get_transaction(tx_hash)["input"])
    zeros = tx_input.count(0)
    return {
        "gas": receipt["gasUsed"],
        "bytes": len(tx_input),
        "zero_bytes": zeros,
        "calldata_gas": 4 * zeros + 16 * (len(tx_input) - zeros),
    }


PRECOMPILES = {1: "ecrecover", 2: "sha256", 5: "modexp", 6: "ecAdd", 7: "ecMul", 8: "ecPairing"}


def gas_breakdown(chain: Chain, tx_hash: str) -> dict[str, Any]:
    """What a transaction's gas paid for, from its opcode trace (`debug_traceTransaction`, struct
    logs): the intrinsic cost (21,000 and the calldata), each storage write by its EIP-2929/3529
    class, storage reads, events, hashing, precompile calls by precompile, and the rest. A step's
    cost is the drop in gas left to the next step at the same depth, so a precompile's price is
    in its call. The parts, less the refund, add up to the receipt's gas (checked)."""
    receipt = chain.w3.eth.get_transaction_receipt(tx_hash)
    tx_input = bytes(chain.w3.eth.get_transaction(tx_hash)["input"])
    zeros = tx_input.count(0)
    calldata = 4 * zeros + 16 * (len(tx_input) - zeros)
    logs = chain.w3.provider.make_request(
        "debug_traceTransaction", [tx_hash, {"enableMemory": False, "disableStack": False, "disableStorage": True}]
    )["result"]["structLogs"]
    if not logs:
        raise RuntimeError(f"transaction {tx_hash}: no opcode steps traced (start anvil with trace_steps=True)")
    parts: dict[str, int] = {}
    writes: list[dict[str, Any]] = []

    def add(part: str, gas: int) -> None:
        parts[part] = parts.get(part, 0) + gas

    top = [step for step in logs if step["depth"] == 1]  # a call's inner steps are in its cost
    for i, step in enumerate(top):
        nxt = top[i + 1] if i + 1 < len(top) else None
        cost = step["gas"] - nxt["gas"] if nxt is not None else step["gasCost"]
        op = step["op"]
        if op == "SSTORE":
            kind = {22100: "new word", 20000: "new word (warm)", 5000: "changed word", 2900: "changed word (warm)"}
            label = kind.get(cost, "rewrite of a written word" if cost <= 2200 else f"{cost}")
            add(f"SSTORE: {label}", cost)
            writes.append({"slot": step["stack"][-1], "gas": cost})
        elif op == "SLOAD":
            add("SLOAD: cold" if cost >= 2100 else "SLOAD: warm", cost)
        elif op.startswith("LOG"):
            add("events", cost)
        elif op == "KECCAK256":
            add("keccak256", cost)
        elif op in ("STATICCALL", "CALL") and int(step["stack"][-2], 16) in PRECOMPILES:
            add(f"precompile {PRECOMPILES[int(step['stack'][-2], 16)]}", cost)
        elif op in ("STATICCALL", "CALL", "DELEGATECALL"):
            add("calls to contracts (their whole execution)", cost)
        elif op in ("CALLDATACOPY", "CALLDATALOAD", "MLOAD", "MSTORE", "MSTORE8", "MCOPY"):
            add("calldata and memory", cost)
        else:
            add("other opcodes", cost)
    execution = sum(parts.values())
    refund = 21_000 + calldata + execution - receipt["gasUsed"]
    if not 0 <= refund <= receipt["gasUsed"] // 4:  # EIP-3529 caps the refund at a fifth of the gas before it
        raise RuntimeError(f"transaction {tx_hash}: the trace's parts do not add up to its gas ({refund} left over)")
    return {
        "gas": receipt["gasUsed"],
        "intrinsic": 21_000,
        "calldata": {"gas": calldata, "bytes": len(tx_input), "zero_bytes": zeros},
        "execution": dict(sorted(parts.items(), key=lambda kv: -kv[1])),
        "refund": -refund,
        "storage_writes": writes,
    }


def bare_verify(chain: Chain, signer: Any, address: str, proof: Any) -> dict[str, int]:
    """A transaction straight to the verifier with the same proof (no public instances)."""
    call = chain.w3.eth.contract(address=address, abi=VERIFIER_ABI).functions.verifyProof(proof.data, [])
    receipt = transact(chain, signer, call, ErrorDecoder([VERIFIER_ABI]), "bare verifier call")
    return measured(chain, receipt, address)


def digits_batch(spec: TrainingStepSpec, rows: np.ndarray) -> Any:
    """Digits samples cut to the spec's shape (the quick cases use fewer features and classes)."""
    digits = load_digits()
    return make_client_data(spec, digits.data[rows][:, : spec.features] / 16.0, digits.target[rows] % spec.classes)


def proven_clients(
    circuits: Any, spec: TrainingStepSpec, clients: list, federation_id: bytes, genesis: Any, tmp: str
) -> tuple[list, list]:
    """Each client's digits batch (a fixed random draw) and its proven update from `genesis`, bound to
    the client and the federation."""
    rng = np.random.default_rng(0)
    datas, updates = [], []
    for i, client in enumerate(clients):
        data = digits_batch(spec, rng.choice(len(load_digits().target), size=spec.sample_count, replace=False))
        datas.append(data)
        bound = context(DEVNET_CHAIN_ID, federation_id, client.address)
        updates.append(train_and_prove(circuits.client, spec, genesis, data, bound, Path(tmp) / f"c{i}.json"))
    return datas, updates


@dataclass
class ProvenRound:
    """A deployed federation of `slots` clients and round 0 proven (not yet submitted)."""

    circuits: Any
    config: FederationConfig
    deployment: Any
    coordinator: Coordinator
    clients: list
    datas: list
    updates: list
    aggregate: Any
    genesis: Any
    tmp: str


@contextmanager
def proven_round(
    chain: Chain,
    accounts: list,
    spec: TrainingStepSpec,
    slots: int,
    cache: Path,
    terms: FederationTerms,
    config: ProverConfig = ProverConfig(),
) -> Iterator[ProvenRound]:
    circuits = build_circuits(spec, slots, cache, config=config)
    genesis = quantize(spec.model.init_params(seed=0))
    owner, aggregator, clients = accounts[0], accounts[1], accounts[2 : 2 + slots]
    fed_config = FederationConfig.starting_from(circuits, genesis, "bafy-genesis", aggregator.address, terms)
    with tempfile.TemporaryDirectory() as tmp:
        datas, updates = proven_clients(circuits, spec, clients, fed_config.federation_id(owner.address), genesis, tmp)
        aggregate = aggregate_and_prove(circuits.aggregator, circuits.fedavg, updates, Path(tmp) / "agg.json")
        deployment = deploy_federation(chain, owner, circuits, fed_config, cache)
        yield ProvenRound(
            circuits,
            fed_config,
            deployment,
            Coordinator(chain, deployment.coordinator),
            clients,
            datas,
            updates,
            aggregate,
            genesis,
            tmp,
        )


def federation_case(
    chain: Chain, accounts: list, spec: TrainingStepSpec, slots: int, cache: Path, config: ProverConfig
) -> dict:
    owner, aggregator = accounts[0], accounts[1]
    with proven_round(chain, accounts, spec, slots, cache, PUBLIC_TERMS, config) as r:
        circuits, deployment, coordinator, updates, aggregate = (
            r.circuits,
            r.deployment,
            r.coordinator,
            r.updates,
            r.aggregate,
        )
        rng = np.random.default_rng(1)
        second = [
            digits_batch(spec, rng.choice(len(load_digits().target), size=spec.sample_count, replace=False))
            for _ in r.clients
        ]
        submissions = []
        for client, data, later, update in zip(r.clients, r.datas, second, updates, strict=True):
            coordinator.register(client, [d.commitment_hash(circuits.commitments, spec) for d in (data, later)])
            receipt = coordinator.submit_update(client, 0, update.proof, "b" * 59)
            submissions.append(measured(chain, receipt, deployment.client_verifier))
        receipt = coordinator.finalize_round(aggregator, 0, aggregate.proof, "b" * 59, "b" * 59)
        finalization = measured(chain, receipt, deployment.aggregator_verifier)
        # round 1, from the proven model: its finalization rewrites what round 0's wrote first, and
        # the aggregator's bond on round 1's model carries over to round 2's
        federation_id = r.config.federation_id(owner.address)
        round1 = [
            train_and_prove(
                circuits.client,
                spec,
                aggregate.weights,
                data,
                context(DEVNET_CHAIN_ID, federation_id, client.address),
                Path(r.tmp) / f"r1-c{i}.json",
            )
            for i, (client, data) in enumerate(zip(r.clients, second, strict=True))
        ]
        for client, update in zip(r.clients, round1, strict=True):
            coordinator.submit_update(client, 1, update.proof, "b" * 59)
        aggregate1 = aggregate_and_prove(circuits.aggregator, circuits.fedavg, round1, Path(r.tmp) / "agg1.json")
        receipt = coordinator.finalize_round(aggregator, 1, aggregate1.proof, "b" * 59, "b" * 59)
        later_finalization = measured(chain, receipt, deployment.aggregator_verifier)
        later_breakdown = gas_breakdown(chain, receipt["transactionHash"].to_0x_hex())
        bare_client = bare_verify(chain, owner, deployment.client_verifier, updates[0].proof)
        bare_agg = bare_verify(chain, owner, deployment.aggregator_verifier, aggregate.proof)
        sizes = {
            role: compile_files([verifier_source(keys, cache)], cache)["Halo2Verifier"].runtime_size
            for role, keys in (("client_verifier", circuits.client), ("aggregator_verifier", circuits.aggregator))
        }
    submit_gas = statistics.median(s["gas"] for s in submissions)
    return {
        "case": f"{spec.model.name}-d{spec.features}-b{spec.batch_size}-k{spec.local_steps}-K{slots}",
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
        "finalization_of_round_1": later_finalization,
        "finalization_of_round_1_breakdown": later_breakdown,
    }


def columns_case(chain: Chain, owner: Any, spec: TrainingStepSpec, slots: int, cols: int, cache: Path) -> dict:
    """Verifier gas of the client circuit of `spec` and of FedAvg over `slots`, laid out with `cols`
    inner columns, each through the dedicated verifier (when it fits EIP-170) and through the
    reusable verifier + VKA; each must accept its proof (traced) and reject it with one byte flipped.
    FedAvg is proven on its calibration updates: its verifier's gas does not depend on the values."""
    circuits = build_circuits(spec, slots, cache, config=ProverConfig(num_inner_cols=cols))
    data = digits_batch(spec, np.arange(spec.sample_count))
    result: dict[str, Any] = {
        "case": f"b{spec.batch_size}-k{spec.local_steps}-K{slots}-c{cols}",
        "inner_cols": cols,
        "batch": spec.batch_size,
        "steps": spec.local_steps,
        "slots": slots,
        "logrows": circuits.client.circuit.logrows,
        "rows": circuits.client.circuit.num_rows,
        "aggregator_rows": circuits.aggregator.circuit.num_rows,
    }
    with tempfile.TemporaryDirectory() as tmp:
        genesis = quantize(spec.model.init_params(0))
        proofs = {
            "client": train_and_prove(
                circuits.client,
                spec,
                genesis,
                data,
                context(DEVNET_CHAIN_ID, bytes(32), owner.address),
                Path(tmp) / "c.json",
            ).proof,
            "aggregator": prove(
                circuits.aggregator, [quantize(u) for u in circuits.fedavg.calibration_inputs()], Path(tmp) / "a.json"
            ).proof,
        }
        for role, keys in (("client", circuits.client), ("aggregator", circuits.aggregator)):
            result[f"{role}_dedicated_runtime_bytes"] = compile_files([verifier_source(keys, cache)], cache)[
                "Halo2Verifier"
            ].runtime_size
            for kind in ("dedicated", "reusable"):
                try:
                    deployed = deploy_circuit_verifier(chain, owner, keys, cache, reusable=kind == "reusable")
                except VerifierTooLarge:
                    result[f"{role}_{kind}"] = "over the EIP-170 size limit"
                    continue
                bare = bare_verify(chain, owner, deployed.address, proofs[role])
                result[f"{role}_{kind}"] = {
                    "verify_gas": bare["gas"],
                    "proof_calldata_bytes": bare["bytes"],
                    "deploy_gas": deployed.deploy_gas,
                    "tampered_rejected": rejects_tampered(chain, deployed.address, proofs[role]),
                }
    return result


def verifier_returned_false(chain: Chain, tx_hash: str, verifier: str) -> bool:
    """Whether the transaction called `verifier` and every such call gave a verdict other than true
    (false, or a revert that is not running out of gas)."""
    calls = verifier_calls(chain, tx_hash, verifier)
    return bool(calls) and all(
        "out of gas" not in (c.get("error") or "").lower() and (c.get("output") or "")[:66] != TRUE for c in calls
    )


def optimistic_case(chain: Chain, accounts: list, spec: TrainingStepSpec, slots: int, cache: Path) -> dict:
    """An optimistic federation of `slots` clients: every client submits honestly, one valid proof is
    challenged, and (in a second federation) an invalid one; then the round is finalized."""
    owner, aggregator = accounts[0], accounts[1]
    terms = replace(PUBLIC_TERMS, verification=OPTIMISTIC, challenge_window=5)
    with proven_round(chain, accounts, spec, slots, cache, terms) as r:
        circuits, deployment, coordinator, clients, datas, updates, aggregate, tmp = (
            r.circuits,
            r.deployment,
            r.coordinator,
            r.clients,
            r.datas,
            r.updates,
            r.aggregate,
            r.tmp,
        )
        fed_config, genesis = r.config, r.genesis
        submissions = []
        for client, data, update in zip(clients, datas, updates, strict=True):
            coordinator.register(client, [data.commitment_hash(circuits.commitments, spec)])
            receipt = coordinator.submit_update_optimistic(client, 0, update.proof, "b" * 59)
            if receipt["status"] != 1 or coordinator.accepted_update_hash(0, len(submissions)) != update.update_hash:
                raise RuntimeError("an honest optimistic submission was not accepted")
            submissions.append(
                {
                    "gas": receipt["gasUsed"],
                    "bytes": len(chain.w3.eth.get_transaction(receipt["transactionHash"])["input"]),
                    "tx": receipt["transactionHash"].to_0x_hex(),
                }
            )
        commitments, _ = optimistic_claim(updates[0].proof.data)
        receipt = coordinator.challenge(owner, 0, 0, commitments, updates[0].proof.data)
        valid_challenge = measured(chain, receipt, deployment.client_verifier)  # the verifier returned true

        # an invalid proof, in a federation of its own (every slot above is taken); and, for the
        # ratio in one run, the same valid proof submitted to an eager federation
        cheat_config = replace(fed_config, federation_salt=bytes(31) + b"\x07")
        cheat_deployment = deploy_federation(chain, owner, circuits, cheat_config, cache)
        cheat = Coordinator(chain, cheat_deployment.coordinator)
        eager_config = replace(cheat_config, terms=replace(terms, verification=EAGER))
        eager_deployment = deploy_federation(chain, owner, circuits, eager_config, cache)
        eager = Coordinator(chain, eager_deployment.coordinator)
        bound = context(DEVNET_CHAIN_ID, cheat_config.federation_id(owner.address), clients[0].address)
        valid = train_and_prove(circuits.client, spec, genesis, datas[0], bound, Path(tmp) / "x.json").proof
        for federation in (cheat, eager):
            federation.register(clients[0], [datas[0].commitment_hash(circuits.commitments, spec)])
        eager_submission = measured(
            chain, eager.submit_update(clients[0], 0, valid, "b" * 59), eager_deployment.client_verifier
        )
        proof = bytearray(valid.data)
        proof[len(proof) // 2] ^= 0x01
        cheat.submit_update_optimistic(clients[0], 0, bytes(proof), "b" * 59)
        receipt = cheat.challenge(owner, 0, 0, optimistic_claim(bytes(proof))[0], bytes(proof))
        tx_hash = receipt["transactionHash"].to_0x_hex()
        if (
            receipt["status"] != 1
            or cheat.accepted_update_hash(0, 0) != 0
            or not verifier_returned_false(chain, tx_hash, cheat_deployment.client_verifier)
        ):
            raise RuntimeError("the challenge of an invalid proof did not slash it with the verifier's verdict")
        invalid_challenge = {"gas": receipt["gasUsed"]}

        disputes = dispute_gas(chain, accounts, coordinator, deployment, circuits, updates)
        mine_blocks(chain, coordinator.round(0).deadline + terms.challenge_window + 1 - chain.w3.eth.block_number)
        receipt = coordinator.finalize_round(aggregator, 0, aggregate.proof, "b" * 59, "b" * 59)
        finalization = measured(chain, receipt, deployment.aggregator_verifier)
        finalization_breakdown = gas_breakdown(chain, receipt["transactionHash"].to_0x_hex())
        coordinator.request_opening(owner, 1, MODEL_SLOT)
        basis = circuits.commitments.vector_basis(coordinator.update_length)
        receipt = coordinator.open_vector(accounts[9], 1, MODEL_SLOT, opening_values(aggregate.weights), basis)
        disputes["model_opening"] = {"gas": receipt["gasUsed"], "elements": coordinator.update_length - 1}
    submit_gas = statistics.median(s["gas"] for s in submissions)
    return {
        "case": f"optimistic-{spec.model.name}-d{spec.features}-b{spec.batch_size}-k{spec.local_steps}-K{slots}",
        "client_inner_cols": circuits.client.circuit.settings["run_args"]["num_inner_cols"],
        "proof_bytes": len(updates[0].proof.data),
        "submission": {"gas_median": submit_gas, "runs": submissions},
        "submission_breakdown": gas_breakdown(chain, submissions[-1]["tx"]),
        "challenge_of_valid_proof": valid_challenge,
        "challenge_of_invalid_proof": invalid_challenge,
        "eager_submission_same_proof": eager_submission,
        "invalid_challenge_over_eager_submission": round(invalid_challenge["gas"] / eager_submission["gas"], 4),
        "finalization": finalization,
        "finalization_breakdown": finalization_breakdown,
        "amortized_per_accepted_update": round(submit_gas + finalization["gas"] / slots),
        "disputes": disputes,
    }


def dispute_gas(
    chain: Chain, accounts: list, coordinator: Coordinator, deployment: Any, circuits: Any, updates: list
) -> dict:
    """Gas of answering each kind of request, by a third party (the answer the bond must cover):
    slot 1's proof requested and revealed (the verifier must return true), slot 2's update
    requested and opened canonically on-chain; and the coordinator's allowance for them."""
    requester, answerer = accounts[0], accounts[9]
    proof = updates[1].proof.data
    request = coordinator.request_proof(requester, 0, 1)
    reveal = measured(
        chain, coordinator.reveal_proof(answerer, 0, 1, optimistic_claim(proof)[0], proof), deployment.client_verifier
    )
    opening_request = coordinator.request_opening(requester, 0, 2)
    basis = circuits.commitments.vector_basis(coordinator.update_length)
    receipt = coordinator.open_vector(answerer, 0, 2, opening_values(updates[2].vector), basis)
    if not coordinator.dispute(0, 2).opened:
        raise RuntimeError("the canonical opening of an honest update was not accepted")
    return {
        "proof_request": request["gasUsed"],
        "proof_reveal": reveal,
        "opening_request": opening_request["gasUsed"],
        "update_opening": {
            "gas": receipt["gasUsed"],
            "elements": coordinator.update_length,
            "bytes": len(chain.w3.eth.get_transaction(receipt["transactionHash"])["input"]),
        },
        "answer_gas_allowance": coordinator.contract.functions.answerGasAllowance().call(),
    }


def rejects_tampered(chain: Chain, address: str, proof: Any) -> bool:
    contract = chain.w3.eth.contract(address=address, abi=VERIFIER_ABI)
    tampered = bytearray(proof.data)
    tampered[len(tampered) // 2] ^= 0x01
    try:
        return contract.functions.verifyProof(bytes(tampered), []).call() is False
    except Exception as exc:  # a revert is a rejection too, unless the verifier ran out of gas
        return "VerifierOutOfGas" not in (
            ErrorDecoder([project_artifact("ReusableVerifierAdapter").abi]).decode(getattr(exc, "data", None)) or ""
        )


def private_case(chain: Chain, accounts: list, spec: TrainingStepSpec, slots: int, cache: Path) -> dict:
    share_window = slots + 2  # on anvil each transaction is a block
    private_terms = FederationTerms(submission_window=1000, updates=PRIVATE, share_window=share_window)
    aggregator = accounts[1]
    with proven_round(chain, accounts, spec, slots, cache, private_terms) as r:
        public_config = replace(r.config, terms=PUBLIC_TERMS)
        public = Coordinator(chain, deploy_federation(chain, accounts[0], r.circuits, public_config, cache).coordinator)
        coordinators = {"public": public, "private": r.coordinator}
        submissions: dict[str, list] = {"public": [], "private": []}
        shares = []
        for client, data in zip(r.clients, r.datas, strict=True):
            for coordinator in coordinators.values():
                coordinator.register(client, [data.commitment_hash(r.circuits.commitments, spec)])
            r.coordinator.set_channel_key(client, KeyPair.generate().public.to_bytes())
        opens, closes = r.coordinator.share_window(0)
        mine_blocks(chain, max(0, opens - chain.w3.eth.block_number))
        for i, client in enumerate(r.clients):
            receipt = r.coordinator.share_keys(client, 0, bytes([i + 1]) * 32)
            shares.append(receipt["gasUsed"])
        mine_blocks(chain, max(0, closes + 1 - chain.w3.eth.block_number))
        for name, coordinator in coordinators.items():
            verifier = r.deployment.client_verifier if name == "private" else coordinator.client_verifier
            for client, update in zip(r.clients, r.updates, strict=True):
                receipt = coordinator.submit_update(client, 0, update.proof, "b" * 59)
                submissions[name].append(measured(chain, receipt, verifier)["gas"])
        receipt = r.coordinator.finalize_round(aggregator, 0, r.aggregate.proof, "b" * 59, "b" * 59)
        finalization = measured(chain, receipt, r.deployment.aggregator_verifier)["gas"]
    share_gas, public_gas, private_gas = (
        statistics.median(v) for v in (shares, submissions["public"], submissions["private"])
    )
    return {
        "case": f"{spec.model.name}-d{spec.features}-b{spec.batch_size}-k{spec.local_steps}-K{slots}",
        "share_keys_gas": shares,
        "public_submission_gas": submissions["public"],
        "private_submission_gas": submissions["private"],
        "private_finalization_gas": finalization,
        "extra_gas_per_client_median": share_gas + private_gas - public_gas,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", choices=["all", "federations", "columns", "optimistic", "private"], default="all")
    parser.add_argument("--slots", type=int, action="append", help="optimistic part: K (default 4 and 8)")
    parser.add_argument(
        "--shape",
        action="append",
        metavar="BxKxS",
        help="columns part: client batch x local steps x FedAvg slots, e.g. 8x2x4 (repeatable; "
        "default the example's 16x1x4)",
    )
    parser.add_argument("--cols", type=int, action="append", choices=(1, 2, 4), help="columns part (default 1, 2, 4)")
    parser.add_argument("--cache", type=Path, default=Path(".zkfl-cache/bench"))
    args = parser.parse_args()
    if args.quick:
        small = TrainingStepSpec(LogisticRegression(16, 4), batch_size=4)
        federations, column_cases = [(small, 2)], [(small, 2)]
    else:
        example = TrainingStepSpec(
            LogisticRegression(64, 10), batch_size=16, local_steps=1, learning_rate=1.5
        )  # examples/digits.py
        federations = [(example, 4)]
        column_cases = [
            (replace(example, batch_size=b, local_steps=k), slots)
            for b, k, slots in (map(int, shape.split("x")) for shape in args.shape or ["16x1x4"])
        ]
    Account.enable_unaudited_hdwallet_features()
    accounts = [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)]
    with tempfile.TemporaryDirectory() as devnet_dir:
        devnet = start_devnet(devnet_dir, trace_steps=True)
        try:
            chain = connect(devnet.rpc_url, devnet.chain_id)
            report: dict = {"federations": [], "columns": [], "optimistic": [], "private": []}
            for spec, slots in federations if args.part in ("all", "federations") else []:
                report["federations"].append(federation_case(chain, accounts, spec, slots, args.cache, ProverConfig()))
                print(f"[gas] {json.dumps(report['federations'][-1])}", file=sys.stderr, flush=True)
            for spec, slots in column_cases if args.part in ("all", "columns") else []:
                for cols in args.cols or (1, 2, 4):
                    report["columns"].append(columns_case(chain, accounts[0], spec, slots, cols, args.cache))
                    print(f"[gas] {json.dumps(report['columns'][-1])}", file=sys.stderr, flush=True)
            for slots in (args.slots or [4, 8]) if args.part in ("all", "optimistic") else []:
                spec = federations[0][0]
                report["optimistic"].append(optimistic_case(chain, accounts, spec, slots, args.cache))
                print(f"[gas] {json.dumps(report['optimistic'][-1])}", file=sys.stderr, flush=True)
            for spec, slots in federations if args.part in ("all", "private") else []:
                report["private"].append(private_case(chain, accounts, spec, slots, args.cache))
                print(f"[gas] {json.dumps(report['private'][-1])}", file=sys.stderr, flush=True)
        finally:
            stop_devnet(devnet_dir)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
