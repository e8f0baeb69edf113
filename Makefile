# make run: the app on its data.  make test: the whole test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SECRET_FILE := var/secret_key

.PHONY: run test lint format clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

$(SECRET_FILE):
	@mkdir -p var
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

run: $(VENV)/.installed $(SECRET_FILE)
	SECRET_KEY="$${SECRET_KEY:-$$(cat $(SECRET_FILE))}" $(PY) manage.py serve

test: $(VENV)/.dev-installed
	DEBUG=0 SECRET_KEY=test-only-secret-key $(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var/celery var/test_db.sqlite3 .pytest_cache
