# The README's commands. Everything a fresh clone needs is created here.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
LAYERS_BUILT := layers/build/.built
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: demo test synth layers lock install bench clean

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

bench: $(INSTALLED)
	@for script in bench/*.py; do echo "== $$script"; $(PYTHON) $$script || exit 1; done

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
