"""Choosing the layer: candidates, the default, and errors that point to the right name."""

import keras
import pytest
from helpers import tiny_functional

import gradcam_utils as gc


def test_candidates_are_convs_and_their_activations_in_order():
    assert gc.list_conv_layers(tiny_functional()) == ["conv1", "conv1_act", "conv2", "conv2_act"]
    assert gc.default_layer_name(tiny_functional()) == "conv2_act"


def test_xception_default_is_the_last_activation_not_bn_or_conv(xception_logits):
    names = gc.list_conv_layers(xception_logits)
    assert gc.default_layer_name(xception_logits) == "block14_sepconv2_act"
    assert names[0] == "block1_conv1"
    assert "block14_sepconv2_bn" not in names and "avg_pool" not in names
    assert names.index("block14_sepconv2") < names.index("block14_sepconv2_act")


def test_nested_layers_are_listed_and_duplicates_qualified():
    inner_a, inner_b = tiny_functional(name="a"), tiny_functional(name="b")
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Add()([inner_a(inputs), inner_b(inputs)]))
    names = gc.list_conv_layers(model)
    assert names[:4] == ["a/conv1", "a/conv1_act", "a/conv2", "a/conv2_act"]
    with pytest.raises(gc.LayerError, match="ambiguous.*'a/conv2_act'"):
        gc.compute_heatmaps(model, keras.ops.zeros((1, 8, 8, 3)), "conv2_act")


def test_unknown_layer_lists_close_conv_names(images):
    with pytest.raises(gc.LayerError, match=r"No layer named 'conv2_activ'.*'conv2_act'"):
        gc.compute_heatmaps(tiny_functional(), images, "conv2_activ")


@pytest.mark.parametrize("name", ["gap", "predictions"])
def test_layer_without_spatial_dimensions_is_refused(images, name):
    with pytest.raises(gc.LayerError, match="4-D"):
        gc.compute_heatmaps(tiny_functional(), images, name)


def test_naming_a_nested_model_asks_for_a_layer_inside(images):
    inner = tiny_functional(name="backbone")
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(inner(inputs)))
    with pytest.raises(gc.LayerError, match="nested model"):
        gc.compute_heatmaps(model, images, "backbone")


def test_layer_name_must_be_a_string(images):
    with pytest.raises(gc.LayerError, match="string"):
        gc.compute_heatmaps(tiny_functional(), images, 3)


def test_model_without_conv_layers_is_refused(images):
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(gc.LayerError, match="no convolution"):
        gc.compute_heatmaps(model, images)


def test_errors_are_value_errors():
    for cls in (gc.LayerError, gc.ClassIndexError, gc.ImageInputError, gc.ImageLoadError, gc.UnsupportedModelError):
        assert issubclass(cls, ValueError)
