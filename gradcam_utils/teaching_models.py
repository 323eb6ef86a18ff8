"""Small Keras 3 CNNs for the synthetic shapes, built so that Grad-CAM's claims can be checked.

``shapes_gap`` and ``shapes_biased`` end in ``last conv activation -> GlobalAveragePooling2D -> Dense``
with no softmax, so the class score is linear in the pooled features. For that head Grad-CAM on the last
conv activation equals CAM (Zhou et al. 2016) up to a positive factor: the gradient of a logit
with respect to each activation map is its Dense weight divided by the map's area, the same at
every pixel. A course can verify that identity on these models, and because the shapes come
from :mod:`gradcam_utils.synthetic` with exact masks, it can also measure where the maps point.

The last two conv blocks each start with a fixed 3x3 average (``blur4``, ``blur5``: stride 1, no
weights) so their 3x3 convolutions gather evidence from a wider, smoother neighbourhood. Without
them the class evidence peaked on the shapes' corners and edges, often one feature cell outside
the object (exact pointing game 0.67); with them the last maps cover the shapes' interiors and
their maximum lands on the object (see ``gradcam_utils/data/models/metrics.json``). The blurs sit *before* the
last convolution, so the ``conv5_act -> gap -> logits`` head and the CAM identity are unchanged.

The third model, ``shapes_flat`` (:func:`build_shapes_flat_cnn`), exists to show where the CAM family
stops agreeing. It keeps the same conv body (the shipped file has ``shapes_gap``'s very conv weights,
so both models compute the same ``conv5_act`` maps) but its head is ``conv5_act -> Flatten -> Dense``: the logit
is ``y^c = sum_ijk W[i,j,k,c] A^k_ij + b_c``, so ``dy^c/dA^k_ij = W[i,j,k,c]`` depends on the position
(i, j) (and not on the input). Then

* CAM cannot be computed: there is no single class weight per channel, only one per channel *and* cell;
* Grad-CAM averages the gradient over positions, ``alpha^c_k = mean_ij W[i,j,k,c]``, which forgets where
  each weight applies (Selvaraju et al. 2017 need no GAP, which is their point: it still gives a map);
* HiResCAM keeps the gradient per position, ``sum_k W[i,j,k,c] A^k_ij``: before its ReLU, its sum over
  positions plus ``b_c`` is the logit exactly (Draelos & Carin 2020);
* XGrad-CAM weights each position's gradient by that channel's share of activation, Grad-CAM++ weights
  the positive gradients by its alpha coefficients, LayerCAM keeps only positive gradients per position:
  each of these now gives a different map, while on the GAP models HiResCAM and XGrad-CAM coincide
  with Grad-CAM at ``conv5_act`` (Grad-CAM++ and LayerCAM weigh channels differently on any head).
  ``gradcam_utils/data/models/metrics.json`` (``flat_model``) measures how far each method moves on the two heads.

Layer names (``conv1``, ``conv1_act``, ``pool1``, ..., ``blur4``, ``conv4``, ..., ``conv5_act``,
``gap`` or ``flatten``, ``logits``) are part of the interface: notebooks and tests address layers by name. The
models contain only built-in layers, so saved files load with
``keras.saving.load_model(path, safe_mode=True)``.
Inputs are raw RGB values in [0, 255] (float or uint8); the model rescales them itself.
"""

from __future__ import annotations

import keras

from .errors import GradCAMError
from .synthetic import DEFAULT_CLASSES

__all__ = ["LAST_CONV_LAYER", "FEATURE_STRIDE", "build_shapes_cnn", "build_biased_shapes_cnn", "build_shapes_flat_cnn"]

#: The layer Grad-CAM should explain: the last conv block's ReLU output (16x16 for 64x64 inputs).
LAST_CONV_LAYER = "conv5_act"
#: Input pixels per feature-map cell at ``LAST_CONV_LAYER`` (two 2x2 poolings).
FEATURE_STRIDE = 4

# (filters, 3x3 average before the conv?, 2x2 max pool after the block?) per conv block. Two
# poolings keep a 16x16 map: fine enough to tell a shape from a 5x5 cue in a corner. Three plain
# blocks give an 18 px receptive field, which sees the corners and spikes that tell the classes
# apart; the two blurred blocks grow it to 50 px, so a cell at a shape's centre sees the whole shape.
_BLOCKS = ((16, False, True), (32, False, True), (64, False, False), (64, True, False), (64, True, False))


def _conv_body(num_classes, image_size) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The input and the ``conv5_act`` output shared by every teaching model (arguments checked here)."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise GradCAMError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    height, width = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if height % FEATURE_STRIDE or width % FEATURE_STRIDE or min(height, width) < 16:
        raise GradCAMError(
            f"image_size must be at least 16 and divisible by {FEATURE_STRIDE} (two 2x2 poolings), got {image_size!r}"
        )
    inputs = keras.Input((height, width, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for i, (filters, blur, pool) in enumerate(_BLOCKS, start=1):
        if blur:
            x = keras.layers.AveragePooling2D(3, strides=1, padding="same", name=f"blur{i}")(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", name=f"conv{i}")(x)
        # A separate Activation layer, so Grad-CAM can take the rectified maps by name.
        x = keras.layers.Activation("relu", name=f"conv{i}_act")(x)
        if pool:
            x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    return inputs, x


def build_shapes_cnn(
    num_classes: int = len(DEFAULT_CLASSES),
    image_size: int | tuple[int, int] = 64,
    name: str = "shapes_gap",
) -> keras.Model:
    """A GAP-headed CNN for the synthetic shapes: 5 conv blocks, global average pooling, logits.

    Args:
        num_classes: number of output logits (default: the 5 default shape classes).
        image_size: input height and width, ``H`` or ``(H, W)``; both must be divisible by 4.
        name: the model's name.

    Returns:
        An uncompiled functional model mapping ``(B, H, W, 3)`` raw pixels to ``(B, num_classes)``
        logits (no softmax).
    """
    inputs, x = _conv_body(num_classes, image_size)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)  # no softmax: CAM identity
    return keras.Model(inputs, outputs, name=name)


def build_biased_shapes_cnn(
    num_classes: int = len(DEFAULT_CLASSES),
    image_size: int | tuple[int, int] = 64,
    name: str = "shapes_biased",
) -> keras.Model:
    """The same architecture as :func:`build_shapes_cnn`, for training on a spurious cue.

    Only the data differ: the biased model is trained on images whose cue agrees with the
    label, so any difference in where Grad-CAM looks comes from what the model learned.
    """
    return build_shapes_cnn(num_classes, image_size, name)


def build_shapes_flat_cnn(
    num_classes: int = len(DEFAULT_CLASSES),
    image_size: int | tuple[int, int] = 64,
    name: str = "shapes_flat",
) -> keras.Model:
    """The same conv body as :func:`build_shapes_cnn` with a Flatten + Dense head instead of GAP.

    ``conv5_act -> flatten -> logits``: one weight per position, channel and class, so the gradient of a
    logit with respect to ``conv5_act`` is the Dense kernel reshaped to ``(h, w, K, classes)`` and differs
    from cell to cell (see the module docstring for what that does to each CAM method). The shipped
    ``shapes_flat`` model shares ``shapes_gap``'s conv weights (frozen while its head was trained), so the
    two models have identical ``conv5_act`` maps and differ only in the head.

    Args:
        num_classes: as for :func:`build_shapes_cnn`.
        image_size: as for :func:`build_shapes_cnn`.
        name: the model's name.
    """
    inputs, x = _conv_body(num_classes, image_size)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)  # linear: logit = sum_ijk W[i,j,k,c] A[i,j,k] + b
    return keras.Model(inputs, outputs, name=name)
