# The README's commands. Everything a fresh clone needs is created here.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
LAYERS_BUILT := layers/build/.built
BENCH_VENV := .bench/evidently-venv
BENCH_ENV := $(BENCH_VENV)/.installed
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: demo test synth layers lock install bench bench-env clean

demo: $(INSTALLED)
	$(VENV)/bin/mlrails demo

test: $(INSTALLED) $(NODE_INSTALLED) $(LAYERS_BUILT)
	$(PYTHON) -m pytest -n 2 --dist loadscope -p no:cacheprovider

synth: $(INSTALLED) $(NODE_INSTALLED) $(LAYERS_BUILT)
	$(PYTHON) scripts/lock_runtime.py --check
	npx cdk synth --no-notices --quiet

layers: $(LAYERS_BUILT)

# requirements/runtime.lock (what the train image installs) from the dev environment's versions.
lock: $(INSTALLED)
	$(PYTHON) scripts/lock_runtime.py

install: $(INSTALLED)

bench: $(INSTALLED) $(BENCH_ENV)
	@for script in bench/[!_]*.py; do echo "== $$script"; $(PYTHON) $$script || exit 1; done

# The comparison side of bench/drift.py: Evidently in a virtualenv of its own (never a runtime
# dependency), with pandas < 3 because Evidently 0.7.23 does not import under pandas 3.
bench-env: $(BENCH_ENV)

$(BENCH_ENV):
	$$(scripts/find-python) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet evidently==0.7.23 'pandas<3' pyarrow
	touch $@

$(INSTALLED): pyproject.toml
	test -x $(PYTHON) || $$(scripts/find-python) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
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
	rm -rf $(VENV) node_modules cdk.out layers/build .mlrails
