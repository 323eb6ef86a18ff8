"""Install the Grad-CAM course from this folder, with no network: the lab's one command.

    python install.py                  # install into ~/gradcam-course (a venv, the notebooks, the weights if here)
    python install.py --start          # the same, then open the course in JupyterLab
    python install.py --check          # the same, then the pre-lab check (gradcam-check)
    python install.py --dir D:/course  # somewhere else

Only Python (3.11 or 3.12, as built) is needed. The folder may be read-only (a USB stick, a shared drive): the course
is installed into --dir. Steps: create --dir/.venv; `pip install --no-index --find-links wheels gradcam-utils` with
every pip configuration file and PIP_* variable of this machine left out, so nothing but this folder is used; copy
the notebooks into --dir/notebooks (files already there are kept: a learner's work is never overwritten); copy the
Xception weights, if this folder has them, into Keras' cache where the course looks for them. Running it again is
fast: a venv installed from this same folder is kept (one from another build of the folder is replaced). Written by
scripts/offline_folder.py (`make offline-folder`), which copies this file into the folder as install.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
SUPPORTED = ((3, 11), (3, 12))


def fail(message: str) -> None:
    """Stop with a message that says what is wrong and what to do."""
    sys.exit(f"install.py: {message}")


def this_target() -> str:
    """This computer's target name, as scripts/offline_folder.py names them (e.g. linux-x86_64-py3.11)."""
    system = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    machine = {"AMD64": "x86_64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return f"{system}-{machine}-py{sys.version_info.major}.{sys.version_info.minor}"


def venv_bin(venv: Path, name: str) -> Path:
    """A program of the venv (bin/ on Linux and macOS, Scripts/ and .exe on Windows)."""
    if sys.platform == "win32":
        return venv / "Scripts" / f"{name}.exe"
    return venv / "bin" / name


def clean_env() -> dict[str, str]:
    """This environment without any pip setting: no configuration file, no index, no extra find-links."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # pip then reads no configuration file at all
    return env


def install(manifest: dict, course: Path) -> Path:
    """Create the venv and install the project's wheel and its dependencies from wheels/; return the venv."""
    venv = course / ".venv"
    stamp = venv / "gradcam-offline-installed.json"
    fingerprint = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    if stamp.is_file() and stamp.read_text().strip() == fingerprint and venv_bin(venv, "python").exists():
        print(f"== already installed from this folder: {venv}")
        return venv
    if venv.exists():
        # Installed from another build of the folder: a fresh venv, so that a rebuilt wheel of the same version is
        # not skipped as "already satisfied". Only a venv is removed (the notebooks are outside it).
        if not (venv / "pyvenv.cfg").is_file():
            fail(f"{venv} exists and is not a virtual environment; move it away or choose another --dir.")
        print(f"== replacing {venv} (installed from another build of the folder)")
        shutil.rmtree(venv)
    print(f"== creating the virtual environment {venv}")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print("== installing from the folder's wheels, no network (a minute or two)")
    started = time.monotonic()
    command = [
        str(venv_bin(venv, "python")),
        "-m",
        "pip",
        "install",
        "--no-index",
        "--find-links",
        str(FOLDER / "wheels"),
        "--disable-pip-version-check",
        "--no-cache-dir",
        "--quiet",
        f"{manifest['project']}=={manifest['version']}",
    ]
    result = subprocess.run(command, env=clean_env())
    if result.returncode != 0:
        fail(
            f"pip could not install from {FOLDER / 'wheels'} (exit {result.returncode}, its message is above). "
            "A wheel is missing or damaged: rebuild the folder on a connected machine (`make offline-folder`) "
            "and copy it again."
        )
    print(f"   installed in {time.monotonic() - started:.0f} s")
    stamp.write_text(fingerprint + "\n")
    return venv


def copy_notebooks(course: Path) -> None:
    """Copy the course's notebooks into course/notebooks, keeping every file that is already there."""
    source = FOLDER / "notebooks"
    copied = kept = 0
    for path in sorted(source.rglob("*")):
        if path.is_file():
            target = course / "notebooks" / path.relative_to(source)
            if target.exists():
                kept += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            copied += 1
    print(f"== notebooks: {copied} files copied to {course / 'notebooks'}, {kept} already there kept")


def copy_weights(manifest: dict) -> None:
    """Copy the Xception weights (if the folder has them) into Keras' cache, where gradcam_utils looks for them."""
    if not manifest.get("weights"):
        print("== no Xception weights in this folder: notebook 03's Xception cells will say how to add them")
        return
    source = FOLDER / manifest["weights"]
    cache = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"
    target = cache / source.name
    if target.is_file() and hashlib.md5(target.read_bytes()).hexdigest() == manifest["weights_md5"]:
        print(f"== the Xception weights are already in {cache}")
        return
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    print(f"== the Xception weights copied to {target}")


def main(argv: list[str] | None = None) -> None:
    """Command line: install, then optionally check the machine or start the course."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=str(Path.home() / "gradcam-course"), help="where to install the course")
    parser.add_argument("--check", action="store_true", help="then run the pre-lab check (gradcam-check)")
    parser.add_argument("--start", action="store_true", help="then open the course in JupyterLab")
    args = parser.parse_args(argv)

    if sys.version_info[:2] not in SUPPORTED:
        versions = " or ".join(f"{major}.{minor}" for major, minor in SUPPORTED)
        fail(
            f"this is Python {platform.python_version()}; this folder needs Python {versions}: run install.py with "
            f"one of those (e.g. `python3.11 install.py`, on Windows `py -3.11 install.py`)."
        )
    manifest_path = FOLDER / "manifest.json"
    if not manifest_path.is_file():
        fail(f"{manifest_path} is missing: this is not a complete offline folder; copy the whole folder again.")
    manifest = json.loads(manifest_path.read_text())
    target = this_target()
    if target not in manifest["targets"]:
        fail(
            f"this folder has no wheels for this computer ({target}); it was built for "
            f"{', '.join(manifest['targets'])}. Use a Python of one of those, or rebuild the folder on a connected "
            f"machine with `python scripts/offline_folder.py --targets {target}` (or --targets all)."
        )
    course = Path(args.dir).expanduser().resolve()
    course.mkdir(parents=True, exist_ok=True)
    venv = install(manifest, course)
    copy_notebooks(course)
    copy_weights(manifest)

    jupyter = [str(venv_bin(venv, "jupyter")), "lab", str(course / "notebooks" / "start_here.ipynb")]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        jupyter.append("--allow-root")  # Jupyter refuses root unless told; lab machines and containers often are
    if args.check:
        print("== the pre-lab check")
        code = subprocess.run([str(venv_bin(venv, "gradcam-check"))]).returncode
        if code != 0:
            fail("the pre-lab check found a problem (the lines above say which, and what to do).")
    print(f"Installed. Start the course with:\n    {' '.join(jupyter)}")
    if args.start:
        os.chdir(course / "notebooks")
        sys.exit(subprocess.run(jupyter).returncode)


if __name__ == "__main__":
    main()
