# Every target bootstraps .venv on a fresh machine with Python 3.10+ and the package index.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: test bench demo kernels-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m pytest bench -q -p no:cacheprovider --benchmark-only --benchmark-columns=min,median,max,rounds --benchmark-group-by=group
	$(PY) bench/cpu_compare.py

demo: $(STAMP)
	$(VENV)/bin/fastseg demo

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
