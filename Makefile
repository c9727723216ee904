# The two commands of the README:
#   make book   set up a virtual environment and build the book (the main job)
#   make test   set up the same environment and run the tests, a smoke build of the
#               book with warnings as errors, a check of every page of it in headless
#               Chromium, and every notebook through papermill
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
SMOKE   = LVRLIB_PROFILE=smoke LVRLIB_RESULTS=$(CURDIR)/.cache/smoke-results

.PHONY: book test preflight lock unit smoke-book browser-check smoke-notebooks benchmark clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# The environment is installed with the versions that built the book (constraints.txt,
# every package pinned); `make book CONSTRAINTS=` installs from pyproject.toml's loose
# ranges instead, and `make lock` rewrites constraints.txt with the newest versions that
# fit those ranges (then rebuild and compare: tests/compare_builds.py).
CONSTRAINTS ?= constraints.txt
PIP_C = $(if $(CONSTRAINTS),-c $(CONSTRAINTS))

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/activate
	$(BIN)/python -m pip install --quiet $(PIP_C) --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_C) -e ".[book,test]"
	touch $@

lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet ".[book,test]"
	.lock-venv/bin/python tests/lock.py > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .lock-venv
	@echo "constraints.txt rewritten; rebuild the book and compare it with the last build."

# A build that was interrupted (killed during a notebook, while Sphinx wrote its pages)
# can leave pages that look up to date: the marker _build/.complete is removed before a
# build and written after it, and a build that finds _build without it starts afresh.
# Cached results survive: each entry is written atomically (lvrlib/_io.py). Two builds of
# one checkout at once take turns (flock, where the system has it).
BOOK  ?= book
BUILD ?= _build
LOCK   = $(if $(shell command -v flock),flock $(BUILD).lock)

book: $(VENV)/.installed
	$(LOCK) sh -c 'if [ -d $(BUILD) ] && [ ! -f $(BUILD)/.complete ]; then \
	  echo "$(BUILD) is from a build that did not finish: building every page again"; \
	  rm -rf $(BUILD); fi; \
	  rm -f $(BUILD)/.complete && $(BIN)/jupyter-book build $(BOOK) && touch $(BUILD)/.complete'
	@echo "The book is in $(BUILD)/html/index.html"

# preflight first: what the browser check needs is asked before any work, not after.
test: preflight unit smoke-book browser-check smoke-notebooks

preflight:
	$(PYTHON) tests/browser_check.py --preflight

unit: $(VENV)/.installed
	$(BIN)/python -m pytest -q --durations=10

smoke-book: $(VENV)/.installed
	rm -rf _build
	$(SMOKE) $(BIN)/jupyter-book build book/ -W -n --keep-going

# Every page of the book in _build/html (make smoke-book first) in a 1280-px-wide headless
# Chromium: no error output, missing glued value, undecodable image or table wider than
# the text column; then the same check must catch each of these in a deliberately broken
# copy. Needs Chromium (Debian: apt-get install chromium) or $CHROMIUM (its path).
browser-check: $(VENV)/.installed
	$(BIN)/python tests/browser_check.py _build/html
	$(BIN)/python tests/browser_check.py --self-test _build/html

smoke-notebooks: $(VENV)/.installed
	mkdir -p .cache/papermill
	for nb in notebooks/*.ipynb; do \
	  $(SMOKE) $(BIN)/papermill --log-level WARNING "$$nb" ".cache/papermill/$$(basename $$nb)" -p profile smoke || exit 1; \
	done
	$(SMOKE) $(BIN)/papermill --log-level WARNING notebooks/table3.ipynb .cache/papermill/table3_sigma50.ipynb -p profile smoke -p sigma 50

benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/lvr_speed.py

clean:
	rm -rf _build .cache
