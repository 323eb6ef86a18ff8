"""AblationCAM (gradcam_utils.methods.ablationcam) against routes that share none of its code.

* A hand-written loop: zero channel k of the layer's output and rerun the rest of the model by calling its layers
  one by one in the test (not through ``_graph.tail_function``), once per channel.
* A closed form on a GAP + Dense head: y - y_k = W[k, c] * mean(A_k).
"""

import dataclasses

import keras
import numpy as np
import pytest
from helpers import assert_unchanged, model_fingerprint, tiny_functional

import gradcam_utils as gc
from gradcam_utils import engine
from gradcam_utils.errors import UnsupportedModelError
from gradcam_utils.methods import METHODS


def _images(n=2, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, 8, 8, 3)).astype(np.float32)


def _inputs(model, x, layer, class_index=None):
    """gradient_inputs with the model attached (what explain hands a method once the engine passes it)."""
    return dataclasses.replace(engine.gradient_inputs(model, x, layer, class_index), model=model)


def _loop_weights(acts, classes, after):
    """(y - y_k) / |y| by rerunning ``after`` (the layers after the chosen one) once per zeroed channel."""
    weights = np.zeros((len(acts), acts.shape[-1]))
    for b, image in enumerate(acts):
        y = float(after(image[None])[0, classes[b]])
        for k in range(acts.shape[-1]):
            ablated = image.copy()
            ablated[..., k] = 0
            weights[b, k] = (y - float(after(ablated[None])[0, classes[b]])) / abs(y)
    return weights


def _raw(acts, weights):
    return np.einsum("bhwk,bk->bhw", acts.astype(np.float64), weights)


def test_ablation_weights_match_a_loop_that_reruns_the_later_layers():
    model = tiny_functional(activation="softmax")  # the tail must stop before the softmax
    layers = [model.get_layer(n) for n in ("conv2", "conv2_act", "gap")]
    kernel, bias = (np.asarray(w) for w in model.get_layer("predictions").weights)

    def after(a):
        for layer in layers:
            a = layer(a)
        return np.asarray(a) @ kernel + bias

    inputs = _inputs(model, _images(3), "conv1_act", class_index=[0, 1, 2])
    expected = _raw(inputs.activations, _loop_weights(inputs.activations, [0, 1, 2], after))
    np.testing.assert_allclose(METHODS["ablationcam"](inputs), expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


def test_on_a_gap_head_the_drop_is_the_dense_weight_times_the_channel_mean():
    model = tiny_functional()
    inputs = _inputs(model, _images(2, seed=1), "conv2_act")
    kernel = np.asarray(model.get_layer("predictions").kernel, np.float64)  # (K, classes)
    acts = inputs.activations.astype(np.float64)
    drops = kernel[:, inputs.class_indices].T * acts.mean(axis=(1, 2))  # (B, K): w_k * mean(A_k)
    y = np.asarray(inputs.scores, np.float64)
    np.testing.assert_allclose(METHODS["ablationcam"](inputs), _raw(acts, drops / np.abs(y)[:, None]), rtol=1e-4)


def test_a_layer_inside_a_nested_model_runs_the_rest_of_both_graphs():
    keras.utils.set_random_seed(8)
    inner_in = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inner_in)
    a = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="c2")(a)
    base = keras.Model(inner_in, a, name="base")
    outer_in = keras.Input((8, 8, 3))
    dense = keras.layers.Dense(3, activation="softmax", name="head")
    model = keras.Model(outer_in, dense(keras.layers.GlobalAveragePooling2D()(base(outer_in))))
    kernel, bias = (np.asarray(w) for w in dense.weights)

    def after(x):
        return np.asarray(base.get_layer("c2")(x)).mean(axis=(1, 2)) @ kernel + bias

    inputs = _inputs(model, _images(2, seed=2), "c1")
    expected = _raw(inputs.activations, _loop_weights(inputs.activations, inputs.class_indices, after))
    np.testing.assert_allclose(METHODS["ablationcam"](inputs), expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


def test_the_model_is_unchanged_and_gains_no_layer_calls():
    model = tiny_functional()
    before = model_fingerprint(model)
    calls = {layer.name: (len(layer._inbound_nodes), len(layer._outbound_nodes)) for layer in model.layers}
    x = _images(2, seed=3)
    copy = x.copy()
    engine.heatmaps_from(_inputs(model, x, "conv1_act"), "ablationcam")
    assert_unchanged(model, before)
    assert {layer.name: (len(layer._inbound_nodes), len(layer._outbound_nodes)) for layer in model.layers} == calls
    np.testing.assert_array_equal(x, copy)


def test_a_skip_connection_across_the_layer_is_refused_with_what_to_pick():
    keras.utils.set_random_seed(9)
    inputs = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", name="c2")(a)
    joined = keras.layers.Add(name="join")([a, b])
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(joined)))
    with pytest.raises(UnsupportedModelError, match="skip connection.*'join'|skip connection.*Add"):
        METHODS["ablationcam"](_inputs(model, _images(1), "c2"))
    assert METHODS["ablationcam"](_inputs(model, _images(1), "join")).shape == (1, 8, 8)


def test_without_the_model_it_says_to_use_explain():
    inputs = engine.gradient_inputs(tiny_functional(), _images(1), "conv2_act")
    with pytest.raises(ValueError, match="method='ablationcam'"):
        METHODS["ablationcam"](dataclasses.replace(inputs, model=None))


def test_explain_runs_ablationcam():
    model = tiny_functional()
    result = gc.explain(model, _images(2, seed=4), "conv2_act", method="ablationcam")
    expected, _ = engine.heatmaps_from(_inputs(model, _images(2, seed=4), "conv2_act"), "ablationcam")
    np.testing.assert_allclose(result.heatmaps, expected, atol=1e-6)


def test_ablationcam_refuses_inputs_computed_for_a_target_that_is_not_one_class():
    """gradient_inputs(target=Difference(...)) marks rows with class -1; AblationCAM must not read the last class."""
    from helpers import tiny_functional

    import gradcam_utils as gc
    from gradcam_utils.targets import Difference

    model = tiny_functional(name="ablation_target")
    images = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    inputs = gc.gradient_inputs(model, images, target=Difference(0, 2))
    with pytest.raises(gc.GradCAMError, match="not a single class"):
        gc.heatmaps_from(inputs, "ablationcam")
