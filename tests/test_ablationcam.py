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
from gradcam_utils.methods import METHODS
from gradcam_utils.targets import ClassScore, Difference, MultiLabel, RegionScore


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


def test_a_skip_connection_across_the_layer_carries_the_unablated_tensor():
    """Inside a residual block (c2, whose input the Add also reads): a loop that zeroes channel k of c2's output and
    adds c1's output as Keras' own sub-model computed it from the image, untouched."""
    keras.utils.set_random_seed(9)
    inputs = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", name="c2")(a)
    joined = keras.layers.Add(name="join")([a, b])
    dense = keras.layers.Dense(2, name="head")
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(joined)))
    x = _images(2, seed=10)
    skip = keras.Model(inputs, a)(x).numpy()  # what the skip connection carries, per image
    kernel, bias = (np.asarray(w) for w in dense.weights)
    inputs_c2 = _inputs(model, x, "c2")
    weights = np.zeros((2, 4))
    for i, image in enumerate(inputs_c2.activations):
        c = inputs_c2.class_indices[i]
        y = ((skip[i] + image).mean(axis=(0, 1)) @ kernel + bias)[c]
        for k in range(4):
            ablated = image.copy()
            ablated[..., k] = 0
            weights[i, k] = (y - ((skip[i] + ablated).mean(axis=(0, 1)) @ kernel + bias)[c]) / abs(y)
    expected = _raw(inputs_c2.activations, weights)
    np.testing.assert_allclose(
        METHODS["ablationcam"](inputs_c2), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max()
    )
    with pytest.raises(ValueError, match="also need the images"):  # hand-made inputs without them
        METHODS["ablationcam"](dataclasses.replace(inputs_c2, images=None))


def test_a_skip_connection_inside_a_nested_base_and_one_around_it():
    """c2 inside a nested base, crossed by the base's own skip (c1 -> Add) and by the outer model's (input -> Add):
    both tensors computed by Keras sub-models from the image, the rest by hand."""
    keras.utils.set_random_seed(12)
    inner_in = keras.Input((8, 8, 3))
    c1 = keras.layers.Conv2D(3, 3, padding="same", name="c1")(inner_in)
    c2 = keras.layers.Conv2D(3, 3, padding="same", name="c2")(c1)
    base = keras.Model(inner_in, keras.layers.Add(name="inner_join")([c1, c2]), name="base")
    outer_in = keras.Input((8, 8, 3))
    dense = keras.layers.Dense(3, name="head")
    joined = keras.layers.Add(name="outer_join")([outer_in, base(outer_in)])
    model = keras.Model(outer_in, dense(keras.layers.GlobalAveragePooling2D()(joined)))
    x = _images(2, seed=13)
    inner_skip = keras.Model(inner_in, c1)(x).numpy()
    kernel, bias = (np.asarray(w) for w in dense.weights)

    def after_for(b):
        return lambda a: ((x[b] + inner_skip[b] + a[0]).mean(axis=(0, 1)) @ kernel + bias)[None]

    inputs = _inputs(model, x, "c2")
    weights = np.concatenate(
        [_loop_weights(inputs.activations[b : b + 1], inputs.class_indices[b : b + 1], after_for(b)) for b in range(2)]
    )
    expected = _raw(inputs.activations, weights)
    np.testing.assert_allclose(METHODS["ablationcam"](inputs), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_without_the_model_it_says_to_use_explain():
    inputs = engine.gradient_inputs(tiny_functional(), _images(1), "conv2_act")
    with pytest.raises(ValueError, match="method='ablationcam'"):
        METHODS["ablationcam"](dataclasses.replace(inputs, model=None))


def test_explain_runs_ablationcam():
    model = tiny_functional()
    result = gc.explain(model, _images(2, seed=4), "conv2_act", method="ablationcam")
    expected, _ = engine.heatmaps_from(_inputs(model, _images(2, seed=4), "conv2_act"), "ablationcam")
    np.testing.assert_allclose(result.heatmaps, expected, atol=1e-6)


def _loop_target_weights(acts, outputs_of, score):
    """(y - y_k) / |y| with the target called on the output of each ablated copy, one copy at a time."""
    weights = np.zeros((len(acts), acts.shape[-1]))
    for b, image in enumerate(acts):
        y = score(b, outputs_of(image[None]))
        for k in range(acts.shape[-1]):
            ablated = image.copy()
            ablated[..., k] = 0
            weights[b, k] = (y - score(b, outputs_of(ablated[None]))) / abs(y)
    return weights


def test_targets_score_each_ablated_copy():
    """Difference (per-image classes), MultiLabel on a sigmoid head and a function of the outputs: each ablated copy
    run through the layers after conv1_act by hand, the head written out pre-activation, the target called on it."""
    model = tiny_functional(activation="sigmoid")
    layers = [model.get_layer(n) for n in ("conv2", "conv2_act", "gap")]
    kernel, bias = (np.asarray(w) for w in model.get_layer("predictions").weights)

    def outputs_of(a):  # the pre-sigmoid outputs of activations at conv1_act
        for layer in layers:
            a = layer(a)
        return np.asarray(a) @ kernel + bias

    x = _images(3, seed=5)
    cases = [
        (Difference([0, 2, 0], 1), lambda b, out: out[0, [0, 2, 0][b]] - out[0, 1]),
        (MultiLabel(2), lambda b, out: out[0, 2]),  # the pre-sigmoid logit, as for a class
        (lambda out: out[:, 0] * out[:, 1], lambda b, out: out[0, 0] * out[0, 1]),
    ]
    for target, score in cases:
        inputs = engine.gradient_inputs(model, x, "conv1_act", target=target, batch_size=2)
        expected = _raw(inputs.activations, _loop_target_weights(inputs.activations, outputs_of, score))
        ours = METHODS["ablationcam"](inputs)
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_a_region_target_on_a_segmenter_and_the_public_api():
    from test_targets import tiny_segmenter

    model = tiny_segmenter()
    before = model_fingerprint(model)
    masks = np.random.default_rng(7).random((3, 8, 8)) > 0.5
    seg = model.get_layer("seg_logits")
    x = _images(3, seed=6)
    inputs = engine.gradient_inputs(model, x, "feat", target=RegionScore(1, masks))
    expected = _raw(
        inputs.activations,
        _loop_target_weights(
            inputs.activations, lambda a: np.asarray(seg(a)), lambda b, out: float(np.sum(out[0, :, :, 1] * masks[b]))
        ),
    )
    np.testing.assert_allclose(METHODS["ablationcam"](inputs), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    result = gc.explain(model, x, "feat", method="ablationcam", target=RegionScore(1, masks), normalize=False)
    np.testing.assert_allclose(result.heatmaps, np.maximum(expected, 0), rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert_unchanged(model, before)


def test_a_class_target_is_class_index_exactly():
    model = tiny_functional()
    x = _images(3, seed=7)
    by_index = gc.explain(model, x, "conv2_act", [2, 0, 1], "ablationcam", normalize=False)
    by_target = gc.explain(model, x, "conv2_act", method="ablationcam", normalize=False, target=ClassScore([2, 0, 1]))
    np.testing.assert_allclose(by_target.heatmaps, by_index.heatmaps, rtol=1e-6, atol=1e-7)


def test_hand_made_inputs_without_a_class_or_target_are_refused():
    inputs = _inputs(tiny_functional(), _images(2), "conv2_act")
    with pytest.raises(gc.GradCAMError, match="name no class"):
        METHODS["ablationcam"](dataclasses.replace(inputs, class_indices=np.array([-1, 0])))


# ----- token layers ------------------------------------------------------------------------------------------------


def _vit_by_hand(vit, layer_name, leading, images, zero_leading=False):
    """AblationCAM's raw maps on a token layer of tiny_vit, by a Keras sub-model up to the layer and the rest of the
    block written out layer by layer; channel k zeroed in the patch tokens (and the class token if zero_leading)."""
    tokens = keras.Model(vit.inputs, vit.get_layer(layer_name).output)(images).numpy()
    get = vit.get_layer
    kernel, bias = (np.asarray(w) for w in get("head").weights)

    def outputs_of(x):
        y = get("block_ln1")(x)
        x = get("block_add1")([x, get("block_attn")(y, y)])
        x = get("block_out")([x, get("block_mlp2")(get("block_mlp1")(get("block_ln2")(x)))])
        features = np.asarray(get("final_ln")(x))
        return (features[:, 0] if leading else features.mean(axis=1)) @ kernel + bias

    top = outputs_of(tokens).argmax(axis=1)
    weights = np.zeros((len(tokens), tokens.shape[-1]))
    for b in range(len(tokens)):
        y = outputs_of(tokens[b : b + 1])[0, top[b]]
        for k in range(tokens.shape[-1]):
            ablated = tokens[b : b + 1].copy()
            ablated[:, 0 if zero_leading else leading :, k] = 0
            weights[b, k] = (y - outputs_of(ablated)[0, top[b]]) / abs(y)
    grid = tokens[:, leading:].reshape(len(tokens), 4, 4, -1)
    return _raw(grid, weights)


@pytest.mark.parametrize(("class_token", "layer"), [(True, "class_token"), (False, "to_tokens")])
def test_on_token_layers_a_channel_is_zeroed_in_the_patch_tokens_only(class_token, layer):
    from test_tokens import tiny_vit

    vit = tiny_vit(class_token=class_token, pool="cls" if class_token else "mean")
    before = model_fingerprint(vit)
    x = np.random.default_rng(8).normal(size=(3, 16, 16, 3)).astype(np.float32)
    inputs = engine.gradient_inputs(vit, x, layer, batch_size=2)
    assert inputs.activations.shape == (3, 4, 4, 8)
    ours = METHODS["ablationcam"](inputs)
    expected = _vit_by_hand(vit, layer, int(class_token), x)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    if class_token:  # the test can fail: zeroing the class token's channel too gives other weights
        other = _vit_by_hand(vit, layer, 1, x, zero_leading=True)
        assert np.abs(other - expected).max() > 1e-3 * np.abs(expected).max()
    result = gc.explain(vit, x, layer, method="ablationcam", normalize=False)
    assert result.heatmaps.shape == (3, 4, 4)
    np.testing.assert_allclose(result.heatmaps, np.maximum(ours, 0), rtol=1e-6, atol=1e-6)
    assert_unchanged(vit, before)


def test_the_default_vit_layer_a_pre_norm_layernorm_keeps_the_residual_stream():
    """The default ViT layer is the last attention's input, a LayerNorm whose input the residual Add also reads: by
    hand, a sub-model gives the LayerNorm's output and the residual stream; channel k is zeroed in the LayerNorm's
    patch tokens, the attention runs on them and the residual stream is added untouched."""
    from test_tokens import tiny_vit

    vit = tiny_vit()
    x = np.random.default_rng(9).normal(size=(2, 16, 16, 3)).astype(np.float32)
    get = vit.get_layer
    normed, stream = (
        v.numpy() for v in keras.Model(vit.inputs, [get("block_ln1").output, get("class_token").output])(x)
    )
    kernel, bias = (np.asarray(w) for w in get("head").weights)

    def logits(y, residual):
        h = get("block_add1")([residual, get("block_attn")(y, y)])
        h = get("block_out")([h, get("block_mlp2")(get("block_mlp1")(get("block_ln2")(h)))])
        return np.asarray(get("final_ln")(h))[:, 0] @ kernel + bias

    top = logits(normed, stream).argmax(axis=1)
    weights = np.zeros((2, 8))
    for b in range(2):
        y = logits(normed[b : b + 1], stream[b : b + 1])[0, top[b]]
        for k in range(8):
            ablated = normed[b : b + 1].copy()
            ablated[:, 1:, k] = 0
            weights[b, k] = (y - logits(ablated, stream[b : b + 1])[0, top[b]]) / abs(y)
    expected = _raw(normed[:, 1:].reshape(2, 4, 4, 8), weights)
    result = gc.explain(vit, x, method="ablationcam", normalize=False)
    assert result.layer_name == "block_ln1"
    np.testing.assert_allclose(result.heatmaps, np.maximum(expected, 0), rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert (expected > 0).any()
