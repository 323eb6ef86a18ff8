"""Guided Backprop and Guided Grad-CAM, checked against routes that do not use the module: a numpy hand computation
of the masked chain rule, a second implementation (a cloned model whose ReLUs are replaced by tf.custom_gradient
guided ReLUs, the tf-keras-vis recipe), Keras' own gradient on a model without ReLUs, a flat twin of a nested model,
and tf.image.resize as the upsampler."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_unchanged, model_fingerprint, tiny_functional, tiny_sequential

import gradcam_utils as gc
from gradcam_utils import guided
from gradcam_utils.guided import guided_backprop, guided_gradcam, to_display

# ----- the second implementation: a clone with custom-gradient ReLUs ---------------------------------------------


def _guided_relu_fn(max_value=None):
    @tf.custom_gradient
    def guided_relu(x):
        y = tf.nn.relu(x) if max_value is None else tf.clip_by_value(x, 0.0, max_value)
        passes = x > 0 if max_value is None else (x > 0) & (x < max_value)

        def grad(dy):
            return dy * tf.cast(passes, dy.dtype) * tf.cast(dy > 0, dy.dtype)

        return y, grad

    return guided_relu


def reference_guided(model, images, classes):
    """Guided backprop the classic way: clone with guided ReLUs, copy the weights, differentiate the clone's call.

    The model must output logits (no final softmax)."""
    relu, relu6 = _guided_relu_fn(), _guided_relu_fn(6.0)

    def clone_fn(layer):
        if isinstance(layer, keras.layers.ReLU):
            assert not layer.negative_slope and layer.max_value in (None, 6.0)
            return keras.layers.Activation(relu if layer.max_value is None else relu6, name=layer.name)
        config = layer.get_config()
        if getattr(layer, "activation", None) is keras.activations.relu:
            config["activation"] = relu
        elif getattr(layer, "activation", None) is keras.activations.relu6:
            config["activation"] = relu6
        return type(layer).from_config(config)

    clone = keras.models.clone_model(model, clone_function=clone_fn, recursive=True)
    clone.set_weights(model.get_weights())
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = clone(x, training=False)
        total = tf.reduce_sum(tf.gather(logits, tf.constant(classes), axis=1, batch_dims=1))
    return tape.gradient(total, x).numpy()


# ----- a hand-weighted MLP and its hand computation ---------------------------------------------------------------


def hand_mlp():
    """(2, 2, 1) image -> flatten -> Dense(5, relu) -> Dense(4) -> ReLU6 -> Dense(3) logits, seeded weights."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input((2, 2, 1))
    x = keras.layers.Flatten(name="flat")(inputs)
    x = keras.layers.Dense(5, activation="relu", name="h1")(x)
    x = keras.layers.Dense(4, name="h2")(x)
    x = keras.layers.ReLU(max_value=6.0, name="h2_act")(x)
    outputs = keras.layers.Dense(3, name="logits")(x)
    model = keras.Model(inputs, outputs, name="hand_mlp")
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) * 2 for w in model.get_weights()])
    return model


def hand_gradients(model, images, classes, guided_rule=True):
    """The masked chain rule in numpy (float64), layer by layer."""
    w1, b1, w2, b2, w3, _ = [np.asarray(w, np.float64) for w in model.get_weights()]
    x = images.reshape(len(images), -1).astype(np.float64)
    z1 = x @ w1 + b1
    z2 = np.maximum(z1, 0) @ w2 + b2
    g = w3[:, classes].T  # d score / d relu6 output, (B, 4)
    g = g * ((z2 > 0) & (z2 < 6)) * ((g > 0) if guided_rule else 1)
    g = g @ w2.T  # d / d relu output
    g = g * (z1 > 0) * ((g > 0) if guided_rule else 1)
    return (g @ w1.T).reshape(images.shape), z1, z2


def test_guided_backprop_equals_the_hand_computed_masked_chain_rule():
    """Reference: numpy chain rule with the two guided masks (forward input > 0, and < 6 for ReLU6; incoming
    gradient > 0). The same images give a different plain gradient, so the masks are really exercised."""
    model = hand_mlp()
    images = np.random.default_rng(4).normal(size=(6, 2, 2, 1)).astype(np.float32) * 2
    classes = np.array([0, 1, 2, 0, 1, 2])
    ours = guided_backprop(model, images, classes)
    expected, z1, z2 = hand_gradients(model, images, classes)
    assert ours.shape == images.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    plain, _, _ = hand_gradients(model, images, classes, guided_rule=False)
    assert np.abs(plain - expected).max() > 0.1  # the guided rule changed something
    assert (z2 > 6).any() and (z2 < 0).any() and (z1 < 0).any()  # every mask condition occurs


@pytest.mark.parametrize(
    "build",
    [
        lambda: tiny_functional(),  # Activation("relu") layers
        lambda: tiny_sequential(),  # Conv2D(activation="relu") + BatchNorm + Dropout
        lambda: _relu6_cnn(),  # keras.layers.ReLU(max_value=6), as in EfficientNet-Lite
        lambda: _token_model(attention=False),  # tokens, LayerNorm (its true gradient) and a ReLU MLP
    ],
    ids=["activation_layers", "sequential_conv_relu_bn", "relu6_layers", "tokens_layernorm_relu_mlp"],
)
def test_guided_backprop_agrees_with_a_custom_gradient_clone(build, rng):
    """Reference: a second implementation (clone + tf.custom_gradient guided ReLUs, Keras' own call)."""
    model = build()
    images = rng.normal(size=(4, 8, 8, 3)).astype(np.float32) * 3
    classes = np.array([0, 1, 2, 1])
    np.testing.assert_allclose(
        guided_backprop(model, images, classes), reference_guided(model, images, classes), rtol=1e-5, atol=1e-6
    )


def _relu6_cnn():
    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="c1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(max_value=6.0, name="a1")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6", name="dw")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(x), name="relu6_cnn")


def test_model_without_relus_gets_its_plain_gradient(rng):
    """A linear model has no ReLU to guide (and no activation to refuse): the result is the ordinary input gradient,
    computed here by Keras' own model call under a GradientTape."""
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, name="c"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, name="out"),
        ]
    )
    images = rng.normal(size=(3, 8, 8, 3)).astype(np.float32)
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum(model(x)[:, 2])
    np.testing.assert_allclose(guided_backprop(model, images, 2), tape.gradient(score, x).numpy(), rtol=1e-5, atol=1e-7)


def test_softmax_model_is_explained_with_its_logits(images):
    """Reference: the same network without the softmax (same seed, same weights)."""
    probs, logits = tiny_functional(activation="softmax"), tiny_functional(activation=None)
    np.testing.assert_array_equal(
        guided_backprop(probs, images, [0, 1, 2, 0]), guided_backprop(logits, images, [0, 1, 2, 0])
    )
    with_layer = keras.Model(logits.inputs, keras.layers.Softmax(name="probs")(logits.output))
    np.testing.assert_array_equal(guided_backprop(with_layer, images), guided_backprop(logits, images))


def test_pretrained_base_nested_in_a_sequential_head_matches_its_flat_twin(images):
    """Reference: the same layer objects wired as one flat functional model (nothing nested to open up)."""
    keras.utils.set_random_seed(6)
    conv1, act1 = keras.layers.Conv2D(6, 3, padding="same", name="conv1"), keras.layers.ReLU(name="relu1")
    conv2 = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv2")
    gap, dense = keras.layers.GlobalAveragePooling2D(name="gap"), keras.layers.Dense(3, activation="softmax")
    base_in = keras.Input((8, 8, 3))
    base = keras.Model(base_in, conv2(act1(conv1(base_in))), name="base")
    nested = keras.Sequential([keras.Input((8, 8, 3)), base, gap, dense], name="head")
    flat_in = keras.Input((8, 8, 3))
    flat = keras.Model(flat_in, dense(gap(conv2(act1(conv1(flat_in))))), name="flat")
    ours = guided_backprop(nested, images, [2, 1, 0, 2])
    np.testing.assert_allclose(ours, guided_backprop(flat, images, [2, 1, 0, 2]), rtol=1e-6, atol=1e-8)
    assert np.abs(ours).max() > 0


def test_keras_ops_relu_in_a_functional_graph_is_guided_too(images):
    """Reference: the same weights in a model that uses Activation("relu") layers and no final softmax."""
    layered = tiny_functional()
    inputs = keras.Input((8, 8, 3))
    x = keras.ops.relu(layered.get_layer("conv1")(inputs))
    x = keras.ops.relu(layered.get_layer("conv2")(x))
    x = layered.get_layer("predictions")(layered.get_layer("gap")(x))
    with_ops = keras.Model(inputs, keras.ops.softmax(x), name="with_ops")
    np.testing.assert_allclose(
        guided_backprop(with_ops, images, [1, 0, 2, 1]),
        guided_backprop(layered, images, [1, 0, 2, 1]),
        rtol=1e-6,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        guided_backprop(layered, images, [1, 0, 2, 1]),
        reference_guided(layered, images, [1, 0, 2, 1]),
        rtol=1e-5,
        atol=1e-7,
    )


def test_batch_equals_images_one_at_a_time(images):
    """Reference: the same call on each image alone (one backward pass of the summed scores must not mix images)."""
    model = tiny_functional()
    batch = guided_backprop(model, images, [0, 2, 1, 2])
    for i, cls in enumerate([0, 2, 1, 2]):
        np.testing.assert_allclose(batch[i], guided_backprop(model, images[i], cls)[0], rtol=1e-5, atol=1e-8)


def test_class_index_rules_follow_explain(images):
    """None is each image's top logit (checked against model(images).argmax); an int applies to all."""
    model = tiny_functional()
    top = model(images).numpy().argmax(axis=1)
    np.testing.assert_array_equal(guided_backprop(model, images), guided_backprop(model, images, top))
    np.testing.assert_array_equal(guided_backprop(model, images, 1), guided_backprop(model, images, [1] * 4))
    with pytest.raises(gc.ClassIndexError, match="out of range"):
        guided_backprop(model, images, 3)
    with pytest.raises(gc.ClassIndexError, match="one per image"):
        guided_backprop(model, images, [0, 1])


def test_model_and_images_are_not_changed(images):
    model = tiny_sequential(activation="softmax")
    before, copy = model_fingerprint(model), images.copy()
    activations = [layer.activation for layer in model.layers if hasattr(layer, "activation")]
    guided_backprop(model, images)
    guided_gradcam(model, images)
    assert_unchanged(model, before)
    assert [layer.activation for layer in model.layers if hasattr(layer, "activation")] == activations
    np.testing.assert_array_equal(images, copy)


def test_plan_is_cached_traced_once_and_reads_the_live_weights():
    """Reference for the retrained model: the numpy hand computation with the new weights."""
    model = hand_mlp()
    images = np.random.default_rng(8).normal(size=(5, 2, 2, 1)).astype(np.float32) * 2
    guided_backprop(model, images[:2], 0)
    guided_backprop(model, images, 1)  # another batch size: same graph
    plan = guided.get_guided_plan(model)
    assert plan.trace_count == 1
    model.set_weights([w * -0.7 + 0.1 for w in model.get_weights()])  # "trained further"
    np.testing.assert_allclose(
        guided_backprop(model, images, 2), hand_gradients(model, images, [2] * 5)[0], rtol=1e-5, atol=1e-6
    )
    assert plan.trace_count == 1 and guided.get_guided_plan(model) is plan


def _with(layer_fn):
    def build():
        inputs = keras.Input((8, 8, 3))
        x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
        x = layer_fn(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(3)(x))

    return build


@pytest.mark.parametrize(
    "build, culprit",
    [
        (_with(lambda x: keras.layers.Conv2D(4, 1, activation="swish", name="swish_conv")(x)), "swish_conv"),
        (_with(lambda x: keras.layers.Activation("gelu", name="gelu_act")(x)), "gelu_act"),
        (_with(lambda x: keras.layers.LeakyReLU(name="leaky")(x)), "leaky"),
        (_with(lambda x: keras.layers.ReLU(negative_slope=0.1, name="sloped")(x)), "sloped"),
        (_with(lambda x: keras.layers.Softmax(name="mid_softmax")(x)), "mid_softmax"),
        (_with(keras.ops.sigmoid), "sigmoid"),
    ],
    ids=["swish_conv", "gelu_activation", "leaky_relu", "relu_with_slope", "softmax_in_the_middle", "ops_sigmoid"],
)
def test_non_relu_activations_are_refused_naming_the_layer(build, culprit, images):
    model = build()
    with pytest.raises(gc.UnsupportedModelError, match=f"(?s)'{culprit}.*relu") as info:
        guided_backprop(model, images)
    assert "Grad-CAM" in str(info.value)  # says what to do instead


def _token_model(attention=True):
    """A ViT-like model with ReLU MLPs: patch conv -> tokens -> LayerNorm -> [attention + Add] -> ReLU MLP -> mean."""
    keras.utils.set_random_seed(11)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(6, 2, strides=2, name="patch_embed")(inputs)
    x = keras.layers.Reshape((16, 6), name="to_tokens")(x)
    y = keras.layers.LayerNormalization(name="ln")(x)
    if attention:
        x = keras.layers.Add(name="add")([x, keras.layers.MultiHeadAttention(2, 3, name="attn")(y, y)])
    else:
        x = y
    x = keras.layers.Dense(8, activation="relu", name="mlp")(x)
    x = keras.layers.GlobalAveragePooling1D(name="mean")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x))


def test_attention_has_no_guided_rule_and_a_vit_is_refused(images):
    """Attention's softmax over the tokens is a gate with no guided rule: refused even with ReLU MLPs (the same model
    without the attention is accepted above), before any Grad-CAM work in guided_gradcam; the GELU ViT of
    test_tokens.py is refused too."""
    from test_tokens import tiny_vit

    model = _token_model()
    for call in (guided_backprop, guided_gradcam):
        with pytest.raises(gc.UnsupportedModelError, match="(?s)'attn'.*attention layer.*Grad-CAM") as info:
            call(model, images)
        assert "token layer" in str(info.value)
    with pytest.raises(gc.UnsupportedModelError, match="'block_attn'"):
        guided_backprop(tiny_vit(), np.zeros((1, 16, 16, 3), np.float32))


def test_non_relu_activation_inside_a_nested_base_is_found(images):
    inner_in = keras.Input((8, 8, 3))
    base = keras.Model(inner_in, keras.layers.Conv2D(4, 3, activation="gelu", name="deep_gelu")(inner_in), name="b")
    model = keras.Sequential([keras.Input((8, 8, 3)), base, keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(gc.UnsupportedModelError, match="deep_gelu"):
        guided_backprop(model, images)


def test_guided_gradcam_is_guided_backprop_times_the_bilinear_upsampled_map(images):
    """Reference: explain's map upsampled with tf.image.resize (bilinear, half-pixel), times guided backprop."""
    model = tiny_functional()
    result = gc.explain(model, images, "conv2_act", class_index=[2, 0, 1, 1])
    expected = (
        guided_backprop(model, images, result.class_indices)
        * tf.image.resize(result.heatmaps[..., None], (8, 8), method="bilinear").numpy()
    )
    ours = guided_gradcam(model, images, "conv2_act", class_index=[2, 0, 1, 1])
    assert ours.shape == images.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-8)
    # with class_index=None both parts explain each image's top class
    top = model(images).numpy().argmax(axis=1)
    np.testing.assert_allclose(guided_gradcam(model, images), guided_gradcam(model, images, class_index=top))


def test_to_display_matches_hand_values():
    """Hand values: standardised +-1 -> 0.5 -+ 0.15 -> 89.25 / 165.75 -> 89 / 166; a far outlier clips."""
    grads = np.array([-1.0, 1.0, -1.0, 1.0]).reshape(1, 2, 2, 1)
    np.testing.assert_array_equal(to_display(grads)[0, ..., 0], [[89, 166], [89, 166]])
    assert to_display(grads[0]).shape == (2, 2, 1)  # one image
    np.testing.assert_array_equal(to_display(np.zeros((2, 2, 3))), np.full((2, 2, 3), 128))  # 127.5 rounds to even
    spiky = np.zeros((1, 10, 10, 1))
    spiky[0, 0, 0, 0] = 1.0
    shown = to_display(spiky)
    assert shown.dtype == np.uint8 and shown[0, 0, 0, 0] == 255 and shown[0, 5, 5, 0] < 128
    with pytest.raises(gc.GradCAMError, match=r"\(H, W, C\)"):
        to_display(np.zeros((4, 4)))


@pytest.fixture(scope="module")
def lite():
    return gc.load_model("efficientnet_lite0")


def test_efficientnet_lite0_relu6_agrees_with_the_clone_reference(lite):
    """The real ImageNet model (ReLU6 layers, BatchNorm, residual adds); reference: the custom-gradient clone."""
    images = lite.preprocess(np.random.default_rng(9).integers(0, 256, size=(1, 224, 224, 3), dtype=np.uint8))
    top = lite.model(images, training=False).numpy().argmax(axis=1)
    ours = guided_backprop(lite.model, images)
    reference = reference_guided(lite.model, images, top)
    # The traced graph and the eager clone round differently; a pre-activation within float error of 0 or 6 can then
    # fall on the other side of a mask (measured on two images: 28 of 301,056 values, all by < 0.03% of the peak).
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=5e-4 * np.abs(ours).max())
    assert np.mean(~np.isclose(ours, reference, rtol=1e-4, atol=1e-4 * np.abs(ours).max())) < 1e-3
    assert np.abs(ours).max() > 0
    assert guided_gradcam(lite.model, images, lite.last_conv_layer).shape == (1, 224, 224, 3)


def test_xception_random_weights_agrees_with_the_clone_reference():
    """The Xception architecture (relu, separable convs, residual adds; weights=None works offline) at 96x96 to keep
    the test fast (the layers are the same at 299x299); reference: the custom-gradient clone."""
    keras.utils.set_random_seed(3)
    model = keras.applications.Xception(weights=None, input_shape=(96, 96, 3), classifier_activation="softmax")
    images = np.random.default_rng(5).uniform(-1, 1, size=(2, 96, 96, 3)).astype(np.float32)
    ours = guided_backprop(model, images, [0, 7])  # the final softmax is skipped: pre-softmax scores
    logits_twin = keras.applications.Xception(weights=None, input_shape=(96, 96, 3), classifier_activation=None)
    logits_twin.set_weights(model.get_weights())
    np.testing.assert_allclose(
        ours, reference_guided(logits_twin, images, [0, 7]), rtol=1e-4, atol=1e-4 * np.abs(ours).max()
    )
    assert np.abs(ours).max() > 0
