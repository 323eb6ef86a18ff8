"""Plain helpers the tests import (``from helpers import ...``): tiny deterministic models (seconds to build) and a
fingerprint of a model to check a call left it unchanged. Fixtures live in conftest.py; this module is importable
because pyproject.toml puts tests/ on pytest's ``pythonpath``."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def tiny_functional(activation=None, classes=3, name="tiny"):
    """conv -> relu -> conv -> relu -> GAP -> Dense: 8x8 input, 4x4 final maps."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.Activation("relu", name="conv1_act")(x)
    x = keras.layers.Conv2D(5, 3, strides=2, padding="same", name="conv2")(x)
    x = keras.layers.Activation("relu", name="conv2_act")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(classes, activation=activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def tiny_sequential(activation=None):
    keras.utils.set_random_seed(2)
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Dropout(0.5, name="dropout"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, activation=activation, name="predictions"),
        ],
        name="tiny_seq",
    )


def model_fingerprint(model):
    """Everything a call could change: layers, their types, activations, configs, weights and trainable flags."""
    layers = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        layers.append(
            (
                layer.name,
                type(layer).__name__,
                getattr(layer, "activation", None),
                layer.trainable,
                repr(layer.get_config()),
            )
        )
    weights = [np.array(w) for w in model.get_weights()]
    return layers, weights


def assert_unchanged(model, before):
    layers, weights = model_fingerprint(model)
    assert layers == before[0]
    assert len(weights) == len(before[1])
    for a, b in zip(weights, before[1], strict=True):
        np.testing.assert_array_equal(a, b)
