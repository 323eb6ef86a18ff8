"""The explorer's logic without a browser, and its widgets driven by setting .value like a user would."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gradcam_utils as gc
from gradcam_utils.explorer import Explorer
from gradcam_utils.widgets import explore

CAT = Path(__file__).resolve().parents[1] / "data" / "images" / "cat.png"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return gc.load_model("efficientnet_lite0", cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def explorer(bundle):
    return Explorer(bundle, CAT, top=3)


def test_options_are_the_top_predictions_and_the_conv_layers(explorer, bundle):
    labels, indices = zip(*explorer.class_options())
    assert explorer.top_class in {281, 282, 285} and indices[0] == explorer.top_class
    assert "%" in labels[0] and len(indices) == 3
    assert explorer.layers == gc.list_conv_layers(bundle.model)


def test_heatmap_equals_the_engine_and_is_cached(explorer, bundle):
    direct = gc.compute_heatmaps(bundle.model, bundle.preprocess(explorer.image), "block6a_project_conv", 282)[0]
    first = explorer.heatmap(282, "block6a_project_conv")
    np.testing.assert_allclose(first, direct, atol=1e-6)
    assert explorer.heatmap(282, "block6a_project_conv") is first


def test_unknown_layer_is_a_clear_error(explorer):
    with pytest.raises(gc.GradCAMError, match="explorer.layers"):
        explorer.heatmap(None, "avg_pool")


def decode_png(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_widgets_follow_their_controls(bundle):
    ui = explore(bundle, CAT, top=3)
    shown = decode_png(ui.picture.value)
    np.testing.assert_array_equal(shown, ui.explorer.overlay())  # starts on the top class, default layer
    second_class = ui.class_picker.options[1][1]
    ui.class_picker.value = second_class
    ui.layer_picker.value = ui.explorer.layers[-5]
    ui.colormap_picker.value = "viridis"
    ui.alpha_slider.value = 0.7
    expected = ui.explorer.overlay(second_class, ui.explorer.layers[-5], 0.7, "viridis")
    np.testing.assert_array_equal(decode_png(ui.picture.value), expected)
    assert not np.array_equal(expected, shown)
    assert "viridis" in repr(ui) and "PNG" not in repr(ui)
