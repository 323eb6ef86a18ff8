"""Token layers: Grad-CAM on a Vision Transformer's (batch, tokens, channels) activations.

A ViT cuts the image into patches (usually a Conv2D with stride = patch size, whose (B, h, w, C) output is reshaped
into h*w tokens), may put n class/register tokens in front of them, and runs its blocks on (B, n + h*w, C). To explain
such a layer, its activations and gradients are put back on the patch grid before any method sees them: the n leading
tokens are dropped (they belong to no image position) and the remaining h*w tokens are reshaped, row by row, to
(B, h, w, C). Every method then works on them as on a convolution's feature maps, and maps come back as (B, h, w).

The grid is found from the model: the last 4-D layer before the token layer (the patch embedding) gives (h, w) when
h*w tokens plus up to ``MAX_LEADING`` leading ones make the token count; otherwise the token count itself, when exactly
one n in 0..``MAX_LEADING`` leaves a perfect square of at least 2x2. Anything else (an ambiguous count such as 9 = 3*3
or 2*2 + 5, a count that is no grid) is refused with the ``token_grid=`` to pass instead.

AblationCAM, which reruns the layers after the chosen one, gets the leading tokens' activations too: it zeroes a
channel in the patch tokens only, puts the grid back into tokens behind the untouched leading ones and runs the later
layers on them (``copy_scores.ablation_tail``).
"""

from __future__ import annotations

import math

import keras
import numpy as np

from . import layers as layer_lookup
from .errors import LayerError

MAX_LEADING = 5  # class token + up to 4 register tokens (DINOv2 uses 4)


def is_token_layer(model: keras.Model, path: tuple) -> bool:
    """True when ``path[-1]`` outputs (batch, tokens, channels) in a model whose input is an image."""
    return _rank(path[-1]) == 3 and _image_input(model)


def token_layer_names(model: keras.Model) -> list[str]:
    """Names of the token layers that follow a 4-D (image-like) layer, input side first (nested names as in layers)."""
    if not _image_input(model):
        return []
    names, seen_4d = [], False
    for path, layer in layer_lookup.walk(model):
        rank = _rank(layer)
        if rank == 4 and not isinstance(layer, keras.layers.InputLayer):
            seen_4d = True
        elif rank == 3 and seen_4d:
            names.append(layer_lookup.display_name(path))
    return names


def default_token_layer(model: keras.Model) -> str | None:
    """The default token layer: the input of the last attention (timm's ``blocks[-1].norm1``), else the last one.

    After the last attention no patch token reaches a head that reads the class token (each token's MLP, residual
    and LayerNorm stay on that token), so the patch tokens' gradients there are zero and Grad-CAM's map is empty;
    the tokens that enter the last attention are the last ones the class token still reads. A model without
    attention gets its last token layer that is not a LayerNormalization (with a mean over the tokens as the head,
    every token reaches the output; the final LayerNorm only rescales each token).
    """
    names = token_layer_names(model)
    layers = [layer_lookup.find_layer_path(model, name)[-1] for name in names]
    attention = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.MultiHeadAttention)]
    if attention and attention[-1] > 0:
        return names[attention[-1] - 1]
    for name, layer in zip(reversed(names), reversed(layers), strict=True):
        if not isinstance(layer, keras.layers.LayerNormalization):
            return name
    return names[-1] if names else None


def check_token_grid(token_grid) -> None:
    """LayerError unless ``token_grid`` is None, (h, w) or (h, w, leading) of ints (h, w >= 1, leading >= 0)."""
    if token_grid is None:
        return
    ok = isinstance(token_grid, (tuple, list)) and len(token_grid) in (2, 3)
    ok = ok and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in token_grid)
    if not ok or min(token_grid[:2]) < 1 or (len(token_grid) == 3 and token_grid[2] < 0):
        raise LayerError(
            f"token_grid must be (height, width) of the patch grid, or (height, width, leading_tokens) with the "
            f"number of class/register tokens in front, e.g. token_grid=(14, 14) or (14, 14, 1); got {token_grid!r}."
        )


def resolve_grid(model: keras.Model, path: tuple, tokens: int, token_grid=None) -> tuple[int, int, int]:
    """(h, w, leading): the patch grid of a token layer with ``tokens`` tokens, and how many leading ones to drop."""
    name = layer_lookup.display_name(path)
    if not _image_input(model):
        raise LayerError(
            f"Layer '{name}' outputs (batch, {tokens}, channels), but model '{model.name}' does not take images, so "
            "its tokens have no place in a picture and Grad-CAM has no map to draw. Grad-CAM needs a model whose "
            "input is (batch, height, width, channels)."
        )
    if token_grid is not None:
        return _explicit(name, tokens, token_grid)
    patch = _patch_grid(model, path, tokens)
    if patch is not None:
        return patch
    fits = [(math.isqrt(tokens - n), n) for n in range(MAX_LEADING + 1) if _square(tokens - n)]
    if len(fits) == 1:
        side, leading = fits[0]
        return side, side, leading
    options = " or ".join(f"token_grid=({s}, {s}, {n})" for s, n in fits)
    why = f"it could be {options}" if fits else f"no square grid with up to {MAX_LEADING} leading tokens makes it"
    raise LayerError(
        f"Layer '{name}' has {tokens} tokens and no patch-embedding layer tells their grid; {why}. Pass "
        "token_grid=(height, width) of the patches (or (height, width, leading_tokens)) to explain/compute_heatmaps."
    )


def to_grid(model: keras.Model, path: tuple, activations: np.ndarray, gradients: np.ndarray, token_grid=None):
    """(activations, gradients, leading tokens) of a layer, the first two on the patch grid when it outputs tokens.

    A token layer's activations and gradients become (B, h, w, C), its leading (class/register) tokens dropped; their
    activations come back as leading (B, n, C), which AblationCAM puts back in front to rerun the later layers on
    tokens. 4-D arrays pass unchanged, with leading None.
    """
    if activations.ndim != 3:
        if token_grid is not None:
            raise LayerError(
                f"token_grid={token_grid!r} is for token layers, (batch, tokens, channels); layer "
                f"'{layer_lookup.display_name(path)}' outputs {activations.shape[1:]} feature maps already on a grid: "
                "leave token_grid out."
            )
        return activations, gradients, None
    height, width, leading = resolve_grid(model, path, activations.shape[1], token_grid)

    def grid(array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(array[:, leading:].reshape(len(array), height, width, array.shape[-1]))

    return grid(activations), grid(gradients), np.ascontiguousarray(activations[:, :leading])


def _explicit(name: str, tokens: int, token_grid) -> tuple[int, int, int]:
    height, width = int(token_grid[0]), int(token_grid[1])
    cells = height * width
    if len(token_grid) == 3:
        leading = int(token_grid[2])
        if cells + leading != tokens:
            raise LayerError(
                f"token_grid={tuple(token_grid)!r} makes {cells} + {leading} = {cells + leading} tokens, but layer "
                f"'{name}' has {tokens}: pass a grid whose height * width + leading_tokens is {tokens}."
            )
        return height, width, leading
    leading = tokens - cells
    if not 0 <= leading <= MAX_LEADING:
        raise LayerError(
            f"token_grid=({height}, {width}) has {cells} cells, but layer '{name}' has {tokens} tokens: pass a grid "
            f"with height * width = {tokens} minus the class/register tokens (at most {MAX_LEADING} are assumed; "
            "give more as token_grid=(height, width, leading_tokens))."
        )
    return height, width, leading


def _patch_grid(model: keras.Model, path: tuple, tokens: int) -> tuple[int, int, int] | None:
    """(h, w, leading) from the last 4-D layer before the token layer, when its h*w fits the token count."""
    last = None
    for _path, layer in layer_lookup.walk(model):
        if layer is path[-1]:
            break
        if _rank(layer) == 4 and not isinstance(layer, keras.layers.InputLayer):
            last = layer
    if last is None:
        return None
    height, width = last.output.shape[1:3]
    if height is None or width is None or not 0 <= tokens - height * width <= MAX_LEADING:
        return None
    return int(height), int(width), tokens - int(height) * int(width)


def _square(n: int) -> bool:
    return n >= 4 and math.isqrt(n) ** 2 == n


def _rank(layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def _image_input(model: keras.Model) -> bool:
    try:
        return all(len(x.shape) == 4 for x in model.inputs)
    except (AttributeError, TypeError, ValueError):
        return False
