"""The capstone's checks (notebook 09) take the learner's own model: on a tiny model built here they accept the
right answers and reject wrong ones with a specific message. Expected values come from a second route each time:
the library's metric or engine against the check's own computation."""

import keras
import numpy as np
import pytest

import gradcam_utils as gc
from gradcam_utils import capstone_checks, metrics
from gradcam_utils import exercises as ex
from gradcam_utils.synthetic import make_shapes


@pytest.fixture(scope="module")
def tiny():
    """A small untrained model of the notebook's shape (conv blocks, global max pooling, logits) and 8 pictures."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(x)
    x = keras.layers.Activation("relu", name="conv1_act")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv2")(x)
    x = keras.layers.Activation("relu", name="conv2_act")(x)
    x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x), name="tiny")
    batch = make_shapes(8, seed=3, image_size=32, classes=("circle", "square", "cross"), size_range=(6, 9))
    return model, batch.images.astype("float32"), batch.labels, batch.masks


def right_report(model, images, labels, masks):
    heatmaps = gc.compute_heatmaps(model, images, "conv2_act", class_index=labels)
    passes, _ = ex.sanity_verdict(model, images, "conv2_act")
    report = dict(
        layer="conv2_act",
        accuracy=float((gc.class_logits(model, images).argmax(1) == labels).mean()),
        energy_on_object=float(metrics.energy_pointing_game(heatmaps, masks).mean()),
        energy_random=float(masks.mean()),
        passes_sanity=passes,
    )
    return heatmaps, report


def test_layer_check_accepts_the_last_rectified_conv_and_explains_each_wrong_choice(tiny):
    model = tiny[0]
    assert ex.check_capstone_layer(model, "conv2_act")
    hints = {
        "conv2": "before its ReLU",
        "conv1_act": "earlier layer",
        "max_pool": "no rows and",
        "logits": "no rows and",
        "pool1": "earlier layer",
        "conv9": "not a layer",
    }
    for answer, hint in hints.items():
        feedback = ex.check_capstone_layer(model, answer)
        assert not feedback and hint in feedback.message, (answer, feedback)
    assert "No answer yet" in ex.check_capstone_layer(model, None).message


def test_energy_check_accepts_a_right_function_and_names_common_mistakes():
    def right(heatmap, mask):
        up = gc.upsample_heatmap(heatmap, mask.shape)
        return up[mask].sum() / up.sum() if up.sum() > 0 else 0.0

    def nan_on_zero(heatmap, mask):
        up = gc.upsample_heatmap(heatmap, mask.shape)
        return up[mask].sum() / up.sum()

    def mean_on_object(heatmap, mask):
        return gc.upsample_heatmap(heatmap, mask.shape)[mask].mean()

    def repeated_cells(heatmap, mask):
        up = np.kron(heatmap, np.ones((4, 4)))
        return (up * mask).sum() / up.sum() if up.sum() > 0 else 0.0

    assert ex.check_energy_function(right)
    assert ex.check_energy_function(lambda h, m: metrics.energy_pointing_game(h, m))  # the library's own metric
    with np.errstate(invalid="ignore"):
        assert "Almost" in ex.check_energy_function(nan_on_zero).message
    assert "SUM" in ex.check_energy_function(mean_on_object).message
    assert "bilinearly" in ex.check_energy_function(repeated_cells).message
    assert "raised ZeroDivisionError" in ex.check_energy_function(lambda h, m: 1 / 0).message
    assert not ex.check_energy_function(0.5)


def test_energy_check_is_not_fooled_by_a_function_that_changes_its_inputs():
    """The check hands the learner's function copies: a right value followed by wiping the inputs still passes
    (were the originals handed over, the expected values would be computed on the wiped arrays)."""

    def right_then_wipes(heatmap, mask):
        value = metrics.energy_pointing_game(heatmap, mask)
        heatmap[...], mask[...] = 0, True
        return value

    assert ex.check_energy_function(right_then_wipes)


def test_sanity_check_accepts_the_verdict_the_test_computes_and_rejects_the_other(tiny):
    model, images, _, _ = tiny
    passes, means = ex.sanity_verdict(model, images, "conv2_act")
    assert means.shape == (ex.SANITY_STEPS,) and passes == bool(np.all(means < ex.SANITY_THRESHOLD))
    assert ex.check_sanity_prediction(model, images, "conv2_act", passes)
    wrong = ex.check_sanity_prediction(model, images, "conv2_act", not passes)
    assert not wrong and "threshold" in wrong.message
    assert not ex.check_sanity_prediction(model, images, "conv2_act", "yes")


def test_the_checks_gradient_tape_route_agrees_with_the_engine(tiny):
    model, images, labels, _ = tiny
    engine = gc.compute_heatmaps(model, images, "conv2_act", class_index=labels)
    tape = capstone_checks._gradcam_by_tape(model, "conv2_act", images, labels)
    np.testing.assert_allclose(tape, engine, atol=1e-5)


def test_capstone_check_accepts_a_consistent_report(tiny):
    heatmaps, report = right_report(*tiny)
    feedback = ex.check_capstone(*tiny, heatmaps, report)
    assert feedback, feedback.message
    assert "No answer yet" in ex.check_capstone(*tiny, heatmaps, None).message


@pytest.mark.parametrize(
    "change, hint",
    [
        (dict(accuracy=0.99), "accuracy is"),
        (dict(energy_on_object=0.9), "energy_on_object is"),
        (dict(energy_random=0.5), "energy_random is"),
        (dict(energy_random="low"), "energy_random is"),
        (dict(passes_sanity="yes"), "passes_sanity is"),
        (dict(layer="max_pool"), "rows and columns"),
    ],
)
def test_capstone_check_rejects_each_wrong_number(tiny, change, hint):
    heatmaps, report = right_report(*tiny)
    feedback = ex.check_capstone(*tiny, heatmaps, {**report, **change})
    assert not feedback and hint in feedback.message, feedback.message


def test_capstone_check_rejects_a_flipped_sanity_verdict(tiny):
    heatmaps, report = right_report(*tiny)
    feedback = ex.check_capstone(*tiny, heatmaps, {**report, "passes_sanity": not report["passes_sanity"]})
    assert not feedback and "passes_sanity is" in feedback.message


def test_capstone_check_rejects_maps_of_the_predicted_class_or_another_layer(tiny):
    model, images, labels, masks = tiny
    _, report = right_report(*tiny)
    predicted = gc.class_logits(model, images).argmax(1)
    assert (predicted != labels).any(), "the test needs a wrong prediction to tell the two kinds of map apart"
    of_predicted = gc.compute_heatmaps(model, images, "conv2_act", class_index=predicted)
    assert "PREDICTED" in ex.check_capstone(*tiny, of_predicted, report).message
    at_conv1 = gc.compute_heatmaps(model, images, "conv1_act", class_index=labels)
    assert "shape" in ex.check_capstone(*tiny, at_conv1, report).message
    assert not ex.check_capstone(*tiny, np.ones_like(of_predicted), report)
    assert "keys" in ex.check_capstone(*tiny, of_predicted, {"layer": "conv2_act"}).message
