# The two entry points of the project. Both set everything up on a fresh machine.
.PHONY: demo test bench setup flower-sim

setup:
	@bash scripts/bootstrap.sh

ROUNDS ?= 10

## demo: the main job — a verifiable federation on the digits data, end to end, with a report.
demo: setup
	.venv/bin/python examples/digits.py --rounds $(ROUNDS)

## test: the whole test suite (real ezkl proofs on small circuits).
test: setup
	.venv/bin/python -m pytest

## flower-sim: the digits federation as a Flower app on Flower's simulation engine (Ray), 4 SuperNodes.
flower-sim: setup
	bash scripts/flower-sim.sh $(ROUNDS)

## bench: circuit benchmarks, printed as JSON (slow: minutes to tens of minutes).
bench: setup
	.venv/bin/python bench/circuits.py
