# The two commands of the README: `make lab` and `make test`. Each sets everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

NODE_RIC := $(VENV)/share/lambdalab/node-ric
NODE_RIC_VERSION := 3.3.0
SUDO_APT := $(if $(filter 0,$(shell id -u)),apt-get,sudo -n apt-get)

.PHONY: setup lab test lint test-lib test-notebooks test-browser browser runtimes node-ric bench bench-peers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebook,test]'
	touch $(STAMP)

setup: $(STAMP)

lab: setup            ## JupyterLab on the tutorials
	$(BIN)/jupyter lab $(ROOT_FLAG) --notebook-dir=notebooks notebooks/00_start_here.ipynb

test: setup runtimes lint test-lib test-notebooks test-browser   ## every test: the gate, library, engine, notebooks, a real browser

runtimes:             ## Node.js and Go from Debian where missing, and AWS's aws-lambda-ric built by npm (nodejs-ric)
	@missing=""; command -v node >/dev/null || missing="$$missing nodejs npm"; \
	command -v npm >/dev/null || missing="$$missing npm"; command -v go >/dev/null || missing="$$missing golang-go"; \
	command -v autoreconf >/dev/null || missing="$$missing autoconf automake libtool"; \
	command -v cmake >/dev/null || missing="$$missing cmake"; command -v g++ >/dev/null || missing="$$missing g++ make"; \
	if [ -n "$$missing" ]; then ($(SUDO_APT) update -qq && $(SUDO_APT) install -y -qq $$missing) \
	  || echo "runtimes: could not install$$missing; the tests of those runtimes skip and say so"; fi
	-$(MAKE) --no-print-directory node-ric

node-ric: $(NODE_RIC)/.built-$(NODE_RIC_VERSION)

$(NODE_RIC)/.built-$(NODE_RIC_VERSION):
	mkdir -p $(NODE_RIC)
	cd $(NODE_RIC) && npm install --no-audit --no-fund --loglevel=error aws-lambda-ric@$(NODE_RIC_VERSION)
	touch $@

lint: setup          ## the gate: ruff (lint + format), mypy, import-linter's layer contracts
	$(BIN)/ruff check lambdalab tools
	$(BIN)/ruff format --check lambdalab tools
	$(BIN)/mypy lambdalab
	$(BIN)/lint-imports

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

bench-peers: setup    ## serverless-offline + python-lambda-local into benchmarks/.peers, then the side-by-side benchmark
	bash benchmarks/install_peers.sh
	$(BIN)/python benchmarks/bench_peers.py --write

clean:
	rm -rf $(VENV) .pytest_cache
