# The two commands on a fresh machine: `make run` (whole pipeline locally) and `make test`.
# Every target installs what it needs into .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt shared/requirements.in shared/requirements.txt pyproject.toml | sha1sum | cut -c1-12)
export PYTHONPATH := shared:.

.PHONY: help install browser lint unit test run demo bench chaos fuzz checkov audit lock clean

help:
	@echo "make run    - the whole pipeline locally (moto + emulators), serves until Ctrl-C"
	@echo "make demo   - the same, self-checking, exits 0 when every demo record arrived"
	@echo "make unit   - the unit tests alone (pure logic, in-memory fakes of the ports), under 30 s"
	@echo "make test   - unit and integration tests (no network, no AWS account)"
	@echo "make lint   - ruff + mypy (strict: the layer and the handlers) + cfn-lint template.yaml edge/webhook-waf.yaml"
	@echo "make bench  - benchmarks (figures printed and written to bench/results.json)"
	@echo "make chaos  - the long seeded fault-injection run"
	@echo "make fuzz   - 10,000 generated webhook requests (no 5xx, nothing invalid queued) + 60 generated sequences through the whole pipeline"
	@echo "make checkov - checkov on template.yaml (own virtualenv)"
	@echo "make audit  - known advisories in the layer's lock (AUDIT_ARGS='--osv-db all.zip' offline)"
	@echo "make lock   - shared/requirements.in -> shared/requirements.txt, every pin with its hashes"

install: $(STAMP)

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

# tests/browser drive Debian's headless Chromium through Selenium: Debian's packages only (no driver
# download); installed once, as root (the developer and CI machines are).
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml edge/webhook-waf.yaml

# No local stack, no emulator server, no long run: tests marked integration or slow (tests/conftest.py)
# are left out.
unit: install
	$(PY) -m pytest tests/unit -q -m "not integration and not slow" -p no:randomly $(PYTEST_ARGS)

# Everything CI needs, slow runs included (`PYTEST_ARGS='-m "not slow"'` for a quicker pass).
test: install browser
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

run: install
	$(PY) -m local.run $(RUN_ARGS)

demo: install
	$(PY) -m local.run --demo

bench: install
	$(PY) -m bench.run

chaos: install
	$(PY) -m chaos.run $(CHAOS_ARGS)

fuzz: install
	MOMENTSYNC_FUZZ_EXAMPLES=10000 MOMENTSYNC_PIPELINE_FUZZ_EXAMPLES=60 $(PY) -m pytest -s tests/security tests/integration/test_pipeline_fuzz.py $(PYTEST_ARGS)

# checkov pulls in many packages: kept in its own virtualenv, out of make test.
checkov:
	@test -x .venv-checkov/bin/checkov || ($(PYTHON) -m venv .venv-checkov && .venv-checkov/bin/pip install --quiet checkov==3.3.30)
	.venv-checkov/bin/checkov -f template.yaml -f edge/webhook-waf.yaml --framework cloudformation --compact --quiet --skip-download

# Exit 3 (and says so) when the advisory database cannot be read: never a silent pass.
audit: install
	$(PY) -m audit $(AUDIT_ARGS)

# pip-tools in its own virtualenv; hashes of every file of each pin, so the arm64 wheels verify too.
lock:
	@test -x .venv-lock/bin/pip-compile || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet pip-tools==7.6.2)
	cd shared && ../.venv-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links \
		--output-file requirements.txt requirements.in

clean:
	rm -rf $(VENV) .venv-lock .pytest_cache .ruff_cache .mypy_cache .hypothesis .aws-sam .local-stack.json .local-stack
