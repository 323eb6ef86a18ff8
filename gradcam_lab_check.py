"""The pre-lab check: is this machine ready for the course? One command, one line per check, a fix for each failure.

    make check                      # creates .venv and installs if needed, then runs this
    gradcam-check                   # the same where the course is installed with pip (python -m gradcam_lab_check)

Checks, in order: the Python version; the installed packages against the versions the course pins; a Grad-CAM of
one picture with a shipped teaching model (TensorFlow imports, runs and gives a sensible map); the Japanese font of
the Japanese edition; JupyterLab's widget extension (without it the explorer of notebook 05 shows only text); the
free memory. Each failure says what was found and what to do. The exit status is 0 when every check passed, 1
otherwise, so a lab's set-up script can stop on it. Nothing is downloaded and nothing on the machine is changed.

Outside ``gradcam_utils`` on purpose, like ``gradcam_launcher``: importing the package imports TensorFlow, and a
broken TensorFlow (a CPU without the instructions its wheel needs dies with "Illegal instruction") is exactly what
this check must report rather than die of. So the checks that need the package run in a child Python process
(``--probe``), whose crash becomes one failed line here.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence

__all__ = ["Check", "main", "run_checks"]

#: The oldest Python the course supports (pyproject.toml's requires-python).
MIN_PYTHON = (3, 11)
#: The distribution whose pinned dependencies the install check compares.
DISTRIBUTION = "gradcam-utils"
#: Free memory a learner's machine needs: the largest notebook's kernel at its peak (about 2.0 GB, notebook 01;
#: benchmarks/notebook_resources.py, figures in benchmarks/README.md) plus JupyterLab (under 0.1 GB), with room to
#: spare for the browser tab.
NEEDED_MEMORY_GIB = 2.5
WIDGETS_EXTENSION = "@jupyter-widgets/jupyterlab-manager"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclasses.dataclass(frozen=True)
class Check:
    """One check's outcome: what was checked, whether it passed, what was found, and what to do if it failed."""

    name: str
    ok: bool
    found: str
    fix: str = ""


def check_python(version: Sequence[int] = tuple(sys.version_info[:3])) -> Check:
    """Python is at least ``MIN_PYTHON``."""
    shown = ".".join(map(str, version))
    if tuple(version[:2]) >= MIN_PYTHON:
        return Check("Python", True, f"Python {shown}")
    need = ".".join(map(str, MIN_PYTHON))
    return Check(
        "Python",
        False,
        f"Python {shown}; the course needs {need} or newer",
        f"install Python {need} or newer and run `make check PYTHON=python{need}` (or make a venv with it)",
    )


def pinned_requirements(distribution: str = DISTRIBUTION) -> dict[str, str]:
    """``{package: version}`` of the exact pins among the distribution's core dependencies (extras left out)."""
    pins = {}
    for requirement in importlib.metadata.requires(distribution) or []:
        if ";" in requirement:  # an extra ("pytest==9.2.0; extra == 'test'") or a platform marker
            continue
        name, _, version = requirement.partition("==")
        if version:
            pins[name.strip()] = version.strip()
    return pins


def check_install(
    pins: dict[str, str] | None = None, installed: Callable[[str], str] = importlib.metadata.version
) -> Check:
    """Every pinned package is installed at the pinned version (a different version may behave differently)."""
    try:
        pins = pinned_requirements() if pins is None else pins
    except importlib.metadata.PackageNotFoundError:
        return Check(
            "packages",
            False,
            f"{DISTRIBUTION} is not installed in this Python ({sys.executable})",
            "run `make install` in the course folder (or `pip install -e .` in its environment)",
        )
    wrong = []
    for name, version in pins.items():
        try:
            have = installed(name)
        except importlib.metadata.PackageNotFoundError:
            have = "missing"
        if have != version:
            wrong.append(f"{name} {have} (pinned {version})")
    if wrong:
        return Check(
            "packages",
            False,
            "; ".join(wrong),
            "reinstall the pinned versions: `make install` (or `pip install -e .`) in the course folder",
        )
    return Check("packages", True, f"{len(pins)} pinned packages at their pinned versions")


def check_gradcam() -> Check:
    """A Grad-CAM of one drawn circle with the shipped ``shapes_gap`` model: predicted right, finite, non-empty."""
    import numpy as np

    from gradcam_utils import engine, zoo
    from gradcam_utils.synthetic import make_shapes

    bundle = zoo.load_model("shapes_gap")
    picture = make_shapes(1, seed=0, classes=("circle",))
    result = engine.explain(bundle.model, bundle.preprocess(picture.images))
    predicted = bundle.class_names[int(result.class_indices[0])]
    heatmap = result.heatmaps[0]
    problems = []
    if predicted != "circle":
        problems.append(f"the circle was predicted as {predicted!r}")
    if not np.all(np.isfinite(heatmap)) or heatmap.max() != 1.0:
        problems.append(f"the map is not finite with a peak of 1 (max {float(np.nanmax(heatmap)):.3g})")
    if problems:
        return Check(
            "Grad-CAM",
            False,
            "; ".join(problems),
            "TensorFlow computes wrong numbers here: reinstall (`make install`) and report the output of "
            "`python -c 'import tensorflow as tf; print(tf.__version__, tf.sysconfig.get_build_info())'`",
        )
    return Check(
        "Grad-CAM", True, f"one picture explained, 'circle' predicted, map {heatmap.shape[0]}x{heatmap.shape[1]}"
    )


def widget_extension_found(listing: str) -> bool:
    """Whether ``jupyter labextension list``'s output shows the widget manager enabled and OK."""
    for line in _ANSI.sub("", listing).splitlines():
        if WIDGETS_EXTENSION in line:
            return "enabled" in line and "OK" in line
    return False


def check_widgets(run: Callable[[], str] | None = None) -> Check:
    """JupyterLab has the ipywidgets extension, so the explorer's controls show up."""
    if run is None:

        def run() -> str:
            done = subprocess.run(
                [sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True, timeout=120
            )
            return done.stdout + done.stderr

    if widget_extension_found(run()):
        return Check("widgets", True, f"JupyterLab's {WIDGETS_EXTENSION} is enabled")
    return Check(
        "widgets",
        False,
        f"JupyterLab does not list {WIDGETS_EXTENSION} as enabled and OK",
        "install ipywidgets into the same environment as JupyterLab (`make install`), then restart JupyterLab",
    )


def check_japanese_font() -> Check:
    """The Japanese edition's figure font (IPAexGothic from matplotlib-fontja) is found by matplotlib."""
    from matplotlib import font_manager

    from gradcam_utils import i18n

    try:
        __import__("matplotlib_fontja")  # registers the font with matplotlib
        path = font_manager.findfont(i18n.JAPANESE_FONT, fallback_to_default=False)
    except (ImportError, ValueError) as error:
        return Check(
            "Japanese font",
            False,
            f"{i18n.JAPANESE_FONT} not found ({error})",
            "reinstall the pinned packages (`make install`); the Japanese edition's figures need matplotlib-fontja",
        )
    return Check("Japanese font", True, f"{i18n.JAPANESE_FONT} ({path.rsplit('/', 1)[-1]})")


def available_memory_gib() -> float:
    """Memory available to new processes, in GiB (what the operating system could give without swapping)."""
    import psutil

    return psutil.virtual_memory().available / 2**30


def check_memory(available: float | None = None, needed: float = NEEDED_MEMORY_GIB) -> Check:
    """At least ``needed`` GiB are available now."""
    available = available_memory_gib() if available is None else available
    if available >= needed:
        return Check("memory", True, f"{available:.1f} GiB available (the course needs {needed:.1f})")
    return Check(
        "memory",
        False,
        f"{available:.1f} GiB available; the course needs {needed:.1f} GiB free",
        "close other programs (browsers with many tabs, other notebooks' kernels) and run the check again",
    )


def run_checks(checks: Iterable[Callable[[], Check]]) -> list[Check]:
    """Run each check; a check that raises fails with the error's message instead of stopping the others."""
    results = []
    for check in checks:
        try:
            results.append(check())
        except Exception as error:  # any failure of a check is a finding to report, not a crash
            name = getattr(check, "__name__", "check").removeprefix("check_").replace("_", " ")
            results.append(
                Check(name, False, f"{type(error).__name__}: {error}", "see the message; `make install` and retry")
            )
    return results


#: The checks that import gradcam_utils (and so TensorFlow): run in a child process by ``probed_checks``.
PROBED: tuple[tuple[str, Callable[[], Check]], ...] = (
    ("Grad-CAM", check_gradcam),
    ("Japanese font", check_japanese_font),
)
_PROBE_MARK = "lab-check-result "


def probe() -> None:
    """The child's side: run the PROBED checks, print each result as one marked JSON line."""
    for result in run_checks(check for _, check in PROBED):
        print(_PROBE_MARK + json.dumps(dataclasses.asdict(result)), flush=True)


def probed_checks(command: Sequence[str] | None = None, timeout: float = 600) -> list[Check]:
    """Run the PROBED checks in a child Python; a check the child could not report (it crashed) fails here."""
    command = [sys.executable, __file__, "--probe"] if command is None else command
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        output, status = done.stdout, done.returncode
        last = " ".join(done.stderr.strip().splitlines()[-2:])
    except subprocess.TimeoutExpired:
        output, status, last = "", None, f"no answer within {timeout:.0f} s"
    results = [
        Check(**json.loads(line[len(_PROBE_MARK) :])) for line in output.splitlines() if line.startswith(_PROBE_MARK)
    ]
    how = f"it was killed by signal {-status}" if status is not None and status < 0 else f"exit status {status}"
    for name, _ in PROBED[len(results) :]:
        results.append(
            Check(
                name,
                False,
                f"the Python that imports TensorFlow stopped before this check ({how}; {last or 'no message'})",
                "TensorFlow cannot run in this installation: reinstall (`make install`); 'Illegal instruction' means "
                "this CPU lacks what TensorFlow's wheel needs (AVX): use another machine or the class server",
            )
        )
    return results


def report(results: Sequence[Check]) -> str:
    """The lines printed: one per check, the fix under each failure, and a last line that says what it means."""
    lines = []
    for result in results:
        lines.append(f"[{' ok ' if result.ok else 'FAIL'}] {result.name}: {result.found}")
        if not result.ok:
            lines.append(f"       fix: {result.fix}")
    failed = sum(not result.ok for result in results)
    lines.append(
        f"All {len(results)} checks passed: this machine is ready for the course."
        if not failed
        else f"{failed} of {len(results)} checks failed: fix them (see 'fix:' above) and run the check again."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every check, print the report, return the exit status (0: all passed)."""
    parser = argparse.ArgumentParser(prog="gradcam-check", description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--memory-gib",
        type=float,
        default=NEEDED_MEMORY_GIB,
        help=f"free memory required, in GiB (default {NEEDED_MEMORY_GIB})",
    )
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)  # the child process's side
    args = parser.parse_args(argv)
    if args.probe:
        probe()
        return 0

    def check_free_memory() -> Check:
        return check_memory(needed=args.memory_gib)

    results = run_checks([check_python, check_install])
    results += probed_checks()
    results += run_checks([check_widgets, check_free_memory])
    print(report(results))
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
