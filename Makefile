# The two entry points of the project. Both set everything up on a fresh machine.
.PHONY: demo test bench setup

setup:
	@bash scripts/bootstrap.sh

## demo: the main job — one verifiable federated round, end to end.
demo: setup
	.venv/bin/python examples/linked_round.py

## test: the whole test suite (real ezkl proofs on small circuits).
test: setup
	.venv/bin/python -m pytest

## bench: circuit benchmarks, printed as JSON (slow: minutes to tens of minutes).
bench: setup
	.venv/bin/python bench/circuits.py
