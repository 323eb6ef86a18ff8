"""CAM methods: each one is a small function from (activations, gradients) to a raw map.

The engine does the shared work once (forward pass, pre-softmax score, gradients, ReLU, normalisation); a method
only decides how feature maps are weighted. Adding a method is one function and one ``@register`` line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class CamInputs:
    """What the engine hands to a method, for a batch of B images."""

    activations: np.ndarray  # (B, h, w, K) feature maps A of the chosen layer
    gradients: np.ndarray  # (B, h, w, K) d(score of the chosen class) / dA, per image
    class_indices: np.ndarray  # (B,) the class explained for each image
    scores: np.ndarray  # (B,) that class's pre-softmax score


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
