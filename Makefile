# wikistream: every entry point. `make` alone lists them.
# Versions, ports and names come from config/stack.env (the single source of truth). Each line is
# taken as KEY ?= VALUE, so an environment variable of the same name wins, as it does in Python.
STACK_ENV := config/stack.env
$(foreach pair,$(shell grep -E '^[A-Z0-9_]+=' $(STACK_ENV)),$(eval $(firstword $(subst =, ,$(pair))) ?= $(patsubst $(firstword $(subst =, ,$(pair)))=%,%,$(pair))))

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install jars run metabase stop reset lint status count-rows test test-fast test-long bench bench-sustain bench-profile chaos lock

help: ## List the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# --use-pep517: Debian's pip 23.0 prints a deprecation warning for each sdist it builds with setup.py.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "error: Python 3.11+ is required as '$(PYTHON)' (set PYTHON=/path/to/python3.11)."; exit 1; }
	@echo "Creating $(VENV) and installing the locked packages (first run takes a few minutes) ..."
	@$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --use-pep517 --require-hashes -r requirements.lock
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP) ## Create the virtualenv with the locked packages

jars: $(STAMP) ## Resolve connector, driver and Kafka jars from Maven Central
	@$(PY) -m stack jars

run: $(STAMP) ## Start the embedded stack (Kafka, Flink, PostgreSQL, job, producer)
	@$(PY) -m stack run

metabase: $(STAMP) ## Metabase on the embedded stack (pinned jar, Java 21+; METABASE_JAVA_HOME), dashboards applied
	@$(PY) -m stack metabase

stop: $(STAMP) ## Stop every process the stack started, keep data
	@$(PY) -m stack stop

reset: $(STAMP) ## Stop and delete the state directory
	@$(PY) -m stack reset

status: $(STAMP) ## Each service up/down and the job's state
	@$(PY) -m stack status

count-rows: $(STAMP) ## Row counts of users, clicks and the other tables
	@$(PY) -m stack count-rows

test: $(STAMP) ## All tests, including the slow end-to-end ones on real services
	@$(PY) -m stack jars
	@$(PY) -m pytest

test-long: $(STAMP) ## Only the long ones (outages, full disk, 40-day time-lapse; part of make test), own stacks (~30 min)
	@$(PY) -m stack jars
	@$(PY) -m pytest -m long

test-fast: $(STAMP) ## Only the fast tests (no services started; the JDBC probes need the jars)
	@$(PY) -m stack jars
	@$(PY) -m pytest -m "not slow"

bench: $(STAMP) ## Throughput, latency, memory, cold start vs the baseline, then sustained 10-min runs by rate steps (~1 h)
	@$(PY) -m stack jars
	@$(PY) -m bench run

bench-sustain: $(STAMP) ## Only the sustained runs: RATES=2000,5000 SUSTAIN_SECONDS=600 (bench/sustained.json)
	@$(PY) -m stack jars
	@$(PY) -m bench sustain --rates "$(or $(RATES),2000)" --seconds "$(or $(SUSTAIN_SECONDS),600)"

bench-profile: $(STAMP) ## Where the job spends its time: jstack profile of a drain (bench/profiles/)
	@$(PY) -m stack jars
	@$(PY) -m bench profile

chaos: $(STAMP) ## Fault matrix + soak (ARGS="--outage kafka-down ..." adds long outages): kill -9 each service mid-stream, count what landed (~25 min)
	@$(PY) -m stack jars
	@$(PY) -m chaos run $(ARGS)

# The container stack (Terraform) and the dashboards keep their targets beside their code.
-include terraform/terraform.mk
-include dashboards/dashboards.mk

lint: $(STAMP) tf-init ## ruff (rules, format), mypy --strict, shellcheck, terraform fmt + validate
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) -m mypy
	@command -v shellcheck >/dev/null || { echo "error: shellcheck is not installed (Debian: apt-get install shellcheck)"; exit 1; }
	@shellcheck -x $$(git ls-files '*.sh') .ci/run
	@$(TERRAFORM) fmt -check -recursive $(TF_DIR) modules && $(TF) validate -no-color >/dev/null
	@echo "lint: clean"

lock: ## Re-resolve requirements.lock from pyproject.toml (needs network)
	@$(PYTHON) -m pip install --quiet uv
	@$(PYTHON) -m uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	  --generate-hashes --native-tls -o requirements.lock
