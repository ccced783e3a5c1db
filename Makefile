# Everything a fresh machine needs: `make run` serves, `make test` tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast lint demo bench system-deps llamafactory-venv clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# torch first and pinned: the CPU wheel on disk; otherwise pip would pull a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[hf,postgres,tensorboard,wandb,plot,dev]"
	touch $(STAMP)

run: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/losswatch serve --host $(HOST) --port $(PORT)

system-deps:
	bash scripts/system-deps.sh

llamafactory-venv:  ## LLaMA-Factory 0.9.5 in its own venv, for tests/llamafactory (made once)
	bash scripts/llamafactory-venv.sh

test: install system-deps llamafactory-venv
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) -m pytest -q tests

test-fast: install  ## no servers, trainers or browsers: about two minutes
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) -m pytest -q -m "not slow" tests

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: install
	HF_HUB_OFFLINE=1 $(PY) bench/ingest.py

demo: install  ## a tiny model trains against a running service (make run first, in another terminal)
	HF_HUB_OFFLINE=1 $(VENV)/bin/losswatch demo --url $${LOSSWATCH_URL:-http://127.0.0.1:$(PORT)}

clean:
	rm -rf $(VENV) losswatch-data .losswatch .pytest_cache
