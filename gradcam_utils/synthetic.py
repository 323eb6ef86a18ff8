"""Synthetic labelled shapes whose ground truth is known, to check *where* Grad-CAM looks.

``make_shapes`` draws images of coloured shapes (circle, square, triangle, cross, star) on
textured, noisy backgrounds and returns, besides the class labels, the exact pixels and the
tight box of every labelled object, of optional distractors, and of an optional spurious cue
(a small bright patch whose position or colour can be made to correlate with the class).

Conventions
-----------
* Images are ``(N, H, W, 3)`` uint8 RGB.
* Boxes are ``(y0, x0, y1, x1)`` integer pixel indices, **end-exclusive**:
  ``mask[y0:y1, x0:x1]`` is the tight crop of the object, its height is ``y1 - y0``.
* Object 0 of each image is "the labelled object": ``labels``, ``masks`` and ``boxes`` refer
  to it, and a cue encodes its class. With ``objects_per_image=K > 1`` the other objects (all
  of distinct classes) are in ``object_labels``/``object_masks``/``object_boxes`` ``(N, K, ...)``.
* Objects, distractors and cue never overlap: their boxes are at least ``GAP`` (2) pixels apart,
  so every mask holds the whole shape and energy measures are not confounded by occlusion.

Determinism
-----------
The same ``seed`` gives byte-identical output. Independent random streams are split from
``np.random.default_rng(seed)`` for the layout of objects, of distractors, of the cue and for
the background, so with one seed the images made with ``cue="none"``, ``"correlated"`` and
``"contradicting"`` contain the *same* objects on the same backgrounds and differ only inside
the cue masks: a model can be tested on exactly the images it saw, with the cue removed.
The seed is a required argument on purpose: a training and a test set made without thinking
about seeds would otherwise be the same images.

The arguments are checked in :mod:`gradcam_utils._shape_spec` and the shapes drawn and placed by
:mod:`gradcam_utils._shape_geometry`; this module owns the random streams, the layout of cue places and the painting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._shape_geometry import GAP, max_extent, place
from ._shape_spec import (  # the names the arguments are checked against live with the checks; re-exported
    CUE_KINDS,
    CUE_MODES,
    CUE_PALETTE,
    DEFAULT_CLASSES,
    SHAPES,
    ShapeSpec,
    check_shape_arguments,
)
from .errors import GradCAMError

__all__ = ["SHAPES", "DEFAULT_CLASSES", "CUE_MODES", "CUE_KINDS", "CUE_PALETTE", "ShapesBatch", "make_shapes"]

_POSITION_CUE_COLOR = np.array((255, 255, 255), dtype=np.float32)
_CUE_MARGIN = 1  # the cue sits this many pixels from the image border
_CHUNK = 256  # images per vectorised background chunk (bounds memory for large n)


@dataclass(frozen=True)
class ShapesBatch:
    """A batch from :func:`make_shapes`. ``N`` images, ``K`` objects per image.

    ``labels``/``masks``/``boxes`` describe the labelled object (object 0);
    ``object_*`` describe all ``K`` objects, object 0 first.
    """

    images: np.ndarray  # (N, H, W, 3) uint8
    labels: np.ndarray  # (N,) int64 index into class_names
    masks: np.ndarray  # (N, H, W) bool, pixels of the labelled object
    boxes: np.ndarray  # (N, 4) int64 (y0, x0, y1, x1), end-exclusive
    object_labels: np.ndarray  # (N, K) int64, distinct within an image
    object_masks: np.ndarray  # (N, K, H, W) bool
    object_boxes: np.ndarray  # (N, K, 4) int64
    cue_masks: np.ndarray  # (N, H, W) bool, all False when there is no cue
    cue_labels: np.ndarray  # (N,) int64, the class the cue stands for; -1 when no cue
    distractor_masks: np.ndarray  # (N, H, W) bool, union of all distractors
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.images.shape[0])


# --- layout ---------------------------------------------------------------------------------


def _cue_anchors(height: int, width: int, cue_size: int, n: int) -> list[tuple[int, int]]:
    """Top-left corners of the cue positions: the 4 corners, then the 4 edge midpoints."""
    lo, bottom, right = _CUE_MARGIN, height - _CUE_MARGIN - cue_size, width - _CUE_MARGIN - cue_size
    mid_y, mid_x = (height - cue_size) // 2, (width - cue_size) // 2
    corners = [(lo, lo), (lo, right), (bottom, lo), (bottom, right)]
    anchors = corners + [(lo, mid_x), (bottom, mid_x), (mid_y, lo), (mid_y, right)]
    return anchors[:n]


def _reserve_cue_places(spec: ShapeSpec) -> tuple[list[tuple[int, int]], list[tuple[int, int, int, int]]]:
    """The cue anchors and their boxes, checking that the objects fit around them.

    Cue places are reserved whatever ``cue`` is, so object positions do not depend on it.
    """
    height, width, cue_size = spec.height, spec.width, spec.cue_size
    n_anchors = len(spec.classes) if spec.cue_kind == "position" else 4
    anchors = _cue_anchors(height, width, cue_size, n_anchors)
    reserved = [(y, x, y + cue_size, x + cue_size) for y, x in anchors]
    depth = _CUE_MARGIN + cue_size + GAP
    inner = min(height, width) - 2 * depth
    extent = max_extent(spec.size_hi, spec.rotate)
    if extent > inner:
        raise GradCAMError(
            f"image_size {(height, width)} is too small for objects up to {spec.size_hi} px"
            f"{' when rotated' if spec.rotate else ''} (they span up to {extent} px, and the cue places "
            f"leave {inner} px); lower size_range or enlarge image_size"
        )
    # A coarse crowding bound: worst-case boxes of all items must fit in 3/4 of the free area
    # (typical boxes are smaller, so placement then practically never fails).
    need = (
        spec.objects_per_image * (extent + GAP) ** 2
        + spec.distractors * (max_extent(spec.dist_hi, spec.rotate) + GAP) ** 2
    )
    free = height * width - len(reserved) * (cue_size + 2 * GAP) ** 2
    if need > 0.75 * free:
        raise GradCAMError(
            f"{spec.objects_per_image} object(s) up to {spec.size_hi} px and {spec.distractors} distractor(s) do "
            f"not fit reliably in a {height}x{width} image; lower size_range, objects_per_image or distractors"
        )
    return anchors, reserved


# --- labels and cue -------------------------------------------------------------------------
# The order of the random draws below, stream by stream, is what makes a seed give its pictures:
# tests/test_synthetic.py pins it with golden digests of the data the teaching models were trained on.


def _draw_labels(rng_obj: np.random.Generator, spec: ShapeSpec) -> np.ndarray:
    """``(N, K)`` object classes, distinct within an image; object 0's are balanced over the classes."""
    n, n_classes, k = spec.n, len(spec.classes), spec.objects_per_image
    labels = np.zeros((n, k), dtype=np.int64)
    # Balanced labels: every class appears floor(n/C) or ceil(n/C) times, in random order.
    labels[:, 0] = rng_obj.permutation(np.arange(n) % n_classes)
    for i in range(n):
        others = [c for c in range(n_classes) if c != labels[i, 0]]
        labels[i, 1:] = rng_obj.choice(others, size=k - 1, replace=False)
    return labels


def _draw_cue(rng_cue: np.random.Generator, spec: ShapeSpec, labels: np.ndarray):
    """The class each image's cue stands for (-1: no cue) and the corner of each colour cue."""
    n, n_classes = spec.n, len(spec.classes)
    cue_labels = np.full(n, -1, dtype=np.int64)
    if spec.cue == "none":
        return cue_labels, None
    u = rng_cue.random(n)
    shift = rng_cue.integers(1, n_classes, size=n) if n_classes > 1 else np.zeros(n, dtype=np.int64)
    other = (labels + shift) % n_classes  # uniform over the other classes
    if spec.cue == "correlated":
        cue_labels[:] = np.where(u < spec.cue_correlation, labels, other)
    else:
        cue_labels[:] = other
    corners = rng_cue.integers(0, 4, size=n)  # only used by colour cues
    return cue_labels, corners


# --- painting -------------------------------------------------------------------------------


def _bright_colors(rng: np.random.Generator, n: int) -> np.ndarray:
    # A random hue at high value: the brightest channel is 180..255 while the background
    # stays below ~150, so every shape is visible whatever its colour.
    c = rng.random((n, 3)) + 1e-6
    return c / c.max(axis=1, keepdims=True) * rng.uniform(180.0, 255.0, size=(n, 1))


class _Background:
    """Background parameters of all images, drawn at once: a base colour, stripes, pixel noise."""

    def __init__(self, rng_bg: np.random.Generator, spec: ShapeSpec):
        n = spec.n
        self.rng, self.textured, self.height, self.width = rng_bg, spec.textured, spec.height, spec.width
        self.base = rng_bg.uniform(20.0, 100.0, size=(n, 3)).astype(np.float32)
        self.amp = rng_bg.uniform(0.0, 20.0, size=n).astype(np.float32)
        self.freq = rng_bg.uniform(1.0, 6.0, size=n).astype(np.float32)  # stripe periods per image
        self.orient = rng_bg.uniform(0.0, np.pi, size=n).astype(np.float32)
        self.phase = rng_bg.uniform(0.0, 2 * np.pi, size=n).astype(np.float32)
        self.noise_std = rng_bg.uniform(2.0, 6.0, size=n).astype(np.float32)
        self.yy = (np.arange(spec.height, dtype=np.float32) / spec.height)[None, :, None]
        self.xx = (np.arange(spec.width, dtype=np.float32) / spec.width)[None, None, :]

    def canvas(self, sl: slice) -> np.ndarray:
        """The float32 backgrounds of images ``sl``, before noise."""
        canvas = np.empty((sl.stop - sl.start, self.height, self.width, 3), dtype=np.float32)
        canvas[:] = self.base[sl, None, None, :]
        if self.textured:
            orient = self.orient[sl]
            proj = np.cos(orient)[:, None, None] * self.xx + np.sin(orient)[:, None, None] * self.yy
            stripes = self.amp[sl, None, None] * np.sin(
                2 * np.pi * self.freq[sl, None, None] * proj + self.phase[sl, None, None]
            )
            canvas += stripes[..., None]
        return canvas

    def finish(self, canvas: np.ndarray, sl: slice) -> np.ndarray:
        """Add the pixel noise over the painted canvas (drawn last, per chunk) and round to uint8."""
        if self.textured:
            canvas += self.rng.standard_normal(canvas.shape, dtype=np.float32) * self.noise_std[sl, None, None, None]
        np.clip(np.rint(canvas), 0, 255, out=canvas)
        return canvas.astype(np.uint8)


def _paint_objects(img, i, rng_obj, spec: ShapeSpec, reserved, labels, masks, boxes_out) -> list:
    """Paint image ``i``'s objects (colours drawn before places); returns their boxes."""
    obj_colors = _bright_colors(rng_obj, spec.objects_per_image)
    shapes = [spec.classes[c] for c in labels[i]]
    boxes, crops = place(
        rng_obj, shapes, spec.size_lo, spec.size_hi, spec.rotate, spec.height, spec.width, list(reserved), i
    )
    for m, (box, crop) in enumerate(zip(boxes, crops, strict=True)):
        y0, x0, y1, x1 = box
        img[y0:y1, x0:x1][crop] = obj_colors[m]
        masks[i, m, y0:y1, x0:x1] = crop
        boxes_out[i, m] = box
    return boxes


def _paint_distractors(img, i, rng_dist, spec: ShapeSpec, taken, distractor_masks) -> None:
    """Paint image ``i``'s distractors (shapes, then places, then colours) clear of ``taken`` boxes."""
    picks = rng_dist.integers(0, len(spec.distractor_shapes), size=spec.distractors)
    d_shapes = [spec.distractor_shapes[s] for s in picks]
    d_boxes, d_crops = place(
        rng_dist, d_shapes, spec.dist_lo, spec.dist_hi, spec.rotate, spec.height, spec.width, taken, i
    )
    d_colors = _bright_colors(rng_dist, spec.distractors)
    for m, ((y0, x0, y1, x1), crop) in enumerate(zip(d_boxes, d_crops, strict=True)):
        img[y0:y1, x0:x1][crop] = d_colors[m]
        distractor_masks[i, y0:y1, x0:x1] |= crop


def _paint_cue(img, i, spec: ShapeSpec, anchors, cue_label: int, corner, cue_masks) -> None:
    """Paint image ``i``'s cue: a white patch at the class's place, or the class's colour at a corner."""
    size = spec.cue_size
    if spec.cue_kind == "position":
        (cy, cx), color = anchors[cue_label], _POSITION_CUE_COLOR
    else:
        (cy, cx), color = anchors[corner], CUE_PALETTE[cue_label].astype(np.float32)
    img[cy : cy + size, cx : cx + size] = color
    cue_masks[i, cy : cy + size, cx : cx + size] = True


# --- the generator --------------------------------------------------------------------------


def make_shapes(
    n: int,
    *,
    seed: int,
    image_size: int | tuple[int, int] = 64,
    classes: Sequence[str] = DEFAULT_CLASSES,
    size_range: tuple[int, int] | None = None,
    rotate: bool = True,
    objects_per_image: int = 1,
    distractors: int = 0,
    distractor_shapes: Sequence[str] | None = None,
    distractor_size_range: tuple[int, int] | None = None,
    cue: str = "none",
    cue_kind: str = "position",
    cue_correlation: float = 1.0,
    cue_size: int = 5,
    background: str = "textured",
) -> ShapesBatch:
    """Draw ``n`` labelled images of shapes with exact masks and boxes.

    Args:
        n: number of images (0 is allowed and gives empty arrays).
        seed: integer seed; the same seed gives byte-identical output. Use different seeds
            for training and test sets.
        image_size: ``H`` (square) or ``(H, W)``.
        classes: shape names used as classes, in label order; any of :data:`SHAPES`.
        size_range: inclusive ``(min, max)`` object size in pixels: the side of a square
            or triangle, the diameter of a circle, the outer diameter of a star or ring, the
            span of a cross (whose arms are size/3 wide). Default:
            3/16 to 3/8 of the smaller image side, i.e. (12, 24) at 64x64.
        rotate: turn each object by a uniform random angle; ``False`` draws them upright.
        objects_per_image: ``K`` objects of distinct classes per image; object 0 is labelled.
        distractors: number of extra small shapes per image that carry no label.
        distractor_shapes: shapes for distractors; must not be classes. Default: every
            known shape that is not a class ("ring" with the default classes).
        distractor_size_range: inclusive ``(min, max)`` size of distractors; default
            about half the minimum object size.
        cue: ``"none"``; ``"correlated"`` (the cue stands for the labelled object's class with
            probability ``cue_correlation``, otherwise for a random other class); or
            ``"contradicting"`` (always another class than the label).
        cue_kind: ``"position"``: a white patch whose place (corners, then edge midpoints)
            encodes the class, up to 8 classes; ``"color"``: a patch at a random corner whose
            colour ``CUE_PALETTE[class]`` encodes it. Cue places are kept free of objects
            whatever ``cue`` is, so the object layout does not depend on the cue.
        cue_correlation: probability that a correlated cue matches the label.
        cue_size: side of the square cue patch in pixels.
        background: ``"textured"`` (random stripes plus pixel noise) or ``"plain"`` (one
            flat colour per image, no noise).

    Returns:
        A :class:`ShapesBatch`.

    Raises:
        GradCAMError (a ValueError): on any inconsistent argument, or if objects cannot be placed without
            overlap (the message says which knob to turn).
    """
    spec = check_shape_arguments(
        n,
        seed=seed,
        image_size=image_size,
        classes=classes,
        size_range=size_range,
        rotate=rotate,
        objects_per_image=objects_per_image,
        distractors=distractors,
        distractor_shapes=distractor_shapes,
        distractor_size_range=distractor_size_range,
        cue=cue,
        cue_kind=cue_kind,
        cue_correlation=cue_correlation,
        cue_size=cue_size,
        background=background,
    )
    height, width = spec.height, spec.width  # image_size may have been one int
    anchors, reserved = _reserve_cue_places(spec)

    # ---- independent random streams (see the module docstring), drawn in a fixed order
    rng_obj, rng_dist, rng_cue, rng_bg = np.random.default_rng(seed).spawn(4)
    object_labels = _draw_labels(rng_obj, spec)
    cue_labels, corners = _draw_cue(rng_cue, spec, object_labels[:, 0])
    background_ = _Background(rng_bg, spec)

    # ---- paint, a chunk of images at a time: background, objects, distractors, cue, then noise
    images = np.empty((n, height, width, 3), dtype=np.uint8)
    object_masks = np.zeros((n, objects_per_image, height, width), dtype=bool)
    object_boxes = np.zeros((n, objects_per_image, 4), dtype=np.int64)
    distractor_masks = np.zeros((n, height, width), dtype=bool)
    cue_masks = np.zeros((n, height, width), dtype=bool)
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(n, start + _CHUNK))
        canvas = background_.canvas(sl)
        for j, i in enumerate(range(sl.start, sl.stop)):
            boxes = _paint_objects(canvas[j], i, rng_obj, spec, reserved, object_labels, object_masks, object_boxes)
            if distractors:
                _paint_distractors(canvas[j], i, rng_dist, spec, list(reserved) + boxes, distractor_masks)
            if cue != "none":
                corner = None if corners is None else corners[i]
                _paint_cue(canvas[j], i, spec, anchors, int(cue_labels[i]), corner, cue_masks)
        images[sl] = background_.finish(canvas, sl)

    return ShapesBatch(
        images=images,
        labels=object_labels[:, 0].copy(),
        masks=object_masks[:, 0],
        boxes=object_boxes[:, 0],
        object_labels=object_labels,
        object_masks=object_masks,
        object_boxes=object_boxes,
        cue_masks=cue_masks,
        cue_labels=cue_labels,
        distractor_masks=distractor_masks,
        class_names=spec.classes,
    )
