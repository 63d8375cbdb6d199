# The two commands of the quick start: `make run` and `make test`.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PY := $(UV) run --frozen python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint check format typecheck worker beat bench migrate demo messages

install:  ## create .venv from uv.lock (installs uv with pip first if it is missing)
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet
	@command -v msgfmt >/dev/null 2>&1 || { echo "msgfmt not found: install gettext (apt-get install gettext)"; exit 1; }
	@$(PY) manage.py compilemessages --ignore=.venv --ignore=var --verbosity=0  # config/locale/*.mo

# The translation workflow (docs/languages.md): after adding or changing user-facing strings,
# `make messages` refreshes config/locale/zh_Hans/LC_MESSAGES/django.po from the code; then
# translate the new or fuzzy entries in that file and run `make install` (compiles the .mo).
messages: install
	$(PY) manage.py makemessages --locale=zh_Hans --no-obsolete --add-location=file $(MESSAGES_IGNORE)
	$(PY) manage.py compilemessages --ignore=.venv --ignore=var --verbosity=0
	@msgfmt --check --statistics -o /dev/null config/locale/zh_Hans/LC_MESSAGES/django.po

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py setup_periodic_tasks
	$(PY) manage.py load_demo_data

run: demo  ## install, migrate, load demo data, serve the admin, the clerk screen and the API
	@echo "Serving on http://$(HOST):$(PORT)/  (admin: /admin/, API docs: /api/docs/, health: /healthz)"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install  ## the whole suite (PostgreSQL-only tests skip on SQLite, with a reason)
	$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

check: install  ## the layer order and module cycles (import-linter contracts in pyproject.toml)
	$(UV) run --frozen lint-imports --no-cache

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

typecheck: install
	$(UV) run --frozen mypy loyalty members rewards campaigns analytics config

worker: install  ## a Celery worker (needs CELERY_BROKER_URL)
	$(UV) run --frozen celery -A config worker --loglevel=INFO

beat: install  ## the Celery beat scheduler, reading django-celery-beat's tables
	$(PY) manage.py setup_periodic_tasks
	$(UV) run --frozen celery -A config beat --loglevel=INFO

MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=tests --ignore=static/vendor --ignore=docs

bench: install  ## the benchmark suite (tests/perf), on PostgreSQL; writes docs/performance.md
	@if [ -f tests/perf/run.py ]; then $(PY) tests/perf/run.py $(BENCH_ARGS); \
	else echo "The benchmark suite (tests/perf/run.py) is not written yet; see docs/performance.md for the figures measured so far."; exit 1; fi
