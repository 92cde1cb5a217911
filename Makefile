# Every target bootstraps .venv on a fresh machine with Python 3.10+ and the package index.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: test test-oldest bench demo kernels-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

# the suite on the oldest dependencies pyproject.toml allows (requirements/oldest.txt), in its own venv
OLDEST := .venv-oldest
test-oldest:
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -m pip install --quiet -c requirements/oldest.txt -e '.[dev]'
	$(OLDEST)/bin/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m pytest bench -q -p no:cacheprovider --benchmark-only --benchmark-columns=min,median,max,rounds --benchmark-group-by=group
	$(PY) bench/cpu_compare.py

demo: $(STAMP)
	$(VENV)/bin/fastseg demo

clean:
	rm -rf $(VENV) $(OLDEST) .pytest_cache .benchmarks
