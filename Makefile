# `make run` starts the embedded stack; `make test` runs the whole suite. Both create .venv on
# first use and reinstall only when pyproject.toml changes (the stamp file tracks that).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format ai-data clean

run: $(STAMP)
	$(BIN)/baton dev

# Two workers, each with its own Temporal dev server and sandbox; a file's tests stay together.
# Most tests wait on timers and polls, so two share two cores well. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the local models' labelled data (activities/ai/data/*.jsonl); deterministic, so a
# clean run leaves the committed files unchanged.
ai-data: $(STAMP)
	$(BIN)/python -m tools.ai_data.generate

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
