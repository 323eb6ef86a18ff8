"""Scores of perturbed copies: what Score-CAM's masked images and AblationCAM's ablated activations are weighted by.

Both perturbation methods score many copies of each image with the score being explained: a class's (its
pre-softmax logit, gathered by class index) or a ``target=``'s, called on the model's pre-activation outputs of the
copies exactly as the gradient methods call it on the images' outputs. A target's per-image parameters
(``ClassScore([3, 0, 7])``, one mask per image in ``RegionScore``) follow the image each copy was made from: each copy
carries its image's row in the batch the target was given for. The traced functions are cached with the engine's plans
(per model, layer and target; equal targets of ``gradcam_utils.targets`` share one), and run batched.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import _graph, engine_checks
from . import layers as layer_lookup
from .targets import target_scores


def target_copy_scores(model: keras.Model, target, batch_size: int):
    """A function (copies (N, H, W, C), rows (N,)) -> the target's (N,) float64 scores, ``batch_size`` at a time.

    ``rows[i]`` is the row of the image copy i was made from, in the batch the target was given for. The traced
    function is made on the first call (so gradient methods, which never call it, cache nothing). Raises
    NonFiniteError when a score is NaN or infinite.
    """
    from . import engine  # the engine imports this module

    def compute(images, rows):
        outputs = tf.cast(_graph.forward(model, images), tf.float32)
        return target_scores(target, outputs, rows)

    def build():
        shape = tuple(_graph.graph_of(model).inputs[0].shape[1:])
        return _graph.traced(compute, tf.TensorSpec((None,) + shape, tf.float32), tf.TensorSpec((None,), tf.int32))

    def scores_of(copies: np.ndarray, rows: np.ndarray) -> np.ndarray:
        traced = engine.cached_plan(model, ("copy_scores", target), build)  # on first use: gradient methods never ask
        parts = [
            np.asarray(traced(tf.constant(copies[i : i + batch_size]), tf.constant(rows[i : i + batch_size])))
            for i in range(0, len(copies), batch_size)
        ]
        scores = np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
        engine_checks.check_finite(
            {f"target={target!r}'s scores of the perturbed copies": scores},
            lambda bad: engine_checks.nonfinite_cause(model, copies[bad]),
        )
        return scores

    return scores_of


class AblationTail:
    """AblationCAM's traced functions for one (model, layer, target): the later layers' scores of ablated copies.

    ``scores(activations, leading tokens, rows, channel zeroed or -1, picks, *before)`` -> (N,): row i is image
    ``rows[i]``'s activations with channel ``zeroed[i]`` set to zero (-1: none), run through the layers after the
    chosen one. On a token layer the (h, w) grid is flattened back to tokens, row by row, behind the image's leading
    (class/register) tokens, which are not zeroed. ``picks[i]`` is the class whose pre-softmax score is read, or with
    a target the image's row for the target's parameters. ``before`` are the values, per image, of the tensors a skip
    connection carries across the layer (``_graph.crossing_tensors``), which ``values_before(images)`` computes once
    per batch (an empty tuple when nothing crosses: the tail then runs from the layer's output alone).
    """

    def __init__(self, inputs):
        model = inputs.model  # the functions keep the model, not these inputs (a cached plan would hold the batch)
        path = layer_lookup.find_layer_path(model, inputs.layer_name)
        run = _graph.tail_call(model, path)
        crossing = _graph.crossing_tensors(model, path)
        target, on_tokens = inputs.target, inputs.leading_tokens is not None

        def ablated_scores(activations, leading, rows, zeroed, picks, *before):
            keep = 1.0 - tf.one_hot(zeroed, tf.shape(activations)[-1])  # one_hot(-1) is all zeros: nothing zeroed
            ablated = tf.gather(activations, rows) * keep[:, None, None, :]
            if on_tokens:  # back to (N, n + h*w, C): the leading tokens untouched in front, the grid row by row
                shape = tf.shape(ablated)
                patches = tf.reshape(ablated, (shape[0], shape[1] * shape[2], shape[3]))
                ablated = tf.concat([tf.gather(leading, rows), patches], axis=1)
            outputs = run(ablated, [tf.gather(value, rows) for value in before])
            if target is None:
                return tf.gather(outputs, picks, axis=1, batch_dims=1)
            return target_scores(target, outputs, picks)

        index = tf.TensorSpec((None,), tf.int32)
        channels = inputs.activations.shape[-1:]
        self.scores = _graph.traced(
            ablated_scores,
            tf.TensorSpec((None, None, None) + channels, tf.float32),
            tf.TensorSpec((None, None) + channels, tf.float32),
            index,
            index,
            index,
            *(tf.TensorSpec((None,) + tuple(t.shape[1:]), t.dtype) for t in crossing),
        )
        self._before = None
        if crossing:
            image_shape = tuple(_graph.graph_of(model).inputs[0].shape[1:])
            self._before = _graph.traced(
                lambda images: tuple(_graph.values_before(model, path, images)),
                tf.TensorSpec((None,) + image_shape, tf.float32),
            )

    def values_before(self, images) -> tuple:
        """The tensors a skip connection carries across the layer, for ``images``; () when none crosses it."""
        if self._before is None:
            return ()
        if images is None:
            raise ValueError(
                "AblationCAM: a skip connection crosses this layer, so the layers after it also need the images; "
                "use gc.explain(model, images, layer_name, method='ablationcam')."
            )
        return tuple(self._before(tf.constant(images)))


def ablation_tail(inputs) -> AblationTail:
    """The cached ``AblationTail`` of (inputs.model, inputs.layer_name, inputs.target), for a conv or token layer."""
    from . import engine

    key = ("ablation_tail", inputs.layer_name, inputs.target, inputs.leading_tokens is not None)
    return engine.cached_plan(inputs.model, key, lambda: AblationTail(inputs))
