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
* Objects, distractors and cue never overlap: their boxes are at least ``_GAP`` pixels apart,
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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import GradCAMError

__all__ = [
    "SHAPES",
    "DEFAULT_CLASSES",
    "CUE_MODES",
    "CUE_KINDS",
    "CUE_PALETTE",
    "ShapesBatch",
    "make_shapes",
]

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
_POSITION_CUE_COLOR = np.array((255, 255, 255), dtype=np.float32)
_GAP = 2  # minimum free pixels between the boxes of any two drawn things
_CUE_MARGIN = 1  # the cue sits this many pixels from the image border
_CHUNK = 256  # images per vectorised background chunk (bounds memory for large n)
_POSITION_TRIES = 50  # random positions tried per object before redrawing the image layout
_LAYOUT_TRIES = 20  # full layouts tried per image before giving up with an error


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


# --- rasterisation --------------------------------------------------------------------------
# Each shape is a membership test on rotated pixel-centre coordinates (u, v) relative to the
# shape's centre, with h = size / 2; y (and v) grow downwards as in images.


def _circle(u, v, h):
    return u * u + v * v < h * h


def _square(u, v, h):
    return np.maximum(np.abs(u), np.abs(v)) < h


def _cross(u, v, h):
    a = h / 3.0  # arm half-width: the plus fills 5/9 of its size x size frame
    au, av = np.abs(u), np.abs(v)
    return ((au < h) & (av < a)) | ((au < a) & (av < h))


_S3 = math.sqrt(3.0) / 2.0


def _triangle(u, v, h):
    # Equilateral with side 2h (= size, like the square), apex up: inside all three edges,
    # each at the inradius r = side / (2 sqrt 3) from the centre.
    r = h / math.sqrt(3.0)
    return (v < r) & (-_S3 * u - v / 2 < r) & (_S3 * u - v / 2 < r)


_STAR_INNER = 0.45  # inner/outer radius of the five-pointed star
_STAR_SECTOR = 2 * math.pi / 5


def _star(u, v, h):
    # Fold the angle into one half-spike [0, pi/5], then test against the edge from the
    # outer vertex A=(h, 0) to the inner vertex B at angle pi/5; theta=0 points up.
    theta = np.mod(np.arctan2(v, u) + math.pi / 2, _STAR_SECTOR)
    theta = np.minimum(theta, _STAR_SECTOR - theta)
    rho = np.hypot(u, v)
    px, py = rho * np.cos(theta), rho * np.sin(theta)
    bx = _STAR_INNER * h * math.cos(math.pi / 5)
    by = _STAR_INNER * h * math.sin(math.pi / 5)
    dx, dy = bx - h, by
    return dx * py - dy * (px - h) > 0


def _ring(u, v, h):
    r2 = u * u + v * v
    return (r2 < h * h) & (r2 >= (0.5 * h) ** 2)


_RASTERISERS = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "cross": _cross,
    "star": _star,
    "ring": _ring,
}
_GRID_CACHE: dict[int, np.ndarray] = {}


def _offsets(size: int) -> np.ndarray:
    """Pixel-centre offsets from the centre of a size x size frame, with room for rotation.

    The frame's top-left corner sits on integer coordinates, so an unrotated square of side s
    covers exactly s*s pixels; the margin m lets a rotated square's corners (at h*sqrt(2))
    stay inside the window.
    """
    grid = _GRID_CACHE.get(size)
    if grid is None:
        m = math.ceil(size / 2 * (math.sqrt(2) - 1)) + 1
        grid = np.arange(-m, size + m, dtype=np.float64) + 0.5 - size / 2
        _GRID_CACHE[size] = grid
    return grid


def _shape_crop(shape: str, size: int, angle: float) -> np.ndarray:
    """Tight boolean crop of one shape of the given size, rotated by angle (radians)."""
    off = _offsets(size)
    x, y = off[None, :], off[:, None]
    c, s = math.cos(angle), math.sin(angle)
    u = x * c + y * s  # rotate the sampling points by -angle = rotate the shape by +angle
    v = y * c - x * s
    inside = _RASTERISERS[shape](u, v, size / 2)
    rows = np.flatnonzero(inside.any(axis=1))
    cols = np.flatnonzero(inside.any(axis=0))
    return inside[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _max_extent(size: int, rotate: bool) -> int:
    # Worst case over shapes: a square turned by 45 degrees spans size*sqrt(2).
    return math.ceil(size * math.sqrt(2)) + 1 if rotate else size


# --- argument checking ----------------------------------------------------------------------


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
    unknown = [c for c in names if c not in _RASTERISERS]
    if unknown:
        raise GradCAMError(f"unknown shape name(s) {unknown} in {name}; known shapes are {list(SHAPES)}")
    if len(set(names)) != len(names):
        raise GradCAMError(f"{name} contains duplicates: {list(names)}; list each shape once")
    if not names and not allow_empty:
        raise GradCAMError(f"{name} must name at least one shape from {list(SHAPES)}")
    return names


def _cue_anchors(height: int, width: int, cue_size: int, n: int) -> list[tuple[int, int]]:
    """Top-left corners of the cue positions: the 4 corners, then the 4 edge midpoints."""
    lo, bottom, right = _CUE_MARGIN, height - _CUE_MARGIN - cue_size, width - _CUE_MARGIN - cue_size
    mid_y, mid_x = (height - cue_size) // 2, (width - cue_size) // 2
    corners = [(lo, lo), (lo, right), (bottom, lo), (bottom, right)]
    anchors = corners + [(lo, mid_x), (bottom, mid_x), (mid_y, lo), (mid_y, right)]
    return anchors[:n]


def _overlaps(box, boxes) -> bool:
    y0, x0, y1, x1 = box
    for b0, c0, b1, c1 in boxes:
        if y0 < b1 + _GAP and b0 < y1 + _GAP and x0 < c1 + _GAP and c0 < x1 + _GAP:
            return True
    return False


def _bright_colors(rng: np.random.Generator, n: int) -> np.ndarray:
    # A random hue at high value: the brightest channel is 180..255 while the background
    # stays below ~150, so every shape is visible whatever its colour.
    c = rng.random((n, 3)) + 1e-6
    return c / c.max(axis=1, keepdims=True) * rng.uniform(180.0, 255.0, size=(n, 1))


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
    # ---- validate, so mistakes fail here and not as an odd image later
    if not _is_int(n) or n < 0:
        raise GradCAMError(f"n must be a non-negative integer number of images, got {n!r}")
    if not _is_int(seed):
        raise GradCAMError(f"seed must be an integer (the same seed gives the same images), got {seed!r}")
    if isinstance(image_size, (int, np.integer)):
        height = width = int(image_size)
    else:
        try:
            height, width = (int(s) for s in image_size)
        except (TypeError, ValueError):
            raise GradCAMError(f"image_size must be an int or a pair (H, W), got {image_size!r}") from None
    if min(height, width) < 16:
        raise GradCAMError(f"image_size must be at least 16 pixels per side, got {(height, width)}")
    classes = _check_shapes("classes", classes)
    n_classes = len(classes)
    if size_range is None:
        side = min(height, width)
        size_range = (max(6, (3 * side) // 16), max(6, (3 * side) // 8))
    size_lo, size_hi = _check_size_range("size_range", size_range, 6)
    if not _is_int(objects_per_image) or objects_per_image < 1:
        raise GradCAMError(f"objects_per_image must be a positive integer, got {objects_per_image!r}")
    if objects_per_image > n_classes:
        raise GradCAMError(
            f"objects_per_image={objects_per_image} exceeds the number of classes ({n_classes}: {list(classes)}); "
            "objects in one image have distinct classes, so add classes or lower objects_per_image"
        )
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
    if background not in ("textured", "plain"):
        raise GradCAMError(f"background must be 'textured' or 'plain', got {background!r}")

    # Cue places are reserved whatever `cue` is, so object positions do not depend on it.
    anchors = _cue_anchors(height, width, cue_size, n_classes if cue_kind == "position" else 4)
    reserved = [(y, x, y + cue_size, x + cue_size) for y, x in anchors]
    depth = _CUE_MARGIN + cue_size + _GAP
    inner = min(height, width) - 2 * depth
    extent = _max_extent(size_hi, rotate)
    if extent > inner:
        raise GradCAMError(
            f"image_size {(height, width)} is too small for objects up to {size_hi} px"
            f"{' when rotated' if rotate else ''} (they span up to {extent} px, and the cue places "
            f"leave {inner} px); lower size_range or enlarge image_size"
        )
    # A coarse crowding bound: worst-case boxes of all items must fit in 3/4 of the free area
    # (typical boxes are smaller, so placement then practically never fails).
    need = objects_per_image * (extent + _GAP) ** 2 + distractors * (_max_extent(dist_hi, rotate) + _GAP) ** 2
    free = height * width - len(reserved) * (cue_size + 2 * _GAP) ** 2
    if need > 0.75 * free:
        raise GradCAMError(
            f"{objects_per_image} object(s) up to {size_hi} px and {distractors} distractor(s) do not fit "
            f"reliably in a {height}x{width} image; lower size_range, objects_per_image or distractors"
        )

    # ---- independent random streams (see the module docstring)
    rng_obj, rng_dist, rng_cue, rng_bg = np.random.default_rng(seed).spawn(4)

    k = objects_per_image
    images = np.empty((n, height, width, 3), dtype=np.uint8)
    object_masks = np.zeros((n, k, height, width), dtype=bool)
    object_boxes = np.zeros((n, k, 4), dtype=np.int64)
    object_labels = np.zeros((n, k), dtype=np.int64)
    distractor_masks = np.zeros((n, height, width), dtype=bool)
    cue_masks = np.zeros((n, height, width), dtype=bool)
    cue_labels = np.full(n, -1, dtype=np.int64)

    # Balanced labels: every class appears floor(n/C) or ceil(n/C) times, in random order.
    object_labels[:, 0] = rng_obj.permutation(np.arange(n) % n_classes)
    for i in range(n):
        others = [c for c in range(n_classes) if c != object_labels[i, 0]]
        object_labels[i, 1:] = rng_obj.choice(others, size=k - 1, replace=False)

    if cue != "none":
        u = rng_cue.random(n)
        shift = rng_cue.integers(1, n_classes, size=n) if n_classes > 1 else np.zeros(n, dtype=np.int64)
        other = (object_labels[:, 0] + shift) % n_classes  # uniform over the other classes
        if cue == "correlated":
            cue_labels[:] = np.where(u < cue_correlation, object_labels[:, 0], other)
        else:
            cue_labels[:] = other
        corners = rng_cue.integers(0, 4, size=n)  # only used by colour cues

    # Background parameters for all images at once.
    base = rng_bg.uniform(20.0, 100.0, size=(n, 3)).astype(np.float32)
    amp = rng_bg.uniform(0.0, 20.0, size=n).astype(np.float32)
    freq = rng_bg.uniform(1.0, 6.0, size=n).astype(np.float32)  # stripe periods per image
    orient = rng_bg.uniform(0.0, np.pi, size=n).astype(np.float32)
    phase = rng_bg.uniform(0.0, 2 * np.pi, size=n).astype(np.float32)
    noise_std = rng_bg.uniform(2.0, 6.0, size=n).astype(np.float32)
    yy = (np.arange(height, dtype=np.float32) / height)[None, :, None]
    xx = (np.arange(width, dtype=np.float32) / width)[None, None, :]

    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        sl = slice(start, stop)
        canvas = np.empty((stop - start, height, width, 3), dtype=np.float32)
        canvas[:] = base[sl, None, None, :]
        if background == "textured":
            proj = np.cos(orient[sl])[:, None, None] * xx + np.sin(orient[sl])[:, None, None] * yy
            stripes = amp[sl, None, None] * np.sin(2 * np.pi * freq[sl, None, None] * proj + phase[sl, None, None])
            canvas += stripes[..., None]

        for j, i in enumerate(range(start, stop)):
            img = canvas[j]
            obj_colors = _bright_colors(rng_obj, k)
            shapes = [classes[c] for c in object_labels[i]]
            boxes, crops = _place(rng_obj, shapes, size_lo, size_hi, rotate, height, width, list(reserved), i)
            for m, (box, crop) in enumerate(zip(boxes, crops)):
                y0, x0, y1, x1 = box
                img[y0:y1, x0:x1][crop] = obj_colors[m]
                object_masks[i, m, y0:y1, x0:x1] = crop
                object_boxes[i, m] = box
            if distractors:
                picks = rng_dist.integers(0, len(distractor_shapes), size=distractors)
                d_shapes = [distractor_shapes[s] for s in picks]
                d_boxes, d_crops = _place(
                    rng_dist, d_shapes, dist_lo, dist_hi, rotate, height, width, list(reserved) + boxes, i
                )
                d_colors = _bright_colors(rng_dist, distractors)
                for m, ((y0, x0, y1, x1), crop) in enumerate(zip(d_boxes, d_crops)):
                    img[y0:y1, x0:x1][crop] = d_colors[m]
                    distractor_masks[i, y0:y1, x0:x1] |= crop
            if cue != "none":
                c = int(cue_labels[i])
                if cue_kind == "position":
                    (cy, cx), color = anchors[c], _POSITION_CUE_COLOR
                else:
                    (cy, cx), color = anchors[corners[i]], CUE_PALETTE[c].astype(np.float32)
                img[cy : cy + cue_size, cx : cx + cue_size] = color
                cue_masks[i, cy : cy + cue_size, cx : cx + cue_size] = True

        if background == "textured":
            canvas += rng_bg.standard_normal(canvas.shape, dtype=np.float32) * noise_std[sl, None, None, None]
        np.clip(np.rint(canvas), 0, 255, out=canvas)
        images[sl] = canvas.astype(np.uint8)

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
        class_names=classes,
    )


def _place(rng, shapes, size_lo, size_hi, rotate, height, width, taken, index):
    """Place the given shapes without overlapping ``taken`` boxes or each other.

    Returns their tight boxes and boolean crops. Tries fresh positions first, then whole new
    layouts (sizes and angles), so a rare unlucky first object cannot wedge the image.
    """
    for _ in range(_LAYOUT_TRIES):
        boxes, crops = [], []
        for shape in shapes:
            size = int(rng.integers(size_lo, size_hi + 1))
            angle = float(rng.uniform(0.0, 2 * np.pi)) if rotate else 0.0
            crop = _shape_crop(shape, size, angle)
            ch, cw = crop.shape
            for _ in range(_POSITION_TRIES):
                y0 = int(rng.integers(0, height - ch + 1))
                x0 = int(rng.integers(0, width - cw + 1))
                box = (y0, x0, y0 + ch, x0 + cw)
                if not _overlaps(box, taken) and not _overlaps(box, boxes):
                    boxes.append(box)
                    crops.append(crop)
                    break
            else:
                break  # this shape found no room: redraw the whole layout
        if len(boxes) == len(shapes):
            return boxes, crops
    raise GradCAMError(
        f"could not place {len(shapes)} non-overlapping shape(s) in image {index} after "
        f"{_LAYOUT_TRIES} layouts; the image is too crowded: lower size_range, "
        "objects_per_image or distractors, or enlarge image_size"
    )
