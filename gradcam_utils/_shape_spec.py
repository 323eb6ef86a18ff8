"""The arguments of :func:`~gradcam_utils.synthetic.make_shapes`: the names it knows, their checks, the checked spec.

``check_shape_arguments`` checks every argument in a fixed order (so a call with several mistakes always reports the
same one), fills in the defaults that depend on other arguments, and returns the :class:`ShapeSpec` the generator
works from. The public names are re-exported by :mod:`gradcam_utils.synthetic`, where users import them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._shape_geometry import RASTERISERS
from .errors import GradCAMError
from .resize import check_size

#: Every shape the rasteriser knows. "ring" is not a default class so it can be a distractor.
SHAPES = ("circle", "square", "triangle", "cross", "star", "ring")
DEFAULT_CLASSES = ("circle", "square", "triangle", "cross", "star")
CUE_MODES = ("none", "correlated", "contradicting")
CUE_KINDS = ("position", "color")
#: Cue colours for ``cue_kind="color"``: class ``i`` gets ``CUE_PALETTE[i]``.
CUE_PALETTE = np.array(
    [
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
        (255, 255, 0),
        (255, 0, 255),
        (0, 255, 255),
        (255, 128, 0),
        (255, 255, 255),
    ],
    dtype=np.uint8,
)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_size_range(name: str, value, low: int) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in value)
        ok = lo == value[0] and hi == value[1]
    except (TypeError, ValueError):
        ok = False
    if not ok or not low <= lo <= hi:
        raise GradCAMError(
            f"{name} must be two integers (min, max) with {low} <= min <= max, "
            f"got {value!r}; sizes are in pixels (side of a square, diameter of a circle)"
        )
    return lo, hi


def _check_shapes(name: str, names, allow_empty: bool = False) -> tuple[str, ...]:
    if isinstance(names, str):
        raise GradCAMError(
            f"{name} must be a sequence of shape names, e.g. ('circle', 'square'), got the string {names!r}"
        )
    names = tuple(names)
    unknown = [c for c in names if c not in RASTERISERS]
    if unknown:
        raise GradCAMError(f"unknown shape name(s) {unknown} in {name}; known shapes are {list(SHAPES)}")
    if len(set(names)) != len(names):
        raise GradCAMError(f"{name} contains duplicates: {list(names)}; list each shape once")
    if not names and not allow_empty:
        raise GradCAMError(f"{name} must name at least one shape from {list(SHAPES)}")
    return names


def _check_objects(classes, size_range, objects_per_image, height: int, width: int) -> tuple[tuple[str, ...], int, int]:
    """Classes, object size range (default: 3/16 to 3/8 of the smaller side) and objects per image."""
    classes = _check_shapes("classes", classes)
    if size_range is None:
        side = min(height, width)
        size_range = (max(6, (3 * side) // 16), max(6, (3 * side) // 8))
    size_lo, size_hi = _check_size_range("size_range", size_range, 6)
    if not _is_int(objects_per_image) or objects_per_image < 1:
        raise GradCAMError(f"objects_per_image must be a positive integer, got {objects_per_image!r}")
    if objects_per_image > len(classes):
        raise GradCAMError(
            f"objects_per_image={objects_per_image} exceeds the number of classes ({len(classes)}: "
            f"{list(classes)}); objects in one image have distinct classes, so add classes or lower objects_per_image"
        )
    return classes, size_lo, size_hi


def _check_distractors(distractors, distractor_shapes, distractor_size_range, classes, size_lo: int):
    """Distractor count, shapes (default: every shape that is not a class) and size range."""
    if not _is_int(distractors) or distractors < 0:
        raise GradCAMError(f"distractors must be a non-negative integer, got {distractors!r}")
    if distractor_shapes is None:
        distractor_shapes = tuple(s for s in SHAPES if s not in classes)
        if distractors and not distractor_shapes:
            raise GradCAMError(
                "every known shape is a class, so none is left for distractors; pass "
                "distractor_shapes explicitly or drop a class"
            )
    else:
        distractor_shapes = _check_shapes("distractor_shapes", distractor_shapes, allow_empty=not distractors)
        clash = sorted(set(distractor_shapes) & set(classes))
        if clash:
            raise GradCAMError(
                f"distractor_shapes {clash} are also classes; a distractor must not look like a labelled object"
            )
    if distractor_size_range is None:
        d_lo = max(4, size_lo // 2)
        distractor_size_range = (d_lo, max(d_lo, size_lo - 2))
    dist_lo, dist_hi = _check_size_range("distractor_size_range", distractor_size_range, 4)
    return distractor_shapes, dist_lo, dist_hi


def _check_cue(cue, cue_kind, cue_correlation, cue_size, n_classes: int, height: int, width: int) -> None:
    if cue not in CUE_MODES:
        raise GradCAMError(f"cue must be one of {list(CUE_MODES)}, got {cue!r}")
    if cue_kind not in CUE_KINDS:
        raise GradCAMError(f"cue_kind must be one of {list(CUE_KINDS)}, got {cue_kind!r}")
    if not 0.0 <= float(cue_correlation) <= 1.0:
        raise GradCAMError(f"cue_correlation is a probability in [0, 1], got {cue_correlation!r}")
    if cue != "correlated" and cue_correlation != 1.0:
        raise GradCAMError(f"cue_correlation only applies to cue='correlated', but cue={cue!r}")
    needs_other_class = cue == "contradicting" or (cue == "correlated" and cue_correlation < 1.0)
    if needs_other_class and n_classes < 2:
        raise GradCAMError("a cue that points at another class needs at least 2 classes")
    max_cue_classes = 8 if cue_kind == "position" else len(CUE_PALETTE)
    if n_classes > max_cue_classes:
        raise GradCAMError(f"cue_kind={cue_kind!r} can encode at most {max_cue_classes} classes, got {n_classes}")
    if not _is_int(cue_size) or not 1 <= cue_size <= min(height, width) // 4:
        raise GradCAMError(f"cue_size must be an integer from 1 to a quarter of the image side, got {cue_size!r}")


@dataclass(frozen=True)
class ShapeSpec:
    """The arguments of :func:`~gradcam_utils.synthetic.make_shapes`, checked, with their defaults filled in."""

    n: int
    height: int
    width: int
    classes: tuple[str, ...]
    size_lo: int
    size_hi: int
    rotate: bool
    objects_per_image: int
    distractors: int
    distractor_shapes: tuple[str, ...]
    dist_lo: int
    dist_hi: int
    cue: str
    cue_kind: str
    cue_correlation: float
    cue_size: int
    textured: bool


def check_shape_arguments(
    n,
    *,
    seed,
    image_size,
    classes: Sequence[str],
    size_range,
    rotate: bool,
    objects_per_image: int,
    distractors: int,
    distractor_shapes: Sequence[str] | None,
    distractor_size_range,
    cue: str,
    cue_kind: str,
    cue_correlation: float,
    cue_size: int,
    background: str,
) -> ShapeSpec:
    """Check the arguments of ``make_shapes`` (documented there) and fill in the defaults that depend on others.

    Returns:
        The checked :class:`ShapeSpec`; ``seed`` is checked but not kept (the generator uses it directly).

    Raises:
        GradCAMError: on the first inconsistent argument, roughly in the order of the signature; the message says
            what was expected and what was given.
    """
    # checked here, so mistakes fail at the call and not as an odd image later
    if not _is_int(n) or n < 0:
        raise GradCAMError(f"n must be a non-negative integer number of images, got {n!r}")
    if not _is_int(seed):
        raise GradCAMError(f"seed must be an integer (the same seed gives the same images), got {seed!r}")
    height, width = check_size(image_size, "image_size", minimum=16, allow_int=True)
    # a new name: the checked tuple, while ``classes`` stays the sequence the caller gave
    class_names, size_lo, size_hi = _check_objects(classes, size_range, objects_per_image, height, width)
    d_shapes, d_lo, d_hi = _check_distractors(
        distractors, distractor_shapes, distractor_size_range, class_names, size_lo
    )
    _check_cue(cue, cue_kind, cue_correlation, cue_size, len(class_names), height, width)
    if background not in ("textured", "plain"):
        raise GradCAMError(f"background must be 'textured' or 'plain', got {background!r}")
    return ShapeSpec(
        n,
        height,
        width,
        class_names,
        size_lo,
        size_hi,
        rotate,
        objects_per_image,
        distractors,
        d_shapes,
        d_lo,
        d_hi,
        cue,
        cue_kind,
        cue_correlation,
        cue_size,
        background == "textured",
    )
