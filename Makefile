# Tracer: `make run` serves the API, `make test` runs the whole suite. `make help` lists the rest.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tracer needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: install
install: $(VENV)/.installed ## Create .venv and install Tracer

.PHONY: run
run: $(VENV)/.installed ## Migrate the embedded SQLite database and serve (HOST=127.0.0.1 PORT=8000)
	$(BIN)/tracer serve --host $(HOST) --port $(PORT)

.PHONY: migrate
migrate: $(VENV)/.installed ## Apply database migrations
	$(BIN)/tracer migrate

.PHONY: demo
demo: $(VENV)/.installed ## Load the worked example (the "100,000 troops" chain)
	$(BIN)/tracer demo

.PHONY: tracer
tracer: $(VENV)/.installed ## Run any tracer command: make tracer ARGS="keys create --name desk --scope write"
	$(BIN)/tracer $(ARGS)

.PHONY: test
test: $(VENV)/.installed-dev ## Run the whole suite (also on PostgreSQL when TRACER_TEST_POSTGRES_URL is set; browser tests need Chromium)
	@if [ -z "$$TRACER_TEST_POSTGRES_URL" ]; then \
		echo "TRACER_TEST_POSTGRES_URL is not set: running on SQLite only."; \
	else \
		echo "Running on SQLite and on PostgreSQL."; \
	fi
	$(BIN)/pytest -n 2

.PHONY: lint
lint: $(VENV)/.installed-dev ## Ruff (lint and format check) and mypy
	$(BIN)/ruff check app tests bench migrations scripts
	$(BIN)/ruff format --check app tests bench migrations scripts
	$(BIN)/mypy

.PHONY: format
format: $(VENV)/.installed-dev ## Format the code in place
	$(BIN)/ruff format app tests bench migrations scripts
	$(BIN)/ruff check --fix app tests bench migrations scripts

.PHONY: check
check: lint test ## Everything CI cares about, and the linters

.PHONY: bench
bench: $(VENV)/.installed-dev ## Run the benchmarks and print their figures
	$(BIN)/python -m bench.chain_scaling
	$(BIN)/python -m bench.batch_vs_single
	$(BIN)/python -m bench.batch_cpu
	$(BIN)/python -m bench.chain_at_scale
	$(BIN)/python -m bench.network
	$(BIN)/python -m bench.match_eval
	$(BIN)/python -m bench.url_info
	$(BIN)/python -m bench.captures
	$(BIN)/python -m bench.alerts_latency
	$(BIN)/python -m bench.api_overhead
	$(BIN)/python -m bench.corrections
	$(BIN)/python -m bench.claim_page
	$(BIN)/python -m bench.connections
	$(BIN)/python -m bench.reembedding

.PHONY: screenshots
screenshots: $(VENV)/.installed-dev ## Photograph the pages for the README (needs Chromium)
	$(BIN)/python -m scripts.screenshots

.PHONY: clean
clean: ## Remove the virtualenv, caches and the local database
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tracer.db tracer.db-shm tracer.db-wal
