"""Geometry of the synthetic shapes: rasterise one shape, and place shapes without overlap.

Used by :mod:`gradcam_utils.synthetic`, which owns the random streams and the order of the draws;
the functions here draw from the generator they are given, in a fixed order.
Boxes are ``(y0, x0, y1, x1)`` integer pixel indices, end-exclusive.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import GradCAMError

GAP = 2  # minimum free pixels between the boxes of any two drawn things
POSITION_TRIES = 50  # random positions tried per object before redrawing the image layout
LAYOUT_TRIES = 20  # full layouts tried per image before giving up with an error

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


RASTERISERS = {
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


def shape_crop(shape: str, size: int, angle: float) -> np.ndarray:
    """Tight boolean crop of one shape of the given size, rotated by angle (radians)."""
    off = _offsets(size)
    x, y = off[None, :], off[:, None]
    c, s = math.cos(angle), math.sin(angle)
    u = x * c + y * s  # rotate the sampling points by -angle = rotate the shape by +angle
    v = y * c - x * s
    inside = RASTERISERS[shape](u, v, size / 2)
    rows = np.flatnonzero(inside.any(axis=1))
    cols = np.flatnonzero(inside.any(axis=0))
    return inside[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def max_extent(size: int, rotate: bool) -> int:
    # Worst case over shapes: a square turned by 45 degrees spans size*sqrt(2).
    return math.ceil(size * math.sqrt(2)) + 1 if rotate else size


# --- placement ------------------------------------------------------------------------------


def overlaps(box, boxes) -> bool:
    y0, x0, y1, x1 = box
    for b0, c0, b1, c1 in boxes:
        if y0 < b1 + GAP and b0 < y1 + GAP and x0 < c1 + GAP and c0 < x1 + GAP:
            return True
    return False


def place(rng, shapes, size_lo, size_hi, rotate, height, width, taken, index):
    """Place the given shapes without overlapping ``taken`` boxes or each other.

    Returns their tight boxes and boolean crops. Tries fresh positions first, then whole new
    layouts (sizes and angles), so a rare unlucky first object cannot wedge the image.
    """
    for _ in range(LAYOUT_TRIES):
        boxes: list[tuple[int, int, int, int]] = []
        crops: list[np.ndarray] = []
        for shape in shapes:
            size = int(rng.integers(size_lo, size_hi + 1))
            angle = float(rng.uniform(0.0, 2 * np.pi)) if rotate else 0.0
            crop = shape_crop(shape, size, angle)
            ch, cw = crop.shape
            for _ in range(POSITION_TRIES):
                y0 = int(rng.integers(0, height - ch + 1))
                x0 = int(rng.integers(0, width - cw + 1))
                box = (y0, x0, y0 + ch, x0 + cw)
                if not overlaps(box, taken) and not overlaps(box, boxes):
                    boxes.append(box)
                    crops.append(crop)
                    break
            else:
                break  # this shape found no room: redraw the whole layout
        if len(boxes) == len(shapes):
            return boxes, crops
    raise GradCAMError(
        f"could not place {len(shapes)} non-overlapping shape(s) in image {index} after "
        f"{LAYOUT_TRIES} layouts; the image is too crowded: lower size_range, "
        "objects_per_image or distractors, or enlarge image_size"
    )
