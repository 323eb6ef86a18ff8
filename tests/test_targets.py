"""``target=``: each target checked against a route that does not use it. ClassScore against ``class_index`` (the
engine's own path, exactly); Difference against the CAM closed form on a GAP -> Dense head; a target's gradients against
central finite differences through a numpy float64 copy of the head; RegionScore against a hand-written GradientTape
loop on a tiny segmentation net; MultiLabel against ``class_index`` on the same weights without the sigmoid."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_unchanged, model_fingerprint, tiny_functional

import gradcam_utils as gc
from gradcam_utils import engine
from gradcam_utils.errors import ClassIndexError, GradCAMError
from gradcam_utils.methods import METHODS
from gradcam_utils.targets import ClassScore, Difference, MultiLabel, RegionScore, Regression

GRADIENT_METHODS = ["gradcam", "counterfactual", "gradcam++", "hirescam", "layercam", "xgradcam"]


def layer_activations(model, layer_name, images):
    return keras.Model(model.inputs[0], model.get_layer(layer_name).output)(images).numpy()


def normalised(maps):
    maps = np.maximum(maps, 0)
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return maps / np.where(peaks > 0, peaks, 1)


def tiny_segmenter():
    """conv (4 maps, relu) -> 1x1 conv to 3 classes -> softmax: an (8, 8, 3) segmentation output."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="feat")(inputs)
    x = keras.layers.Conv2D(3, 3, padding="same", name="seg_logits")(x)
    return keras.Model(inputs, keras.layers.Activation("softmax", name="probs")(x), name="segmenter")


@pytest.mark.parametrize("method", GRADIENT_METHODS + ["scorecam"])
def test_class_score_is_class_index_exactly(images, method):
    model = tiny_functional()
    by_index = gc.explain(model, images, "conv2_act", class_index=[2, 0, 1, 2], method=method, normalize=False)
    by_target = gc.explain(  # batch_size=3: per-image classes must follow the images across slices
        model, images, "conv2_act", method=method, normalize=False, target=ClassScore([2, 0, 1, 2]), batch_size=3
    )
    np.testing.assert_array_equal(by_target.heatmaps, by_index.heatmaps)
    np.testing.assert_array_equal(by_target.scores, by_index.scores)
    np.testing.assert_array_equal(by_target.class_indices, [2, 0, 1, 2])


def test_difference_is_the_cam_closed_form(images):
    """On GAP -> Dense, d(s_a - s_b)/dA_k = (w_ka - w_kb) / (h w) everywhere, so Grad-CAM is relu(A (w_a - w_b))."""
    model = tiny_functional()
    result = gc.explain(model, images, "conv2_act", target=Difference(0, 2))
    kernel = model.get_layer("predictions").kernel.numpy()
    expected = normalised(layer_activations(model, "conv2_act", images) @ (kernel[:, 0] - kernel[:, 2]))
    np.testing.assert_allclose(result.heatmaps, expected, rtol=1e-5, atol=1e-6)
    logits = model(images).numpy()
    np.testing.assert_allclose(result.scores, logits[:, 0] - logits[:, 2], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result.class_indices, [-1] * 4)


def test_gradients_of_a_target_are_central_finite_differences(images):
    """A nonlinear target through GAP -> Dense, differentiated by central differences in float64 numpy."""
    model = tiny_functional()

    def target(out):
        return out[:, 0] ** 2 - out[:, 1] * out[:, 2]

    inputs = gc.gradient_inputs(model, images, "conv2_act", target=target)
    kernel, bias = (w.numpy().astype(np.float64) for w in model.get_layer("predictions").weights)

    def score(acts):  # (h, w, K) -> the target's score for one image, float64
        z = acts.mean(axis=(0, 1)) @ kernel + bias
        return z[0] ** 2 - z[1] * z[2]

    eps = 1e-4
    for b in range(len(images)):
        acts = inputs.activations[b].astype(np.float64)
        numeric = np.zeros_like(acts)
        for idx in np.ndindex(acts.shape):
            up, down = acts.copy(), acts.copy()
            up[idx] += eps
            down[idx] -= eps
            numeric[idx] = (score(up) - score(down)) / (2 * eps)
        np.testing.assert_allclose(inputs.gradients[b], numeric, rtol=1e-4, atol=1e-6)
        assert inputs.scores[b] == pytest.approx(score(acts), rel=1e-5)


def hand_region_gradcam(model, images, class_index, masks):
    """Grad-CAM for sum(logits[..., c] * mask) by a GradientTape over the model's own layers, image by image."""
    features = keras.Model(model.inputs[0], model.get_layer("feat").output)
    maps, grads_all = [], []
    for image, mask in zip(images, masks, strict=True):
        with tf.GradientTape() as tape:
            acts = features(image[None])
            tape.watch(acts)
            logits = model.get_layer("seg_logits")(acts)
            score = tf.reduce_sum(logits[0, :, :, class_index] * mask)
        grads = tape.gradient(score, acts).numpy()
        grads_all.append(grads[0])
        maps.append(np.einsum("hwk,k->hw", acts.numpy()[0], grads.mean(axis=(1, 2))[0]))
    return normalised(np.stack(maps)), np.stack(grads_all)


def test_region_score_is_a_hand_written_tape_loop(images):
    model = tiny_segmenter()
    rng = np.random.default_rng(5)
    masks = rng.random((4, 8, 8)) > 0.5
    expected, grads = hand_region_gradcam(model, images, 1, masks.astype(np.float32))
    inputs = gc.gradient_inputs(model, images, "feat", target=RegionScore(1, masks), batch_size=3)
    np.testing.assert_allclose(inputs.gradients, grads, rtol=1e-5, atol=1e-6)
    result = gc.explain(model, images, "feat", target=RegionScore(1, masks), batch_size=3)
    np.testing.assert_allclose(result.heatmaps, expected, rtol=1e-5, atol=1e-6)
    shared = gc.explain(model, images, "feat", target=RegionScore(1, masks[0]))
    np.testing.assert_allclose(shared.heatmaps, hand_region_gradcam(model, images, 1, [masks[0]] * 4)[0], atol=1e-6)
    box = np.zeros((8, 8), bool)
    box[2:6, 1:4] = True
    by_box = gc.compute_heatmaps(model, images, "feat", target=RegionScore(1, (2, 1, 6, 4)))
    np.testing.assert_array_equal(by_box, gc.compute_heatmaps(model, images, "feat", target=RegionScore(1, box)))


def test_multi_label_is_class_index_without_the_sigmoid(images):
    tagger, plain = tiny_functional("sigmoid"), tiny_functional(None)  # same seed: the same weights
    for label in range(3):
        by_label = gc.explain(tagger, images, "conv2_act", target=MultiLabel(label))
        by_index = gc.explain(plain, images, "conv2_act", class_index=label)
        np.testing.assert_allclose(by_label.heatmaps, by_index.heatmaps, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(by_label.scores, by_index.scores, rtol=1e-6)


def test_regression_output(images):
    model = tiny_functional(None, classes=1)
    by_target = gc.compute_heatmaps(model, images, "conv2_act", target=Regression(0))
    kernel = model.get_layer("predictions").kernel.numpy()
    np.testing.assert_allclose(
        by_target, normalised(layer_activations(model, "conv2_act", images) @ kernel[:, 0]), atol=1e-6
    )


def test_every_gradient_method_takes_a_target_and_leaves_the_model_unchanged(images):
    model = tiny_functional("softmax")
    before = model_fingerprint(model)
    for method in GRADIENT_METHODS:
        result = gc.explain(model, images, "conv1_act", method=method, target=Difference(1, 0))
        assert result.heatmaps.shape == (4, 8, 8) and np.isfinite(result.heatmaps).all(), method
        assert result.heatmaps.max() == 1.0, method
    assert_unchanged(model, before)


def hand_scorecam(images, activations, score_of_copy):
    """Score-CAM channel by channel, one masked copy at a time: tf.image.resize (bilinear, half-pixel centres),
    min-max normalise, mask, weight = ``score_of_copy(b, masked copy)``, weighted sum of the activations (raw)."""
    maps = []
    for b, image in enumerate(images):
        weights = []
        for k in range(activations.shape[-1]):
            up = tf.image.resize(activations[b, :, :, k : k + 1], image.shape[:2], method="bilinear").numpy()[..., 0]
            span = up.max() - up.min()
            weights.append(0.0 if span == 0 else score_of_copy(b, image * ((up - up.min()) / span)[..., None]))
        maps.append(np.tensordot(activations[b], np.array(weights), axes=([2], [0])))
    return np.array(maps)  # raw: before the ReLU, so a map with no positive value still compares


def raw_map(model, images, layer, method, target, batch_size=32):
    """A method's raw map (before ReLU and normalisation) from gradient_inputs(target=...)."""
    return METHODS[method](gc.gradient_inputs(model, images, layer, target=target, batch_size=batch_size))


def test_scorecam_scores_masked_copies_with_the_target_itself(images):
    """Difference and Regression: each masked copy's score as it is, the target called on model(copy) one at a time
    (the head is linear, so model(copy) is the pre-activation output the target reads)."""
    model = tiny_functional()
    acts = layer_activations(model, "conv2_act", images)
    for target in (Difference([0, 1, 2, 0], 2), Regression(1), lambda out: out[:, 0] * out[:, 1]):

        def score(b, copy, target=target):  # per-image parameters follow the image: a batch of one, sliced by hand
            out = model(copy[None].astype(np.float32))
            if isinstance(target, Difference):
                return float(out[0, target.a[b]] - out[0, target.b])
            return float(np.asarray(target(out))[0])

        expected = hand_scorecam(images, acts, score)
        ours = raw_map(model, images, "conv2_act", "scorecam", target, batch_size=3)
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    target = Difference(0, 2)  # through the public API: the raw map after the ReLU
    public = gc.compute_heatmaps(model, images, "conv2_act", method="scorecam", target=target, normalize=False)
    raw = raw_map(model, images, "conv2_act", "scorecam", target)
    assert (raw > 0).any()
    np.testing.assert_allclose(public, np.maximum(raw, 0), rtol=1e-5, atol=1e-6 * np.abs(raw).max())


def test_scorecam_on_a_label_weights_by_the_label_probability(images):
    """MultiLabel: the sigmoid of the label's logit, i.e. what the sigmoid head itself outputs for the masked copy;
    not the logit (shown different, so the test can fail)."""
    tagger = tiny_functional("sigmoid")
    acts = layer_activations(tagger, "conv2_act", images)
    expected = hand_scorecam(images, acts, lambda b, copy: float(tagger(copy[None].astype(np.float32))[0, 1]))
    ours = raw_map(tagger, images, "conv2_act", "scorecam", MultiLabel(1))
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)
    plain = tiny_functional(None)  # the same weights without the sigmoid: the logit's weights give another map
    by_logit = hand_scorecam(images, acts, lambda b, copy: float(plain(copy[None].astype(np.float32))[0, 1]))
    assert np.abs(normalised(by_logit) - normalised(expected)).max() > 0.05


def test_scorecam_on_a_region_of_a_segmentation_output(images):
    """RegionScore with one mask per image: class 1's logits summed over the image's mask, read from a sub-model that
    stops before the softmax, one masked copy at a time."""
    model = tiny_segmenter()
    masks = np.random.default_rng(6).random((4, 8, 8)) > 0.5
    logits = keras.Model(model.inputs[0], model.get_layer("seg_logits").output)
    acts = layer_activations(model, "feat", images)
    expected = hand_scorecam(
        images, acts, lambda b, copy: float(np.sum(logits(copy[None].astype(np.float32))[0, :, :, 1] * masks[b]))
    )
    before = model_fingerprint(model)
    ours = raw_map(model, images, "feat", "scorecam", RegionScore(1, masks), batch_size=3)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert_unchanged(model, before)


def test_scorecam_keeps_the_class_probability_for_class_targets(images):
    """ClassScore and class_index give Score-CAM's softmax weights, not the logits the other targets use."""
    model = tiny_functional("softmax")
    by_target = gc.compute_heatmaps(model, images, "conv2_act", method="scorecam", target=ClassScore(2))
    by_index = gc.compute_heatmaps(model, images, "conv2_act", method="scorecam", class_index=2)
    np.testing.assert_array_equal(by_target, by_index)
    probability = raw_map(model, images, "conv2_act", "scorecam", ClassScore(2))
    logit = raw_map(model, images, "conv2_act", "scorecam", lambda out: out[:, 2])  # the same class's logit, as is
    assert np.abs(normalised(logit) - normalised(probability)).max() > 0.05


def test_traced_once_per_model_layer_and_target(images):
    model = tiny_functional()
    gc.explain(model, images, "conv2_act", target=Difference(0, 1))
    plan = engine._get_plan(model, "conv2_act", Difference(0, 1))  # an equal target: the same plan
    gc.explain(model, images[:2], "conv2_act", target=Difference(0, 1))
    assert plan.trace_count == 1 and engine._get_plan(model, "conv2_act", Difference(0, 1)) is plan
    assert engine._get_plan(model, "conv2_act", Difference(1, 0)) is not plan
    assert engine._get_plan(model, "conv2_act") is not plan


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"class_index": 1, "target": ClassScore(1)}, GradCAMError, "either class_index or target"),
        ({"target": 3}, GradCAMError, "target must be a callable"),
        ({"target": lambda out: out[:, :2]}, GradCAMError, r"must return one score per image, shape \(B,\)"),
        ({"target": lambda out: tf.reduce_sum(out)}, GradCAMError, r"must return one score per image"),
        ({"target": lambda out: tf.argmax(out, axis=1)}, GradCAMError, "have no gradient"),
        ({"target": lambda out: tf.stop_gradient(out[:, 0])}, GradCAMError, "has no gradient with respect to"),
        ({"target": lambda out: out[:, 0] / 0 + missing}, GradCAMError, "raised NameError"),  # noqa: F821
        ({"target": ClassScore([0, 1])}, GradCAMError, "parameters for 2 images but the batch has 4"),
        ({"target": ClassScore(7)}, ClassIndexError, "out of range"),
        ({"target": RegionScore(0, (0, 0, 2, 2))}, GradCAMError, r"needs a \(B, H, W, classes\) output"),
    ],
)
def test_a_wrong_target_gets_a_clear_error(images, kwargs, error, message):
    model = tiny_functional()
    with pytest.raises(error, match=message):
        gc.explain(model, images, "conv2_act", **kwargs)


def test_a_bad_target_definition_is_refused_when_made():
    with pytest.raises(ClassIndexError, match="must be an int"):
        ClassScore(1.5)
    with pytest.raises(GradCAMError, match="bool mask"):
        RegionScore(1, np.ones((8, 8)))
    with pytest.raises(GradCAMError, match="top < bottom"):
        RegionScore(1, (4, 0, 2, 3))
    with pytest.raises(GradCAMError, match="grid"):
        gc.explain(
            tiny_segmenter(), np.zeros((1, 8, 8, 3), np.float32), "feat", target=RegionScore(0, np.ones((4, 4), bool))
        )


def test_a_target_called_directly_scores_a_whole_batch():
    """The targets are plain callables too, checked against numpy indexing and sums."""
    outputs = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_array_equal(ClassScore([0, 2, 1, 0])(outputs), outputs[np.arange(4), [0, 2, 1, 0]])
    np.testing.assert_array_equal(Difference(2, 0)(outputs), outputs[:, 2] - outputs[:, 0])
    np.testing.assert_array_equal(Regression(1)(outputs), outputs[:, 1])
    seg = np.random.default_rng(1).normal(size=(2, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(RegionScore(2, (1, 0, 3, 2))(seg), seg[:, 1:3, 0:2, 2].sum(axis=(1, 2)), rtol=1e-6)
    assert ClassScore(1) == ClassScore(1) and hash(ClassScore(1)) == hash(ClassScore(1))
    assert ClassScore(1) != MultiLabel(1) and Difference(0, 1) != Difference(1, 0)
