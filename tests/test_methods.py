"""The CAM method family, each checked against a route that does not use its code: closed forms on GAP + Dense heads
(where d score / dA^k = w_k^c / Z at every position), a model with negated weights, central finite differences,
a hand-written Score-CAM loop, and tf-keras-vis, a second implementation, on the same models and inputs."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_unchanged, model_fingerprint, tiny_functional

import gradcam_utils as gc
from gradcam_utils.engine import gradient_inputs, heatmaps_from
from gradcam_utils.synthetic import make_shapes

METHODS = ["counterfactual", "gradcam", "gradcam++", "hirescam", "layercam", "scorecam", "xgradcam"]


@pytest.fixture(scope="module")
def shapes():
    bundle = gc.load_model("shapes_gap")
    batch = make_shapes(4, seed=3)
    return bundle, bundle.preprocess(batch.images), batch.labels


def gap_head(model, layer_name, images, classes):
    """Activations A (from a Keras sub-model, not the engine) and the closed-form gradient w_k^c / Z per channel."""
    activations = keras.Model(model.inputs[0], model.get_layer(layer_name).output)(images).numpy().astype(np.float64)
    kernel = model.layers[-1].kernel.numpy().astype(np.float64)
    z = activations.shape[1] * activations.shape[2]
    return activations, kernel[:, classes].T / z  # (B, h, w, K), (B, K)


def raw(inputs, method):
    return heatmaps_from(inputs, method, normalize=False)[0]


def test_every_method_is_available():
    assert set(METHODS) <= set(gc.available_methods())


def test_gradcam_equals_cam_over_z_on_the_course_gap_model(shapes):
    bundle, x, labels = shapes
    a, g = gap_head(bundle.model, "conv5_act", x, labels)
    cam_over_z = np.maximum(np.einsum("bhwk,bk->bhw", a, g), 0)
    ours = gc.explain(bundle.model, x, "conv5_act", labels, normalize=False).heatmaps
    np.testing.assert_allclose(ours, cam_over_z, rtol=1e-4, atol=1e-6 * cam_over_z.max())


def test_gap_head_closed_forms_for_hirescam_xgradcam_layercam_gradcam_plus_plus(shapes):
    """With g_k constant over space: HiResCAM = XGrad-CAM = Grad-CAM = sum g_k A_k, LayerCAM = sum ReLU(g_k) A_k,
    and Grad-CAM++'s a_ij = 1 / (2 + g_k S_k) (S_k = sum of A_k), so w_k = Z ReLU(g_k) / (2 + g_k S_k)."""
    bundle, x, labels = shapes
    inputs = gradient_inputs(bundle.model, x, "conv5_act", labels)
    a, g = gap_head(bundle.model, "conv5_act", x, labels)
    z = a.shape[1] * a.shape[2]
    linear = np.einsum("bhwk,bk->bhw", a, g)
    scale = np.abs(linear).max()
    for method in ("hirescam", "xgradcam", "gradcam"):
        np.testing.assert_allclose(raw(inputs, method), np.maximum(linear, 0), atol=1e-5 * scale, err_msg=method)
    layercam = np.einsum("bhwk,bk->bhw", a, np.maximum(g, 0))
    np.testing.assert_allclose(raw(inputs, "layercam"), layercam, atol=1e-5 * layercam.max())
    sums = a.sum(axis=(1, 2))
    weights = np.where(g != 0, z * np.maximum(g, 0) / (2 + g * sums), 0)
    plus_plus = np.maximum(np.einsum("bhwk,bk->bhw", a, weights), 0)
    np.testing.assert_allclose(raw(inputs, "gradcam++"), plus_plus, rtol=1e-4, atol=1e-5 * plus_plus.max())


def test_hirescam_differs_from_gradcam_where_the_gradient_varies_over_space(shapes):
    """The identity above is a property of the head, not of the code: one layer earlier it does not hold."""
    bundle, x, labels = shapes
    inputs = gradient_inputs(bundle.model, x, "conv4_act", labels)
    assert inputs.gradients.std(axis=(1, 2)).max() > 0
    assert np.abs(raw(inputs, "hirescam") - raw(inputs, "gradcam")).max() > 1e-3 * raw(inputs, "gradcam").max()


def test_counterfactual_maps_are_gradcam_maps_of_the_negated_classifier(images):
    model = tiny_functional()
    negated = keras.models.clone_model(model)
    negated.set_weights(model.get_weights())
    head = negated.get_layer("predictions")
    head.kernel.assign(-head.kernel)
    head.bias.assign(-head.bias)
    classes = [0, 1, 2, 0]
    with warnings.catch_warnings():  # some maps of either model may be empty; that is part of the comparison
        warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)
        ours = gc.explain(model, images, class_index=classes, method="counterfactual", normalize=False)
        reference = gc.explain(negated, images, class_index=classes, method="gradcam", normalize=False)
    np.testing.assert_allclose(ours.heatmaps, reference.heatmaps, rtol=1e-5, atol=1e-7)
    assert ours.heatmaps.max() > 0
    plain = gc.explain(model, images, class_index=classes, normalize=False).heatmaps
    # Where Grad-CAM sees evidence for the class, the counterfactual map sees none, and vice versa.
    assert not np.any((plain > 0) & (ours.heatmaps > 0))


def test_engine_gradients_match_central_finite_differences():
    """d score / dA from the engine against (f(A + eps) - f(A - eps)) / 2 eps through the layers after A."""
    keras.utils.set_random_seed(11)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    target = keras.layers.Conv2D(5, 3, padding="same", name="target")(x)
    head = [
        keras.layers.Activation("tanh"),
        keras.layers.Conv2D(6, 3, strides=2, activation="sigmoid"),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
    ]  # smooth, spatially varying head
    y = target
    for layer in head:
        y = layer(y)
    model = keras.Model(inputs, y)
    image = np.random.default_rng(4).normal(size=(1, 8, 8, 3)).astype(np.float32)
    cam_inputs = gradient_inputs(model, image, "target", class_index=2)

    def score(a):
        out = tf.constant(a[None], tf.float32)
        for layer in head:
            out = layer(out)
        return float(out[0, 2])

    a0 = cam_inputs.activations[0].astype(np.float64)
    eps = 1e-2
    rng = np.random.default_rng(0)
    for flat in rng.choice(a0.size, size=25, replace=False):
        index = np.unravel_index(flat, a0.shape)
        up, down = a0.copy(), a0.copy()
        up[index] += eps
        down[index] -= eps
        numeric = (score(up) - score(down)) / (2 * eps)
        assert cam_inputs.gradients[0][index] == pytest.approx(numeric, rel=2e-2, abs=2e-4), index


def test_scorecam_matches_a_hand_written_loop(images):
    """Channel by channel, as the paper describes it: upsample with tf.image.resize (bilinear, half-pixel centres),
    min-max normalise, mask the input, softmax probability of the class, weight, sum, ReLU."""
    model = tiny_functional(activation="softmax")
    classes = np.array([0, 1, 2, 1])
    activations = keras.Model(model.inputs[0], model.get_layer("conv2_act").output)(images).numpy()
    expected = []
    for b in range(len(images)):
        weights = []
        for k in range(activations.shape[-1]):
            up = tf.image.resize(activations[b, :, :, k : k + 1], (8, 8), method="bilinear").numpy()[..., 0]
            span = up.max() - up.min()
            if span == 0:
                weights.append(0.0)
                continue
            mask = (up - up.min()) / span
            weights.append(model.predict((images[b] * mask[..., None])[None], verbose=0)[0, classes[b]])
        expected.append(np.maximum(np.tensordot(activations[b], np.array(weights), axes=([2], [0])), 0))
    for batch_size in (1, 3, 64):
        ours = gc.compute_heatmaps(
            model, images, "conv2_act", classes, "scorecam", normalize=False, batch_size=batch_size
        )
        np.testing.assert_allclose(ours, np.array(expected), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_methods_leave_the_model_and_images_alone_and_normalise(method, images):
    model = tiny_functional()
    before, copy = model_fingerprint(model), images.copy()
    maps = gc.compute_heatmaps(model, images, method=method)
    assert_unchanged(model, before)
    np.testing.assert_array_equal(images, copy)
    assert maps.shape == (4, 4, 4) and maps.dtype == np.float32
    assert np.all(np.isfinite(maps)) and maps.min() >= 0 and maps.max() <= 1


def test_all_zero_gradients_give_empty_maps_not_nan():
    """A class whose score does not depend on the layer: every method must return zeros, never NaN."""
    model = tiny_functional()
    head = model.get_layer("predictions")
    kernel = head.kernel.numpy()
    kernel[:, 1] = 0
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    clone.get_layer("predictions").kernel.assign(kernel)
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype(np.float32)
    for method in METHODS:
        if method == "scorecam":
            continue  # its weights come from probabilities, not gradients
        with pytest.warns(gc.EmptyHeatmapWarning):
            result = gc.explain(clone, x, class_index=1, method=method)
        assert np.all(result.empty) and np.all(result.heatmaps == 0), method


# ----- agreement with tf-keras-vis, a second implementation ------------------------------------------------------


def tf_keras_vis_map(cls, model, x, classes, layer):
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    visualizer = cls(model, model_modifier=ReplaceToLinear(), clone=True)
    # seek_penultimate_conv_layer=False: otherwise it silently moves from an activation layer to the conv before it.
    return np.asarray(
        visualizer(
            CategoricalScore(list(classes)),
            x,
            penultimate_layer=layer,
            seek_penultimate_conv_layer=False,
            expand_cam=False,
            normalize_cam=False,
        )
    )


def unit_max(maps):
    return maps / maps.max(axis=(1, 2), keepdims=True)


@pytest.fixture(scope="module")
def imagenet_pair():
    bundle = gc.load_model("efficientnet_lite0")
    photos = bundle.load_images(gc.sample_image_path("cat.png"), gc.sample_image_path("espresso.png"))
    images = bundle.preprocess(photos)
    return bundle, images, np.array([281, 967])


@pytest.mark.parametrize("model_name", ["shapes", "imagenet_pair"])
@pytest.mark.parametrize("method, class_name", [("gradcam", "Gradcam"), ("layercam", "Layercam")])
def test_gradient_methods_agree_with_tf_keras_vis(model_name, method, class_name, request):
    """Same arithmetic in float32 on the same gradients: agreement to 1e-5 of the map's peak."""
    import tf_keras_vis.gradcam
    import tf_keras_vis.layercam

    bundle, x, classes = request.getfixturevalue(model_name)
    cls = {"Gradcam": tf_keras_vis.gradcam.Gradcam, "Layercam": tf_keras_vis.layercam.Layercam}[class_name]
    theirs = tf_keras_vis_map(cls, bundle.model, x, classes, bundle.last_conv_layer)
    ours = gc.compute_heatmaps(bundle.model, x, bundle.last_conv_layer, classes, method, normalize=False)
    np.testing.assert_allclose(ours, theirs, atol=1e-5 * np.abs(theirs).max())


def test_gradcam_plus_plus_agrees_with_tf_keras_vis_up_to_its_extra_normalisation(shapes, imagenet_pair):
    """tf-keras-vis follows the authors' code, which also divides a_ij by its spatial sum per channel; the paper's
    equations (and pytorch-grad-cam, and this library) do not. Applying that one step to our a_ij must reproduce
    tf-keras-vis to float32 precision; without it the maps differ, which the second assertion shows."""
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus

    for bundle, x, classes in (shapes, imagenet_pair):
        theirs = unit_max(tf_keras_vis_map(GradcamPlusPlus, bundle.model, x, classes, bundle.last_conv_layer))
        inputs = gradient_inputs(bundle.model, x, bundle.last_conv_layer, classes)
        a, g = inputs.activations.astype(np.float64), inputs.gradients.astype(np.float64)
        denominator = 2 * g**2 + a.sum(axis=(1, 2), keepdims=True) * g**3
        alpha = np.divide(g**2, denominator, out=np.zeros_like(g), where=denominator != 0)
        totals = alpha.sum(axis=(1, 2), keepdims=True)
        alpha = np.divide(alpha, totals, out=np.zeros_like(alpha), where=totals != 0)
        authors = unit_max(np.maximum(np.einsum("bhwk,bk->bhw", a, (alpha * np.maximum(g, 0)).sum(axis=(1, 2))), 0))
        np.testing.assert_allclose(authors, theirs, atol=1e-4)
        paper = heatmaps_from(inputs, "gradcam++")[0]
        assert np.abs(paper - theirs).max() > 1e-3


def test_scorecam_agrees_with_tf_keras_vis_within_upsampling_differences(shapes):
    """tf-keras-vis upsamples the masks with scipy.ndimage.zoom (corner-aligned), we with half-pixel bilinear
    (as tf.image.resize and PIL): masks differ slightly at the borders, so the weights do. Measured difference of
    the unit-max maps: 0.002 on the course's GAP model; the bar is 0.02."""
    from tf_keras_vis.scorecam import Scorecam

    bundle, x, classes = shapes
    theirs = unit_max(tf_keras_vis_map(Scorecam, bundle.model, x, classes, bundle.last_conv_layer))
    ours = gc.compute_heatmaps(bundle.model, x, bundle.last_conv_layer, classes, "scorecam")
    np.testing.assert_allclose(ours, theirs, atol=0.02)
