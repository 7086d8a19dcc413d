# The two entry points of the project. Both set everything up on a fresh machine.
.PHONY: demo test bench setup flower-sim flower-deployment

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

## flower-deployment: the same app on Flower's deployment runtime: a SuperLink and 4 SuperNodes as
## separate processes, each client in its own workspace joined from the chain and the store.
flower-deployment: setup
	bash scripts/flower-deployment.sh $(ROUNDS)

## bench: circuit benchmarks, printed as JSON (slow: minutes to tens of minutes).
bench: setup
	.venv/bin/python bench/circuits.py
