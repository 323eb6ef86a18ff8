"""The Grad-CAM engine, checked against routes that do not use it: the CAM closed form (a GAP -> Dense head makes
Grad-CAM equal to CAM / Z), a hand-written split of nested models, and image-by-image runs."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_unchanged, model_fingerprint, tiny_functional, tiny_sequential

import gradcam_utils as gc
from gradcam_utils import engine


def cam_reference(activations, dense_kernel, classes):
    """CAM: sum_k w_k^c A^k / Z, then ReLU (Zhou et al. 2016; Grad-CAM paper section 3.1)."""
    z = activations.shape[1] * activations.shape[2]
    weights = dense_kernel[:, classes].T / z  # (B, K)
    return np.maximum(np.einsum("bhwk,bk->bhw", activations, weights), 0)


def layer_activations(model, layer_name, images):
    return keras.Model(model.inputs[0], model.get_layer(layer_name).output)(images).numpy()


def test_gradcam_equals_cam_on_a_gap_dense_head(images):
    model = tiny_functional()
    result = gc.explain(model, images, "conv2_act", normalize=False)
    logits = model(images).numpy()
    np.testing.assert_array_equal(result.class_indices, logits.argmax(axis=1))
    np.testing.assert_allclose(result.scores, logits.max(axis=1), rtol=1e-6)
    expected = cam_reference(
        layer_activations(model, "conv2_act", images),
        model.get_layer("predictions").kernel.numpy(),
        result.class_indices,
    )
    np.testing.assert_allclose(result.heatmaps, expected, rtol=1e-5, atol=1e-7)
    assert result.heatmaps.dtype == np.float32 and result.heatmaps.shape == (4, 4, 4)


def test_result_carries_every_class_logit_from_the_same_pass(images):
    """The logits come from the gradient pass itself; reference: the model called directly (it outputs logits)."""
    model = tiny_functional()
    result = gc.explain(model, images, class_index=[2, 0, 1, 2])
    np.testing.assert_allclose(result.logits, model(images).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.scores, result.logits[np.arange(4), [2, 0, 1, 2]], rtol=1e-6)


def test_normalised_maps_lie_in_unit_range_with_max_one(images):
    maps = gc.compute_heatmaps(tiny_functional(), images)
    assert maps.min() >= 0 and np.allclose(maps.max(axis=(1, 2)), 1.0)


def test_softmax_model_is_explained_with_its_logits(images):
    logits_model = tiny_functional(activation=None)
    softmax_model = tiny_functional(activation="softmax")  # same seed: same weights
    for a, b in zip(logits_model.get_weights(), softmax_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    ours = gc.explain(softmax_model, images, class_index=[0, 1, 2, 0], normalize=False)
    ref = gc.explain(logits_model, images, class_index=[0, 1, 2, 0], normalize=False)
    np.testing.assert_allclose(ours.heatmaps, ref.heatmaps, rtol=1e-6)
    expected_scores = logits_model(images).numpy()[np.arange(4), [0, 1, 2, 0]]
    np.testing.assert_allclose(ours.scores, expected_scores, rtol=1e-6)


def test_separate_softmax_layer_is_skipped(images):
    base = tiny_functional(activation=None)
    model = keras.Model(base.inputs, keras.layers.Softmax(name="probs")(base.output))
    ours = gc.explain(model, images, normalize=False)
    ref = gc.explain(base, images, normalize=False)
    np.testing.assert_allclose(ours.heatmaps, ref.heatmaps, rtol=1e-6)
    np.testing.assert_allclose(ours.scores, ref.scores, rtol=1e-6)


def test_batch_gives_each_image_its_own_map(images):
    model = tiny_functional()
    classes = [2, 0, 1, 2]
    batched = gc.explain(model, images, class_index=classes)
    for i in range(len(images)):
        alone = gc.explain(model, images[i : i + 1], class_index=classes[i])
        np.testing.assert_allclose(batched.heatmaps[i], alone.heatmaps[0], rtol=1e-5, atol=1e-7)
        assert alone.class_indices[0] == classes[i]


def test_class_index_forms(images):
    model = tiny_functional()
    top = model(images).numpy().argmax(axis=1)
    np.testing.assert_array_equal(gc.explain(model, images).class_indices, top)
    np.testing.assert_array_equal(gc.explain(model, images, class_index=1).class_indices, [1, 1, 1, 1])
    np.testing.assert_array_equal(
        gc.explain(model, images, class_index=np.array([0, 1, 2, 1])).class_indices, [0, 1, 2, 1]
    )


@pytest.mark.parametrize("bad", [3, -1, [0, 1, 2, 7], [0, 1], 1.5, "cat", [True, False, True, False]])
def test_bad_class_index_is_a_clear_error(images, bad):
    with pytest.raises(gc.ClassIndexError, match="class_index"):
        gc.explain(tiny_functional(), images, class_index=bad)


def test_out_of_range_message_names_the_number_of_classes(images):
    with pytest.raises(gc.ClassIndexError, match="3 classes"):
        gc.compute_heatmaps(tiny_functional(), images, class_index=3)


def test_no_positive_evidence_gives_zeros_and_a_warning(images):
    model = tiny_functional()
    # Post-ReLU activations are >= 0; with every class weight negative the weighted sum is <= 0 everywhere.
    dense = model.get_layer("predictions")
    dense.set_weights([-np.abs(dense.kernel.numpy()) - 0.1, dense.bias.numpy()])
    with pytest.warns(gc.EmptyHeatmapWarning, match="no positive evidence"):
        result = gc.explain(model, np.abs(images), "conv2_act")
    assert result.empty.all()
    assert np.isfinite(result.heatmaps).all() and (result.heatmaps == 0).all()


def test_public_calls_do_not_change_the_model_or_the_images(images, tmp_path):
    model = tiny_functional(activation="softmax")
    before = model_fingerprint(model)
    images_before = images.copy()
    gc.explain(model, images)
    gc.compute_heatmaps(model, images, "conv1_act", class_index=[0, 1, 2, 0], normalize=False)
    gc.list_conv_layers(model)
    gc.default_layer_name(model)
    heatmap = gc.make_gradcam_heatmap(images[:1], model, "conv2_act")
    image_path = tmp_path / "x.png"
    keras.utils.save_img(image_path, np.uint8(np.abs(images[0]) * 50))
    gc.save_and_display_gradcam(image_path, heatmap, cam_path=tmp_path / "cam.jpg")
    assert_unchanged(model, before)
    np.testing.assert_array_equal(images, images_before)


def test_plan_is_built_once_and_never_retraced(images):
    model = tiny_functional()
    gc.compute_heatmaps(model, images[:1])
    plan = engine._get_plan(model, "conv2_act")
    for batch, classes in [(images, None), (images[:2], 1), (images[:3], [0, 1, 2]), (images, None)]:
        gc.compute_heatmaps(model, batch, class_index=classes)
    assert engine._get_plan(model, "conv2_act") is plan
    assert plan.trace_count == 1


def test_sequential_model_with_batchnorm_and_dropout_matches_closed_form(images):
    """conv1 -> BN -> Dropout -> GAP -> Dense: d score / dA_k = w_k * gamma_k / sqrt(var_k + eps) / Z (inference)."""
    model = tiny_sequential()
    bn = model.get_layer("bn")
    gamma, beta, mean, var = (np.random.default_rng(i).uniform(0.5, 2.0, 4).astype(np.float32) for i in range(4))
    bn.set_weights([gamma, beta, mean, var])
    result = gc.explain(model, images, "conv1", normalize=False)
    acts = np.maximum(layer_activations(model, "conv1", images), 0)  # conv1 applies its ReLU inside
    scale = gamma / np.sqrt(var + bn.epsilon)
    kernel = model.get_layer("predictions").kernel.numpy() * scale[:, None]
    np.testing.assert_allclose(result.heatmaps, cam_reference(acts, kernel, result.class_indices), rtol=1e-5, atol=1e-6)


def nested_reference(base, head_layers, layer_name, images, class_index):
    """The usual hand fix for nested models: split the base at the layer, then run the head by hand."""
    split = keras.Model(base.inputs, [base.get_layer(layer_name).output, base.output])
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        acts, out = split(x, training=False)
        for layer in head_layers:
            out = layer(out, training=False)
        score = tf.reduce_sum(tf.gather(out, class_index, axis=1, batch_dims=1))
    grads = tape.gradient(score, acts).numpy()
    cam = np.maximum(np.einsum("bhwk,bk->bhw", acts.numpy(), grads.mean(axis=(1, 2))), 0)
    return cam / cam.max(axis=(1, 2), keepdims=True)


@pytest.fixture(scope="module")
def small_xception_base():
    keras.utils.set_random_seed(4)
    return keras.applications.Xception(weights=None, include_top=False, input_shape=(71, 71, 3))


@pytest.fixture(scope="module")
def small_images():
    return np.random.default_rng(6).uniform(-1, 1, size=(3, 71, 71, 3)).astype(np.float32)


def test_xception_base_nested_in_a_functional_head(small_xception_base, small_images):
    base = small_xception_base
    inputs = keras.Input((71, 71, 3))
    gap, dense = keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, dense(gap(base(inputs))))
    classes = np.array([0, 1, 1])
    result = gc.explain(model, small_images, "block14_sepconv2_act", class_index=classes, normalize=False)
    expected = cam_reference(base(small_images).numpy(), dense.kernel.numpy(), classes)  # base output is that layer
    np.testing.assert_allclose(result.heatmaps, expected, rtol=1e-4, atol=1e-6)
    assert gc.default_layer_name(model) == "block14_sepconv2_act"


def test_xception_base_nested_in_a_sequential_head_at_an_inner_layer(small_xception_base, small_images):
    base = small_xception_base
    head = [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")]
    model = keras.Sequential([keras.Input((71, 71, 3)), base] + head)
    classes = np.array([1, 0, 1])
    ours = gc.compute_heatmaps(model, small_images, "block13_sepconv2_act", class_index=classes)
    logits_head = [head[0], keras.layers.Dense(2)]
    logits_head[1].build((None, 2048))
    logits_head[1].set_weights(head[1].get_weights())
    expected = nested_reference(base, logits_head, "block13_sepconv2_act", small_images, classes)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)


def test_frozen_base_still_gets_gradients(small_images):
    keras.utils.set_random_seed(7)
    base = keras.applications.Xception(weights=None, include_top=False, input_shape=(71, 71, 3))
    base.trainable = False
    model = keras.Sequential(
        [keras.Input((71, 71, 3)), base, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)]
    )
    model.trainable = False
    maps = gc.compute_heatmaps(model, small_images, "block10_sepconv3_act", class_index=0)
    assert np.isfinite(maps).all() and (maps.max(axis=(1, 2)) == 1).all()


def test_full_xception_gradcam_is_cam_over_100(xception_logits, xception_images):
    """Reference file: Xception's head makes Grad-CAM with logits equal CAM/100 to float precision."""
    model = xception_logits
    assert gc.default_layer_name(model) == "block14_sepconv2_act"
    result = gc.explain(model, xception_images, normalize=False)
    acts = layer_activations(model, "block14_sepconv2_act", xception_images)
    expected = cam_reference(acts, model.get_layer("predictions").kernel.numpy(), result.class_indices)
    assert result.heatmaps.shape == (2, 10, 10)
    np.testing.assert_allclose(result.heatmaps, expected, rtol=1e-4, atol=1e-7)


def test_subclassed_model_is_refused_clearly(images):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3, activation="relu")
            self.pool = keras.layers.GlobalAveragePooling2D()
            self.out = keras.layers.Dense(2)

        def call(self, x):
            return self.out(self.pool(self.conv(x)))

    net = Net()
    net(images)
    with pytest.raises(gc.GradCAMError, match="functional API|4-D"):
        gc.compute_heatmaps(net, images)


def test_unbuilt_model_is_refused_clearly(images):
    model = keras.Sequential([keras.layers.Conv2D(2, 3), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    with pytest.raises(gc.UnsupportedModelError, match="not been built"):
        gc.compute_heatmaps(model, images)


def test_unknown_method_lists_the_available_ones(images):
    with pytest.raises(gc.GradCAMError, match="gradcam"):
        gc.compute_heatmaps(tiny_functional(), images, method="magic")


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((8, 8), np.float32), "shape"),
        (np.zeros((1, 2, 8, 8, 3), np.float32), "shape"),
        (np.zeros((2, 9, 8, 3), np.float32), "expects images of shape"),
        (np.zeros((2, 8, 8, 1), np.float32), "expects images of shape"),
        (np.full((1, 8, 8, 3), np.nan, np.float32), "NaN"),
        (np.zeros((0, 8, 8, 3), np.float32), "empty"),
        (np.array([["a"]]), "numeric"),
        (np.zeros((1, 8, 8, 3), bool), "numeric"),
    ],
)
def test_bad_images_are_clear_errors(bad, match):
    with pytest.raises(gc.ImageInputError, match=match):
        gc.compute_heatmaps(tiny_functional(), bad)


def test_single_image_without_batch_axis_is_accepted(images):
    model = tiny_functional()
    np.testing.assert_allclose(gc.compute_heatmaps(model, images[0]), gc.compute_heatmaps(model, images[:1]))


def test_layer_whose_gradient_is_blocked_is_refused(images):
    inputs = keras.Input((8, 8, 3))
    side = keras.layers.Conv2D(2, 3, activation="relu", name="side_conv")(inputs)
    main = keras.layers.Conv2D(2, 3, activation="relu", name="main_conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(main) + keras.ops.stop_gradient(
        keras.layers.GlobalAveragePooling2D()(side)
    )
    model = keras.Model(inputs, keras.layers.Dense(2)(pooled))
    assert gc.compute_heatmaps(model, images, "main_conv").shape == (4, 6, 6)
    with pytest.raises(gc.LayerError, match="does not depend on layer 'side_conv'"):
        gc.compute_heatmaps(model, images, "side_conv")


def test_model_accepting_any_image_size_uses_one_plan(images):
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    assert gc.compute_heatmaps(model, images).shape == (4, 6, 6)
    bigger = np.random.default_rng(1).normal(size=(2, 12, 10, 3)).astype(np.float32)
    assert gc.compute_heatmaps(model, bigger).shape == (2, 10, 8)
    assert engine._get_plan(model, "conv").trace_count == 1  # the signature leaves height and width open
