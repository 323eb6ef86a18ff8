"""The Grad-CAM engine: one forward and one backward pass for a whole batch, on the model as it is.

For a (model, layer) pair we build a *gradient plan* once: a ``tf.function`` that runs the model's own layers
(``training=False``) and returns the chosen layer's activations, the pre-softmax class scores and the gradients of
the SUM of the per-image scores with respect to the activations. Because each image's score depends only on its own
activations, the gradient of the sum gives every image its own gradient in one backward pass. The plan is cached
and traced with a fixed input signature, so later calls with any batch size reuse the same graph.

The model is never changed: when it ends in a softmax (or sigmoid), the plan computes the final Dense layer's
pre-activation output itself from the layer's live weights, instead of editing ``layer.activation``.

Nothing non-finite leaves the engine: the activations, scores and gradients of every pass, and every map, are checked
with one reduction per array (a float64 sum per image, which cannot overflow on finite float32 values), and a NaN or
an infinity raises :class:`NonFiniteError` naming its likely cause (weights that hold NaN, an input far outside the
usual range, a model whose own arithmetic overflows).
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from . import _graph, copy_scores, tokens
from . import engine_checks as checks
from . import layers as layer_lookup
from .errors import (
    ClassIndexError,
    EmptyHeatmapWarning,
    GradCAMError,
    LayerError,
    NonFiniteError,
    check_method,
)
from .lru import LRUCache
from .methods import METHODS, CamInputs
from .targets import Target, check_target, no_gradient_message, target_scores

TOP_CLASS = -1  # class index sent into the graph meaning "this image's top class"


@dataclass(frozen=True)
class GradCAMResult:
    """Heatmaps for a batch, with what each one explains."""

    heatmaps: np.ndarray  # (B, h, w) float32 at the layer's resolution; in [0, 1] when normalised
    class_indices: np.ndarray  # (B,) int: the class explained for each image
    scores: np.ndarray  # (B,) float32: that class's pre-softmax score (logit)
    empty: np.ndarray  # (B,) bool: True where the map had no positive evidence and is all zeros
    layer_name: str
    method: str
    logits: np.ndarray | None = None  # (B, classes) float32: every class's pre-softmax score, from the same pass


def explain(
    model: keras.Model,
    images,
    layer_name: str | None = None,
    class_index=None,
    method: str = "gradcam",
    normalize: bool = True,
    batch_size: int = 32,
    target=None,
    token_grid=None,
) -> GradCAMResult:
    """Compute class activation maps for a batch and report which class each one explains.

    Args:
        model: a built Keras model (functional or Sequential; a pretrained base may be nested inside).
        images: preprocessed batch (B, H, W, C), or one image (H, W, C).
        layer_name: the feature layer; None picks the last conv layer or its activation.
        class_index: None (each image's top class), an int (the same class for all) or a sequence (one per image).
        method: a name from ``available_methods()``.
        normalize: divide each map by its maximum so it lies in [0, 1].
        batch_size: images per extra forward pass, for methods that need them (Score-CAM).
        target: instead of ``class_index``, what to explain: a callable taking the model's output batch (pre-softmax)
            and returning one differentiable score per image, shape (B,); see ``gradcam_utils.targets``. The
            result's ``class_indices`` are then the target's classes (-1 where it is not one class's score), its
            ``scores`` the target's scores and its ``logits`` the model's pre-activation outputs.
        token_grid: for a token layer (batch, tokens, channels), the patch grid (h, w), or (h, w, leading_tokens)
            with that many class/register tokens in front, which are dropped (they are no image position); None
            finds it from the model (see ``gradcam_utils.tokens``). Maps are then (B, h, w) on the patch grid.
    """
    check_method(method, METHODS)
    check_target(target, class_index)
    tokens.check_token_grid(token_grid)
    targeted = {} if target is None else {"target": target}  # callers' wrappers of gradient_inputs predate target
    if token_grid is not None:
        targeted["token_grid"] = token_grid
    inputs = gradient_inputs(model, images, layer_name, class_index, batch_size=batch_size, **targeted)
    heatmaps, empty = heatmaps_from(inputs, method, normalize, _stacklevel=4)  # warn at the line that called explain
    return GradCAMResult(heatmaps, inputs.class_indices, inputs.scores, empty, inputs.layer_name, method, inputs.logits)


def gradient_inputs(
    model: keras.Model,
    images,
    layer_name: str | None = None,
    class_index=None,
    batch_size: int = 32,
    target=None,
    token_grid=None,
) -> CamInputs:
    """One forward and one backward pass: the layer's activations, the class scores' gradients, and the rest.

    This is what every method starts from. Keep it to try several methods, or to look at the numbers yourself
    (notebook 02 does); ``heatmaps_from(inputs, method)`` turns it into maps without running the model again
    (except Score-CAM, whose weights come from extra forward passes, ``batch_size`` images at a time). The passes
    run ``batch_size`` images at a time too, so a long batch does not hold every image's intermediate activations at
    once. Raises :class:`NonFiniteError` when an activation, score or gradient is NaN or infinite. ``target``
    (instead of ``class_index``) differentiates a score of your own, ``token_grid`` places a token layer's tokens;
    see ``explain``.
    """
    checks.check_batch_size(batch_size)
    tokens.check_token_grid(token_grid)
    check_target(target, class_index)
    plan = _get_plan(model, layer_name, target)
    batch = checks.model_batch(images, plan)
    if target is None:
        wanted = requested_classes(class_index, len(batch), plan.num_classes)
    else:  # the plan's second input is then each image's row in the batch, for per-image target parameters
        if isinstance(target, Target):
            target.check(len(batch), plan.output_shape)
        wanted = np.arange(len(batch), dtype=np.int32)
    parts = [
        plan.run(batch[start : start + batch_size], wanted[start : start + batch_size], start)
        for start in range(0, len(batch), batch_size)
    ]
    activations, gradients, logits, used, scores = (
        np.concatenate(arrays) if len(parts) > 1 else arrays[0] for arrays in zip(*parts, strict=True)
    )
    if target is not None:
        used = target.class_indices(len(batch)) if isinstance(target, Target) else np.full(len(batch), -1, np.int64)
    # a token layer's (B, T, C) on the patch grid, its leading tokens kept apart for AblationCAM's rerun on tokens
    activations, gradients, leading = tokens.to_grid(model, plan.path, activations, gradients, token_grid)

    def probabilities_of(inputs: np.ndarray) -> np.ndarray:
        return class_probabilities(model, inputs, batch_size=batch_size)

    return CamInputs(
        activations,
        gradients,
        used,
        scores,
        batch,
        probabilities_of,
        plan.layer_name,
        logits,
        model=model,
        target=target,
        copy_scores=None if target is None else copy_scores.target_copy_scores(model, target, batch_size),
        leading_tokens=leading,
    )


def heatmaps_from(
    inputs: CamInputs, method: str = "gradcam", normalize: bool = True, _stacklevel: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """(heatmaps (B, h, w) float32, empty (B,) bool) for ``method`` from the output of ``gradient_inputs``.

    Raises :class:`NonFiniteError` when ``inputs`` hold a NaN or an infinity, or when a map overflows float32.
    """
    check_method(method, METHODS)
    checks.check_finite(
        {"the activations": inputs.activations, "the gradients": inputs.gradients, "the scores": inputs.scores},
        lambda rows: "they were given to heatmaps_from that way; compute them with gradient_inputs(model, images)",
    )
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, as an error, not a warning
        raw = METHODS[method](inputs)
    return _finish(raw, normalize, stacklevel=_stacklevel, method=method, inputs=inputs)


def compute_heatmaps(
    model: keras.Model,
    images,
    layer_name: str | None = None,
    class_index=None,
    method: str = "gradcam",
    normalize: bool = True,
    batch_size: int = 32,
    target=None,
    token_grid=None,
) -> np.ndarray:
    """Class activation maps (B, h, w), float32, one per image; see ``explain`` for the arguments.

    Use ``explain`` instead when you also need the class each map explains and its score.
    """
    return explain(model, images, layer_name, class_index, method, normalize, batch_size, target, token_grid).heatmaps


def available_methods() -> list[str]:
    """The names ``method=`` accepts, sorted: the CAM methods registered in ``gradcam_utils.methods``."""
    return sorted(METHODS)


def class_logits(model: keras.Model, images, batch_size: int = 64) -> np.ndarray:
    """The model's pre-softmax class scores (N, classes), float32, ``batch_size`` images per traced call.

    Like ``model.predict`` but always logits: a final softmax/sigmoid is left out the same way the gradient
    plans leave it out, without changing the model.
    """
    checks.check_batch_size(batch_size)
    plan = _get_logits_plan(model)
    batch = checks.model_batch(images, plan)
    chunks = [plan.run(batch[i : i + batch_size], i) for i in range(0, len(batch), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, plan.num_classes or 0), np.float32)


def class_probabilities(model: keras.Model, images, batch_size: int = 64) -> np.ndarray:
    """Softmax of ``class_logits``: (N, classes) probabilities, rows summing to 1."""
    return softmax(class_logits(model, images, batch_size)).astype(np.float32)


def softmax(logits) -> np.ndarray:
    """Row-wise softmax of (N, classes) scores, in float64, shifted by each row's maximum so it cannot overflow."""
    shifted = np.exp(np.asarray(logits, np.float64) - np.max(logits, axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _finish(
    raw: np.ndarray, normalize: bool, stacklevel: int = 3, method: str = "", inputs: CamInputs | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """ReLU, then (optionally) divide by the max; a map with nothing positive stays zeros, never NaN."""
    with np.errstate(over="ignore", invalid="ignore"):
        maps = np.maximum(raw, 0).astype(np.float32)
    # a NaN in the raw map, or a float64 value beyond float32's range
    overflow = checks.nonfinite_rows(raw) | checks.nonfinite_rows(maps)
    if overflow.any():
        raise NonFiniteError(checks.map_overflow_message(method, overflow, inputs))
    peaks = maps.max(axis=(1, 2))
    empty = peaks <= 0
    if normalize:
        maps = maps / np.where(empty, 1.0, peaks)[:, None, None].astype(np.float32)
    if empty.any():
        warnings.warn(
            f"{int(empty.sum())} of {len(empty)} heatmap(s) had no positive evidence for their class (all values "
            "<= 0) and were returned as zeros. Try another layer or class, or check the prediction.",
            EmptyHeatmapWarning,
            stacklevel=stacklevel,
        )
    return maps, empty


def requested_classes(class_index, batch_size: int, num_classes: int | None) -> np.ndarray:
    """``class_index`` as one int32 per image, ``TOP_CLASS`` where each image's top class is wanted; checked."""
    if class_index is None:
        return np.full(batch_size, TOP_CLASS, dtype=np.int32)
    values = np.asarray(class_index)
    if values.dtype == bool or not np.issubdtype(values.dtype, np.integer):
        raise ClassIndexError(f"class_index must be None, an int or a sequence of ints; got {class_index!r}.")
    if values.ndim == 0:
        values = np.full(batch_size, int(values))
    elif values.shape != (batch_size,):
        raise ClassIndexError(
            f"class_index has {values.size} entries for {batch_size} images; give one per image, "
            "a single int, or None for each image's top class."
        )
    check_class_range(values, num_classes)
    return values.astype(np.int32)


def check_class_range(values: np.ndarray, num_classes: int | None) -> None:
    """Every index in 0..num_classes-1 (only >= 0 while the number of classes is unknown)."""
    bad = values < 0 if num_classes is None else (values < 0) | (values >= num_classes)
    if bad.any():
        known = f"{num_classes} classes, so each index must satisfy 0 <= index < {num_classes}"
        raise ClassIndexError(
            f"class_index {values[bad].tolist()} out of range: the model has "
            f"{known if num_classes is not None else 'indices from 0'}."
        )


# ----- gradient plans -------------------------------------------------------------------------------------------

# (id(model), key) -> (weak reference to the model, plan); a plan holds its model, so few are kept.
_PLAN_CACHE = LRUCache(max_items=16)
_LOGITS = object()  # cache key of a model's logits-only plan (never equal to a layer name)


def _get_plan(model: keras.Model, layer_name: str | None, target=None) -> _GradientPlan:
    """The cached plan for (model, layer, target); layers are looked up only when the plan is not cached yet.

    A plan is filed under the name asked for and under the resolved name, so ``None`` and the default layer's name
    share one plan. A target is part of the key (equal targets of ``gradcam_utils.targets`` share a plan).
    """

    def key(name):
        return name if target is None else ("target", name, target)

    plan = _cached_plan(model, key(layer_name))
    if plan is None:
        name = layer_lookup.default_layer_name(model) if layer_name is None else layer_name
        plan = cached_plan(
            model, key(name), lambda: _GradientPlan(model, layer_lookup.find_layer_path(model, name), name, target)
        )
        _file_plan(model, key(layer_name), plan)
    return plan


def _get_logits_plan(model: keras.Model) -> _LogitsPlan:
    return cached_plan(model, _LOGITS, lambda: _LogitsPlan(model))


def cached_plan(model: keras.Model, key, build):
    """The plan filed under (model, key), made by ``build()`` the first time.

    Plans are traced functions, costly to make; the least recently used are dropped past ``_PLAN_CACHE.max_items``.
    Other modules (guided backprop) file their plans here under keys of their own, so ``clear_cache`` and
    ``forget_plans`` reach them too.
    """
    plan = _cached_plan(model, key)
    if plan is None:
        plan = build()
        _file_plan(model, key, plan)
    return plan


def _cached_plan(model: keras.Model, key):
    cached = _PLAN_CACHE.get((id(model), key))
    if cached is None or cached[0]() is not model:  # ids can be reused after a model is freed
        return None
    return cached[1]


def _file_plan(model: keras.Model, key, plan) -> None:
    _PLAN_CACHE.put((id(model), key), (weakref.ref(model), plan))


def forget_plans(model: keras.Model) -> None:
    """Drop every cached plan of ``model`` (a plan keeps its model, and so its weights, alive)."""
    _PLAN_CACHE.drop_where(lambda key, value: value[0]() is model)


def clear_cache() -> None:
    """Forget every cached gradient plan (they hold a reference to their model)."""
    _PLAN_CACHE.clear()


class _LogitsPlan:
    """The model's forward pass to pre-softmax scores, as a traced function (no gradients)."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.input_shape, self.num_classes = _graph.model_shapes(model)
        self.sizes_ok: set[tuple] = set()  # image shapes the model's layers are known to take (variable-size models)
        self._traced = _graph.traced(self._compute, tf.TensorSpec((None,) + self.input_shape, tf.float32))

    @property
    def trace_count(self) -> int:
        return self._traced.experimental_get_tracing_count()

    def run(self, images: np.ndarray, first_image: int = 0) -> np.ndarray:
        """Logits of ``images``, checked finite; ``first_image`` is their index in the caller's batch (messages)."""
        logits = checks.call_traced(self._traced, images).numpy()
        checks.check_finite(
            {"the model's scores": logits}, lambda rows: checks.nonfinite_cause(self.model, images[rows]), first_image
        )
        return logits

    def _compute(self, images):
        return tf.cast(_forward(self.model, images, (), None)[1], tf.float32)


class _GradientPlan:
    """Activations, pre-softmax scores and per-image gradients for one (model, layer), as a traced function."""

    def __init__(self, model: keras.Model, path: tuple, layer_name: str, target=None):
        self.model = model
        self.path = path
        self.layer_name = layer_name
        self.target = target
        if target is None:
            self.input_shape, self.num_classes = _graph.model_shapes(model)
            self.output_shape: tuple = (self.num_classes,)
        else:  # a target reads any output shape: (B, classes), (B,), a segmentation's (B, H, W, classes)
            graph = _graph.graph_of(model)
            self.input_shape, self.output_shape = tuple(graph.inputs[0].shape[1:]), tuple(graph.outputs[0].shape[1:])
            self.num_classes = self.output_shape[-1] if self.output_shape else None
        self._no_target_gradient = False
        self.sizes_ok: set[tuple] = set()  # image shapes the model's layers are known to take (variable-size models)
        self._disconnected = False
        self._traced = _graph.traced(
            self._compute, tf.TensorSpec((None,) + self.input_shape, tf.float32), tf.TensorSpec((None,), tf.int32)
        )

    @property
    def trace_count(self) -> int:
        return self._traced.experimental_get_tracing_count()

    def run(self, images: np.ndarray, class_indices: np.ndarray, first_image: int = 0):
        """(activations, gradients, logits, classes used, scores) for ``images``, checked finite.

        ``first_image`` is the images' index in the caller's batch, for messages. With a target, ``class_indices``
        are the images' rows in the caller's batch.
        """
        acts, grads, logits, used, num_classes, scores = checks.call_traced(self._traced, images, class_indices)
        if self._no_target_gradient:
            raise GradCAMError(no_gradient_message(self.target))
        if self._disconnected:
            raise LayerError(
                f"The model's output does not depend on layer '{self.path[-1].name}' (it sits on a "
                "branch that does not reach the output); pick a layer on the way to the prediction."
            )
        # Normally checked before the call; this catches models whose class count is only known at run time.
        if self.target is None:
            check_class_range(class_indices[class_indices != TOP_CLASS], int(num_classes))
        acts, grads, logits, scores = (np.asarray(a, np.float32) for a in (acts, grads, logits, scores))
        if scores.shape != (len(images),):
            raise GradCAMError(f"target={self.target!r} returned {scores.shape[0]} scores for {len(images)} images.")
        name = layer_lookup.display_name(self.path)
        checks.check_finite(
            {
                f"the activations of layer '{name}'": acts,
                "the model's scores": logits,
                f"the gradients at layer '{name}'": grads,
            },
            lambda rows: checks.nonfinite_cause(self.model, images[rows]),
            first_image,
        )
        return acts, grads, logits, used.numpy().astype(np.int64), scores

    def _compute(self, images, class_indices):
        # Only the chosen activations are watched (``_forward`` does it): the tape then records just the ops between
        # them and the score, not every op that reads a weight. Same gradients; a new plan's first call is ~25% faster.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            activations, logits = _forward(self.model, images, self.path, tape)
            logits = tf.cast(logits, tf.float32)  # mixed-precision models compute in float16
            num_classes = tf.shape(logits)[-1]
            if self.target is not None:  # class_indices are then the images' rows in the caller's batch
                used, scores = class_indices, target_scores(self.target, logits, class_indices)
            else:
                top = tf.argmax(logits, axis=-1, output_type=tf.int32)
                used = tf.where(class_indices == TOP_CLASS, top, class_indices)
                safe = tf.clip_by_value(used, 0, num_classes - 1)  # out-of-range indices are reported after the call
                scores = tf.gather(logits, safe, axis=1, batch_dims=1)
            total = tf.reduce_sum(scores)  # sum over images: one backward pass, per-image gradients
        grads, to_output = tape.gradient(total, [activations, logits])
        self._no_target_gradient = self.target is not None and to_output is None  # known while tracing
        self._disconnected = grads is None  # known while tracing: a fact of the graph, not of the data
        if grads is None:
            grads = tf.zeros_like(activations)
        return tf.cast(activations, tf.float32), tf.cast(grads, tf.float32), logits, used, num_classes, scores


def _forward(model: keras.Model, x, path: tuple, tape, logits: bool = True):
    """Run ``model`` on ``x``; return (activations of path[-1] or None, output), the output taken pre-softmax.

    Layers are called one by one through the model's own graph (``_graph.forward``), so a nested model containing the
    target layer is opened up and run the same way (this is what avoids Keras' "Graph disconnected" error).
    """
    found = {}

    def hook(op, is_final):
        if not path or op is not path[0]:
            return None
        if len(path) == 1:

            def call_target(*args, **kwargs):
                if "acts" in found:  # known while tracing, before any pass
                    raise LayerError(
                        f"Layer '{op.name}' is called more than once in the model (its weights are shared), so it has "
                        "several feature maps and Grad-CAM needs one. Pick a layer that runs once, e.g. the one after "
                        "each call."
                    )
                out = _graph.call_inference(op, *args, **kwargs)
                tape.watch(out)  # the only thing the tape watches: the gradients start here
                found["acts"] = out
                return out

            return call_target

        def call_nested(inputs, *args, **kwargs):
            if "acts" in found:
                raise LayerError(
                    f"Model '{op.name}' is called more than once in the model (its weights are shared), so its layer "
                    f"'{path[-1].name}' has several feature maps and Grad-CAM needs one. Pick a layer outside it."
                )
            found["acts"], out = _forward(op, inputs, path[1:], tape, is_final)
            return out

        return call_nested

    output = _graph.forward(model, x, hook, logits)
    return found.get("acts"), output
