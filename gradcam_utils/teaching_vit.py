"""A small Vision Transformer for the synthetic shapes, to show Grad-CAM on tokens (``shapes_vit``).

It is a hybrid ViT (Dosovitskiy et al. 2021, section 3.1: tokens cut from a CNN's feature map instead of raw
pixels). A convolutional stem of three blocks (3x3 conv + ReLU, 2x2 max-pool; ``STEM`` filters) turns the 64x64
picture into an 8x8 map; the patch embedding, a Conv2D whose kernel and stride are the patch size in cells of that map
(``patch_embed``: 8 px per token, an 8x8 grid, which :mod:`gradcam_utils.tokens` reads to put tokens back on the
picture), makes 64 patch tokens; a learned class token goes in front (65 tokens) and a learned position embedding is
added to each token. Pre-norm transformer blocks follow (LayerNorm -> multi-head self-attention -> residual add,
LayerNorm -> two-layer GELU MLP -> residual add); a final LayerNorm, then the class token's features alone go through a
Dense layer to the logits (no softmax, as in the CNNs of :mod:`gradcam_utils.teaching_models`).

Why the class token matters for Grad-CAM: the head reads only token 0. Attention is the only place where tokens
exchange information; LayerNorm, the MLP and the residual adds act on each token separately. So after the *last*
attention, no patch token reaches the head any more: the gradient of a logit with respect to the patch tokens of the
residual sum after it (``AFTER_LAST_ATTENTION_LAYER``) or of any later layer is exactly zero, and Grad-CAM there gives
an empty map. The tokens that enter the last attention (``EXPLAINED_LAYER``, the last block's first LayerNorm, what
``gradcam_utils.tokens.default_token_layer`` picks and timm's ``blocks[-1].norm1``) are the last ones the class token
still reads: that is the layer to explain. A CNN with a GAP head has no such cliff: every cell of its last conv layer
reaches the logits.

Why this shape, measured on this project's shared 2-CPU machine (``scripts/train_vit.py`` has the training): a plain
ViT cutting 8x8-pixel patches (``stem=()``; width 64, 4 blocks) learned too slowly for a training budget of minutes
(training accuracy 0.21, 0.29, 0.34, 0.36 after its first four epochs of 10000 pictures, about 45 s each; 0.34 after
three with batch 32 and twice the learning rate), a stem trained from scratch was no faster per step at twice the
cost, and 4x4-pixel patches (16x16 tokens, the CNN's ``conv5_act`` grid) cost ten times as much per picture. So the
stem is ``shapes_gap``'s own ``conv1``-``conv3`` weights, frozen (the script copies them in), as ``shapes_flat`` reuses
its body: the transformer part is what differs from the CNN. Each token then sees a 22x22-pixel neighbourhood
(overlapping its neighbours'), and the 8x8 map is coarser than the CNN's 16x16 one, which the metrics record.
Width 64, 4 blocks of 4 heads, MLP 128.

Layer names are part of the interface (notebooks and tests address them): ``image``, ``rescale``, ``stem{j}`` and
``stem{j}_pool`` (``j = 1..len(stem)``), ``patch_embed``, ``patch_tokens``, ``class_token``, ``position_embedding``,
then per block ``i = 1..depth``: ``block{i}_norm1``, ``block{i}_attention``, ``block{i}_add1``, ``block{i}_norm2``,
``block{i}_mlp1``, ``block{i}_mlp2``, ``block{i}_add2``; then ``final_norm``, ``class_features`` and ``logits``. The
three custom layers (:class:`ClassToken`, :class:`PositionEmbedding`, :class:`ClassTokenFeatures`) are registered with
Keras under the package ``gradcam_utils``, so a saved file loads with ``keras.saving.load_model(path, safe_mode=True)``
once this module is imported (``gc.load_model("shapes_vit")`` imports it). Inputs are raw RGB values in [0, 255]; the
model rescales them itself.
"""

from __future__ import annotations

import keras

from .errors import GradCAMError
from .synthetic import DEFAULT_CLASSES

__all__ = [
    "EXPLAINED_LAYER",
    "AFTER_LAST_ATTENTION_LAYER",
    "PATCH_SIZE",
    "STEM",
    "DEPTH",
    "ClassToken",
    "PositionEmbedding",
    "ClassTokenFeatures",
    "build_shapes_vit",
]

#: Pixels per patch side (one token per patch, one cell of the Grad-CAM map per token).
PATCH_SIZE = 8
#: Filters of the conv blocks (3x3 conv, ReLU, 2x2 max-pool) before the patch embedding (see the module docstring).
STEM = (16, 32, 64)
#: Transformer blocks in the shipped model.
DEPTH = 4
#: The layer Grad-CAM explains: the tokens entering the last attention (the last block's first LayerNorm).
EXPLAINED_LAYER = f"block{DEPTH}_norm1"
#: The residual sum right after the last attention: its patch tokens no longer reach the class-token head.
AFTER_LAST_ATTENTION_LAYER = f"block{DEPTH}_add1"


@keras.saving.register_keras_serializable(package="gradcam_utils")
class ClassToken(keras.layers.Layer):
    """Puts one learned token in front of the patch tokens: ``(B, T, C) -> (B, 1 + T, C)``."""

    def build(self, input_shape):
        """One zero-initialised token of the tokens' width."""
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), initializer="zeros", name="token")

    def call(self, tokens):
        """The class token, repeated over the batch, in front of ``tokens``."""
        batch = keras.ops.shape(tokens)[0]
        token = keras.ops.broadcast_to(keras.ops.cast(self.token, tokens.dtype), (batch, 1, tokens.shape[-1]))
        return keras.ops.concatenate([token, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        """One token more than the input."""
        tokens = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], tokens, input_shape[2])


@keras.saving.register_keras_serializable(package="gradcam_utils")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per token position (the only way attention can tell where a patch was)."""

    def __init__(self, stddev: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.stddev = stddev

    def build(self, input_shape):
        """One vector per position, small random values (ViT's initialisation)."""
        self.embedding = self.add_weight(
            shape=(1, input_shape[1], input_shape[2]),
            initializer=keras.initializers.RandomNormal(stddev=self.stddev),
            name="embedding",
        )

    def call(self, tokens):
        """``tokens`` plus each position's vector."""
        return tokens + keras.ops.cast(self.embedding, tokens.dtype)

    def get_config(self):
        """The layer's config with ``stddev``, so a saved model rebuilds it."""
        return {**super().get_config(), "stddev": self.stddev}


@keras.saving.register_keras_serializable(package="gradcam_utils")
class ClassTokenFeatures(keras.layers.Layer):
    """The class token's features, ``(B, T, C) -> (B, C)``: the head reads token 0 and nothing else."""

    def call(self, tokens):
        """Token 0's features."""
        return tokens[:, 0, :]

    def compute_output_shape(self, input_shape):
        """``(batch, channels)``."""
        return (input_shape[0], input_shape[2])


def _check(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise GradCAMError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def build_shapes_vit(
    num_classes: int = len(DEFAULT_CLASSES),
    image_size: int = 64,
    patch_size: int = PATCH_SIZE,
    width: int = 64,
    stem: tuple[int, ...] = STEM,
    depth: int = DEPTH,
    heads: int = 4,
    mlp_width: int = 128,
    name: str = "shapes_vit",
) -> keras.Model:
    """A small ViT for raw-pixel shape pictures: patch embedding, class token, pre-norm blocks, class-token head.

    Args:
        num_classes: number of output logits (default: the 5 default shape classes), at least 2.
        image_size: input height and width (square pictures), a multiple of ``patch_size`` giving at least a
            2x2 grid.
        patch_size: pixels per patch side: one token per ``patch_size`` x ``patch_size`` pixels.
        stem: filters of the 3x3 conv + ReLU + 2x2 max-pool blocks before the patch embedding, whose kernel and
            stride are then ``patch_size // 2 ** len(stem)`` cells of the stem's output; ``()`` gives the plain
            ViT, whose patch embedding cuts the pixels themselves.
        width: channels per token; a multiple of ``heads``.
        depth: number of transformer blocks, at least 1.
        heads: attention heads per block.
        mlp_width: hidden units of each block's MLP.
        name: the model's name.

    Returns:
        An uncompiled functional model mapping ``(B, image_size, image_size, 3)`` raw pixels to
        ``(B, num_classes)`` logits (no softmax).

    Raises:
        GradCAMError: an argument that is not a positive integer of the right kind, a picture the patches do not
            tile, a stem that is no tuple of filter counts or halves the picture more often than a patch allows,
            or a width the heads do not divide.
    """
    _check("num_classes", num_classes, 2)
    sizes = {"image_size": image_size, "patch_size": patch_size, "width": width, "depth": depth, "heads": heads}
    for argument, value in {**sizes, "mlp_width": mlp_width}.items():
        _check(argument, value, 1)
    if image_size % patch_size or image_size // patch_size < 2:
        raise GradCAMError(
            f"image_size must be a multiple of patch_size giving at least a 2x2 grid of patches, got image_size="
            f"{image_size} and patch_size={patch_size}: pick e.g. image_size=64 with patch_size=4 or 8"
        )
    if not isinstance(stem, tuple) or any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in stem):
        raise GradCAMError(f"stem must be a tuple of positive integers (filters per conv block), got {stem!r}")
    if patch_size % 2 ** len(stem):
        raise GradCAMError(
            f"patch_size must be divisible by 2 ** len(stem) = {2 ** len(stem)} (each stem block halves the "
            f"resolution), got patch_size={patch_size} and stem={stem!r}"
        )
    if width % heads:
        raise GradCAMError(
            f"width must be divisible by heads (each head gets width // heads channels), got "
            f"width={width} and heads={heads}"
        )
    grid = image_size // patch_size
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for i, filters in enumerate(stem, start=1):  # early convolutions: local edges and corners before attention
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"stem{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"stem{i}_pool")(x)
    # A convolution with stride = kernel: one token per patch, and a 4-D output whose (h, w) tells
    # gradcam_utils.tokens the grid the tokens come from.
    cells = patch_size // 2 ** len(stem)
    x = keras.layers.Conv2D(width, cells, strides=cells, name="patch_embed")(x)
    x = keras.layers.Reshape((grid * grid, width), name="patch_tokens")(x)  # row by row, as tokens.py reads them
    x = ClassToken(name="class_token")(x)
    x = PositionEmbedding(name="position_embedding")(x)
    for i in range(1, depth + 1):
        y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_norm1")(x)
        y = keras.layers.MultiHeadAttention(heads, width // heads, name=f"block{i}_attention")(y, y)
        x = keras.layers.Add(name=f"block{i}_add1")([x, y])
        y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{i}_norm2")(x)
        y = keras.layers.Dense(mlp_width, activation="gelu", name=f"block{i}_mlp1")(y)
        y = keras.layers.Dense(width, name=f"block{i}_mlp2")(y)
        x = keras.layers.Add(name=f"block{i}_add2")([x, y])
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = ClassTokenFeatures(name="class_features")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)  # no softmax, like the CNNs
    return keras.Model(inputs, outputs, name=name)
