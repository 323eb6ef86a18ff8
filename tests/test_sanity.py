"""The cascading model-parameter randomisation test (Adebayo et al. 2018), on the course's trained shapes model
(where the paper's finding can be measured) and on tiny models (where the copy and re-initialisation can be checked
weight by weight)."""

import warnings

import keras
import numpy as np
import pytest
from helpers import assert_unchanged, model_fingerprint, tiny_functional, tiny_sequential
from scipy import stats

import gradcam_utils as gc
from gradcam_utils import engine, guided, synthetic
from gradcam_utils.sanity import cascading_randomization, randomized_copy, weighted_layers


@pytest.fixture(scope="module")
def shapes():
    bundle = gc.load_model("shapes_gap")
    return bundle.model, bundle.preprocess(synthetic.make_shapes(8, seed=11).images)


def test_cascade_order_is_the_shapes_models_weighted_layers_from_the_top(shapes):
    """Reference: the architecture as documented in teaching_models (conv1..conv5, then the logits Dense)."""
    model, images = shapes
    assert weighted_layers(model) == ["logits", "conv5", "conv4", "conv3", "conv2", "conv1"]
    result = cascading_randomization(model, images, max_steps=3)
    assert result.layers == (("logits",), ("logits", "conv5"), ("logits", "conv5", "conv4"))
    assert result.gradcam.shape == result.guided_gradcam.shape == result.guided_backprop.shape == (3, 8)


def test_gradcam_decorrelates_while_guided_backprop_stays_similar(shapes):
    """The paper's finding, measured on shapes_gap (8 images, seed 11; 12 runs over 2 image sets and 6 seeds):
    after randomising logits + conv5, Grad-CAM's mean Spearman correlation was 0.20-0.56 and Guided Backprop's
    0.915-0.951 (Guided Grad-CAM, the product of both, 0.45-0.72). Randomising down to conv2 finally breaks guided
    backprop too (0.07): it is not insensitive to everything. Margins sit between the measured ranges."""
    model, images = shapes
    result = cascading_randomization(model, images, seed=0)
    gradcam, backprop = np.nanmean(result.gradcam, axis=1), np.nanmean(result.guided_backprop, axis=1)
    assert gradcam[1] < 0.7 and backprop[1] > 0.85 and backprop[1] - gradcam[1] > 0.25
    assert np.nanmean(result.guided_gradcam[1]) < backprop[1] - 0.1  # it inherits Grad-CAM's change
    assert backprop[4] < 0.4 and backprop[5] < 0.4  # conv2 and conv1 randomised: guided backprop changes at last
    assert "randomised down to" in result.summary() and "conv5" in str(result)
    assert [row["randomised_down_to"] for row in result.rows()] == weighted_layers(model)


def test_correlations_equal_scipy_on_independently_computed_maps(shapes):
    """Reference: the randomised model built by randomized_copy with the same seed and layers, explained with the
    public explain / guided_backprop, correlated with scipy.stats.spearmanr on |guided| summed over channels."""
    model, images = shapes
    result = cascading_randomization(model, images[:3], max_steps=2, seed=4)
    original = gc.explain(model, images[:3])
    randomised = randomized_copy(model, ["logits", "conv5"], seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)
        after = gc.explain(randomised, images[:3], class_index=original.class_indices)
    g0 = np.abs(guided.guided_backprop(model, images[:3], original.class_indices)).sum(-1)
    g1 = np.abs(guided.guided_backprop(randomised, images[:3], original.class_indices)).sum(-1)
    for i in range(3):
        if not after.empty[i]:
            assert result.gradcam[1, i] == pytest.approx(
                stats.spearmanr(original.heatmaps[i].ravel(), after.heatmaps[i].ravel()).statistic, abs=1e-6
            )
        assert result.guided_backprop[1, i] == pytest.approx(
            stats.spearmanr(g0[i].ravel(), g1[i].ravel()).statistic, abs=1e-6
        )
    np.testing.assert_array_equal(result.class_indices, original.class_indices)


def test_the_model_handed_in_is_not_changed(shapes):
    model, images = shapes
    before, copy = model_fingerprint(model), images.copy()
    cascading_randomization(model, images[:2], max_steps=2)
    randomized_copy(model, ["logits", "conv1"], seed=1)
    assert_unchanged(model, before)
    np.testing.assert_array_equal(images, copy)


def test_randomized_copy_changes_exactly_the_named_layers_seeded():
    """Weight by weight: named layers get fresh values (BatchNorm back to its initial gamma=1, beta=0, mean=0,
    var=1), every other layer keeps the original's; the same seed gives the same copy, another seed another."""
    model = tiny_sequential()
    rng = np.random.default_rng(0)
    model.get_layer("bn").set_weights(
        [rng.normal(size=4).astype(np.float32) for _ in range(3)] + [rng.uniform(1, 2, size=4).astype(np.float32)]
    )
    model.get_layer("predictions").bias.assign(np.full(3, 0.5, np.float32))  # the initializer gives zeros
    copy = randomized_copy(model, ["predictions", "bn"], seed=3)
    assert copy is not model and len(copy.layers) == len(model.layers)
    for name in ("predictions", "bn"):
        assert all(
            not np.array_equal(a, b)
            for a, b in zip(model.get_layer(name).get_weights(), copy.get_layer(name).get_weights(), strict=True)
        )
    np.testing.assert_array_equal(copy.get_layer("bn").get_weights()[0], np.ones(4))
    np.testing.assert_array_equal(copy.get_layer("bn").get_weights()[3], np.ones(4))
    for a, b in zip(model.get_layer("conv1").get_weights(), copy.get_layer("conv1").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    kernel = lambda m: m.get_layer("predictions").get_weights()[0]  # noqa: E731
    np.testing.assert_array_equal(kernel(copy), kernel(randomized_copy(model, ["predictions", "bn"], seed=3)))
    assert not np.array_equal(kernel(copy), kernel(randomized_copy(model, ["predictions", "bn"], seed=4)))


def test_nested_models_are_copied_and_randomised_inside():
    """A base inside a Sequential head: its layers are listed (output side first) and randomised in the copy only."""
    base = tiny_functional()
    base = keras.Model(base.inputs, base.get_layer("conv2_act").output, name="base")
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), base, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, name="head")],
        name="wrapped",
    )
    assert weighted_layers(model) == ["head", "conv2", "conv1"]
    before = model_fingerprint(model)
    copy = randomized_copy(model, ["head", "conv2"], seed=0)
    assert_unchanged(model, before)
    assert not np.array_equal(copy.layers[0].get_layer("conv2").get_weights()[0], base.get_layer("conv2").kernel)
    np.testing.assert_array_equal(copy.layers[0].get_layer("conv1").get_weights()[0], base.get_layer("conv1").kernel)
    images = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype(np.float32)
    result = cascading_randomization(model, images, layer_name="conv2_act")
    assert result.steps == 3 and np.isfinite(result.guided_backprop).all()


def test_the_copy_leaves_no_cached_plans_behind(shapes):
    """The randomised copy's Grad-CAM, logits and guided plans are dropped from the engine's cache afterwards."""
    model, images = shapes
    before = set(engine._PLAN_CACHE)
    cascading_randomization(model, images[:1], max_steps=1)
    assert set(engine._PLAN_CACHE) <= before


def test_grad_cam_alone_for_models_guided_backprop_refuses():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="gelu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(keras.layers.GlobalAveragePooling2D()(x)))
    images = np.random.default_rng(2).normal(size=(2, 8, 8, 3)).astype(np.float32)
    with pytest.raises(gc.UnsupportedModelError, match="guided_maps=False"):
        cascading_randomization(model, images)
    result = cascading_randomization(model, images, guided_maps=False)
    assert result.guided_backprop is None and result.gradcam.shape == (2, 2)
    assert "guided" not in result.summary()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_steps": 0}, "max_steps"),
        ({"layers": ["nope"]}, "No layer with weights named"),
        ({"layers": ["logits", "logits"]}, "distinct"),
        ({"layer_name": "gap"}, "4-D"),
        ({"class_index": 9}, "out of range"),
    ],
)
def test_clear_errors(kwargs, match, shapes):
    model, images = shapes
    with pytest.raises(gc.GradCAMError, match=match):
        cascading_randomization(model, images[:1], **kwargs)


def test_model_without_weights_is_refused():
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.GlobalAveragePooling2D()])
    with pytest.raises(gc.UnsupportedModelError, match="no layers with weights"):
        cascading_randomization(model, np.zeros((1, 4, 4, 1), np.float32))


def test_several_seeds_equal_separate_runs_and_maps_equal_independent_copies(shapes):
    """Reference for the seeds: one run per seed on a fresh copy (so the copy really is put back to the trained
    weights between seeds). Reference for the kept maps: randomized_copy with the same layers and seed, explained
    with the public explain / guided_backprop."""
    model, images = shapes
    both = cascading_randomization(model, images[:3], max_steps=2, seed=[5, 6], keep_maps=True)
    assert both.seeds == (5, 6) and both.images == 3 and both.gradcam.shape == (2, 6)
    for s, seed in enumerate((5, 6)):
        alone = cascading_randomization(model, images[:3], max_steps=2, seed=seed)
        for key in ("gradcam", "guided_backprop", "guided_gradcam"):
            np.testing.assert_allclose(getattr(both, key)[:, 3 * s : 3 * s + 3], getattr(alone, key), atol=1e-6)
    assert "3 image(s) x 2 seeds" in both.summary()
    assert both.maps["gradcam"].shape == (3, 3, 16, 16) and both.maps["guided_backprop"].shape == (3, 3, 64, 64)
    classes = both.class_indices
    for step, names in enumerate([[], ["logits"], ["logits", "conv5"]]):
        copy = randomized_copy(model, names, seed=5) if names else model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)
            expected = gc.explain(copy, images[:3], class_index=classes).heatmaps
        np.testing.assert_allclose(both.maps["gradcam"][step], expected, atol=1e-5)
        np.testing.assert_allclose(both.maps["logits"][step], copy.predict(images[:3], verbose=0), rtol=1e-4, atol=1e-4)
        backprop = np.abs(guided.guided_backprop(copy, images[:3], classes)).sum(-1)
        np.testing.assert_allclose(both.maps["guided_backprop"][step], backprop, rtol=1e-4, atol=1e-6)
    assert cascading_randomization(model, images[:1], max_steps=1).maps is None


def test_batched_spearman_equals_scipy_with_ties_and_flat_maps():
    """Reference: scipy.stats.spearmanr pair by pair (average ranks for ties); a constant map gives NaN."""
    from gradcam_utils.sanity import _spearman

    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, size=(5, 6, 6)).astype(float)  # many ties
    b = a + rng.normal(scale=1.0, size=a.shape)
    b[4] = 2.0
    got = _spearman(a, b)
    for i in range(4):
        assert got[i] == pytest.approx(stats.spearmanr(a[i].ravel(), b[i].ravel()).statistic, abs=1e-12)
    assert np.isnan(got[4])


@pytest.mark.parametrize("seed", [[], [1, 1], 1.5, [0, "a"], True])
def test_bad_seeds_are_refused(seed, shapes):
    model, images = shapes
    with pytest.raises(gc.GradCAMError, match="seed"):
        cascading_randomization(model, images[:1], max_steps=1, seed=seed)
