"""CAM methods: each one is a small function from the engine's ``CamInputs`` to a raw map.

The engine does the shared work once (forward pass, pre-softmax score, gradients, ReLU, normalisation); a method
only decides how feature maps are weighted. Adding a method is one function and one ``@register`` line.
Notation as in the papers: A = activations (B, h, w, K), g = d(class score)/dA, per image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import NonFiniteError, check_method
from .resize import upsample_maps


@dataclass(frozen=True)
class CamInputs:
    """What the engine hands to a method, for a batch of B images (made by ``engine.gradient_inputs``)."""

    activations: np.ndarray  # (B, h, w, K) feature maps A of the chosen layer
    gradients: np.ndarray  # (B, h, w, K) d(score of the chosen class) / dA, per image
    class_indices: np.ndarray  # (B,) the class explained for each image
    scores: np.ndarray  # (B,) that class's pre-softmax score
    images: np.ndarray | None = None  # (B, H, W, C) the preprocessed inputs, for methods that perturb them
    probabilities: Callable[[np.ndarray], np.ndarray] | None = None  # batch -> (N, classes) softmax, batched
    layer_name: str = ""
    logits: np.ndarray | None = None  # (B, classes) every class's pre-softmax score, from the same forward pass

    def select(self, rows) -> CamInputs:
        """The same inputs for a subset of the images (an index array or slice)."""

        def pick(a):
            return None if a is None else a[rows]

        return CamInputs(
            self.activations[rows],
            self.gradients[rows],
            self.class_indices[rows],
            self.scores[rows],
            pick(self.images),
            self.probabilities,
            self.layer_name,
            pick(self.logits),
        )


MethodFn = Callable[[CamInputs], np.ndarray]
METHODS: dict[str, MethodFn] = {}


def register(name: str):
    """Add a method under ``name``; it returns a raw (B, h, w) map, before ReLU and normalisation."""

    def add(fn: MethodFn) -> MethodFn:
        METHODS[name] = fn
        return fn

    return add


def weighted_sum(activations: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sum_k weights[b, k] * A[b, :, :, k] for each image b."""
    return np.einsum("bhwk,bk->bhw", activations, weights)


@register("gradcam")
def gradcam(inputs: CamInputs) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017): alpha_k = spatial mean of the gradients, per image (axes 1, 2 only)."""
    alpha = inputs.gradients.mean(axis=(1, 2))
    return weighted_sum(inputs.activations, alpha)


@register("counterfactual")
def counterfactual(inputs: CamInputs) -> np.ndarray:
    """Grad-CAM with negated gradients (paper, section 3.3): where evidence AGAINST the class lies."""
    return weighted_sum(inputs.activations, -inputs.gradients.mean(axis=(1, 2)))


@register("gradcam++")
def gradcam_plus_plus(inputs: CamInputs) -> np.ndarray:
    """Grad-CAM++ (Chattopadhay et al. 2018), closed form for an exponential score.

    w_k = sum_ij a_ij ReLU(g_ij), a_ij = g^2 / (2 g^2 + sum_ab A_ab * g^3); where the denominator is 0 the
    gradient is 0 too and a is set to 0. (The authors' code also divides a by its spatial sum; the paper's
    equations, followed here and by pytorch-grad-cam, do not.)
    """
    g, a = inputs.gradients.astype(np.float64), inputs.activations.astype(np.float64)
    g2 = g**2
    denominator = 2 * g2 + a.sum(axis=(1, 2), keepdims=True) * g**3
    alpha = np.divide(g2, denominator, out=np.zeros_like(g2), where=denominator != 0)
    weights = (alpha * np.maximum(g, 0)).sum(axis=(1, 2))
    return weighted_sum(a, weights)


@register("hirescam")
def hirescam(inputs: CamInputs) -> np.ndarray:
    """HiResCAM (Draelos & Carin 2020): sum_k g^k * A^k elementwise, no spatial averaging of the gradients.

    Faithful to what the score actually used at each position; equals Grad-CAM when g is spatially constant
    (a GAP + Dense head), since then mean(g) = g everywhere.
    """
    return (inputs.gradients * inputs.activations).sum(axis=-1)


@register("layercam")
def layercam(inputs: CamInputs) -> np.ndarray:
    """LayerCAM (Jiang et al. 2021): sum_k ReLU(g^k_ij) A^k_ij; keeps fine detail at early layers."""
    return (np.maximum(inputs.gradients, 0) * inputs.activations).sum(axis=-1)


@register("xgradcam")
def xgradcam(inputs: CamInputs) -> np.ndarray:
    """XGrad-CAM (Fu et al. 2020): alpha_k = sum_ij (A^k_ij / sum_ab A^k_ab) g^k_ij.

    A channel whose activations sum to 0 gets weight 0.
    """
    a = inputs.activations.astype(np.float64)
    totals = a.sum(axis=(1, 2), keepdims=True)
    share = np.divide(a, totals, out=np.zeros_like(a), where=totals != 0)
    return weighted_sum(a, (share * inputs.gradients).sum(axis=(1, 2)))


@register("scorecam")
def scorecam(inputs: CamInputs) -> np.ndarray:
    """Score-CAM (Wang et al. 2020): alpha_k = softmax probability of the class on X * H_k.

    H_k is channel k upsampled (bilinear) to the input size and min-max normalised to [0, 1]; channels that are
    constant carry no location and get weight 0, as in the official code. Costs one forward pass per channel
    and image; the engine batches them (``batch_size``).
    """
    if inputs.images is None or inputs.probabilities is None:
        raise ValueError("Score-CAM needs the input images and the model; use gc.explain(..., method='scorecam').")
    height, width = inputs.images.shape[1:3]
    batch, channels = inputs.activations.shape[0], inputs.activations.shape[-1]
    weights = np.zeros((batch, channels), np.float64)
    for b, image in enumerate(inputs.images):
        masks = _min_max(upsample_maps(np.moveaxis(inputs.activations[b], -1, 0), (height, width)))  # (K, H, W)
        informative = np.flatnonzero(masks.reshape(channels, -1).max(axis=1) > 0)
        for chunk in np.array_split(informative, -(-informative.size // _SCORECAM_CHUNK) or 1):
            if chunk.size:  # masked copies are built a chunk at a time: K full-size images would not fit
                masked = (image[None] * masks[chunk][..., None]).astype(np.float32)
                try:
                    weights[b, chunk] = inputs.probabilities(masked)[:, inputs.class_indices[b]]
                except NonFiniteError as err:  # its image numbers count masked copies: say which image they are of
                    raise NonFiniteError(f"Score-CAM's masked copies of image {b}: {err}") from None
    return weighted_sum(inputs.activations, weights)


_SCORECAM_CHUNK = 256


def _min_max(maps: np.ndarray) -> np.ndarray:
    """Each (H, W) map scaled to [0, 1]; a constant map becomes all zeros."""
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.divide(maps - low, span, out=np.zeros_like(maps), where=span > 0)


def passes_per_image(method: str, channels: int) -> tuple[int, int]:
    """(forward passes, backward passes) one image costs with ``method`` at a layer with ``channels`` maps.

    Every method starts from one forward and one backward pass (shared by a whole batch); Score-CAM then runs the
    model once more per channel (those with a constant map are skipped, so this is an upper bound).
    """
    check_method(method, METHODS)
    return (1 + channels, 1) if method == "scorecam" else (1, 1)
