#!/usr/bin/env bash
# The offline test (`make offline-test`, run by .ci/run): a lab without internet, for real.
#   1. build the offline folder for THIS machine's platform only (scripts/offline_folder.py --targets this: the same
#      command and pip options as the lab build, one target to keep CI's time and disk low);
#   2. install the course from it with the folder's own install.py, as a lab computer would: the base Python, a
#      fresh HOME, no pip configuration, `pip install --no-index`, and, where `unshare -n` works (root on Linux), in
#      a network namespace of its own, which has no network interface up at all;
#   3. execute notebook 01 from that install (its copy in the install folder, with that venv's kernel: the test
#      checks the kernel's sys.prefix), outside the repository;
#   4. run that venv's gradcam-check (the pre-lab check).
# Prints the folder's size, the build and install times. Everything happens in one temporary folder, removed on exit.
# PYTHON (default .venv/bin/python) builds the folder; its base interpreter runs install.py.
set -Eeuo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
NOTEBOOK="01_why_interpretability.ipynb"
# shellcheck source=scripts/_steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/_steps.sh" "offline test" gradcam-offline-test

[[ -x "$PYTHON" ]] || { echo "offline test: no Python at $PYTHON; run \`make install\` or set PYTHON=..." >&2; exit 1; }
BASE_PYTHON="$("$PYTHON" -c 'import sys; print(sys._base_executable)')"

step "build the offline folder for this machine"
"$PYTHON" "$REPO/scripts/offline_folder.py" --targets this --dest "$TMP/offline" --weights none
done_step "build folder"
echo "folder size: $(du -sh "$TMP/offline" | cut -f1) (wheels $(du -sh "$TMP/offline/wheels" | cut -f1))"

# The lab computer: its own HOME and temporary folder, no pip settings, nothing of this checkout on the path.
mkdir "$TMP/home" "$TMP/tmp"
LAB_ENV=(env -u PYTHONPATH -u VIRTUAL_ENV -u GRADCAM_XCEPTION_WEIGHTS -u KERAS_HOME -u GRADCAM_LANG -u MPLBACKEND)
for var in $(compgen -e | grep -i '^pip_' || true); do LAB_ENV+=(-u "$var"); done
LAB_ENV+=(HOME="$TMP/home" TMPDIR="$TMP/tmp" TF_CPP_MIN_LOG_LEVEL=3)
NO_NETWORK=()
if unshare --net true 2>/dev/null; then
    NO_NETWORK=(unshare --net)
    echo "(the install runs with no network interface: unshare --net)"
else
    echo "(unshare --net is not available here: the install relies on pip --no-index alone)"
fi

step "install from the folder, no network"
(cd "$TMP/home" && "${LAB_ENV[@]}" "${NO_NETWORK[@]}" "$BASE_PYTHON" "$TMP/offline/install.py" --dir "$TMP/lab")
done_step "install"
VENV="$TMP/lab/.venv"
"${LAB_ENV[@]}" "$VENV/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -i '^gradcam-utils '

step "execute notebook ${NOTEBOOK%.ipynb} from the install"
# The venv's bin first on PATH: the kernelspec that ipykernel installs runs `python`, which must be the venv's.
(cd "$TMP/lab/notebooks" && "${LAB_ENV[@]}" PATH="$VENV/bin:$PATH" "$VENV/bin/python" - "$NOTEBOOK" "$VENV" \
    "$REPO/notebooks/$NOTEBOOK" <<'EOF'
import sys
from pathlib import Path

import nbclient
import nbformat

notebook, venv, committed = Path(sys.argv[1]), Path(sys.argv[2]).resolve(), Path(sys.argv[3])
nb = nbformat.read(notebook, as_version=4)
cells = len(nb.cells)
nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))  # whose kernel ran it?
# Raises CellExecutionError, with the cell and its traceback, on the first failing cell.
nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
prefix = Path(nb.cells[-1].outputs[0]["text"].strip()).resolve()
if prefix != venv:
    sys.exit(f"the notebook ran in {prefix}, expected the offline install's venv {venv}: check the python3 kernelspec")


def figures(cells):
    return sum("image/png" in o.get("data", {}) for c in cells if c.cell_type == "code" for o in c.outputs)


# The reference: the committed notebook's outputs, made by the repository's own environment (nbval checks them).
images, expected = figures(nb.cells[:cells]), figures(nbformat.read(committed, as_version=4).cells)
if images != expected or not expected:
    sys.exit(f"{notebook} drew {images} figures, the committed notebook {expected}: the offline install differs")
print(f"{notebook}: {cells} cells executed without error in the offline install's kernel, {images} figures")
EOF
)
done_step "notebook"

step "the pre-lab check of the offline install (gradcam-check)"
(cd "$TMP/lab" && "${LAB_ENV[@]}" "$VENV/bin/gradcam-check")
done_step "lab check"

steps_passed
