"""CAM methods: each one is a small function from the engine's ``CamInputs`` to a raw map.

The engine does the shared work once (forward pass, pre-softmax score, gradients, ReLU, normalisation); a method
only decides how feature maps are weighted. Adding a method is one function and one ``@register`` line.
Notation as in the papers: A = activations (B, h, w, K), g = d(class score)/dA, per image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import GradCAMError, NonFiniteError, check_method
from .resize import upsample_maps
from .targets import copy_score_kind


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
    model: Any = None  # the keras.Model the activations come from, for methods that run its layers (AblationCAM)
    target: Any = None  # the target= the scores are of; None: class_indices' pre-softmax class scores
    copy_scores: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None  # (copies, rows) -> target's (N,) scores
    leading_tokens: np.ndarray | None = None  # (B, n, C) a token layer's class/register tokens (n may be 0); else None
    image_rows: np.ndarray | None = None  # (B,) these images' rows in the batch a per-image target was given for

    def rows(self) -> np.ndarray:
        """(B,) int32: each image's row in the batch the target's per-image parameters are for."""
        return np.arange(len(self.activations), dtype=np.int32) if self.image_rows is None else self.image_rows

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
            self.model,
            self.target,
            self.copy_scores,
            pick(self.leading_tokens),
            self.rows()[rows],
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

    Compared with pytorch-grad-cam on the same EfficientNet-Lite0 weights in torch, the maps differ by up to 0.07
    (of the peak, normalised maps): pytorch-grad-cam adds 1e-6 to the denominator, and at ``top_activation`` the
    gradients are ~1e-3, so g^2 is of the same size as that 1e-6. Grad-CAM, HiResCAM, XGrad-CAM and LayerCAM agree
    with pytorch-grad-cam to 2e-6 of the peak.
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
    """Score-CAM (Wang et al. 2020): alpha_k = the explained score on X * H_k, for a class its softmax probability.

    H_k is channel k upsampled (bilinear) to the input size and min-max normalised to [0, 1]; channels that are
    constant carry no location and get weight 0, as in the official code. Costs one forward pass per channel
    and image; the engine batches them (``batch_size``).

    What scores a masked copy (``targets.copy_score_kind``): for a class (``class_index`` or ``ClassScore``) the
    class probability, the paper's weight, unchanged; for a ``MultiLabel`` the label's probability, its sigmoid: a
    sigmoid head's labels are independent, so the label's own probability plays the part the softmax plays for a
    class, and its weights stay in [0, 1] like the paper's (the logit would shift every weight by the label's bias
    and let a masked copy that hides the object weigh against it); for any other target (``Difference``,
    ``Regression``, ``RegionScore``, a function) its score as it is, since it has no probability: each masked copy
    is scored with ``target(outputs)`` on the model's pre-activation outputs, batched.

    pytorch-grad-cam's Score-CAM differs from this one (and the paper) by up to 0.45 of the peak on the same
    EfficientNet-Lite0 weights: it upsamples the masks with ``align_corners=True`` and weights the channels by a
    softmax over the channels' class logits instead of the class probability of each masked image.
    """
    kind = copy_score_kind(inputs.target)
    if inputs.images is None or (inputs.probabilities if kind == "softmax" else inputs.copy_scores) is None:
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
                    weights[b, chunk] = _masked_scores(inputs, kind, masked, b)
                except NonFiniteError as err:  # its image numbers count masked copies: say which image they are of
                    raise NonFiniteError(f"Score-CAM's masked copies of image {b}: {err}") from None
    return weighted_sum(inputs.activations, weights)


def _masked_scores(inputs: CamInputs, kind: str, masked: np.ndarray, b: int) -> np.ndarray:
    """Score-CAM's weights of masked copies of image ``b``: a class probability, a label's, or the target's score."""
    if kind == "softmax":
        assert inputs.probabilities is not None
        return inputs.probabilities(masked)[:, inputs.class_indices[b]]
    assert inputs.copy_scores is not None
    scores = inputs.copy_scores(masked, np.full(len(masked), inputs.rows()[b], np.int32))
    return 0.5 * (1.0 + np.tanh(0.5 * scores)) if kind == "sigmoid" else scores  # the sigmoid, without overflow


@register("eigencam")
def eigencam(inputs: CamInputs) -> np.ndarray:
    """EigenCAM (Muhammad & Yeasin 2020): the activations projected on their first principal component.

    Per image, the (h*w, K) matrix of activations is decomposed by SVD and each position is projected on the first
    right singular vector, i.e. the map is s_1 * u_1. The activations are not centred (as in the paper), so
    rank-1 activations A[i, j, k] = u[i, j] * v[k] give back u exactly. An SVD's sign is arbitrary: it is fixed
    here so that the map correlates positively with the activations' mean over channels (pytorch-grad-cam fixes
    no sign; it centres each channel first, which changes the map, and keeps whatever sign the SVD returns).

    Class-independent: the gradients, scores and ``class_index`` are not used, so every class gets the same map;
    it shows what the layer responds to most, not why the model chose a class.
    """
    acts = inputs.activations.astype(np.float64)
    batch, height, width, channels = acts.shape
    matrices = acts.reshape(batch, height * width, channels)
    # One batched SVD (a Python loop of per-image SVDs fights for the BLAS threads: 30-100x slower on a busy CPU).
    _, _, vt = np.linalg.svd(matrices, full_matrices=False)
    projection = np.einsum("bnk,bk->bn", matrices, vt[:, 0])
    mean = matrices.mean(axis=2)
    centred = np.einsum(
        "bn,bn->b", projection - projection.mean(axis=1, keepdims=True), mean - mean.mean(axis=1, keepdims=True)
    )
    agreement = np.where(centred != 0, centred, np.einsum("bn,bn->b", projection, mean))
    maps = np.where(agreement[:, None] >= 0, projection, -projection)
    maps[~matrices.any(axis=(1, 2))] = 0  # no activation at all: an empty map (the engine warns)
    return maps.reshape(batch, height, width)


@register("ablationcam")
def ablationcam(inputs: CamInputs) -> np.ndarray:
    """AblationCAM (Desai & Ramaswamy 2020): alpha_k = the explained score's relative drop when channel k is zeroed.

    alpha_k = (y - y_k) / |y|, with y the score explained (a class's pre-softmax score, or a ``target``'s score,
    e.g. a ``MultiLabel``'s pre-sigmoid logit, a ``Difference`` or a ``RegionScore``) and y_k that score with channel
    k of the layer set to zero. Only the layers after the chosen one run (a tail from the layer's output to the
    model's pre-activation output, traced once per model, layer and target), on every ablated copy of the
    activations, batched, and the target scores each copy; at the last conv layer this costs little more than
    Grad-CAM, and no gradient is used. The paper divides by y; dividing by |y| is the same map when y > 0 and keeps
    "a drop is evidence for the score" when y < 0 (y = 0: the drop itself). On a GAP + Dense head, y - y_k = w_k *
    mean(A_k): Grad-CAM's weight (w_k / hw) times the channel's total activation, so a weakly active channel counts
    for less than in Grad-CAM.

    On a token layer (a Vision Transformer's (batch, tokens, channels)), channel k is zeroed in the patch tokens only:
    the class/register tokens in front are left as they are (they belong to no image position), and the later
    layers run on the tokens. When a skip connection crosses the layer (inside a residual block, or a pre-norm
    transformer block's LayerNorm, whose input the residual Add also reads), what it carries is computed once per
    image from the images and held fixed: only the chosen layer's channel is zeroed, as in the paper.
    """
    if inputs.model is None or not inputs.layer_name:
        raise ValueError(
            "AblationCAM runs the model's layers after the chosen one, so it needs the model; use "
            "gc.explain(model, images, layer_name, method='ablationcam') or heatmaps_from(gradient_inputs(...), ...)."
        )
    if inputs.target is None and (inputs.class_indices < 0).any():  # inputs made by hand without their target
        raise GradCAMError(
            "AblationCAM weights channels by the drop in the explained score, and these inputs name no class (-1) and "
            "carry no target; compute them with gradient_inputs(model, images, target=...) or class_index=c."
        )
    from . import copy_scores  # imports the engine, which imports this module: imported when first needed

    tail = copy_scores.ablation_tail(inputs)
    acts = inputs.activations.astype(np.float32)
    batch, height, width, channels = acts.shape
    leading = np.zeros((batch, 0, channels), np.float32) if inputs.leading_tokens is None else inputs.leading_tokens
    # what the tail scores each row with: its image's class, or its image's row for the target's parameters
    picks = (inputs.class_indices if inputs.target is None else inputs.rows()).astype(np.int32)
    # one row per (image, channel zeroed), channel -1 zeroing none; rows of several images share a call of the tail
    rows = np.repeat(np.arange(batch, dtype=np.int32), channels + 1)
    zeroed = np.tile(np.arange(-1, channels, dtype=np.int32), batch)
    step = max(1, _ABLATION_VALUES // max(1, (height * width + leading.shape[1]) * channels))  # copies per call
    before = tail.values_before(inputs.images)  # what a skip connection carries across the layer, once per image
    found = np.concatenate(
        [
            _checked(
                tail.scores(acts, leading.astype(np.float32), part, zeroed[first : first + step], picks[part], *before)
            )
            for first in range(0, rows.size, step)
            for part in [rows[first : first + step]]
        ]
    ).reshape(batch, channels + 1)
    # y from the tail too (equal to inputs.scores up to float32 rounding): a channel that changes nothing gets 0
    scores = found[:, 0]
    weights = scores[:, None] - found[:, 1:]
    scale = np.abs(scores)
    weights /= np.where(scale > 0, scale, 1.0)[:, None]
    return weighted_sum(acts, weights)


_ABLATION_VALUES = 1 << 24  # activations values per tail call: 64 MB of ablated copies at a time


def _checked(scores) -> np.ndarray:
    values = np.asarray(scores, np.float64)
    if not np.isfinite(values).all():
        raise NonFiniteError(
            "AblationCAM: the model's scores with a channel of the layer zeroed are NaN or infinite; check the "
            "model's weights with gc.explain(model, images) (method 'gradcam'), which names the cause."
        )
    return values


_SCORECAM_CHUNK = 256


def _min_max(maps: np.ndarray) -> np.ndarray:
    """Each (H, W) map scaled to [0, 1]; a constant map becomes all zeros."""
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.divide(maps - low, span, out=np.zeros_like(maps), where=span > 0)


def passes_per_image(method: str, channels: int) -> tuple[int, int]:
    """(forward passes, backward passes) one image costs with ``method`` at a layer with ``channels`` maps.

    Every method starts from one forward and one backward pass (shared by a whole batch); Score-CAM then runs the
    model once more per channel (those with a constant map are skipped, so this is an upper bound). AblationCAM
    runs only the layers after the chosen one once per channel, counted here as ``channels`` extra (partial)
    forward passes; at the last conv layer each costs a small fraction of a whole pass. (When a skip connection
    crosses the layer, the layers before it also run once more per batch, for what the skip carries.)
    """
    check_method(method, METHODS)
    return (1 + channels, 1) if method in ("scorecam", "ablationcam") else (1, 1)
