"""One bilinear upsampling of heatmaps for the overlays and the metrics.

The overlays (what learners see) and the metrics (what is scored) share it, so both use the same picture.

Bilinear with half-pixel centres only ever averages neighbouring cells, so the result stays within the map's
range; bicubic would overshoot and invent values the map never had.
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import GradCAMError

# The package's one bound on an image or map size, in pixels (height x width), checked before anything that large is
# allocated: load_image's default max_pixels (images.MAX_IMAGE_PIXELS) and the largest map upsample_heatmap makes.
MAX_PIXELS = 40_000_000
# upsample_maps' largest result, in float64 elements (2 GiB) over the whole batch: Score-CAM upsamples every channel
# of a layer (2048 x 299 x 299 = 183M for Xception), so this is the cap on a batch, not on one map.
MAX_UPSAMPLED_ELEMENTS = 2**28


def _interpolation_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of 1-D linear interpolation with half-pixel centres.

    Pixel i covers [i, i+1) and its value sits at i + 0.5, as in tf.image.resize and PIL; outside
    the outermost centres the edge value is held (no fading to zero at the border).
    """
    src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    lo = np.floor(src).astype(np.intp)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    weights = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(weights, (rows, lo), 1.0 - frac)
    np.add.at(weights, (rows, hi), frac)
    return weights


def check_size(
    size,
    name: str = "size",
    *,
    minimum: int = 1,
    allow_int: bool = False,
    error: type[GradCAMError] = GradCAMError,
    max_pixels: int | None = None,
) -> tuple[int, int]:
    """``size`` as (height, width) ints, or a clear ``error`` naming ``name``: the one size check of the package.

    Integers only (numpy's too; not bools, not floats such as 16.0, which would be truncated silently), each at least
    ``minimum``; ``allow_int=True`` also takes one int for a square; with ``max_pixels``, height x width at most that
    (checked before anything of that size exists). Used by ``load_image``, ``make_shapes`` and the upsampling of
    heatmaps and metrics.
    """

    def is_int(value) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    if allow_int and is_int(size):
        height = width = int(size)
    else:
        try:
            height, width = size
            ok = is_int(height) and is_int(width)
        except (TypeError, ValueError):
            ok = False
        if not ok or min(height, width) <= 0:
            square = "an int or " if allow_int else ""
            raise error(
                f"{name} must be {square}a pair of positive integers (height, width), e.g. (299, 299); got {size!r}"
            )
    if min(height, width) < minimum:
        raise error(f"{name} must be at least {minimum} pixels per side, got {(int(height), int(width))}")
    if max_pixels is not None and int(height) * int(width) > max_pixels:
        raise error(
            f"{name} {(int(height), int(width))} is {int(height) * int(width):,} pixels, over the limit of "
            f"{max_pixels:,} that keeps memory bounded; pass max_pixels=... to allow a larger size you really need."
        )
    return int(height), int(width)


def upsample_maps(
    maps: np.ndarray, size: tuple[int, int], target: str = "requested size", max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Resize a (B, h, w) float batch to (B, H, W); a size smaller than the maps is refused (``target`` names it).

    Refused before any allocation: a map of more than ``max_pixels`` pixels (H x W), a result of more than
    ``MAX_UPSAMPLED_ELEMENTS`` values over the batch, or interpolation weights (H x h, W x w) of more than
    ``max_pixels`` each.
    """
    height, width = int(size[0]), int(size[1])
    if maps.shape[1] > height or maps.shape[2] > width:
        raise GradCAMError(
            f"heatmap ({maps.shape[1]}x{maps.shape[2]}) is larger than the {target} ({height}x{width}); "
            "heatmaps are only upsampled: resize the image, mask or box to the heatmap instead"
        )
    if height * width > max_pixels:
        raise GradCAMError(
            f"the {target} ({height}x{width}) is {height * width:,} pixels, over the {max_pixels:,}-pixel limit that "
            "keeps memory bounded; upsample to a smaller size, or pass max_pixels=... if you really need it."
        )
    if maps.shape[0] * height * width > MAX_UPSAMPLED_ELEMENTS:
        raise GradCAMError(
            f"upsampling {maps.shape[0]} heatmaps to {height}x{width} would make {maps.shape[0] * height * width:,} "
            f"values, over the limit of {MAX_UPSAMPLED_ELEMENTS:,} (2 GiB) that keeps memory bounded; upsample "
            "fewer maps at a time."
        )
    if maps.shape[1:] == (height, width):
        return maps
    if height * maps.shape[1] > max_pixels or width * maps.shape[2] > max_pixels:
        raise GradCAMError(
            f"upsampling a {maps.shape[1]}x{maps.shape[2]} heatmap to the {target} ({height}x{width}) needs "
            f"interpolation weights over the {max_pixels:,}-element limit that keeps memory bounded; upsample "
            "a smaller map, or pass max_pixels=... if you really need it."
        )
    rows = _interpolation_matrix(maps.shape[1], size[0])
    cols = _interpolation_matrix(maps.shape[2], size[1])
    return rows @ maps @ cols.T  # separable bilinear, all maps of the batch at once


def _describe(value) -> str:
    try:
        return f"shape {np.shape(value)}"
    except ValueError:
        return "a ragged sequence"


def upsample_heatmap(heatmap, size: tuple[int, int], max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Bilinearly upsample one map ``(h, w)`` or a batch ``(B, h, w)`` to ``size = (H, W)``.

    Half-pixel centres with the edge value held, the convention of ``tf.image.resize`` and
    PIL, so the result lies within the input's range. Returns float64; the input is not
    modified. Sizes smaller than the map are refused (that would be downsampling), and so are sizes over
    ``max_pixels`` (default ``MAX_PIXELS``, 40 MP; pass a larger int if you need it), before any allocation.
    """
    size = check_size(size, max_pixels=max_pixels)
    try:
        shape = np.shape(heatmap)  # an array's own shape: no copy yet
    except ValueError:  # a ragged list
        shape = ()
    if len(shape) not in (2, 3) or 0 in shape:
        raise GradCAMError(f"A heatmap must be one map (h, w) or a batch (B, h, w); got {_describe(heatmap)}.")
    if shape[-2] * shape[-1] > max_pixels:  # never needed: a map is at most as large as its target
        raise GradCAMError(
            f"the heatmap ({shape[-2]}x{shape[-1]}) is over the {max_pixels:,}-pixel limit that keeps memory "
            "bounded; pass max_pixels=... if you really need it."
        )
    maps = np.asarray(heatmap, dtype=np.float64)
    out = upsample_maps(maps if maps.ndim == 3 else maps[None], size, max_pixels=max_pixels)
    return out if maps.ndim == 3 else out[0]
