"""Localisation metrics: does a heatmap point at the object whose pixels we know?

All functions take numpy-like input, never modify it, and accept one map ``(h, w)`` or a batch
``(B, h, w)``; masks are boolean ``(H, W)`` / ``(B, H, W)`` (0/1 integers are accepted too).
A heatmap coarser than its mask (Grad-CAM's 8x8 against a 64x64 mask) is first upsampled
bilinearly to the mask's size with :func:`upsample_heatmap`; a heatmap *larger* than the mask
is refused, because shrinking it would silently drop mass.

Boxes are ``(y0, x0, y1, x1)`` integer pixel indices, end-exclusive (``mask[y0:y1, x0:x1]``),
the convention of :mod:`gradcam_utils.synthetic`.

* :func:`pointing_game` - is the map's maximum on the object (Zhang et al., 2016)?
* :func:`energy_pointing_game` - which share of the map's mass lies on the object (Wang et
  al., Score-CAM, 2020)?
* :func:`weakly_supervised_box` - the box around the largest region above 15% of the peak
  (the Grad-CAM paper's weakly supervised localisation, Selvaraju et al., 2017; the CAM paper,
  Zhou et al., 2016, boxed CAMs the same way above 20% of the max), scored with
  :func:`box_iou` / :func:`box_accuracy`.
* :func:`bootstrap_ci` - a mean over images with its 95% percentile-bootstrap confidence
  interval, so that a difference between two methods can be told from chance.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage

from .errors import GradCAMError
from .overlay import check_heatmaps
from .resize import check_size, upsample_heatmap, upsample_maps

__all__ = [
    "upsample_heatmap",
    "box_to_mask",
    "pointing_game",
    "pointing_accuracy",
    "energy_pointing_game",
    "weakly_supervised_box",
    "box_iou",
    "box_accuracy",
    "bootstrap_ci",
]

# Upsampled plateaus are equal only up to float rounding ((1-w)*a + w*a need not be exactly a),
# so values within this relative distance of the maximum count as "the maximum".
_TIE_RTOL = 1e-9


# --- input checking -------------------------------------------------------------------------


def _as_masks(mask, batched: bool, batch: int, name: str = "mask") -> np.ndarray:
    """(B, H, W) bool copy of one mask or a batch matching the heatmaps' batching."""
    array = np.asarray(mask)
    if array.dtype != bool:
        if not np.issubdtype(array.dtype, np.number) or not np.isin(array, (0, 1)).all():
            raise GradCAMError(f"{name} must be boolean (or contain only 0 and 1), got dtype {array.dtype}")
    expected = 3 if batched else 2
    if array.ndim != expected:
        want = "(B, H, W) for a batch of heatmaps" if batched else "(H, W) for a single heatmap"
        raise GradCAMError(f"{name} must be {want}, got shape {array.shape}")
    masks = array.astype(bool) if batched else array.astype(bool)[None]
    if masks.shape[0] != batch:
        raise GradCAMError(f"{batch} heatmaps but {masks.shape[0]} {name}s; give one {name} per heatmap")
    return masks


def _check_non_negative(maps: np.ndarray, what: str) -> None:
    if maps.min() < 0:
        raise GradCAMError(
            f"{what} needs a non-negative heatmap, got a minimum of {maps.min():.3g}; Grad-CAM maps are "
            "ReLU'd, so clip a raw map with np.maximum(heatmap, 0) if that is what you mean"
        )


def box_to_mask(box, size: tuple[int, int]) -> np.ndarray:
    """Boolean mask ``(H, W)`` (or ``(B, H, W)`` for boxes ``(B, 4)``) that is True inside the box(es)."""
    height, width = check_size(size)
    boxes, batched = _as_boxes(box)
    if (boxes != np.round(boxes)).any():
        raise GradCAMError(f"box(es) must have integer pixel coordinates to become a mask, got {boxes.tolist()}")
    if (boxes[:, [2, 3]] > (height, width)).any() or (boxes < 0).any():
        raise GradCAMError(f"box(es) {boxes.tolist()} reach outside an image of size {(height, width)}")
    ys, xs = np.arange(height), np.arange(width)
    inside_y = (ys >= boxes[:, 0, None]) & (ys < boxes[:, 2, None])
    inside_x = (xs >= boxes[:, 1, None]) & (xs < boxes[:, 3, None])
    masks = inside_y[:, :, None] & inside_x[:, None, :]
    return masks if batched else masks[0]


# --- pointing game --------------------------------------------------------------------------


def pointing_game(heatmap, mask, tolerance: float = 0):
    """Does the map's maximum fall on the object (within ``tolerance`` pixels of its mask)?

    Args:
        heatmap: ``(h, w)`` or ``(B, h, w)``; any real values (the maximum is all that counts).
        mask: ``(H, W)`` or ``(B, H, W)`` boolean, non-empty; the map is upsampled to it.
        tolerance: Euclidean distance in mask pixels (centre to centre) by which the maximum
            may miss the mask and still count; Zhang et al. use 15 px on 224 px images.

    Returns:
        ``bool`` for one map, a boolean array ``(B,)`` for a batch.

    Ties: if the maximum is reached at several pixels, it is a hit when **any** of them is on
    (or within ``tolerance`` of) the object. Ties are common and not the map's fault: an
    upsampled peak cell becomes a 2x2 plateau, and a peak on the border a strip; any choice
    among them (``np.argmax``'s first in scan order) would be arbitrary and biased towards the
    top-left. A completely flat map (e.g. all zeros: no evidence) points nowhere and is a miss
    - otherwise "any maximum" would score a collapsed map as a hit on every image.
    """
    if not isinstance(tolerance, numbers.Real) or isinstance(tolerance, bool) or not 0 <= tolerance < np.inf:
        raise GradCAMError(f"tolerance is a distance in pixels and must be a finite number >= 0, got {tolerance!r}")
    maps, batched = check_heatmaps(heatmap)
    masks = _as_masks(mask, batched, len(maps))
    maps = upsample_maps(maps, masks.shape[1:], "mask")
    empty = ~masks.any(axis=(1, 2))
    if empty.any():
        raise GradCAMError(
            f"mask(s) {np.flatnonzero(empty).tolist()} are empty: the pointing game needs an object to point at"
        )
    hits = np.zeros(len(maps), dtype=bool)
    for i, (m, obj) in enumerate(zip(maps, masks, strict=True)):
        peak, low = m.max(), m.min()
        if peak == low:
            continue  # flat map: no maximum to speak of (see docstring)
        maxima = m >= peak - _TIE_RTOL * max(abs(peak), abs(low))
        if tolerance == 0:
            hits[i] = (maxima & obj).any()
        else:
            # distance of every pixel to the nearest object pixel
            hits[i] = (ndimage.distance_transform_edt(~obj)[maxima] <= tolerance).any()
    return hits if batched else bool(hits[0])


def pointing_accuracy(heatmaps, masks, tolerance: float = 0) -> float:
    """Share of maps whose maximum hits their object: the mean of :func:`pointing_game`."""
    return float(np.mean(pointing_game(heatmaps, masks, tolerance)))


# --- energy-based pointing game -------------------------------------------------------------


def energy_pointing_game(heatmap, mask_or_box, *, image_size: tuple[int, int] | None = None):
    """Share of the map's mass on the object: ``sum(map * mask) / sum(map)``, in [0, 1].

    Args:
        heatmap: non-negative ``(h, w)`` or ``(B, h, w)``.
        mask_or_box: a boolean mask ``(H, W)`` / ``(B, H, W)`` (same rank as the heatmap), or a
            box ``(4,)`` / boxes ``(B, 4)`` (one rank less), end-exclusive ``(y0, x0, y1, x1)``.
        image_size: ``(H, W)`` the boxes refer to (default: the heatmap's own size). Not
            needed for masks, whose shape is the size.

    Returns:
        ``float`` for one map, float array ``(B,)`` for a batch. An all-zero map (no evidence
        anywhere) scores 0.0, never NaN: it puts no energy on the object.
    """
    maps, batched = check_heatmaps(heatmap)
    _check_non_negative(maps, "the energy pointing game")
    target = np.asarray(mask_or_box)
    if target.ndim == (2 if batched else 1):  # one rank less than the heatmap: boxes
        size = maps.shape[1:] if image_size is None else check_size(image_size, "image_size")
        masks = _as_masks(box_to_mask(target, size), batched, len(maps), "box")
    else:
        masks = _as_masks(target, batched, len(maps))
        if image_size is not None and check_size(image_size, "image_size") != masks.shape[1:]:
            raise GradCAMError(
                f"image_size {image_size} disagrees with the mask's shape {masks.shape[1:]}; drop image_size"
            )
    maps = upsample_maps(maps, masks.shape[1:], "mask")
    total = maps.sum(axis=(1, 2))
    inside = (maps * masks).sum(axis=(1, 2))
    # clip: float rounding must not push a fully-inside map above 1
    energy = np.divide(inside, total, out=np.zeros_like(total), where=total > 0).clip(0.0, 1.0)
    return energy if batched else float(energy[0])


# --- weakly supervised localisation ---------------------------------------------------------

_STRUCTURES = {8: np.ones((3, 3), dtype=bool), 4: ndimage.generate_binary_structure(2, 1)}


def weakly_supervised_box(
    heatmap, threshold: float = 0.15, *, image_size: tuple[int, int] | None = None, connectivity: int = 8
):
    """Box around the largest connected region where the map is >= ``threshold`` x its maximum.

    Args:
        heatmap: non-negative ``(h, w)`` or ``(B, h, w)``.
        threshold: fraction of each map's own maximum, in (0, 1]; 0.15 as in the Grad-CAM
            paper (Selvaraju et al., 2017); the CAM paper (Zhou et al., 2016) used 0.2.
        image_size: upsample the map to ``(H, W)`` first, so the box is in image pixels;
            default: boxes in the heatmap's own pixels.
        connectivity: 8 (default) joins diagonal neighbours. A thresholded Grad-CAM blob is
            one smooth region, and at a 45-degree edge its pixels touch only at corners; 4-
            connectivity would cut such a region into pieces and keep only a part of the object
            (8 is also what contour-based WSOL code such as cv2.findContours uses).

    Returns:
        For one map: ``(y0, x0, y1, x1)`` ints, end-exclusive, or ``None`` when the map is all
        zeros (no region at all). For a batch: int64 array ``(B, 4)`` whose rows are
        ``(-1, -1, -1, -1)`` for all-zero maps; :func:`box_iou` scores such rows 0.

    If two regions are equally large, the one with more heat wins.
    """
    if not isinstance(threshold, numbers.Real) or isinstance(threshold, bool) or not 0 < threshold <= 1:
        raise GradCAMError(f"threshold is a fraction of the map's maximum and must be in (0, 1], got {threshold!r}")
    if connectivity not in _STRUCTURES:
        raise GradCAMError(f"connectivity must be 4 or 8, got {connectivity!r}")
    maps, batched = check_heatmaps(heatmap)
    _check_non_negative(maps, "weakly_supervised_box")
    if image_size is not None:
        maps = upsample_maps(maps, check_size(image_size, "image_size"), "image_size")
    boxes = np.full((len(maps), 4), -1, dtype=np.int64)
    for i, m in enumerate(maps):
        peak = m.max()
        if peak <= 0:
            continue  # all zeros: nothing to box
        labels, count = ndimage.label(m >= threshold * peak, structure=_STRUCTURES[connectivity])
        index = np.arange(1, count + 1)
        sizes = ndimage.sum_labels(np.ones_like(m), labels, index)
        mass = ndimage.sum_labels(m, labels, index)
        best = index[np.lexsort((mass, sizes))[-1]]  # largest, then heaviest
        rows = np.flatnonzero((labels == best).any(axis=1))
        cols = np.flatnonzero((labels == best).any(axis=0))
        boxes[i] = (rows[0], cols[0], rows[-1] + 1, cols[-1] + 1)
    if batched:
        return boxes
    return None if boxes[0, 0] < 0 else tuple(int(v) for v in boxes[0])


# --- boxes ----------------------------------------------------------------------------------


def _as_boxes(box, name: str = "box") -> tuple[np.ndarray, bool]:
    array = np.asarray(box)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise GradCAMError(f"{name} must be numeric (y0, x0, y1, x1), got dtype {array.dtype}")
    if array.ndim not in (1, 2) or array.shape[-1] != 4:
        raise GradCAMError(f"{name} must have shape (4,) or (N, 4) as (y0, x0, y1, x1), got {array.shape}")
    boxes = array.astype(np.float64) if array.ndim == 2 else array.astype(np.float64)[None]
    if not np.isfinite(boxes).all():
        raise GradCAMError(f"{name} contains NaN or infinite coordinates")
    missing = (boxes == -1).all(axis=1)  # the "no box" rows of weakly_supervised_box
    if ((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))[~missing].any():
        raise GradCAMError(f"{name} needs y0 <= y1 and x0 <= x1 (end-exclusive corners), got {array.tolist()}")
    return boxes, array.ndim == 2


def box_iou(a, b):
    """Intersection over union of boxes ``(y0, x0, y1, x1)``, end-exclusive, in [0, 1].

    ``a`` and ``b`` are ``(4,)`` or ``(N, 4)`` and are paired row by row (a single box is paired
    with every row of the other). Returns a float, or a float array ``(N,)``. Two empty boxes
    (zero area) and "no box" rows ``(-1, -1, -1, -1)`` score 0.
    """
    boxes_a, batched_a = _as_boxes(a, "a")
    boxes_b, batched_b = _as_boxes(b, "b")
    if batched_a and batched_b and len(boxes_a) != len(boxes_b):
        raise GradCAMError(
            f"a has {len(boxes_a)} boxes and b has {len(boxes_b)}; pair them one to one, or pass one box"
        )
    missing = (boxes_a == -1).all(axis=1) | (boxes_b == -1).all(axis=1)
    height = np.minimum(boxes_a[:, 2], boxes_b[:, 2]) - np.maximum(boxes_a[:, 0], boxes_b[:, 0])
    width = np.minimum(boxes_a[:, 3], boxes_b[:, 3]) - np.maximum(boxes_a[:, 1], boxes_b[:, 1])
    inter = np.clip(height, 0, None) * np.clip(width, 0, None)
    area_a = (boxes_a[:, 2] - boxes_a[:, 0]) * (boxes_a[:, 3] - boxes_a[:, 1])
    area_b = (boxes_b[:, 2] - boxes_b[:, 0]) * (boxes_b[:, 3] - boxes_b[:, 1])
    union = area_a + area_b - inter
    iou = np.divide(inter, union, out=np.zeros_like(union), where=(union > 0) & ~missing)
    return iou if (batched_a or batched_b) else float(iou[0])


def box_accuracy(predicted, true, iou_threshold: float = 0.5) -> float:
    """Share of predicted boxes with IoU >= ``iou_threshold`` against the true ones (CAM's 0.5)."""
    if not isinstance(iou_threshold, numbers.Real) or not 0 < iou_threshold <= 1:
        raise GradCAMError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    return float(np.mean(np.asarray(box_iou(predicted, true)) >= iou_threshold))


# --- uncertainty ----------------------------------------------------------------------------


def bootstrap_ci(values, n: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-image ``values`` and its percentile-bootstrap confidence interval: ``(mean, low, high)``.

    The images are resampled with replacement ``n`` times (seeded, so the interval is reproducible); ``low`` and
    ``high`` are the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled means. For a paired
    comparison of two methods on the same images, pass the per-image differences: the difference is real (at
    this level) when the interval excludes 0. Booleans (pointing-game hits) count as 0/1.
    """
    array = np.asarray(values)
    if array.dtype != bool and (not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array)):
        raise GradCAMError(f"values must be real numbers (one per image), got dtype {array.dtype}")
    if array.ndim != 1 or array.size < 2:
        raise GradCAMError(f"values must be one number per image, at least two, got shape {array.shape}")
    data = array.astype(np.float64)
    if not np.isfinite(data).all():
        raise GradCAMError("values contain NaN or infinite numbers; drop or fix them first")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise GradCAMError(f"n (the number of resamples) must be a positive int, got {n!r}")
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise GradCAMError(f"level must be in (0, 1), e.g. 0.95, got {level!r}")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(int(n), len(data)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(data.mean()), float(low), float(high)
