# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
FLASK  := $(BIN)/flask --app wsgi
#: PostgreSQL used by `make test-pg` unless TEST_DATABASE_URL is set
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: venv demo test test-pg serve migrate clean browser-deps messages translations

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

migrate: venv
	$(FLASK) db upgrade heads

demo: migrate
	$(FLASK) demo setup
	$(FLASK) demo schools
	@echo "打开 http://$(HOST):$(PORT)/ 用上面的演示账号登录（Ctrl+C 同时停止网站和调度进程）"
	$(FLASK) scheduler run & sched=$$!; trap 'kill $$sched 2>/dev/null' EXIT INT TERM; \
	  $(FLASK) run --host $(HOST) --port $(PORT)

#: extract the marked interface strings, keep the English already translated, list what is missing
messages: venv
	$(BIN)/python scripts/messages.py

#: compile the catalogues ahead of time (the app also does it on start when a .po is newer)
translations: venv
	$(BIN)/python -c "from tracker.i18n import compile_catalogues; compile_catalogues()"

#: Debian's headless Chromium, its Chinese UI strings and CJK fonts for tests/browser (run as root)
browser-deps:
	@command -v chromium >/dev/null && test -f /usr/lib/chromium/locales/zh-CN.pak && fc-list :lang=zh | grep -q . \
	  || (apt-get update && apt-get install -y --no-install-recommends chromium chromium-l10n fonts-noto-cjk)

test: venv browser-deps
	$(BIN)/pytest -q

test-pg: venv browser-deps
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-$(PG_URL)} $(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
