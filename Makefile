# make demo — build the demo site from the bundled sample feeds (no network)
# make test — ruff, mypy, then the whole test suite (installs what it needs: venv, test extras, Chromium, PostgreSQL, Hexo via npm)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint browser-deps postgres-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tidings demo tidings-demo

# Debian's Chromium for the browser tests (never a downloaded browser); skipped where apt is unusable.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian chromium + fonts-noto-cjk for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "no /usr/bin/chromium and cannot apt-get: browser tests will be skipped"; fi; \
	fi

# Debian's PostgreSQL for the PostgreSQL store tests (they start a throwaway cluster of their own; nothing is
# left running); skipped where apt is unusable (the tests are then skipped too, and fail under CI).
postgres-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian postgresql for the PostgreSQL store tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "could not install postgresql: PostgreSQL tests will be skipped"; \
	  else echo "no /usr/lib/postgresql/*/bin/initdb and cannot apt-get: PostgreSQL tests will be skipped"; fi; \
	fi

# ruff and mypy (settings in pyproject.toml) must be clean before any test runs.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: lint browser-deps postgres-deps
	$(BIN)/pytest -q

# Everything but the slow suites (real Hexo, browser, crash loops).
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) tidings-demo .pytest_cache test-output
