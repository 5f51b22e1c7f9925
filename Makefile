# Two commands do all the set-up on a fresh machine:
#   make demo   the main job: otel-agentmon demo (an instrumented multi-agent workload, stored and reported)
#   make test   every test, the slow end-to-end ones included (what CI runs)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

# Benchmarks compare against peer instrumentations that cannot share the test environment
# (two of them register the same instrumentor name), so they get one of their own.
BENCH_VENV ?= $(HOME)/.cache/otel-agentmon/venvs/bench
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.installed-stamp

.PHONY: demo test test-fast tools bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/otel-agentmon demo

# prometheus, promtool, alertmanager, amtool (Debian packages), cached outside the clone
tools:
	bash scripts/install-tools.sh

test: $(STAMP) tools
	$(PY) -m pytest -m "slow or not slow"

test-fast: $(STAMP) tools
	$(PY) -m pytest

$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install -q --upgrade pip
	$(BENCH_PY) -m pip install -q -e . openai opentelemetry-instrumentation-genai-openai opentelemetry-instrumentation-openai
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) tools
	$(BENCH_PY) bench/bench_enrichment.py
	$(BENCH_PY) bench/bench_instrumentation.py
	$(BENCH_PY) bench/bench_agent_api.py
	$(BENCH_PY) bench/bench_store.py
	$(BENCH_PY) bench/bench_collector.py
	$(BENCH_PY) bench/bench_redaction.py
	$(BENCH_PY) bench/bench_export_faults.py

# a million instrumented calls, resident memory printed as a curve (about an hour on 2 cores)
soak: $(BENCH_STAMP)
	$(BENCH_PY) bench/bench_soak.py

clean:
	rm -rf $(VENV) build *.egg-info
