"""Smoke test of an installed wheel, run by scripts/wheel_test.sh with a fresh venv's python, from a temporary folder.

Not a pytest module (its name does not start with ``test_``): it needs a wheel installed outside the repository, which
scripts/wheel_test.sh (``make wheel-test``) builds and installs first. It checks that the installed package, not a
checkout, finds its own data:

* ``gradcam_utils`` and its data folder are imported from the fresh venv, not from the repository;
* every registered model loads; the ones that need weights this machine does not have (Xception) raise the library's
  ``WeightsUnavailableError``;
* the explorer's controller (no browser) selects a packaged sample and computes a map;
* the venv's ``gradcam`` command explains a folder of two packaged samples and writes its outputs.

Usage: python smoke_installed.py VENV REPO (the fresh venv's folder, and the repository the wheel was built from).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Registered models that need files this machine is not expected to have; each must fail with the library's error.
NEEDS_DOWNLOAD = {"xception"}
CAT_CLASSES = {281, 282, 285}  # tabby, tiger cat, Egyptian cat


def check(condition: bool, message: str) -> None:
    """Fail with ``message`` (assert would vanish under python -O)."""
    if not condition:
        raise AssertionError(message)


def is_inside(path: Path, folder: Path) -> bool:
    """True when ``path`` lies in ``folder`` (both resolved)."""
    return path.resolve().is_relative_to(folder.resolve())


def check_installed_location(venv: Path, repo: Path) -> None:
    """The package and its data come from the fresh venv's site-packages, not from the repository."""
    import gradcam_utils
    from gradcam_utils import course

    package = Path(gradcam_utils.__file__)
    check(is_inside(package, venv), f"gradcam_utils was imported from {package}, not from the fresh venv {venv}")
    check(not is_inside(package, repo), f"gradcam_utils was imported from the repository ({package})")
    check(
        is_inside(course.DATA_DIR, venv) and not is_inside(course.DATA_DIR, repo),
        f"course.DATA_DIR is {course.DATA_DIR}, not inside the fresh venv {venv}",
    )
    samples = course.sample_images()
    check(
        {"cat.png", "espresso.png"} <= set(samples),
        f"the packaged samples are {samples}; cat.png and espresso.png "
        "are missing: check [tool.setuptools.package-data] in pyproject.toml",
    )
    check((course.SAMPLES_DIR / "SOURCES.md").is_file(), "SOURCES.md (the samples' licences) is not in the wheel")
    print(f"installed at {package.parent}; samples: {', '.join(samples)}")


def check_every_model_loads() -> None:
    """Each registered model loads and gives logits of the right shape; Xception raises the library's error."""
    import numpy as np

    import gradcam_utils as gc
    from gradcam_utils.errors import WeightsUnavailableError

    names = gc.available_models()
    check(NEEDS_DOWNLOAD <= set(names), f"expected {sorted(NEEDS_DOWNLOAD)} among the registered models {names}")
    check(any(n.startswith("shapes_") for n in names), f"no teaching model (shapes_*) is registered: {names}")
    for name in names:
        started = time.perf_counter()
        if name in NEEDS_DOWNLOAD:
            # An empty cache and no download: the weights are certainly not here, whatever this machine has.
            try:
                gc.load_model(name, download=False, cache_dir=tempfile.mkdtemp())
            except WeightsUnavailableError as err:
                print(f"{name}: WeightsUnavailableError as expected ({str(err).splitlines()[0][:80]}...)")
                continue
            raise AssertionError(f"{name} loaded without its weights; expected WeightsUnavailableError")
        bundle = gc.load_model(name)
        height, width = bundle.input_size
        logits = bundle.predict(np.zeros((1, height, width, 3), np.uint8))
        # A segmenter scores every pixel: (1, H, W, classes); a classifier or a multi-label model the whole image.
        expected = (1, height, width) if bundle.task == "segmentation" else (1,)
        expected += (len(bundle.class_names),)
        check(
            logits.shape == expected and np.isfinite(logits).all(),
            f"{name} ({bundle.task}): logits of shape {logits.shape} (finite: {np.isfinite(logits).all()}), "
            f"expected {expected}",
        )
        print(
            f"{name}: loaded, input {bundle.input_size}, {len(bundle.class_names)} classes "
            f"({time.perf_counter() - started:.1f} s)"
        )


def check_explorer() -> None:
    """The explorer's controller picks a packaged sample and computes a map for it."""
    import numpy as np

    from gradcam_utils.explorer import Explorer

    explorer = Explorer("efficientnet_lite0", "espresso")
    check("cat" in explorer.image_options(), f"the explorer offers {explorer.image_options()}, without 'cat'")
    check(explorer.select_image("cat"), f"select_image('cat') failed: {explorer.error}")
    heatmap = explorer.heatmap()
    check(explorer.state.image == "cat", f"the explorer shows {explorer.state.image!r}, not 'cat'")
    check(
        heatmap.shape == (7, 7),
        f"the map has shape {heatmap.shape}, expected (7, 7) (EfficientNet-Lite0's last conv layer)",
    )
    check(
        bool(np.isfinite(heatmap).all()) and float(np.ptp(heatmap)) > 0,
        f"the map is not finite or is constant: {heatmap}",
    )
    check(
        explorer.top_class in CAT_CLASSES,
        f"top class {explorer.top_class} on the cat, expected one of {sorted(CAT_CLASSES)}",
    )
    print(
        f"explorer: 'cat' -> class {explorer.top_class}, map {heatmap.shape} in [{heatmap.min():.2f}, "
        f"{heatmap.max():.2f}]"
    )


def check_command(venv: Path) -> None:
    """``gradcam explain`` on a folder of two packaged samples writes overlays, a sheet, CSV, JSON and a page."""
    from gradcam_utils import course

    gradcam = venv / "bin" / "gradcam"
    check(gradcam.is_file(), f"the wheel did not install the gradcam command at {gradcam}")
    work = Path(tempfile.mkdtemp(dir="."))
    photos = work / "photos"
    photos.mkdir()
    for name in ("cat.png", "espresso.png"):
        shutil.copy(course.sample_image_path(name), photos / name)
    out = work / "out"
    run = subprocess.run([str(gradcam), "explain", str(photos), "--out", str(out)], capture_output=True, text=True)
    check(run.returncode == 0, f"gradcam explain exited with {run.returncode}:\n{run.stdout}\n{run.stderr}")
    expected = [
        "overlays/cat.png",
        "overlays/espresso.png",
        "contact_sheet.png",
        "results.csv",
        "results.json",
        "index.html",
    ]
    missing = [name for name in expected if not (out / name).is_file() or (out / name).stat().st_size == 0]
    check(not missing, f"gradcam explain did not write (or wrote empty) {missing} under {out}")
    results = json.loads((out / "results.json").read_text())
    explained = {Path(entry["source"]).name: entry["class_index"] for entry in results["images"]}
    check(set(explained) == {"cat.png", "espresso.png"}, f"results.json explains {sorted(explained)}")
    check(explained["cat.png"] in CAT_CLASSES, f"the cat was explained as class {explained['cat.png']}")
    print(f"gradcam explain: {(run.stdout + run.stderr).strip().splitlines()[0]}")


def main(argv: list[str]) -> int:
    """Run every check; the first failure raises with a message saying what was expected."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    venv, repo = Path(argv[0]), Path(argv[1])
    check(not is_inside(Path.cwd(), repo), f"run this from outside the repository (the working directory is {repo})")
    check(os.environ.get("PYTHONPATH") is None, "PYTHONPATH is set: the installed package must be found alone")
    for step in (
        lambda: check_installed_location(venv, repo),
        check_every_model_loads,
        check_explorer,
        lambda: check_command(venv),
    ):
        step()
    print("smoke test of the installed wheel: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
