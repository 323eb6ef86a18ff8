"""Prepare the offline folder (`make offline-folder`): everything a lab without internet needs to install the course.

Run on a connected machine; copy the folder to the lab (USB stick, shared drive). It holds:

    wheels/        the project's own wheel and a wheel of every dependency of the course (pyproject.toml's core
                   dependencies and what they need; not the test extra), for each target platform
    notebooks/     the course: both editions' notebooks, their solutions, the glossary, what the notebooks link to
    weights/       the Xception ImageNet weights, only if this machine has them (never downloaded here)
    install.py     the lab's one command: `python install.py` (no network; see scripts/offline_install.py)
    README.md      what to do in the lab
    manifest.json  the targets, the files each one needs and their sizes; install.py reads it

Usage:
    python scripts/offline_folder.py                          # Linux x86-64, Python 3.11 and 3.12 -> offline/
    python scripts/offline_folder.py --targets this           # only this machine's platform (CI)
    python scripts/offline_folder.py --targets all --dest /media/usb/gradcam-offline
    python scripts/offline_folder.py --list-targets

Wheels come from the package index through `pip download --only-binary=:all: --platform ... --python-version ...
--implementation cp --abi ...`, one call per target into one shared wheels/ folder, so the pure-Python wheels are
stored once and pip's cache serves the large ones again on a rebuild. Only wheels: a lab machine has no compiler.
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
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WEIGHTS_FILE = "xception_weights_tf_dim_ordering_tf_kernels.h5"  # gradcam_utils/xception.py (not imported: no TF)
WEIGHTS_MD5 = "0a58e3b7378bc2990ea3b43d5981f1f6"
# Old enough for the lab machines, new enough for TensorFlow's and NumPy's wheels: pip does not widen a given
# manylinux tag to the older ones, so every glibc level a wheel may be tagged with is listed.
_MANYLINUX = [f"manylinux_2_{minor}" for minor in range(28, 16, -1)] + ["manylinux2014"]


@dataclass(frozen=True)
class Target:
    """One platform and Python version the folder can install on."""

    name: str
    python: str  # "3.11"
    platforms: tuple[str, ...]  # pip's --platform values
    machine: str  # what platform.machine() and sys.platform say on such a computer, to recognise "this"
    system: str

    def pip_options(self) -> list[str]:
        """The `pip download` options that select this target's wheels."""
        abi = "cp" + self.python.replace(".", "")
        options = ["--python-version", self.python, "--implementation", "cp", "--abi", abi]
        for tag in self.platforms:
            options += ["--platform", tag]
        return options


def _targets() -> dict[str, Target]:
    targets = {}
    for python in ("3.11", "3.12"):
        linux = tuple(f"{tag}_x86_64" for tag in _MANYLINUX)
        for target in (
            Target(f"linux-x86_64-py{python}", python, linux, "x86_64", "linux"),
            # macOS 12 is TensorFlow's oldest; pip widens a macosx tag to the older versions and universal2 itself.
            Target(f"macos-arm64-py{python}", python, ("macosx_12_0_arm64",), "arm64", "darwin"),
            Target(f"windows-x86_64-py{python}", python, ("win_amd64",), "AMD64", "win32"),
        ):
            targets[target.name] = target
    return targets


TARGETS = _targets()
GROUPS = {
    # The platforms this project installs and tests on (CI installs linux-x86_64-py3.11 from the folder).
    "linux": ["linux-x86_64-py3.11", "linux-x86_64-py3.12"],
    "all": list(TARGETS),
}


def this_target() -> str:
    """The target of the running Python on this computer, or a SystemExit that lists the known ones."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    for target in TARGETS.values():
        if target.python == python and target.system == sys.platform and target.machine == platform.machine():
            return target.name
    sys.exit(
        f"offline folder: this computer (Python {python}, {sys.platform}, {platform.machine()}) is none of the known "
        f"targets ({', '.join(TARGETS)}); name the targets the lab needs with --targets."
    )


def parse_targets(spec: str) -> list[str]:
    """Expand "this", "linux", "all" or a comma-separated list of target names; unknown names stop with the list."""
    names: list[str] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if part == "this":
            expanded = [this_target()]
        elif part in GROUPS:
            expanded = GROUPS[part]
        elif part in TARGETS:
            expanded = [part]
        else:
            sys.exit(
                f"offline folder: unknown target {part!r}; expected 'this', a group ({', '.join(GROUPS)}) or "
                f"target names ({', '.join(TARGETS)}), comma-separated."
            )
        names += [n for n in expanded if n not in names]
    if not names:
        sys.exit("offline folder: --targets is empty; expected e.g. 'linux' or 'this'.")
    return names


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command, echoing it; stop with its output when it fails."""
    print("  $", " ".join(str(c) for c in command), flush=True)
    result = subprocess.run(command, text=True, capture_output=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"offline folder: this command failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def tree_files(top: str) -> list[str]:
    """Files under `top` that git tracks or would track (new, not ignored): what a clean checkout has."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", top],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(f for f in listing.split("\0") if f and (REPO / f).is_file())


def build_project_wheel(python: str, dest: Path) -> Path:
    """Build gradcam-utils' wheel from a clean copy of the working tree (as scripts/wheel_test.sh does)."""
    with tempfile.TemporaryDirectory(prefix="gradcam-offline-src.") as tmp:
        source = Path(tmp) / "src"
        for name in tree_files("."):
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
        run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(Path(tmp) / "dist"), str(source)])
        built = list((Path(tmp) / "dist").glob("gradcam_utils-*.whl"))
        if len(built) != 1:
            sys.exit(f"offline folder: expected one gradcam_utils wheel, got {built}")
        return Path(shutil.copy2(built[0], dest / built[0].name))


def download(python: str, wheel: Path, target: Target, wheels: Path) -> list[str]:
    """Download the wheels `target` needs to install `wheel` into `wheels`; return their file names.

    pip downloads into a folder of the target's own, so that its listing is exactly the target's files (pip's cache
    serves the wheels that another target already fetched), then the files move to the shared folder.
    """
    own = wheels.parent / f".download-{target.name}"
    shutil.rmtree(own, ignore_errors=True)
    run(
        [python, "-m", "pip", "download", "--only-binary=:all:", "--progress-bar", "off", "--dest", str(own)]
        + target.pip_options()
        + [str(wheel)]
    )
    names = sorted(p.name for p in own.glob("*.whl") if p.name != wheel.name)
    if not names:
        sys.exit(f"offline folder: pip downloaded no wheel for {target.name} into {own}")
    for name in names:
        os.replace(own / name, wheels / name)
    shutil.rmtree(own)
    return names


def find_weights(explicit: str | None) -> Path | None:
    """The Xception weights on this machine (--weights, GRADCAM_XCEPTION_WEIGHTS, Keras' cache), checked by MD5."""
    if explicit == "none":
        return None
    candidates = [Path(explicit)] if explicit else []
    if not explicit:
        if os.environ.get("GRADCAM_XCEPTION_WEIGHTS"):
            candidates.append(Path(os.environ["GRADCAM_XCEPTION_WEIGHTS"]))
        candidates.append(Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models" / WEIGHTS_FILE)
    for path in candidates:
        if path.is_file():
            md5 = hashlib.md5(path.read_bytes()).hexdigest()
            if md5 == WEIGHTS_MD5:
                return path
            message = f"{path} is not the Xception ImageNet weights file (MD5 {md5}, expected {WEIGHTS_MD5})"
            if explicit:
                sys.exit(f"offline folder: {message}; give the right file or --weights none.")
            print(f"  (skipped: {message})")
        elif explicit:
            sys.exit(f"offline folder: --weights {explicit}: no such file; give the .h5 file or --weights none.")
    return None


def mib(size: int) -> str:
    """A size in MiB, one decimal."""
    return f"{size / 2**20:.1f} MiB"


def main(argv: list[str] | None = None) -> None:
    """Command line: build the folder, print where the time went and how big each target is."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", default=str(REPO / "offline"), help="the folder to write (default: offline/)")
    parser.add_argument(
        "--targets",
        default="linux",
        help="'this', 'linux' (default: Linux x86-64, Python 3.11 and 3.12), 'all', or target names, comma-separated",
    )
    parser.add_argument(
        "--weights",
        default=None,
        help="the Xception .h5 to include (default: GRADCAM_XCEPTION_WEIGHTS or Keras' cache if present; 'none')",
    )
    parser.add_argument("--python", default=sys.executable, help="the Python whose pip downloads and builds")
    parser.add_argument("--list-targets", action="store_true", help="print the known targets and groups, then stop")
    args = parser.parse_args(argv)
    if args.list_targets:
        for name, target in TARGETS.items():
            more = " ..." if len(target.platforms) > 2 else ""
            print(f"{name:24} pip --platform {' '.join(target.platforms[:2])}{more}")
        for group, members in GROUPS.items():
            print(f"{group:24} = {', '.join(members)}")
        return
    targets = parse_targets(args.targets)
    dest = Path(args.dest).resolve()
    if dest == REPO or dest in REPO.parents:
        sys.exit(f"offline folder: --dest {dest} would replace the repository; name a folder of its own.")
    started = time.monotonic()
    timings: dict[str, float] = {}

    # A rebuild keeps wheels/ (pip skips files already there) but drops wheels no target needs any more.
    wheels = dest / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    for stale in ("notebooks", "weights"):
        shutil.rmtree(dest / stale, ignore_errors=True)
    for old in wheels.glob("gradcam_utils-*.whl"):
        old.unlink()

    print(f"== the project's wheel -> {wheels}")
    step = time.monotonic()
    wheel = build_project_wheel(args.python, wheels)
    timings["project wheel"] = time.monotonic() - step

    manifest_targets: dict[str, dict[str, Any]] = {}
    for name in targets:
        print(f"== the wheels for {name}")
        step = time.monotonic()
        files = download(args.python, wheel, TARGETS[name], wheels)
        timings[f"download {name}"] = time.monotonic() - step
        size = sum((wheels / f).stat().st_size for f in files) + wheel.stat().st_size
        manifest_targets[name] = {"python": TARGETS[name].python, "files": files, "bytes": size}
        print(f"   {len(files)} wheels, {mib(size)} with the project's wheel")
    needed = {wheel.name} | {f for t in manifest_targets.values() for f in t["files"]}
    for extra in sorted(p for p in wheels.iterdir() if p.name not in needed):
        print(f"   removed {extra.name} (no target needs it)")
        extra.unlink()

    print("== the course's notebooks")
    for name in tree_files("notebooks"):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)

    weights = find_weights(args.weights)
    if weights:
        print(f"== the Xception weights from {weights}")
        (dest / "weights").mkdir()
        shutil.copy2(weights, dest / "weights" / WEIGHTS_FILE)
    else:
        print("== no Xception weights included (none found, or --weights none): notebook 03 says how to add them")

    shutil.copy2(REPO / "scripts" / "offline_install.py", dest / "install.py")
    shutil.copy2(REPO / "scripts" / "offline_README.md", dest / "README.md")
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    manifest = {
        "project": "gradcam-utils",
        "version": version,
        "project_wheel": wheel.name,
        "targets": manifest_targets,
        "weights": f"weights/{WEIGHTS_FILE}" if weights else None,
        "weights_md5": WEIGHTS_MD5,
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    timings["total"] = time.monotonic() - started

    total = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print("== done")
    for what, seconds in timings.items():
        print(f"   {what:36} {seconds:6.0f} s")
    for name, info in manifest_targets.items():
        print(f"   {name:36} {mib(info['bytes']):>12} ({len(info['files']) + 1} wheels)")
    print(f"   {'the whole folder':36} {mib(total):>12}  {dest}")
    print(f"In the lab: copy the folder, then `python {dest.name}/install.py` (see {dest.name}/README.md).")


if __name__ == "__main__":
    main()
