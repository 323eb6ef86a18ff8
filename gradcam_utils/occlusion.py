"""Occlusion sensitivity (Zeiler & Fergus 2014): a perturbation reference map for the evaluation of CAM methods.

A square patch of a neutral substrate slides over the image; at each position the drop in the explained class's
score is recorded. Nothing about the model's insides is used, so the map is a reference to compare CAM maps with
(e.g. by rank correlation), at the cost of one forward pass per patch position, batched (``batch_size``).

The score is the class's pre-softmax logit, the quantity every CAM method here explains (``engine.explain``):
the softmax probability saturates near 1, where covering even the whole object can leave it unchanged, and it
also moves when *other* classes' logits do. drop = logit(image) - logit(image with the patch replaced), so a
positive value marks evidence for the class, a negative one evidence against it.

The substrate is any value :func:`faithfulness.deletion_curve` accepts: ``"zeros"`` (the default, as in the
paper's grey square for zero-centred inputs), ``"blur"``, ``"mean"``, a number or an array, in the model's input
space.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from . import _graph, engine
from .errors import GradCAMError
from .faithfulness import _resolve_classes, _substrate
from .images import to_batch

__all__ = ["OcclusionResult", "occlusion_sensitivity"]


@dataclass(frozen=True)
class OcclusionResult:
    """Occlusion maps for a batch, at the patch grid and at the input's size."""

    grid: np.ndarray  # (B, H', W') float32: the drop in the class logit with the patch at each grid position
    heatmaps: np.ndarray  # (B, H, W) float32: each pixel's mean drop over the patches that cover it (0 if none)
    class_indices: np.ndarray  # (B,) int: the class explained for each image
    scores: np.ndarray  # (B,) float32: that class's logit on the unoccluded image
    patch: int
    stride: int


def occlusion_sensitivity(
    model,
    images,
    class_index=None,
    patch: int = 8,
    stride: int = 4,
    substrate="zeros",
    batch_size: int = 64,
) -> OcclusionResult:
    """Slide a ``patch`` x ``patch`` square of ``substrate`` over each image, ``stride`` pixels apart.

    Args:
        model: a built Keras model (as for ``explain``).
        images: preprocessed batch (B, H, W, C), or one image (H, W, C); never modified.
        class_index: None (each image's top class), an int, or one per image.
        patch: side of the square, in input pixels.
        stride: step between positions; positions start at 0 and the patch always lies inside the image, so there
            are H' = (H - patch) // stride + 1 rows. Pixels past the last position (when stride does not divide
            H - patch) are covered by no patch and get 0 in ``heatmaps``.
        substrate: what the patch shows ("zeros", "blur", "mean", a number or an array), see the module docstring.
        batch_size: occluded copies per forward pass.

    Returns:
        OcclusionResult: ``grid`` (B, H', W'), the logit drop per position; ``heatmaps`` (B, H, W), those drops
        averaged over the patches covering each pixel; the classes and their unoccluded logits.
    """
    input_shape, num_classes = _graph.model_shapes(model)
    batch = to_batch(images, input_shape)
    n_images, height, width = batch.shape[:3]
    patch, stride, batch_size = (
        _positive(v, name) for v, name in ((patch, "patch"), (stride, "stride"), (batch_size, "batch_size"))
    )
    if patch > min(height, width):
        raise GradCAMError(f"patch ({patch}) is larger than the images ({height}x{width}); pick a smaller one.")
    classes = _resolve_classes(model, batch, class_index, num_classes)
    base = _substrate(substrate, batch)
    rows, cols = np.arange(0, height - patch + 1, stride), np.arange(0, width - patch + 1, stride)
    positions = [(i, j) for i in rows for j in cols]
    scores = engine.class_logits(model, batch, batch_size)[np.arange(n_images), classes]
    drops = np.empty((n_images, len(positions)), np.float64)
    for b in range(n_images):
        for first in range(0, len(positions), batch_size):
            chunk = positions[first : first + batch_size]
            occluded = np.repeat(batch[b][None], len(chunk), axis=0)
            for n, (i, j) in enumerate(chunk):
                occluded[n, i : i + patch, j : j + patch] = base[b, i : i + patch, j : j + patch]
            logits = engine.class_logits(model, occluded, batch_size)
            drops[b, first : first + len(chunk)] = scores[b] - logits[:, classes[b]]
    grid = drops.reshape(n_images, len(rows), len(cols))
    totals = np.zeros((n_images, height, width))
    counts = np.zeros((height, width))
    for n, (i, j) in enumerate(positions):
        totals[:, i : i + patch, j : j + patch] += drops[:, n, None, None]
        counts[i : i + patch, j : j + patch] += 1
    heatmaps = np.divide(totals, counts, out=np.zeros_like(totals), where=counts > 0)
    return OcclusionResult(
        grid.astype(np.float32), heatmaps.astype(np.float32), classes, scores.astype(np.float32), patch, stride
    )


def _positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise GradCAMError(f"{name} must be a positive int (e.g. patch=8, stride=4, batch_size=64); got {value!r}.")
    return int(value)
