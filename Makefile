# Two commands do all the set-up on a fresh machine:
#   make demo   the main job: an instrumented agent against the local provider server
#   make test   every test, the slow end-to-end ones included (what CI runs)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/run_example.py

test: $(STAMP)
	$(PY) -m pytest -m "slow or not slow"

test-fast: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/bench_enrichment.py

clean:
	rm -rf $(VENV) build *.egg-info
