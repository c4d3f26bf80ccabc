# The two commands of the README: `make lab` and `make test`. Each sets everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab test test-lib test-notebooks test-browser browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebook,test]'
	touch $(STAMP)

setup: $(STAMP)

lab: setup            ## JupyterLab on the tutorials
	$(BIN)/jupyter lab $(ROOT_FLAG) --notebook-dir=notebooks notebooks/00_start_here.ipynb

test: setup test-lib test-notebooks test-browser   ## every test: library, engine, notebooks, a real browser

test-lib: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=15 tests --ignore=tests/browser

browser:              ## Debian's chromium for the browser test (never `playwright install`)
	command -v chromium || (apt-get update && apt-get install -y chromium fonts-dejavu-core)

test-browser: setup browser   ## JupyterLab + headless Chromium run notebooks/demo_panel.ipynb
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/browser

test-notebooks: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-cell-timeout=120 notebooks

bench: setup          ## benchmarks; rewrites benchmarks/RESULTS.md
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
