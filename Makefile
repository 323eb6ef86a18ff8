# Two commands do all the set-up on a machine that has Python 3.11+ and make:
#   make course   creates .venv if missing, installs everything, opens JupyterLab on the course's start page
#   make test     the same install, then the whole test suite (unit tests + every notebook under nbval)
#   make check    the same install, then the pre-lab check of this machine (gradcam_lab_check.py)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install only when the dependency list changes.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: course check test lint wheel-test browser-test install clean

# Jupyter refuses to run as root unless told; containers and lab machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

course: $(STAMP)
	$(BIN)/jupyter lab notebooks/start_here.ipynb $(ROOT_FLAG)

# Is this machine ready for the course? Python, pinned packages, a one-picture Grad-CAM, the Japanese font, the
# widgets' JupyterLab extension, free memory: one line each, a fix for each failure, exit status 1 if any failed.
check: $(STAMP)
	$(BIN)/python gradcam_lab_check.py

# Strict nbval (not --nbval-lax) in this environment's kernel; the committed outputs are what every learner sees
# (no setting needed: plain `pytest --nbval notebooks/` passes too).
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

# GRADCAM_LANG unset: a learner's GRADCAM_LANG=ja would turn the English notebooks' output Japanese, and their
# committed outputs are English (the Japanese edition sets its language in its own first cell).
test: $(STAMP)
	env -u GRADCAM_LANG $(BIN)/python -m pytest tests notebooks $(NBVAL) \
		--ignore=tests/browser -p no:cacheprovider

# Style, imports, docstrings (ruff) and types (mypy); configuration in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Builds the wheel, installs it into a fresh venv outside the repository and uses it from another directory:
# proves the installed package finds its own data (models, sample images) without this checkout.
wheel-test: $(STAMP)
	bash scripts/wheel_test.sh

# The real-browser test: installs Debian's chromium and the browser extra if missing, drives notebook 05.
browser-test: $(STAMP)
	bash scripts/browser_test.sh

# The course website (scripts/build_site.py): static pages of the committed notebooks (their stored outputs, nothing is
# run) with the start page as home, both editions, docs/*.md and docs/ja/*.md, into _site/ (ignored); readable offline.
# Installs the `site` extra (nbconvert, jupyter-server-mathjax) when missing. Its browser test is part of
# `make browser-test`.
.PHONY: site
site: $(STAMP)
	$(BIN)/python -c "import nbconvert, jupyter_server_mathjax" 2>/dev/null || $(BIN)/python -m pip install --quiet -e ".[site]"
	$(BIN)/python scripts/build_site.py _site

# A lab without internet (docs/offline.md): the folder to copy (wheels for every target, the notebooks, install.py),
# written to offline/; OFFLINE_TARGETS: this, linux (Linux x86-64, Python 3.11 and 3.12), all, or target names.
# offline-test builds it for this machine only, installs from it with --no-index, runs notebook 01 and gradcam-check.
.PHONY: offline-folder offline-test
OFFLINE_TARGETS ?= linux
offline-folder: $(STAMP)
	$(BIN)/python scripts/offline_folder.py --targets $(OFFLINE_TARGETS)

offline-test: $(STAMP)
	bash scripts/offline_test.sh

install: $(STAMP)

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf $(VENV)
