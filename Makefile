# Two entry points: `make demo` (the main job) and `make test` (the suite).
# Both create or reuse .venv and install the package with what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := requirements.lock

.PHONY: demo test test-fast venv lock clean

# Every dependency at the version in requirements.lock: the versions the documented numbers came from.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c $(LOCK) -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/facebehavior demo $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: $(STAMP)  # the unit tests only: no training runs, no spawned processes, no browser
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

# Re-resolve every dependency at its newest allowed version into requirements.lock (then re-run the
# commands behind docs/results.md: the numbers belong to the lock they were measured with).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q --upgrade pip && .venv-lock/bin/pip install -q -e ".[test]"
	{ head -2 $(LOCK); .venv-lock/bin/pip freeze --exclude-editable | grep -v '^facebehavior'; } > $(LOCK).new
	mv $(LOCK).new $(LOCK) && rm -rf .venv-lock

clean:
	rm -rf $(VENV) runs .pytest_cache
