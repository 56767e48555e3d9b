# Wangge — the two commands: `make run` and `make test`.
# The distribution's python3.11 first: Debian builds it with PGO and LTO, and the API's workers spent a
# tenth less CPU on it than on a plain source build of 3.11 earlier on PATH (pyenv's default; docs/deploy.md).
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) $(shell command -v python3.11 || command -v python3))
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DEMO_SEED ?= 1
DEMO_RESIDENTS ?= 14300

.PHONY: run test install lint typecheck bench clean-db

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/wangge migrate --noinput
	$(BIN)/wangge demo --if-empty --seed $(DEMO_SEED) --residents $(DEMO_RESIDENTS)
	$(BIN)/wangge serve --port $(PORT)

# The whole suite on SQLite, then on PostgreSQL when DATABASE_URL points at one.
# Both passes run even if the first fails; the exit code reports any failure.
test: install
	@mkdir -p var; rc=0; \
	echo "== SQLite run"; \
	DATABASE_URL=sqlite:///$(CURDIR)/var/test.sqlite3 $(BIN)/pytest -q || rc=$$?; \
	case "$$DATABASE_URL" in \
	  postgres*) echo "== PostgreSQL run"; $(BIN)/pytest -q || rc=$$? ;; \
	  *) echo "== DATABASE_URL does not point at PostgreSQL: PostgreSQL run skipped" ;; \
	esac; \
	exit $$rc

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy wangge bench

bench: install
	$(BIN)/python bench/run.py
