#!/usr/bin/env bash
# The wheel test (`make wheel-test`): proves that the installed package finds its own data (teaching models, sample
# images) without this checkout.
#   1. build the wheel from a clean copy of the working tree (tracked and new files, none that git ignores: a stale
#      build/ or egg-info folder here cannot leak into the wheel);
#   2. check the wheel's file list: the course's data is in it, no __pycache__ or test files are;
#   3. create a fresh venv outside the repository and install the wheel there, with its dependencies from the
#      package index (fast after `make install`: pip's cache has them);
#   4. from another temporary folder, run tests/wheel/smoke_installed.py with that venv's python: every registered
#      model loads (Xception: the library's clear error), the explorer's controller computes a map on a packaged
#      sample, and the venv's `gradcam explain` writes its outputs for a folder;
#   5. run the venv's `gradcam-check` (the pre-lab check) from that folder: it must pass, as on a student's machine.
# Everything happens in one temporary folder, removed on exit. PYTHON (default .venv/bin/python) builds the wheel,
# and its base interpreter makes the fresh venv.
set -Eeuo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
# shellcheck source=scripts/_steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/_steps.sh" "wheel test" gradcam-wheel-test

[[ -x "$PYTHON" ]] || { echo "wheel test: no Python at $PYTHON; run \`make install\` or set PYTHON=..." >&2; exit 1; }

step "copy the working tree"
mkdir "$TMP/src"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' file; do if [[ -f "$file" ]]; then printf '%s\0' "$file"; fi; done \
    | xargs -0 cp --parents -t "$TMP/src")
done_step "copy"

step "build the wheel"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$TMP/dist" "$TMP/src"
WHEELS=("$TMP"/dist/gradcam_utils-*.whl)
if [[ ${#WHEELS[@]} -ne 1 || ! -f "${WHEELS[0]}" ]]; then
    echo "expected one gradcam_utils wheel, got: ${WHEELS[*]}" >&2
    false
fi
WHEEL="${WHEELS[0]}"
done_step "build"

step "check the wheel's files"
"$PYTHON" - "$WHEEL" "$TMP/src" <<'EOF'
import sys
import zipfile
from pathlib import Path

wheel, source = Path(sys.argv[1]), Path(sys.argv[2])
names = [n for n in zipfile.ZipFile(wheel).namelist() if not n.endswith("/")]
package = [n for n in names if not n.startswith("gradcam_utils-")]  # leave out the .dist-info folder
data = sorted(n for n in package if n.startswith("gradcam_utils/data/"))
# Exactly the data files git knows (the copy holds no others), nothing compiled, nothing outside the package.
expected = sorted(str(p.relative_to(source)) for p in (source / "gradcam_utils" / "data").rglob("*") if p.is_file())
outside = {"gradcam_launcher.py", "gradcam_lab_check.py"}  # commands' entry points, outside the package on purpose
stray = [n for n in package if "__pycache__" in n or n.endswith(".pyc") or not (n.startswith("gradcam_utils/") or n in outside)]
problems = []
if data != expected:
    problems.append(f"data files: missing {sorted(set(expected) - set(data))}, "
                    f"unexpected {sorted(set(data) - set(expected))}")
if stray:
    problems.append(f"stray files: {stray}")
if not outside <= set(package):
    problems.append(f"{sorted(outside - set(package))} missing ([tool.setuptools] py-modules)")
if "gradcam_utils/cli/index.html" not in package:
    problems.append("gradcam_utils/cli/index.html (the page template of `gradcam explain`) is missing")
if problems:
    sys.exit(f"{wheel.name}: " + "; ".join(problems) + ". Fix [tool.setuptools.package-data] in pyproject.toml.")
print(f"{wheel.name}: {len(package)} files, of which {len(data)} data files: {', '.join(Path(n).name for n in data)}")
EOF
done_step "check files"

step "create a fresh venv outside the repository"
"$PYTHON" -m venv "$TMP/venv"
done_step "venv"

step "install the wheel with its dependencies"
"$TMP/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$WHEEL"
done_step "install"

step "smoke test the installed package from another folder"
mkdir "$TMP/elsewhere" "$TMP/tmp"
cp "$REPO/tests/wheel/smoke_installed.py" "$TMP/elsewhere/"
# Empty caches and no Xception weights: the run depends on nothing this machine happens to have.
(cd "$TMP/elsewhere" && env -u PYTHONPATH -u GRADCAM_XCEPTION_WEIGHTS TMPDIR="$TMP/tmp" MPLBACKEND=Agg \
    GRADCAM_UTILS_CACHE="$TMP/cache" KERAS_HOME="$TMP/keras" TF_CPP_MIN_LOG_LEVEL=3 \
    "$TMP/venv/bin/python" smoke_installed.py "$TMP/venv" "$REPO")
done_step "smoke"

step "the pre-lab check of the installed course (gradcam-check)"
(cd "$TMP/elsewhere" && env -u PYTHONPATH TMPDIR="$TMP/tmp" MPLBACKEND=Agg GRADCAM_UTILS_CACHE="$TMP/cache" \
    KERAS_HOME="$TMP/keras" TF_CPP_MIN_LOG_LEVEL=3 "$TMP/venv/bin/gradcam-check")
done_step "lab check"

steps_passed
