"""Guided Backpropagation (Springenberg et al. 2015) and Guided Grad-CAM (Selvaraju et al. 2017).

Guided backpropagation is the gradient of the pre-softmax class score with respect to the input pixels, except
that every ReLU passes gradient back only where its forward input was positive (as the true gradient does) AND
the gradient arriving from above is positive. For a clipped ReLU (relu6) the forward condition is the true one,
0 < x < 6: the rule keeps the activation's own local gradient and adds the positive-incoming-gradient mask.

How it is computed without touching the model
---------------------------------------------
A ReLU's own backward pass already multiplies the incoming gradient by its local gradient (1 where 0 < x, and
x < max_value for relu6). Putting an identity right after each ReLU whose gradient is ``max(dy, 0)`` (a
``tf.custom_gradient`` gate) therefore turns the ordinary backward pass into the guided one:
``dx = max(dy, 0) * relu'(x)``. The model's graph is run layer by layer, as the engine runs it, with a gate
inserted after every ReLU-family operation: ``Activation("relu")``, ``Activation("relu6")``, ``keras.layers.ReLU``
without a negative slope, Dense/convolution layers built with ``activation="relu"`` or ``"relu6"`` (the
activation is the last step of their ``call``) and ``keras.ops.relu`` / ``relu6`` in a functional graph.
Nested models (a pretrained base inside a head) are opened up the same way. This is a *copy of the computation*,
not of the model: no layer is cloned or edited, the weights are read live (a model trained further is explained
as it is now), and nothing is duplicated in memory. A final softmax/sigmoid is left out as in the engine.

Any other non-linear activation (swish, gelu, sigmoid gates, LeakyReLU, ...) has no guided rule; such models are
refused with an ``UnsupportedModelError`` naming the layer. A softmax/sigmoid is accepted only as the model's
final step, where it is skipped. Attention layers (``MultiHeadAttention`` and Keras' other attention layers) are
refused too: their softmax over the tokens is a non-linear gate inside the layer, with no guided rule, so a Vision
Transformer has no guided backpropagation here even with ReLU MLPs (passing their true gradient through would mix
guided and plain gradients into a picture with no stated meaning). Its GELU MLPs would be refused anyway. On a ViT,
use Grad-CAM on a token layer (``gc.explain``) or occlusion. LayerNormalization (like BatchNormalization, pooling)
has no activation and passes its true gradient, as in a CNN.

The traced function (input signature with batch size None) is cached per model next to the engine's plans, so
``engine.clear_cache()`` forgets it too. One backward pass serves the whole batch: the gradient of the SUM of the
per-image scores gives each image its own gradient.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import _graph, engine, engine_checks
from .engine import TOP_CLASS
from .errors import GradCAMError, UnsupportedModelError
from .images import to_batch
from .layers import check_model
from .resize import upsample_maps

__all__ = ["guided_backprop", "guided_gradcam", "combine", "to_display"]

# Activations with a guided rule. Compared by identity: keras resolves "relu" / "relu6" to these functions.
_RELU_FUNCTIONS = tuple(
    f
    for f in (keras.activations.relu, keras.activations.relu6, keras.ops.relu, keras.ops.relu6, tf.nn.relu, tf.nn.relu6)
    if f is not None
)
_LINEAR_FUNCTIONS = (None, keras.activations.linear)
# Layers whose ``activation`` is the last step of ``call``, so a gate on their output follows the activation.
_ACTIVATION_LAST = (
    keras.layers.Dense,
    keras.layers.EinsumDense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
)
# Activation layers without a guided rule (a Softmax layer is fine as the model's final step only).
_OTHER_ACTIVATION_LAYERS = (keras.layers.LeakyReLU, keras.layers.PReLU, keras.layers.ELU, keras.layers.Softmax)
# Layers with a softmax over the tokens inside (attention weights): no guided rule.
_ATTENTION_LAYERS = tuple(
    getattr(keras.layers, name)
    for name in ("MultiHeadAttention", "GroupQueryAttention", "Attention", "AdditiveAttention")
    if hasattr(keras.layers, name)
)
# keras.ops used directly in a functional graph: ReLUs get a gate, these non-linear activations are refused.
_RELU_OPS = ("Relu", "Relu6")
_OTHER_ACTIVATION_OPS = frozenset(
    (
        "Sigmoid",
        "SparseSigmoid",
        "Softplus",
        "Softsign",
        "SoftShrink",
        "SparsePlus",
        "Silu",
        "Squareplus",
        "LogSigmoid",
        "LeakyRelu",
        "HardSigmoid",
        "HardSilu",
        "Elu",
        "Selu",
        "Gelu",
        "Celu",
        "Glu",
        "TanhShrink",
        "HardTanh",
        "HardShrink",
        "Threshold",
        "Softmax",
        "LogSoftmax",
        "Sparsemax",
        "Tanh",
    )
)
_GUIDED = object()  # key of a model's guided plan in the engine's plan cache (never equal to a layer name)


def guided_backprop(model: keras.Model, images, class_index=None) -> np.ndarray:
    """Guided-backpropagation gradients (B, H, W, C), float32, one per image, of each image's class score.

    Args:
        model: a built Keras model (functional or Sequential, nested models allowed) whose non-linear
            activations are all ReLU or ReLU6 (a final softmax/sigmoid is skipped: scores are pre-softmax).
        images: preprocessed batch (B, H, W, C), or one image (H, W, C).
        class_index: None (each image's top class), an int (the same class for all) or a sequence (one per
            image), as in ``explain``.

    Raises:
        UnsupportedModelError: the model uses an activation with no guided rule (the message names the layer).
        ClassIndexError: a class index outside the model's range.
    """
    return _guided(model, images, class_index)[0]


def guided_gradcam(model: keras.Model, images, layer_name: str | None = None, class_index=None) -> np.ndarray:
    """Guided Grad-CAM (B, H, W, C), float32: guided backprop times the Grad-CAM map upsampled to the input.

    The Grad-CAM map (``explain(..., method="gradcam")``, normalised to [0, 1]) is computed first and its
    classes are handed to guided backprop, so both explain the same class even when ``class_index`` is None.
    The map is upsampled bilinearly to (H, W) with ``resize.upsample_maps``, as the paper does.
    """
    get_guided_plan(model)  # a model guided backprop refuses is refused before any Grad-CAM work
    result = engine.explain(model, images, layer_name, class_index, method="gradcam")
    guided = guided_backprop(model, images, result.class_indices)
    return combine(guided, result.heatmaps)


def combine(guided: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Guided gradients (B, H, W, C) times heatmaps (B, h, w) upsampled bilinearly to (H, W): Guided Grad-CAM.

    Useful when both are already at hand (one Grad-CAM and one guided pass for several views).
    """
    guided = np.asarray(guided)
    heatmaps = np.asarray(heatmaps)
    if guided.ndim != 4 or heatmaps.ndim != 3 or len(guided) != len(heatmaps):
        raise GradCAMError(
            f"combine needs guided gradients (B, H, W, C) and heatmaps (B, h, w) for the same B; "
            f"got shapes {guided.shape} and {heatmaps.shape}."
        )
    upsampled = upsample_maps(heatmaps.astype(np.float64), guided.shape[1:3], target="input image")
    return (guided * upsampled[..., None]).astype(np.float32)


def to_display(gradients, spread: float = 0.15) -> np.ndarray:
    """A guided map as a displayable uint8 RGB-like image (same shape), per image.

    Each image's gradients are standardised (zero mean, unit standard deviation over all its pixels and
    channels), multiplied by ``spread``, shifted to 0.5, clipped to [0, 1] and scaled to 0..255: grey is
    "no gradient", light and dark are the two signs. This is the usual ``deprocess_image`` of guided
    backpropagation figures. Accepts (H, W, C) or (B, H, W, C); an all-zero map becomes uniform grey.
    """
    array = np.asarray(gradients, dtype=np.float64)
    if array.ndim not in (3, 4) or array.size == 0:
        raise GradCAMError(f"to_display expects gradients (H, W, C) or (B, H, W, C); got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise GradCAMError("to_display got NaN or infinite gradients; check the model and its inputs.")
    if not spread > 0:
        raise GradCAMError(f"spread must be a positive number; got {spread!r}.")
    batch = array if array.ndim == 4 else array[None]
    centred = batch - batch.mean(axis=(1, 2, 3), keepdims=True)
    std = centred.std(axis=(1, 2, 3), keepdims=True)
    scaled = np.divide(centred, std, out=np.zeros_like(centred), where=std > 0) * spread + 0.5
    out = np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)
    return out if array.ndim == 4 else out[0]


# ----- the guided plan ------------------------------------------------------------------------------------------


def _guided(model: keras.Model, images, class_index) -> tuple[np.ndarray, np.ndarray]:
    """(guided gradients (B, H, W, C), classes used (B,)) for a batch."""
    plan = get_guided_plan(model)
    batch = to_batch(images, plan.input_shape)
    wanted = engine.requested_classes(class_index, len(batch), plan.num_classes)
    grads, used, scores = plan.run(batch, wanted)
    engine_checks.check_finite(  # NaN weights or an overflowing input: say so rather than return a NaN picture
        {"the class scores": scores, "the guided gradients": grads},
        lambda rows: engine_checks.nonfinite_cause(model, batch[rows]),
    )
    return grads, used


def get_guided_plan(model: keras.Model) -> _GuidedPlan:
    return engine.cached_plan(model, _GUIDED, lambda: _GuidedPlan(model))


class _GuidedPlan:
    """Guided gradients of the pre-softmax class scores with respect to the input, as a traced function."""

    def __init__(self, model: keras.Model):
        check_model(model)
        self.model = model
        self.input_shape, self.num_classes = _graph.model_shapes(model)
        _check_guided_activations(model)
        self._traced = _graph.traced(
            self._compute, tf.TensorSpec((None,) + self.input_shape, tf.float32), tf.TensorSpec((None,), tf.int32)
        )  # one trace, no AutoGraph, no false warnings

    @property
    def trace_count(self) -> int:
        return self._traced.experimental_get_tracing_count()

    def run(self, images: np.ndarray, class_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(guided gradients (B, H, W, C), classes used (B,), pre-softmax scores (B, classes)) for a batch."""
        grads, used, num_classes, logits = self._traced(tf.constant(images), tf.constant(class_indices))
        engine.check_class_range(class_indices[class_indices != TOP_CLASS], int(num_classes))
        return np.asarray(grads, np.float32), used.numpy().astype(np.int64), np.asarray(logits)

    def _compute(self, images, class_indices):
        with tf.GradientTape(watch_accessed_variables=False) as tape:  # only the pixels: cheaper to trace
            tape.watch(images)
            logits = tf.cast(_guided_forward(self.model, images), tf.float32)
            num_classes = tf.shape(logits)[-1]
            top = tf.argmax(logits, axis=-1, output_type=tf.int32)
            used = tf.where(class_indices == TOP_CLASS, top, class_indices)
            safe = tf.clip_by_value(used, 0, num_classes - 1)  # out-of-range indices are reported after the call
            total = tf.reduce_sum(tf.gather(logits, safe, axis=1, batch_dims=1))  # one backward pass for all
        grads = tape.gradient(total, images)
        if grads is None:  # the scores do not depend on the pixels (e.g. a constant model)
            grads = tf.zeros_like(images)
        return tf.cast(grads, tf.float32), used, num_classes, logits


@tf.custom_gradient
def _positive_gradient(x):
    """Identity whose backward pass lets through only positive gradient: the guided rule's second mask."""

    def backward(upstream):
        return tf.nn.relu(upstream)

    return tf.identity(x), backward


def _guided_forward(model: keras.Model, x, logits: bool = True):
    """Run ``model``'s graph on ``x`` with a positive-gradient gate after each ReLU; pre-softmax output.

    The same layer-by-layer forward as the engine's (``_graph.forward``), with a hook that opens nested models up
    and gates each ReLU's output.
    """
    return _graph.forward(model, x, _guided_hook, logits)


def _guided_hook(op, is_final: bool):
    if isinstance(op, keras.Model):
        return lambda inputs, *args, **kwargs: _guided_forward(op, inputs, is_final)
    if _is_relu(op):
        call = _graph.operation_call(op, is_final)
        return lambda *args, **kwargs: _positive_gradient(call(*args, **kwargs))
    return None


def _is_relu(op) -> bool:
    """Whether ``op``'s output is a ReLU/ReLU6 output (its last step is the activation)."""
    if isinstance(op, keras.layers.ReLU):
        return True  # one with a negative slope was refused when the plan was built
    if isinstance(op, (keras.layers.Activation,) + _ACTIVATION_LAST):
        return op.activation in _RELU_FUNCTIONS
    return not isinstance(op, keras.layers.Layer) and type(op).__name__ in _RELU_OPS


def _check_guided_activations(model: keras.Model, final: bool = True) -> None:
    """Refuse any activation without a guided rule, naming its layer; ``final`` marks the output op's chain."""
    graph = _graph.graph_of(model)
    final_op = _graph.output_operation(graph)
    for op in graph.operations:
        at_end = final and op is final_op
        if isinstance(op, keras.Model):
            _check_guided_activations(op, at_end)
            continue
        problem = _activation_problem(op, at_end)
        if problem:
            raise UnsupportedModelError(
                f"Guided backpropagation is defined for ReLU networks, but layer '{op.name}' ({type(op).__name__}) in "
                f"model '{model.name}' {problem}. Use a model whose activations are relu/relu6 (a final "
                "softmax/sigmoid is fine), or use plain Grad-CAM (gc.explain), which works with any activation."
            )


def _activation_problem(op, at_end: bool) -> str | None:
    """What is wrong with ``op`` for guided backprop, or None when it is linear, a ReLU or a skipped final step."""
    if isinstance(op, keras.layers.ReLU):
        return f"has negative_slope={op.negative_slope}" if op.negative_slope else None
    if isinstance(op, _ATTENTION_LAYERS):
        return (
            "is an attention layer, whose softmax over the tokens has no guided rule (a Vision Transformer: use "
            "Grad-CAM on a token layer or occlusion instead)"
        )
    if isinstance(op, _OTHER_ACTIVATION_LAYERS):
        if at_end and isinstance(op, keras.layers.Softmax):
            return None
        return "is a non-ReLU activation"
    if hasattr(op, "recurrent_activation"):
        return "is a recurrent layer (its activations are applied inside, step by step)"
    activation = getattr(op, "activation", None)
    if isinstance(op, keras.layers.Layer) and activation is not None:
        name = getattr(activation, "__name__", repr(activation))
        if activation in _LINEAR_FUNCTIONS:
            return None
        if activation in _RELU_FUNCTIONS:
            if isinstance(op, (keras.layers.Activation,) + _ACTIVATION_LAST):
                return None
            return f"applies {name} inside a layer type where it may not be the last step"
        if at_end and activation in _graph.PROBABILITY_ACTIVATIONS:
            return None  # skipped: the scores are read before it
        return f"uses the activation '{name}'"
    if not isinstance(op, keras.layers.Layer) and type(op).__name__ in _OTHER_ACTIVATION_OPS:
        if at_end and type(op).__name__ in _graph.PROBABILITY_OPS:
            return None
        return f"is the non-linear operation {type(op).__name__}"
    return None
