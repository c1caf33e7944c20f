# Two commands do everything on a fresh machine:
#   make run    create .venv, install, start the CSMS on SQLite with config.toml
#   make test   install dev dependencies, run ruff, mypy --strict and the whole test suite
# Versions are pinned in constraints.txt (regenerate with `make lock`).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: run test lint typecheck pytest pytest-clock test-clock system-packages haproxy-package \
	cluster bench bench-cluster bench-takeover lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip==$$(sed -n 's/^pip==//p' constraints.txt)"

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	touch $@ $(VENV)/.installed

config.toml:
	cp config.example.toml config.toml
	@echo "created config.toml from config.example.toml (development settings)"

run: $(VENV)/.installed config.toml
	$(BIN)/csms --config config.toml run

# A local cluster: NODES CSMS nodes on one PostgreSQL database (127.0.0.1:5432, database
# csms_cluster, created when missing) behind HAProxy; chargers connect to ws://127.0.0.1:9000/,
# the API is http://127.0.0.1:8080. Configurations and logs in .cluster/; Ctrl-C stops it all.
NODES ?= 3
CLUSTER_CONFIG ?= cluster.example.toml
cluster: $(VENV)/.installed haproxy-package
	$(BIN)/python -m csms.cluster.run --config $(CLUSTER_CONFIG) --nodes $(NODES) --dir .cluster

# Debian's HAProxy, for make cluster and the cluster tests (tests/e2e/test_cluster_balancer.py).
haproxy-package:
	@test -x /usr/sbin/haproxy || { apt-get update -qq && apt-get install -y -qq haproxy; }

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# Two workers (pytest-xdist): half the suite's time is waiting (servers, clusters, timers), so
# two processes on two cores take about half as long (11 min against 23). Each worker copies
# its own migrated template databases (tests/conftest.py), and every server a test starts
# takes free ports. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
pytest: $(VENV)/.installed-dev system-packages
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# Debian packages the tests need, installed when missing (CI and developers run as root).
system-packages: haproxy-package
	@command -v faketime >/dev/null || { apt-get update -qq && apt-get install -y -qq faketime; }
	@# browser tests (tests/console, the resident page): Debian's Chromium, and CJK glyphs for it
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium; }
	@test -d /usr/share/fonts/truetype/wqy || { apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei; }

# The billing, tariff and safety-timer tests under a faked clock at two awkward instants.
pytest-clock: $(VENV)/.installed-dev system-packages
	scripts/at-instants --short

# The whole suite at each of the four instants (about four times `make pytest`).
test-clock: $(VENV)/.installed-dev system-packages
	scripts/at-instants -- -n $(PYTEST_WORKERS)

test: lint typecheck pytest-clock pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.load

# Throughput of 1 node and of 2 nodes (each pinned to its own core) on one PostgreSQL.
bench-cluster: $(VENV)/.installed-dev
	$(BIN)/python -m bench.cluster

bench-takeover: $(VENV)/.installed-dev
	$(BIN)/python -m bench.takeover

lock: $(VENV)/.installed-dev
	$(PIP) freeze --exclude-editable --all | grep -v '^csms' > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .cluster
