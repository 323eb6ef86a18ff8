"""The explorer's images: the samples of each model family and the user's own images (uploads, checked here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .course import SAMPLE_SUFFIXES, SAMPLES_DIR
from .errors import ImageInputError, ImageLoadError
from .images import load_image
from .synthetic import DEFAULT_CLASSES, ShapesBatch, make_shapes
from .zoo import ModelBundle

PHOTO_ORDER = ("cat", "espresso", "cat_and_espresso", "astronaut", "grace_hopper")  # the rest follow, sorted
SHAPES_SEED = 505  # the teaching models' samples: not a seed their training or test sets used


class _ImageSource(NamedTuple):
    label: str
    source: object  # whatever load_image takes: a path, bytes or a uint8 array
    family: str | None  # "photos" or "shapes" for samples; None for the user's images, offered with every model


def family(bundle: ModelBundle) -> str:
    """Which samples go with a model: "shapes" for a model of the teaching classes, else "photos"."""
    return "shapes" if tuple(bundle.class_names) == tuple(DEFAULT_CLASSES) else "photos"


class ImageCatalogue:
    """Images by label: each family's samples (made once, on first use), then the user's images.

    The user's images are offered with every model. ``bundle_for(model)`` gives a model's bundle.
    """

    def __init__(self, bundle_for: Callable[[str], ModelBundle]):
        self._bundle_for = bundle_for
        self._samples: dict[str, list[_ImageSource]] = {}
        self._user_images: list[_ImageSource] = []

    def sources(self, model: str) -> list[_ImageSource]:
        """The images offered with ``model``: its family's samples, then the user's images."""
        return self.sample_sources(family(self._bundle_for(model))) + self._user_images

    def sample_sources(self, family_name: str) -> list[_ImageSource]:
        """The samples of a family ("shapes" or "photos"), made on first use."""
        if family_name not in self._samples:
            self._samples[family_name] = _shapes_samples() if family_name == "shapes" else _photo_samples()
        return self._samples[family_name]

    def source(self, model: str, image: str):
        """What ``load_image`` takes for the image labelled ``image``; ImageInputError when ``model`` has none."""
        sources = {s.label: s for s in self.sources(model)}
        if image not in sources:
            raise ImageInputError(f"No image {image!r} for {model}.")
        return sources[image].source

    def label_for(self, model: str, image) -> str:
        """The label of the image handed to the constructor, registering it when it is not a sample."""
        samples = self.sample_sources(family(self._bundle_for(model)))
        if image is None:
            if not samples:
                raise ImageLoadError(f"No sample images were found in {SAMPLES_DIR}; pass an image.")
            return samples[0].label
        if isinstance(image, str) and image in {s.label for s in samples}:
            return image
        if isinstance(image, (str, Path)):
            path = Path(image)
            for sample in samples:
                if isinstance(sample.source, Path) and path.is_file() and path.resolve() == sample.source:
                    return sample.label
            label = path.name
        else:
            label = "your image"
        pixels = load_image(image)  # raises the usual clear errors: nothing is shown yet to fall back on
        return self.add_user_image(label, image if isinstance(image, (str, Path)) else pixels)[0]

    def add_user_image(self, label: str, source) -> tuple[str, bool]:
        """Register a user image under a unique label.

        Returns:
            (its label, True), or (the label it already has, False) when the same file was uploaded before.
        """
        for existing in self._user_images:
            if isinstance(source, bytes) and isinstance(existing.source, bytes) and existing.source == source:
                return existing.label, False
        taken = {s.label for s in self._user_images} | {s.label for f in self._samples.values() for s in f}
        unique, n = label, 2
        while unique in taken:
            unique, n = f"{label} ({n})", n + 1
        self._user_images.append(_ImageSource(unique, source, None))
        return unique, True

    def remove_user_image(self, label: str) -> None:
        """Forget the user image labelled ``label`` (nothing happens for another label)."""
        self._user_images = [s for s in self._user_images if s.label != label]

    def check_offered(self, model: str, label: str) -> None:
        """Raise ImageInputError, listing the images on offer, when ``model`` offers no image labelled ``label``."""
        labels = [s.label for s in self.sources(model)]
        if label not in labels:
            raise ImageInputError(f"No image {label!r} for {model}; pick one of {', '.join(labels)}, or upload one.")

    def image_after_switch(self, model: str, current: str, same_family: bool) -> str:
        """The image to show when the explorer switches to ``model`` from an image labelled ``current``.

        ``current`` when the new model takes the same kind of images (``same_family``) and offers it, else the model's
        first sample, else the first of the user's images; ImageLoadError when there is none.
        """
        sources = self.sources(model)
        labels = [s.label for s in sources]
        if same_family and current in labels:
            return current
        samples = [s.label for s in sources if s.family is not None]
        if not (samples or labels):
            raise ImageLoadError(f"There are no sample images for {model}; upload one.")
        return (samples or labels)[0]


def check_upload(data, max_bytes: int) -> bytes:
    """The bytes of an uploaded file, refused before anything changes when they cannot be shown.

    Args:
        data: the file's bytes (``bytes``, ``bytearray`` or ``memoryview``, as a file-upload widget gives them).
        max_bytes: the largest file accepted.

    Returns:
        The file's bytes, as ``bytes``.

    Raises:
        ImageInputError: when ``data`` is not bytes-like.
        ImageLoadError: when the file is empty, larger than ``max_bytes`` or not an image ``load_image`` can decode.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageInputError(f"an upload is the file's bytes; got {type(data).__name__}.")
    data = bytes(data)
    if not data:
        raise ImageLoadError("the file is empty (0 bytes). Choose it again.")
    if len(data) > max_bytes:
        raise ImageLoadError(
            f"the file is {_file_size(len(data))}, over the {_file_size(max_bytes)} limit for uploads. Downscale it or "
            "save it as JPEG, then upload it again."
        )
    load_image(data)  # decoded once here, so a bad file is refused before anything changes
    return data


def _file_size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{max(1, round(n / 2**10))} KB"


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _photo_samples() -> list[_ImageSource]:
    files = [p for p in SAMPLES_DIR.glob("*") if p.suffix.lower() in SAMPLE_SUFFIXES and p.is_file()]
    rank = {stem: i for i, stem in enumerate(PHOTO_ORDER)}
    files.sort(key=lambda p: (rank.get(p.stem, len(rank)), p.name))
    return [_ImageSource(p.stem, p.resolve(), "photos") for p in files]


def marked_shapes() -> ShapesBatch:
    """The explorer's marked shapes samples as generated: each shape with a marker of another class, masks included."""
    return make_shapes(len(DEFAULT_CLASSES), seed=SHAPES_SEED, cue="contradicting", cue_kind="color")


def _shapes_samples() -> list[_ImageSource]:
    """One clean picture per class, then the same pictures with a marker of another class, by true class.

    The marker is a colour that stands for another class (the cue the biased teaching model learned). Always the
    same pictures.
    """
    clean = make_shapes(len(DEFAULT_CLASSES), seed=SHAPES_SEED)
    marked = marked_shapes()
    samples = []
    for batch, marker in ((clean, False), (marked, True)):
        for i in np.argsort(batch.labels, kind="stable"):
            name = DEFAULT_CLASSES[batch.labels[i]]
            label = f"{name}, marker of {DEFAULT_CLASSES[batch.cue_labels[i]]}" if marker else name
            samples.append(_ImageSource(label, _read_only(batch.images[i].copy()), "shapes"))
    return samples
