# The README's commands. Everything a fresh clone needs is created here.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
UV := $(VENV)/bin/uv
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
LAYERS_BUILT := layers/build/.built
BENCH_VENV := .bench/evidently-venv
BENCH_ENV := $(BENCH_VENV)/.installed
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# uv installs into .venv, made by scripts/find-python's interpreter; it never downloads one.
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1
# uv installs without compiling bytecode, and with PYTHONDONTWRITEBYTECODE set, every process
# (each test worker, the demo, each CLI call) would compile mlflow, scikit-learn and the CDK
# again from source: about 25 s a process here. Let the first one write the .pyc files.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test lint format docs test-scenarios synth layers lock install bench bench-env clean

demo: $(INSTALLED)
	$(VENV)/bin/mlrails demo

# Two workers, a module (all of tests/infra, see tests/conftest.py) to a worker. The long
# end-to-end scenarios run apart (`make test-scenarios`), so the suite stays quick; CI runs both.
PYTEST := $(PYTHON) -m pytest -n 2 --dist loadscope -p no:cacheprovider

test: $(INSTALLED) $(NODE_INSTALLED) $(LAYERS_BUILT) lint docs
	$(PYTEST) -m "not scenario"

# The documentation site into site/ (docs/, mkdocs.yml): --strict, so a broken link or anchor
# fails; the reference pages are rendered from the code (docs/hooks.py).
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# Lint and format (ruff) and the import contracts (import-linter, pyproject.toml): part of
# `make test`. `make format` applies ruff's fixes and formatting.
lint: $(INSTALLED)
	$(PYTHON) -m ruff check --quiet .
	$(PYTHON) -m ruff format --check --quiet .
	$(VENV)/bin/lint-imports --no-cache

format: $(INSTALLED)
	$(PYTHON) -m ruff check --fix --quiet .
	$(PYTHON) -m ruff format --quiet .

test-scenarios: $(INSTALLED)
	$(PYTEST) -m scenario

synth: $(INSTALLED) $(NODE_INSTALLED) $(LAYERS_BUILT)
	$(PYTHON) scripts/lock.py --check
	npx cdk synth --no-notices --quiet

layers: $(LAYERS_BUILT)

# The only place versions move: uv.lock from pyproject.toml (UPGRADE=1: every package to its
# newest allowed version), the images' requirement files exported from it, then .venv synced.
lock: $(INSTALLED)
	$(PYTHON) scripts/lock.py $(if $(UPGRADE),--upgrade)
	$(UV) sync --frozen --quiet
	touch $(INSTALLED)

install: $(INSTALLED)

# bench/cost.py prices the synthesized templates: synth first.
bench: $(INSTALLED) $(BENCH_ENV) synth
	@for script in bench/[!_]*.py; do echo "== $$script"; $(PYTHON) $$script || exit 1; done

# The comparison side of bench/drift.py: Evidently in a virtualenv of its own (never a runtime
# dependency), with pandas < 3 because Evidently 0.7.23 does not import under pandas 3;
# exactly bench/evidently.txt, which `make lock` compiles with hashes.
bench-env: $(BENCH_ENV)

$(BENCH_ENV): $(INSTALLED) bench/evidently.txt
	test -x $(BENCH_VENV)/bin/python || $$(scripts/find-python) -m venv $(BENCH_VENV)
	$(UV) pip sync --quiet --require-hashes --python $(BENCH_VENV)/bin/python bench/evidently.txt
	touch $@

# Exactly uv.lock (--frozen: nothing is resolved; a lock that disagrees with pyproject.toml
# fails the tests). pip installs only uv itself, at the locked version and hashes.
$(INSTALLED): pyproject.toml uv.lock
	test -x $(PYTHON) || $$(scripts/find-python) -m venv $(VENV)
	test -x $(UV) || $(PYTHON) -m pip install --quiet --no-deps --require-hashes \
		--requirement <($(PYTHON) scripts/uv-requirement)
	$(UV) sync --frozen --quiet
	touch $@

$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Always run: layers/build.py decides per layer what changed (requirements.in, dev versions,
# src/mlrails incl. deleted files and data files) and is a ~1 s no-op when nothing did.
$(LAYERS_BUILT): $(INSTALLED) FORCE
	$(PYTHON) layers/build.py
	touch $@

FORCE:

clean:
	rm -rf $(VENV) node_modules cdk.out layers/build .mlrails site
