# rlsv: two commands set everything up on a fresh machine.
#   make reproduce   main job (the `all` grid, small profile) -> tables and figures
#   make test        the test suite
#   make lab         JupyterLab at the repository root (notebooks/, figures/, docs/, papermill_runs/)
# Each creates/updates the local virtual environment .venv first.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
STAMP := $(VENV)/.rlsv-installed
PROFILE ?= small
JOBS ?= 2
PYTEST_ARGS ?=

.PHONY: all setup ffmpeg test reproduce results report lab bench bench-smoke notebooks-clean clean

all: test

ffmpeg:
	@scripts/ensure_ffmpeg.sh

$(STAMP): pyproject.toml scripts/install_torch.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@scripts/install_torch.sh $(PY) $(TORCH_VERSION)
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

setup: ffmpeg $(STAMP)

test: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

reproduce: setup
	$(VENV)/bin/rlsv reproduce --profile $(PROFILE) --jobs $(JOBS)

# The numbers the README quotes: make reproduce's results.md, copied to docs/results/ and into README.md.
results: setup
	$(VENV)/bin/rlsv results --profile $(PROFILE) --publish docs/results/$(PROFILE).md README.md

report: setup
	$(VENV)/bin/rlsv report --profile $(PROFILE)

# JupyterLab refuses to start as root (containers, CI) without --allow-root: given only then.
lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

bench: setup
	$(PY) benchmarks/run.py

bench-smoke: setup
	$(PY) benchmarks/run.py --smoke

notebooks-clean: setup
	$(VENV)/bin/nbstripout notebooks/*.ipynb

clean:
	rm -rf $(VENV) .pytest_cache
