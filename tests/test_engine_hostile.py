"""Hostile models and inputs for the engine (issue 15): NaN never leaves it; odd models get clear errors, early.

Every public entry (explain, compute_heatmaps, gradient_inputs, heatmaps_from, class_logits, class_probabilities,
and every method, Score-CAM included) is run on broken models (NaN or infinite weights, a BatchNormalization with a
negative variance) and inputs (infinite, overflowing): each raises a GradCAMError naming the cause, none returns a
non-finite array. Then the models Grad-CAM cannot explain: each is refused with a clear error before the model runs.
Tiny models only (tests/helpers.py), a few seconds in all.
"""

from __future__ import annotations

import dataclasses
import re

import keras
import numpy as np
import pytest
from helpers import assert_unchanged, model_fingerprint, tiny_functional, tiny_sequential

import gradcam_utils as gc
from gradcam_utils import engine
from gradcam_utils.methods import METHODS

GOOD = np.random.default_rng(0).normal(size=(3, 8, 8, 3)).astype(np.float32)


def _broken(kind: str) -> keras.Model:
    model = tiny_functional(name=f"broken_{kind}")
    if kind == "nan weights":
        kernel = model.get_layer("conv2").kernel
        kernel.assign(np.where(np.arange(kernel.shape[-1]) == 2, np.nan, kernel.numpy()).astype(np.float32))
    elif kind == "inf weights":
        bias = model.get_layer("predictions").bias
        bias.assign(np.array([0, np.inf, 0], np.float32))
    return model


FAULTS = {  # name -> (model kind, images, what the message must say)
    "nan weights": ("nan weights", GOOD, r"NaN.*weights contain NaN \(layer 'conv2', weight 'kernel'\)"),
    "inf weights": ("inf weights", GOOD, r"infinite.*weights contain infinite values \(layer 'predictions'"),
    "inf input": ("good", np.where(np.arange(8)[:, None, None] == 3, np.inf, GOOD), "NaN or infinite values"),
    "overflowing input": ("good", np.full((2, 8, 8, 3), 3e38, np.float32), r"input has values up to 3e\+38"),
    "one overflowing image": ("good", np.concatenate([GOOD, np.full((1, 8, 8, 3), 3e38, np.float32)]), "image 3:"),
}


@pytest.fixture(scope="module")
def models():
    return {kind: _broken(kind) for kind in ("good", "nan weights", "inf weights")}


def _entries():
    def heatmaps_from(model, images):
        return gc.heatmaps_from(gc.gradient_inputs(model, images))

    calls = {
        "gradient_inputs": lambda m, x: gc.gradient_inputs(m, x).activations,
        "heatmaps_from": heatmaps_from,
        "compute_heatmaps": gc.compute_heatmaps,
        "class_logits": gc.class_logits,
        "class_probabilities": gc.class_probabilities,
    }
    for method in sorted(METHODS):  # explain with every method, Score-CAM included
        calls[f"explain[{method}]"] = lambda m, x, method=method: gc.explain(m, x, method=method, batch_size=2)
    return calls


ENTRIES = _entries()


def _arrays(result):
    if isinstance(result, gc.GradCAMResult):
        return [result.heatmaps, result.scores, result.logits]
    return list(result) if isinstance(result, tuple) else [result]


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_nan_never_leaves_the_engine(models, entry, fault):
    kind, images, message = FAULTS[fault]
    returned = None
    with pytest.raises(gc.GradCAMError, match=message):
        returned = ENTRIES[entry](models[kind], images)
    assert returned is None or all(np.isfinite(a).all() for a in _arrays(returned) if a is not None)


def test_the_faulty_cases_are_errors_of_their_own_kind(models):
    with pytest.raises(gc.NonFiniteError, match=r"^The model's scores are infinite for images 0, 1, 2: the model's"):
        gc.class_logits(models["inf weights"], GOOD)
    with pytest.raises(gc.NonFiniteError, match=r"^The activations of layer 'conv2_act' are NaN for images 0, 1, 2"):
        gc.explain(models["nan weights"], GOOD)
    with pytest.raises(gc.ImageInputError):  # the input itself: the image checks' own error
        gc.explain(models["good"], FAULTS["inf input"][1])


def test_image_numbers_count_across_chunks(models):
    images = np.concatenate([GOOD, GOOD, np.full((1, 8, 8, 3), 3e38, np.float32)])  # image 6 overflows
    with pytest.raises(gc.NonFiniteError, match=r"for image 6:"):
        gc.class_logits(models["good"], images, batch_size=4)
    with pytest.raises(gc.NonFiniteError, match=r"for image 6:"):
        gc.explain(models["good"], images, batch_size=4)


def test_chunked_passes_give_the_same_maps(models):
    images = np.random.default_rng(4).normal(size=(7, 8, 8, 3)).astype(np.float32)
    whole = gc.explain(models["good"], images, batch_size=32)
    chunked = gc.explain(models["good"], images, batch_size=3)
    np.testing.assert_allclose(chunked.heatmaps, whole.heatmaps, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(chunked.class_indices, whole.class_indices)


def test_negative_batchnorm_variance_is_named():
    model = tiny_sequential()
    variance = model.get_layer("bn").moving_variance
    variance.assign(np.full(variance.shape, -1.0, np.float32))
    before = model_fingerprint(model)
    with pytest.raises(gc.NonFiniteError, match=r"layer 'bn' has a negative moving variance"):
        gc.explain(model, GOOD)
    assert_unchanged(model, before)


def test_heatmaps_from_checks_the_inputs_it_is_given(models):
    inputs = gc.gradient_inputs(models["good"], GOOD)
    activations = inputs.activations.copy()
    activations[1, 0, 0, 0] = np.nan
    with pytest.raises(gc.NonFiniteError, match=r"^The activations are NaN for image 1: they were given"):
        gc.heatmaps_from(dataclasses.replace(inputs, activations=activations))
    gradients = np.full_like(inputs.gradients, -np.inf)
    with pytest.raises(gc.NonFiniteError, match=r"^The gradients are infinite for images 0, 1, 2"):
        gc.heatmaps_from(dataclasses.replace(inputs, gradients=gradients), "layercam")


# eigencam and ablationcam scale with the activations alone (no A * g product): 1e30 activations stay finite there
@pytest.mark.parametrize("method", sorted(set(METHODS) - {"scorecam", "eigencam", "ablationcam"}))
def test_maps_that_overflow_float32_are_refused(models, method):
    inputs = gc.gradient_inputs(models["good"], GOOD)
    activations = np.full_like(inputs.activations, 1e30)  # finite activations and gradients, products beyond float32
    if method == "gradcam++":  # scale-free unless the activations sum to 0, which makes alpha = 1/2
        activations[:] = 0
        activations[:, 0, 0], activations[:, 1, 1] = 1e30, -1e30
    huge = dataclasses.replace(inputs, activations=activations, gradients=np.full_like(inputs.gradients, 1e30))
    result = None
    with pytest.raises(gc.NonFiniteError, match=rf"^The {re.escape(method)} maps of images 0, 1, 2 overflow float32"):
        result = gc.heatmaps_from(huge, method)
    assert result is None


def test_score_cam_names_the_image_whose_masked_copies_fail(models):
    inputs = gc.gradient_inputs(models["good"], GOOD)
    broken = dataclasses.replace(
        inputs, probabilities=lambda batch: gc.class_probabilities(models["nan weights"], batch)
    )
    with pytest.raises(gc.NonFiniteError, match=r"^Score-CAM's masked copies of image 0: The model's scores are NaN"):
        gc.heatmaps_from(broken, "scorecam")


# ----- models and inputs that Grad-CAM cannot explain: clear errors before any work ---------------------------------


def _conv_head(inputs, name="conv"):
    x = keras.layers.Conv2D(3, 3, activation="relu", name=name)(inputs)
    return keras.layers.GlobalAveragePooling2D()(x)


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__(name="net")
        self.conv = keras.layers.Conv2D(2, 3, activation="relu", name="conv")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.out = keras.layers.Dense(2)

    def call(self, x):
        return self.out(self.pool(self.conv(x)))


def _subclassed():
    net = _Subclassed()
    net(GOOD)
    return net


def _nested_subclassed():
    inputs = keras.Input((8, 8, 3))
    return keras.Model(inputs, keras.layers.Dense(2)(_subclassed()(inputs)), name="wrapper")


def _dict_output():
    inputs = keras.Input((8, 8, 3))
    return keras.Model(inputs, {"scores": keras.layers.Dense(2)(_conv_head(inputs))})


def _nested_dict_output():
    inner = _dict_output()
    inputs = keras.Input((8, 8, 3))
    return keras.Model(inputs, keras.layers.Dense(2)(inner(inputs)["scores"]), name="outer")


def _two_outputs():
    inputs = keras.Input((8, 8, 3))
    features = _conv_head(inputs)
    return keras.Model(inputs, [keras.layers.Dense(2)(features), keras.layers.Dense(3)(features)])


def _two_inputs():
    a, b = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    return keras.Model([a, b], keras.layers.Dense(2)(_conv_head(keras.layers.Concatenate()([a, b]))))


def _any_size():
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(3, 3, name="c1")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(3, 3, activation="relu", name="c2")(x)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)), name="any_size")


def _shared_layer():
    inputs = keras.Input((8, 8, 3))
    shared = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="shared")
    x = shared(shared(inputs))
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))


def _shared_nested_model():
    base = tiny_functional(name="base")
    inputs = keras.Input((8, 8, 3))
    return keras.Model(inputs, keras.layers.Add()([base(inputs), base(keras.layers.Lambda(lambda t: -t)(inputs))]))


def _nested_input_layer():
    base = tiny_functional(name="base")
    inputs = keras.Input((8, 8, 3))
    return keras.Model(inputs, base(inputs))


HUGE = np.broadcast_to(np.float32(0), (3_000_000, 8, 8, 3))  # 2.1 GiB as float32, no memory of its own

ODD = {  # name -> (model factory, call(model), error class, message pattern)
    "input layer given as the layer": (
        tiny_functional,
        lambda m: gc.explain(m, GOOD, m.layers[0].name),
        gc.LayerError,
        "is the model's input layer.*Pick a convolution layer, e.g. .*'conv2_act'",
    ),
    "a nested model's input layer": (
        _nested_input_layer,
        lambda m: gc.explain(m, GOOD, "base/" + m.get_layer("base").layers[0].name),
        gc.LayerError,
        "input layer",
    ),
    "dict output": (
        _dict_output,
        lambda m: gc.explain(m, GOOD),
        gc.UnsupportedModelError,
        r"returns a dict of outputs \('scores'\).*keras.Model\(model.inputs, model.output\['scores'\]\)",
    ),
    "dict output, class_logits": (_dict_output, lambda m: gc.class_logits(m, GOOD), gc.UnsupportedModelError, "dict"),
    "nested model with a dict output": (
        _nested_dict_output,
        lambda m: gc.explain(m, GOOD, "conv"),
        gc.UnsupportedModelError,
        "dict of outputs",
    ),
    "two outputs": (_two_outputs, lambda m: gc.explain(m, GOOD), gc.UnsupportedModelError, "2 outputs"),
    "two inputs": (_two_inputs, lambda m: gc.explain(m, GOOD), gc.UnsupportedModelError, "2 inputs"),
    "tiny input to a variable-size model": (
        _any_size,
        lambda m: gc.explain(m, GOOD[:, :3, :5]),
        gc.ImageInputError,
        r"'any_size' cannot run on 3x5 images: Computed output size would be zero or negative\..*at least 8x8",
    ),
    "1x1 input, class_logits": (
        _any_size,
        lambda m: gc.class_logits(m, GOOD[:, :1, :1]),
        gc.ImageInputError,
        "cannot run on 1x1 images.*at least 8x8",
    ),
    "one pixel too small": (_any_size, lambda m: gc.explain(m, GOOD[:, :7, :8]), gc.ImageInputError, "7x8"),
    "subclassed model with a conv layer": (
        _subclassed,
        lambda m: gc.explain(m, GOOD),
        gc.UnsupportedModelError,
        r"subclassed keras.Model.*keras.Model\(inputs, model.call\(inputs\)\)",
    ),
    "subclassed model, its conv layer named": (
        _subclassed,
        lambda m: gc.explain(m, GOOD, "conv"),
        gc.UnsupportedModelError,
        "subclassed",
    ),
    "subclassed model, list_conv_layers": (_subclassed, gc.list_conv_layers, gc.UnsupportedModelError, "subclassed"),
    "subclassed model nested in a functional one": (
        _nested_subclassed,
        lambda m: gc.explain(m, GOOD, "net/conv"),
        gc.UnsupportedModelError,
        "'net' .*subclassed",
    ),
    "a layer object": (
        tiny_functional,
        lambda m: gc.explain(m, GOOD, m.get_layer("conv2")),
        gc.LayerError,
        r"layer_name takes the layer's name, a string: pass layer_name='conv2'\.",
    ),
    "a layer of another model": (
        tiny_functional,
        lambda m: gc.explain(m, GOOD, tiny_functional(name="other").get_layer("conv2")),
        gc.LayerError,
        "'conv2' .*is not part of model 'tiny': it belongs to another model",
    ),
    "a layer called twice": (
        _shared_layer,
        lambda m: gc.explain(m, GOOD, "shared"),
        gc.LayerError,
        "'shared' is called more than once",
    ),
    "a nested model called twice": (
        _shared_nested_model,
        lambda m: gc.explain(m, GOOD, "conv2_act"),
        gc.LayerError,
        "'base' is called more than once",
    ),
    "a name in two nested models": (
        lambda: keras.Model(
            inputs := keras.Input((8, 8, 3)),
            keras.layers.Add()([tiny_functional(name="a")(inputs), tiny_functional(name="b")(inputs)]),
        ),
        lambda m: gc.explain(m, GOOD, "conv2"),
        gc.LayerError,
        "ambiguous.*'a/conv2', 'b/conv2'",
    ),
    "a huge batch": (
        tiny_functional,
        lambda m: gc.explain(m, HUGE),
        gc.ImageInputError,
        r"3000000 images of shape \(8, 8, 3\) would take 2.1 GiB.*in slices",
    ),
    "a huge batch, class_logits": (tiny_functional, lambda m: gc.class_logits(m, HUGE), gc.ImageInputError, "GiB"),
    "batch_size 0": (tiny_functional, lambda m: gc.explain(m, GOOD, batch_size=0), gc.GradCAMError, "batch_size"),
    "batch_size True": (tiny_functional, lambda m: gc.class_logits(m, GOOD, batch_size=True), gc.GradCAMError, "int"),
}


@pytest.mark.parametrize("case", sorted(ODD))
def test_odd_models_get_clear_errors_before_any_work(case):
    build, call, error, message = ODD[case]
    model = build()
    before = model_fingerprint(model)
    with pytest.raises(error, match=message):
        call(model)
    plans = [engine._PLAN_CACHE.get(key) for key in engine._PLAN_CACHE]
    traced = [getattr(plan, "trace_count", 0) for ref, plan in plans if ref() is model]
    if case not in ("a layer called twice", "a nested model called twice"):  # these are found while tracing
        assert not any(traced), "the model ran before the error"
    assert_unchanged(model, before)


def test_a_variable_size_model_still_runs_at_its_smallest_size():
    model = _any_size()
    assert gc.compute_heatmaps(model, np.ones((1, 8, 8, 3), np.float32)).shape == (1, 1, 1)


@pytest.mark.parametrize("fault", ["nan weights", "inf weights", "overflowing input"])
def test_guided_backprop_never_returns_nan_either(models, fault):
    """Guided backprop runs its own gated pass, so it needs the same check as the engine's: it raises, naming the
    cause, instead of returning a NaN picture (guided Grad-CAM raised already, through its Grad-CAM half)."""
    kind, images, message = FAULTS[fault]
    with pytest.raises(gc.NonFiniteError, match=message):
        gc.guided_backprop(models[kind], images)
