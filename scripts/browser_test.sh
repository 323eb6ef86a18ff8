#!/usr/bin/env bash
# The real-browser test of the course (tests/browser): installs what it needs, then runs it.
#
#   bash scripts/browser_test.sh [extra pytest arguments]
#
# 1. Chromium from Debian (`apt-get install chromium`, with sudo unless root) when it is missing. Playwright's
#    own browser download (`playwright install`) is never used.
#    A Japanese font (Debian's fonts-ipaexfont-gothic) when none is installed, for legible screenshots.
# 2. The project with its `test`, `browser` and `site` extras (pytest, playwright, nbconvert + MathJax for the course
#    website that tests/browser/test_site_in_browser.py builds) into .venv when they are missing.
# 3. pytest tests/browser. Screenshots and logs: $BROWSER_TEST_ARTIFACTS, default test-artifacts/browser/.
# Safe to run again: nothing is reinstalled when it is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
PY=$VENV/bin/python

say() { echo "browser_test: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "need root (or sudo) to run: $*"
    exit 1
  fi
}

chromium_present() {
  if [ -n "${GRADCAM_CHROMIUM:-}" ]; then
    [ -x "$GRADCAM_CHROMIUM" ]
  else
    command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]
  fi
}

if chromium_present; then
  say "chromium present: ${GRADCAM_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}"
else
  say "installing Debian's chromium"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

# A Japanese font for the screenshots of the Japanese edition (tests/browser/test_start_page_in_browser.py): the
# test reads the page's text, so it passes without one, but its pictures would show empty boxes. Debian's IPAex
# Gothic is the font the Japanese figures use. Best effort: a failed install is reported, not fatal.
if command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=ja)" ]; then
  say "a Japanese font is present"
else
  say "installing Debian's fonts-ipaexfont-gothic (legible screenshots of the Japanese edition)"
  if ! (as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    fonts-ipaexfont-gothic); then
    say "could not install fonts-ipaexfont-gothic: screenshots of Japanese pages will show empty boxes"
  fi
fi

if [ ! -x "$PY" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# The `site` extra (nbconvert, jupyter-server-mathjax): test_site_in_browser.py builds the course website itself.
if "$PY" -c "import gradcam_utils, jupyterlab, ipywidgets, pytest, playwright.sync_api, nbconvert, jupyter_server_mathjax" \
  >/dev/null 2>&1; then
  say "python packages present in $VENV"
else
  say "installing the project with its test, browser and site extras into $VENV"
  "$PY" -m pip install --quiet -e ".[test,browser,site]"
fi

# --confcutdir: tests/conftest.py (it imports TensorFlow for the unit tests) is not loaded; this test needs none of it.
exec "$PY" -m pytest tests/browser -p no:cacheprovider --confcutdir=tests/browser -v -rs "$@"
