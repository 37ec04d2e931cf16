# The two entry points of the quick start: `make run` and `make test`.
# Everything else (the virtual environment, the pinned dependencies) is
# created on demand, so a fresh machine needs only Python 3.11 and make.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock

.PHONY: run test lint typecheck unit bench clean lock

# Every package, setuptools included, at the exact version and sha256 of the
# lock file; then the project itself, which brings nothing more.
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -m venv $(VENV) || { echo "cannot create $(VENV): on Debian or Ubuntu, apt-get install python3-venv" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# After a change to the dependencies in pyproject.toml: resolve and hash anew.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--extra test --all-build-deps --no-emit-index-url --no-emit-find-links \
		--output-file $(LOCK) pyproject.toml

run: $(STAMP)
	$(BIN)/inferencepool-webhook serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks.review

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
