# The two entry points of the project. Both set everything up on a fresh machine.
.PHONY: demo breast-cancer cnn-demo test check bench setup flower-sim flower-deployment

setup:
	@bash scripts/bootstrap.sh

ROUNDS ?= 10
STORE ?= local
IPFS_PORT ?= 5001

## demo: the main job — a verifiable federation on the digits data, end to end, with a report.
## `make demo STORE=ipfs`: the artifacts on a local IPFS node instead (scripts/ipfs.sh starts it on
## IPFS_PORT, repository .zkfl-ipfs/, and stops it afterwards unless it was already running), in the
## workspace runs/digits-ipfs.
demo: setup
ifeq ($(STORE),local)
	.venv/bin/python examples/digits.py --rounds $(ROUNDS)
else ifeq ($(STORE),ipfs)
	@bash -c 'set -euo pipefail; \
		scripts/ipfs.sh status >/dev/null 2>&1 || trap "scripts/ipfs.sh stop" EXIT; \
		url=$$(scripts/ipfs.sh start --port $(IPFS_PORT)); echo "IPFS node: $$url"; \
		.venv/bin/python examples/digits.py --rounds $(ROUNDS) --ipfs-api "$$url" --workspace runs/digits-ipfs'
else
	$(error STORE must be local or ipfs, got "$(STORE)")
endif

## breast-cancer: a second real dataset — a consortium of 5 hospitals trains logistic regression on
## scikit-learn's bundled breast-cancer data (30 standardized features, malignant or benign), private
## updates, proven end to end like the demo, with the same report and outsider audit, in the
## workspace runs/breast-cancer.
breast-cancer: setup
	.venv/bin/python examples/breast_cancer.py --rounds $(ROUNDS)

## cnn-demo: your own torch model — a small CNN on the digits (examples/models/digits_cnn.py, 410
## parameters, its training step derived by torch's autodiff), 3 proven rounds with the demo's report
## and outsider audit, and float FedAvg's accuracy curve to 50 rounds, in the workspace runs/digits-cnn.
## 4 inner columns: its client proof at logrows 17 instead of 18, 0.8x the time and 6.99 GB peak
## instead of 8.48 GB, for 1.85x the verifier gas (bench/settings.py --model ...; docs/benchmarks.md).
cnn-demo: setup
	.venv/bin/python examples/digits.py --model examples/models/digits_cnn.py:digits_cnn --batch 12 --steps 1 \
		--lr 1.5 --inner-cols 4 --rounds 3 --float-rounds 50 --workspace runs/digits-cnn

## test: the whole test suite (real ezkl proofs on small circuits), with lint and format (ruff),
## types (mypy) and the documentation site (mkdocs --strict) as its tests (tests/test_quality.py).
## `.ci/run` calls this. Two pytest workers, each given whole files (--dist loadfile, so a module's
## fixtures are built once), longest files first (tests/conftest.py's order, kept by
## --no-loadscope-reorder): much of a test's time is one core waiting on anvil, a subprocess or a
## single-threaded step, so 2 cores run 2.
test: setup
	.venv/bin/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

## check: the quality gates of `make test` on their own, in a minute (configured in pyproject.toml and mkdocs.yml).
check: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir build/site

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
