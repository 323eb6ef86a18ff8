"""Where the course's data lives: inside the package, so an installed wheel finds it as a checkout does.

The notebooks compute every number they state on models that ship with the course or inside a package (the shapes
models, the embedded EfficientNet-Lite0), so their committed outputs are what any learner sees, with no setting to
make. The article's Xception appears in notebook 03 as an architecture, and as a trained network only on a machine
that has its weights (that cell's output is not compared).

The data sits in ``gradcam_utils/data`` (``images/``: the sample photos and their ``SOURCES.md``; ``models/``: the
teaching models and the ``metrics.json`` their training script measured), found with ``importlib.resources`` rather
than from the working directory, which differs between notebooks/, a script and an installed package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ImageNotFoundError

#: Suffixes of the sample photos (what :func:`sample_images` lists).
SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _data_dir() -> Path:
    """The package's data folder as a real path on disk."""
    data = resources.files("gradcam_utils") / "data"
    # Keras and Pillow open real files by name, so the data must be a folder on disk. A package imported from a zip
    # archive (zipimport, a zipped wheel) would hand back a zipfile.Path, which they cannot open: not supported.
    if not isinstance(data, Path):
        raise RuntimeError(
            f"gradcam_utils was imported from an archive ({data!r}), so its data (the teaching models "
            "and sample images) is not a folder on disk, which Keras needs. Install the package "
            "normally (pip install, which unpacks it) instead of importing it from a zip file."
        )
    return data


#: The course's data folder, inside the package: ``images/`` (sample photos) and ``models/`` (teaching models).
DATA_DIR = _data_dir()
#: The sample photos (and their SOURCES.md).
SAMPLES_DIR = DATA_DIR / "images"
#: The course's teaching models (``shapes_*.keras``) and ``metrics.json``.
MODELS_DIR = DATA_DIR / "models"


def sample_images() -> list[str]:
    """The file names of the sample photos that ship with the package, sorted (what :func:`sample_image_path` takes).

    Returns:
        Names such as ``"cat.png"``.
    """
    return sorted(p.name for p in SAMPLES_DIR.iterdir() if p.suffix.lower() in SAMPLE_SUFFIXES and p.is_file())


def sample_image_path(name: str) -> Path:
    """The path of a sample photo that ships with the package, e.g. ``sample_image_path("cat.png")``.

    It works from any working directory and in an installed package; pass the path wherever a photo file's path
    goes (``load_image``, ``bundle.load_images``, ``get_img_array``).

    Args:
        name: a file name from :func:`sample_images`, such as ``"cat.png"``.

    Returns:
        The photo's path on disk.

    Raises:
        ImageNotFoundError: ``name`` is not one of the samples; the message lists them.
    """
    available = sample_images()
    if name not in available:
        hint = (
            " It takes a sample's file name, not a path; for your own photo pass its path directly."
            if isinstance(name, str) and ("/" in name or "\\" in name)
            else ""
        )
        raise ImageNotFoundError(f"No sample image {name!r}; the samples are: {', '.join(available)}.{hint}")
    return SAMPLES_DIR / name
