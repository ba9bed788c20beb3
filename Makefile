# Takeback developer commands. `make` lists them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export TAKEBACK_VAR_DIR ?= $(CURDIR)/var

.DEFAULT_GOAL := help
NODE_TOOLS := node_modules/.installed
.PHONY: help run prod test lint typecheck fmt check-system install install-dev wasm

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/python -c "import hashing; hashing.warm_up()"  # compile + cache the hashing kernels once
	touch $@

$(VENV)/.installed-dev: pyproject.toml integrations/pytx/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	# Our python-threatexchange extension, which the CLI tests load (tests/integrations).
	$(BIN)/pip install -q -e integrations/pytx
	# Meta's vPDQ reference for the video parity tests and bench (not a runtime dependency).
	# Built from source against FFmpeg's libav* development packages: `make check-system`.
	$(BIN)/pip install -q --no-binary vpdq 'vpdq==0.2.5'
	$(BIN)/python -c "import hashing; hashing.warm_up()"  # compile + cache the hashing kernels once
	touch $@ $(VENV)/.installed

# Development JavaScript tools, pinned in package.json / package-lock.json (never shipped).
$(NODE_TOOLS): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

install: $(VENV)/.installed ## Install the app into .venv

install-dev: $(VENV)/.installed-dev ## Install the app and test tools into .venv

run: install ## Serve the whole app on the embedded default at http://127.0.0.1:8000
	DJANGO_DEBUG=true $(BIN)/python manage.py migrate --no-input -v0
	DJANGO_DEBUG=true $(BIN)/python manage.py demo_setup
	DJANGO_DEBUG=true $(BIN)/python manage.py runserver --noreload $(HOST):$(PORT)

$(VENV)/.installed-prod: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[prod]'
	$(BIN)/python -c "import hashing; hashing.warm_up()"  # compile + cache the hashing kernels once
	touch $@ $(VENV)/.installed

# `make prod`: the Procfile (web, worker, beat) through honcho, production settings, against
# local PostgreSQL and Redis. Override any variable: `make prod DATABASE_URL=postgres://...`;
# `scripts/with-services make prod` runs it on a throw-away PostgreSQL and Redis. No TLS proxy
# here, so plain HTTP is not redirected (browsers keep __Secure- cookies on localhost).
PROD_ENV = DJANGO_SETTINGS_MODULE=portal.settings.production \
	DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$(cat $(TAKEBACK_VAR_DIR)/prod_secret_key)}" \
	DJANGO_ALLOWED_HOSTS="$${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost}" \
	DJANGO_SECURE_SSL_REDIRECT="$${DJANGO_SECURE_SSL_REDIRECT:-false}" \
	DATABASE_URL="$${DATABASE_URL:-postgres://takeback@127.0.0.1:5432/takeback}" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/0}" \
	CELERY_BROKER_URL="$${CELERY_BROKER_URL:-$${REDIS_URL:-redis://127.0.0.1:6379/0}}" \
	GUNICORN_BIND="$${GUNICORN_BIND:-$(HOST):$(PORT)}" \
	PATH="$(CURDIR)/$(BIN):$$PATH"

prod: $(VENV)/.installed-prod ## The production stack (Procfile via honcho) on local PostgreSQL + Redis
	@mkdir -p $(TAKEBACK_VAR_DIR)
	@test -s $(TAKEBACK_VAR_DIR)/prod_secret_key || (umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $(TAKEBACK_VAR_DIR)/prod_secret_key)
	$(PROD_ENV) $(BIN)/python manage.py migrate --no-input -v0
	$(PROD_ENV) $(BIN)/python manage.py collectstatic --no-input -v0
	$(PROD_ENV) $(BIN)/honcho start -f Procfile

check-system: ## Install missing system packages (PostgreSQL, Redis, Chromium) with apt
	scripts/install-system-packages

lint: install-dev ## Ruff lint and format check, JavaScript syntax check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	scripts/check-js

wasm: $(NODE_TOOLS) ## Rebuild hashing/js/kernels.wasm.js from wasm/kernels.wat (pinned wabt)
	node hashing/js/wasm/build.mjs

typecheck: install-dev ## mypy: strict on hashing/, with the Django and DRF stubs on portal/ and api/
	$(BIN)/mypy

fmt: install-dev ## Format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: check-system install-dev $(NODE_TOOLS) lint typecheck ## Lint, then the whole suite on throw-away PostgreSQL + Redis
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/with-services $(BIN)/pytest $(PYTEST_ARGS)
