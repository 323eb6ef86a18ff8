"""One bilinear upsampling of heatmaps for the overlays and the metrics.

The overlays (what learners see) and the metrics (what is scored) share it, so both use the same picture.

Bilinear with half-pixel centres only ever averages neighbouring cells, so the result stays within the map's
range; bicubic would overshoot and invent values the map never had.
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import GradCAMError


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
    size, name: str = "size", *, minimum: int = 1, allow_int: bool = False, error: type[GradCAMError] = GradCAMError
) -> tuple[int, int]:
    """``size`` as (height, width) ints, or a clear ``error`` naming ``name``: the one size check of the package.

    Integers only (numpy's too; not bools, not floats such as 16.0, which would be truncated silently), each at least
    ``minimum``; ``allow_int=True`` also takes one int for a square. Used by ``load_image``, ``make_shapes`` and the
    upsampling of heatmaps and metrics.
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
    return int(height), int(width)


def upsample_maps(maps: np.ndarray, size: tuple[int, int], target: str = "requested size") -> np.ndarray:
    """Resize a (B, h, w) float batch to (B, H, W); a size smaller than the maps is refused (``target`` names it)."""
    if maps.shape[1] > size[0] or maps.shape[2] > size[1]:
        raise GradCAMError(
            f"heatmap ({maps.shape[1]}x{maps.shape[2]}) is larger than the {target} ({size[0]}x{size[1]}); "
            "heatmaps are only upsampled: resize the image, mask or box to the heatmap instead"
        )
    if maps.shape[1:] == tuple(size):
        return maps
    rows = _interpolation_matrix(maps.shape[1], size[0])
    cols = _interpolation_matrix(maps.shape[2], size[1])
    return rows @ maps @ cols.T  # separable bilinear, all maps of the batch at once


def upsample_heatmap(heatmap, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly upsample one map ``(h, w)`` or a batch ``(B, h, w)`` to ``size = (H, W)``.

    Half-pixel centres with the edge value held, the convention of ``tf.image.resize`` and
    PIL, so the result lies within the input's range. Returns float64; the input is not
    modified. Sizes smaller than the map are refused (that would be downsampling).
    """
    maps = np.asarray(heatmap, dtype=np.float64)
    if maps.ndim not in (2, 3) or maps.size == 0:
        raise GradCAMError(f"A heatmap must be one map (h, w) or a batch (B, h, w); got shape {np.shape(heatmap)}.")
    out = upsample_maps(maps if maps.ndim == 3 else maps[None], check_size(size))
    return out if maps.ndim == 3 else out[0]
