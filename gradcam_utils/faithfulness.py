"""Faithfulness metrics: does the model's confidence follow the pixels a heatmap calls important?

Localisation metrics (:mod:`gradcam_utils.metrics`) ask whether a map points at the object; these ask whether it
points at what the *model* uses, by perturbing the input and reading the softmax probability of the explained
class (``engine.class_probabilities``: one traced forward pass, ``batch_size`` images at a time).

* :func:`deletion_curve` / :func:`insertion_curve` - RISE (Petsiuk et al., BMVC 2018). Pixels are ordered by the
  map, most salient first, and removed (deletion) or revealed (insertion) in ``steps`` equal steps; the area under
  the probability curve over the fraction of pixels changed is the score. Deletion: lower is better (the class
  should collapse quickly). Insertion: higher is better.
* :func:`average_drop` / :func:`increase_in_confidence` - Chattopadhay et al. (Grad-CAM++, WACV 2018): the
  probability on the image multiplied by the map (O) against the probability on the image (Y).
  Average Drop = 100 * mean(max(0, Y - O) / Y), lower is better; Increase in Confidence = 100 * mean(1[Y < O]),
  higher is better.

Conventions
-----------
* ``images`` are the model's preprocessed inputs (B, H, W, C); they and the heatmaps are never modified.
* ``heatmaps`` are (B, h, w) at the layer's resolution or at the input's; coarser maps are upsampled bilinearly
  with :func:`resize.upsample_maps` (the same picture the overlays show). One image may come with one (h, w) map.
* Pixel order: descending map value, ties broken by raster order (row by row, left to right), with a stable sort,
  so equal values always give the same curve.
* Substrates: what a removed pixel becomes. Both curves default to a blurred copy of the image
  (``substrate="blur"``, RISE's Gaussian: sigma 5, 11x11 kernel, edges held): deletion replaces the salient
  pixels by their blurred values, insertion starts from the blurred image and reveals the original pixels. Either
  function also accepts ``"zeros"`` (zeros *in the model's input space*: mid-grey for inputs preprocessed to zero
  mean such as EfficientNet-Lite's ``(x - 127) / 128``, black for the raw-pixel shapes models), ``"mean"`` (each
  image's per-channel mean), a number, or an array of shape (H, W, C) or (B, H, W, C).
  :func:`substrate_images` returns the substrate itself, to look at or to delete pixels of your own choice.
* Average Drop / Increase multiply the preprocessed image by the map, so a map value of 0 also means "zeros in
  input space"; maps must therefore lie in [0, 1] (``explain``'s default ``normalize=True``).

Why deletion does not default to zeros
--------------------------------------
RISE deletes onto zeros of normalised tensors. But a picture with a pattern of black (or grey) holes is one the
model never saw in training: its probability drops because the picture is damaged, whatever the holes removed, so
the score mixes "the evidence the map points at is gone" with "the picture is out of distribution". That is why
ROAR (Hooker et al., NeurIPS 2019) retrains the model on pictures with the pixels removed, and ROAD (Rong et al.,
ICML 2022) fills removed pixels with noisy linear imputation from their neighbours. A blurred copy keeps the
picture's colours and low frequencies and removes the detail, so the model sees an image of the kind it knows.
Measured on the course's models (``python benchmarks/deletion_substrates.py``): the probability of the explained
class (the true one on the shapes, the predicted one on the photos) after a random scattered 1/16 of the pixels
takes the substrate's values, and the deletion AUC (16 steps) of Grad-CAM's maps and of random maps (uniform noise
at the map's resolution, two seeds), with the mean per-picture difference and its 95% bootstrap interval:

    model (pictures)        substrate  p after a random 1/16   deletion AUC          random - Grad-CAM
                                       is deleted (intact)     Grad-CAM   random
    shapes_gap (100)        zeros      0.47 (1.00)             0.24       0.25       +0.01 [-0.09, +0.11]
                            mean       0.84                    0.23       0.41       +0.18 [+0.14, +0.24]
                            blur       1.00                    0.35       0.70       +0.35 [+0.30, +0.40]
                            blur s=10  0.99                    0.29       0.55       +0.26 [+0.20, +0.31]
    shapes_flat (100)       zeros      0.44 (0.99)             0.23       0.24       +0.00 [-0.10, +0.11]
                            mean       0.75                    0.23       0.38       +0.16 [+0.08, +0.23]
                            blur       0.99                    0.40       0.71       +0.31 [+0.24, +0.38]
    shapes_biased (100,     zeros      0.99 (0.99)             0.23       0.61       +0.39 [+0.33, +0.44]
      with its cue)         blur       0.99                    0.22       0.60       +0.37 [+0.33, +0.42]
    EfficientNet-Lite0      zeros      0.42 (0.52)             0.13       0.21       +0.08 [+0.02, +0.14]
      (the 5 photos)        mean       0.45                    0.12       0.19       +0.08 [+0.02, +0.15]
                            blur       0.55                    0.27       0.38       +0.10 [+0.05, +0.14]

With black, replacing a random 1/16 of the shapes pictures' pixels halves the true class's probability, and a
random map deletes the class as fast as Grad-CAM's (the score cannot tell them apart); the blurred image leaves the
probability where it was and Grad-CAM's map is then clearly better than chance. The mean colour lies in between;
a stronger blur (sigma 10) separates less. The biased model, which reads a colour patch, is not damaged by any
substrate. On five photos the substrates' differences lie within each other's intervals (there, zeros are
mid-grey). Insertion keeps the blurred start for the same reason: onto black or the mean colour the gap Grad-CAM -
random is larger (+0.52 against +0.25 on shapes_gap), but it is inflated by the same damage, which holds the
random map's curve down.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import keras
import numpy as np
from scipy import ndimage

from . import _graph, engine
from .errors import GradCAMError
from .images import to_batch
from .overlay import check_heatmaps
from .resize import upsample_maps

__all__ = [
    "PerturbationCurve",
    "ConfidenceChange",
    "deletion_curve",
    "insertion_curve",
    "confidence_change",
    "average_drop",
    "increase_in_confidence",
    "blur",
    "substrate_images",
]

BLUR_SIGMA = 5.0  # RISE's insertion substrate: Gaussian, sigma 5, kernel 11 (radius 5)
DELETION_SUBSTRATE = "blur"  # measured, see the module docstring; "zeros" (RISE's deletion) stays available by name
INSERTION_SUBSTRATE = "blur"
DEFAULT_STEPS = 50
_MAP_RANGE_TOL = 1e-6


@dataclass(frozen=True)
class PerturbationCurve:
    """A deletion or insertion curve for a batch."""

    kind: str  # "deletion" or "insertion"
    fractions: np.ndarray  # (steps + 1,) fraction of pixels removed / revealed, from 0 to 1
    probabilities: np.ndarray  # (B, steps + 1) probability of the explained class at each step
    auc: np.ndarray  # (B,) area under each curve over fractions in [0, 1] (trapezoid rule)
    class_indices: np.ndarray  # (B,) the class whose probability is followed

    @property
    def mean_auc(self) -> float:
        """The area under the curve, averaged over the batch."""
        return float(self.auc.mean())


@dataclass(frozen=True)
class ConfidenceChange:
    """Class probabilities on the images (Y) and on the images multiplied by their maps (O)."""

    original: np.ndarray  # (B,) Y
    masked: np.ndarray  # (B,) O
    class_indices: np.ndarray  # (B,)

    @property
    def drops(self) -> np.ndarray:
        """(B,) max(0, Y - O) / Y per image (0 where Y is 0: nothing could drop)."""
        gap = np.maximum(self.original - self.masked, 0.0)
        return np.divide(gap, self.original, out=np.zeros_like(gap), where=self.original > 0)

    @property
    def average_drop(self) -> float:
        """100 * mean(max(0, Y - O) / Y), in percent; lower is better."""
        return float(100.0 * self.drops.mean())

    @property
    def increase_in_confidence(self) -> float:
        """100 * mean(1[Y < O]), in percent; higher is better."""
        return float(100.0 * (self.original < self.masked).mean())


def deletion_curve(
    model: keras.Model,
    images,
    heatmaps,
    class_index=None,
    steps: int = DEFAULT_STEPS,
    batch_size: int = 64,
    substrate=DELETION_SUBSTRATE,
) -> PerturbationCurve:
    """RISE deletion: replace the most salient pixels by ``substrate`` first, and follow the class probability.

    Args:
        model: the classifier (its pre-softmax scores are turned into softmax probabilities).
        images: preprocessed batch (B, H, W, C) or one image.
        heatmaps: (B, h, w) maps, at the layer's or the input's resolution.
        class_index: the class to follow: None (each image's top class), an int, or one per image. Pass
            ``result.class_indices`` from ``explain`` to follow the class each map explains.
        steps: number of equal steps from 0 to all pixels.
        batch_size: images per forward pass.
        substrate: what removed pixels become: by default their values in a blurred copy of the image ("blur");
            "zeros" (RISE's original), "mean", a number or an array; see the module's docstring for why.
    """
    return _curve("deletion", model, images, heatmaps, class_index, steps, batch_size, substrate)


def insertion_curve(
    model: keras.Model,
    images,
    heatmaps,
    class_index=None,
    steps: int = DEFAULT_STEPS,
    batch_size: int = 64,
    substrate=INSERTION_SUBSTRATE,
) -> PerturbationCurve:
    """RISE insertion: reveal the most salient pixels first onto ``substrate`` (default a blurred copy).

    Same arguments as :func:`deletion_curve`; here a higher AUC is better.
    """
    return _curve("insertion", model, images, heatmaps, class_index, steps, batch_size, substrate)


def confidence_change(model: keras.Model, images, heatmaps, class_index=None, batch_size: int = 64) -> ConfidenceChange:
    """Y (probability on each image) and O (on the image multiplied by its upsampled map), for one class each."""
    batch, maps, classes = _prepare(model, images, heatmaps, class_index)
    if maps.min() < -_MAP_RANGE_TOL or maps.max() > 1 + _MAP_RANGE_TOL:
        raise GradCAMError(
            f"heatmaps must lie in [0, 1] to multiply the image (got values in [{maps.min():.3g}, "
            f"{maps.max():.3g}]); use explain(..., normalize=True) or divide each map by its max."
        )
    masked = (batch * np.clip(maps, 0, 1)[..., None]).astype(np.float32)
    rows = np.arange(len(batch))
    original = engine.class_probabilities(model, batch, batch_size)[rows, classes]
    after = engine.class_probabilities(model, masked, batch_size)[rows, classes]
    return ConfidenceChange(original.astype(np.float64), after.astype(np.float64), classes)


def average_drop(model: keras.Model, images, heatmaps, class_index=None, batch_size: int = 64) -> float:
    """Average Drop in percent: 100 * mean(max(0, Y - O) / Y); lower is better. See :func:`confidence_change`."""
    return confidence_change(model, images, heatmaps, class_index, batch_size).average_drop


def increase_in_confidence(model: keras.Model, images, heatmaps, class_index=None, batch_size: int = 64) -> float:
    """Increase in Confidence in percent: 100 * mean(1[Y < O]); higher is better."""
    return confidence_change(model, images, heatmaps, class_index, batch_size).increase_in_confidence


def substrate_images(images, substrate=DELETION_SUBSTRATE) -> np.ndarray:
    """What every pixel of ``images`` (B, H, W, C) becomes when deleted: a new float32 (B, H, W, C) array.

    ``substrate`` is any value :func:`deletion_curve` accepts ("blur", "mean", "zeros", a number or an array).
    Use it to look at the substrate, or to delete pixels of your own choice:
    ``np.where(chosen[..., None], substrate_images(x), x)``.
    """
    batch = np.asarray(images, dtype=np.float32)
    if batch.ndim != 4:
        raise GradCAMError(f"substrate_images expects a batch (B, H, W, C); got shape {batch.shape}.")
    return np.array(_substrate(substrate, batch), dtype=np.float32)


def blur(images, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """A Gaussian-blurred copy (float32) of a batch (B, H, W, C), each channel separately, edges held.

    The kernel is (2 * round(sigma) + 1) pixels wide, as in RISE (sigma 5: 11x11).
    """
    batch = np.asarray(images, dtype=np.float32)
    if batch.ndim != 4:
        raise GradCAMError(f"blur expects a batch (B, H, W, C); got shape {batch.shape}.")
    if not (isinstance(sigma, numbers.Real) and sigma > 0):
        raise GradCAMError(f"sigma must be a positive number of pixels; got {sigma!r}.")
    radius = max(1, int(round(sigma)))
    return ndimage.gaussian_filter(batch, sigma=(0, sigma, sigma, 0), mode="nearest", radius=(0, radius, radius, 0))


# ----- internals --------------------------------------------------------------------------------------------------


def _curve(kind, model, images, heatmaps, class_index, steps, batch_size, substrate) -> PerturbationCurve:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise GradCAMError(f"steps must be a positive int (e.g. {DEFAULT_STEPS}); got {steps!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise GradCAMError(f"batch_size must be a positive int; got {batch_size!r}.")
    steps, batch_size = int(steps), int(batch_size)  # numpy integers too: plain ints from here on
    batch, maps, classes = _prepare(model, images, heatmaps, class_index)
    n_images, height, width = maps.shape
    base = _substrate(substrate, batch)
    # deletion: image pixels, the first `count` of the order replaced by the substrate; insertion: the reverse
    start, source = (batch, base) if kind == "deletion" else (base, batch)
    ranks = _ranks(maps)  # (B, H, W): position of each pixel in its image's order, 0 = most salient
    counts = np.round(np.arange(steps + 1) * (height * width / steps)).astype(np.int64)
    pairs = [(b, k) for b in range(n_images) for k in range(steps + 1)]
    probabilities = np.empty((n_images, steps + 1), np.float64)
    for first in range(0, len(pairs), batch_size):
        chunk = np.array(pairs[first : first + batch_size])
        b, k = chunk[:, 0], chunk[:, 1]
        changed = ranks[b] < counts[k][:, None, None]
        perturbed = np.where(changed[..., None], source[b], start[b]).astype(np.float32)
        probs = engine.class_probabilities(model, perturbed, batch_size)
        probabilities[b, k] = probs[np.arange(len(chunk)), classes[b]]
    fractions = counts / (height * width)
    auc = np.trapezoid(probabilities, fractions, axis=1)
    return PerturbationCurve(kind, fractions, probabilities, auc, classes)


def _prepare(model, images, heatmaps, class_index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images (B, H, W, C) float32 copy, maps upsampled to (B, H, W) float64, classes (B,) resolved)."""
    input_shape, num_classes = _graph.model_shapes(model)
    batch = to_batch(images, input_shape)
    n_images, height, width = batch.shape[:3]
    maps, batched = check_heatmaps(heatmaps, "heatmaps")
    if not batched and n_images != 1:
        raise GradCAMError(f"heatmaps must be a batch of maps (B, h, w), one per image; got shape {maps.shape[1:]}.")
    if len(maps) != n_images:
        raise GradCAMError(
            f"Got {len(maps)} heatmaps for {n_images} images; pass one map per image, in the same order."
        )
    maps = upsample_maps(maps, (height, width), target="input image")
    classes = _resolve_classes(model, batch, class_index, num_classes)
    return batch, maps, classes


def _resolve_classes(model, batch, class_index, num_classes) -> np.ndarray:
    wanted = engine.requested_classes(class_index, len(batch), num_classes).astype(np.int64)
    top = wanted == engine.TOP_CLASS
    if top.any():
        wanted[top] = engine.class_logits(model, batch[top]).argmax(axis=1)
    if num_classes is None:  # only known at run time: check now
        classes = engine.class_logits(model, batch[:1]).shape[1]
        engine.check_class_range(wanted, classes)
    return wanted


def _ranks(maps: np.ndarray) -> np.ndarray:
    """(B, H, W) int: each pixel's position when sorted by descending value, ties in raster order."""
    flat = maps.reshape(len(maps), -1)
    order = np.argsort(-flat, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(flat.shape[1])[None].repeat(len(flat), 0), axis=1)
    return ranks.reshape(maps.shape)


def _substrate(substrate, batch: np.ndarray) -> np.ndarray:
    """The (B, H, W, C) float32 image that removed pixels take (deletion) or that insertion starts from."""
    if isinstance(substrate, str):
        if substrate == "zeros":
            return np.zeros_like(batch)
        if substrate == "blur":
            return blur(batch)
        if substrate == "mean":
            return np.broadcast_to(batch.mean(axis=(1, 2), keepdims=True), batch.shape).astype(np.float32)
        raise GradCAMError(
            f"Unknown substrate {substrate!r}; use 'zeros', 'blur', 'mean', a number or an array "
            "of shape (H, W, C) or (B, H, W, C) in the model's input space."
        )
    if isinstance(substrate, numbers.Real) and not isinstance(substrate, bool):
        return np.full_like(batch, float(substrate))
    array = np.asarray(substrate, dtype=np.float32)
    if array.shape not in (batch.shape, batch.shape[1:]):
        raise GradCAMError(
            f"A substrate array must have shape {batch.shape[1:]} or {batch.shape} (the images'); got {array.shape}."
        )
    if not np.isfinite(array).all():
        raise GradCAMError("The substrate contains NaN or infinite values.")
    return np.broadcast_to(array, batch.shape)
