# The two commands of the README: `make lab` and `make test`. Each sets everything up first.
# For working on lambdalab itself: `make dev` (an editable install in which every .py edit takes effect),
# `make lint`, `make test`, and `make screenshots` (the only command that rewrites docs/images/).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# present while .venv holds the developer install (make dev)
DEV_STAMP := $(VENV)/.dev-stamp
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

NODE_RIC := $(VENV)/share/lambdalab/node-ric
NODE_RIC_VERSION := 3.3.0
SUDO_APT := $(if $(filter 0,$(shell id -u)),apt-get,sudo -n apt-get)
# the browser the browser test drives (tests/browser/harness.py)
CHROMIUM := /usr/bin/chromium

.PHONY: setup dev compiled lab test lint test-lib test-notebooks test-browser browser screenshots runtimes node-ric \
	bench bench-peers clean

# The install compiles lambdalab/core and the simulator's hot modules with mypyc (setup.py); after `make dev`
# a reinstall (pyproject.toml or setup.py changed) stays pure Python.
$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(wildcard $(DEV_STAMP)),LAMBDALAB_PURE_PYTHON=1 )$(BIN)/python -m pip install --quiet -e '.[notebook,test,aws]'
	touch $(STAMP)

setup: $(STAMP)

dev:                  ## developer mode: editable and pure Python, so an edit to any .py (core/ and sim/ too) takes effect
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	LAMBDALAB_PURE_PYTHON=1 $(BIN)/python -m pip install --quiet -e '.[notebook,test,aws]'
	touch $(DEV_STAMP) $(STAMP)
	@echo "make dev: lambdalab runs from its .py files (pure Python; simulating is 5-7x slower). Back to compiled: make compiled"

compiled:             ## leave developer mode: reinstall with the core and simulator compiled (what `make setup` installs)
	rm -f $(DEV_STAMP) $(STAMP)
	$(MAKE) --no-print-directory setup

lab: setup            ## JupyterLab on the tutorials
	$(BIN)/jupyter lab $(ROOT_FLAG) --notebook-dir=notebooks notebooks/00_start_here.ipynb

test: setup runtimes lint test-lib test-notebooks test-browser   ## every test: the gate, library, engine, notebooks, a real browser (changes no tracked file)

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

# Debian's chromium for the browser test (never `playwright install`), without recommended packages. Where it
# cannot be installed (no apt-get, not root and no password-less sudo, or apt-get fails), one line says so and
# test-browser skips; with CI set, that is an error instead (.ci/run sets it: CI runs the browser test for real).
browser:              ## Debian's chromium for the browser test, if it can be installed here
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
	  $(SUDO_APT) update -qq && $(SUDO_APT) install -y -qq --no-install-recommends chromium fonts-dejavu-core \
	    && exit 0; why="apt-get could not install it"; \
	else why="installing it needs apt-get as root or with password-less sudo"; fi; \
	if [ -n "$$CI" ]; then echo "browser: no Debian chromium at $(CHROMIUM) ($$why), and CI is set"; exit 1; fi; \
	echo "browser: no Debian chromium at $(CHROMIUM) ($$why): the browser test is skipped"

test-browser: setup browser   ## JupyterLab + headless Chromium run the tutorials and the panel (writes no file)
	@if [ -x $(CHROMIUM) ] || [ -n "$$CI" ]; then \
	  echo "$(BIN)/python -m pytest -q -p no:cacheprovider tests/browser"; \
	  $(BIN)/python -m pytest -q -p no:cacheprovider tests/browser; fi

screenshots: setup browser   ## the browser test, rewriting the pictures in docs/images/ from its run (review, then commit)
	@[ -x $(CHROMIUM) ] || { echo "screenshots: needs Debian's chromium at $(CHROMIUM)"; exit 1; }
	LAMBDALAB_WRITE_SCREENSHOT=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/browser

test-notebooks: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-cell-timeout=120 notebooks

bench: setup          ## benchmarks; rewrites benchmarks/RESULTS.md
	$(BIN)/python benchmarks/run_all.py

bench-peers: setup    ## serverless-offline + python-lambda-local into benchmarks/.peers, then the side-by-side benchmark
	bash benchmarks/install_peers.sh
	$(BIN)/python benchmarks/bench_peers.py --write

clean:
	rm -rf $(VENV) .pytest_cache
