"""Shared fixtures: tiny deterministic models (seconds to build) and Xception(weights=None) where the real
architecture matters. Nothing here downloads anything."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


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
    return keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.Dropout(0.5, name="dropout"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(3, activation=activation, name="predictions"),
    ], name="tiny_seq")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def images(rng):
    return rng.normal(size=(4, 8, 8, 3)).astype(np.float32)


@pytest.fixture(scope="session")
def xception_logits():
    """The real Xception architecture, random weights (weights=None works offline), logits output."""
    keras.utils.set_random_seed(3)
    return keras.applications.Xception(weights=None, classifier_activation=None)


@pytest.fixture(scope="session")
def xception_images():
    return np.random.default_rng(5).uniform(-1, 1, size=(2, 299, 299, 3)).astype(np.float32)


def model_fingerprint(model):
    """Everything a call could change: layers, their types, activations, configs, weights and trainable flags."""
    layers = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        layers.append((layer.name, type(layer).__name__, getattr(layer, "activation", None), layer.trainable,
                       repr(layer.get_config())))
    weights = [np.array(w) for w in model.get_weights()]
    return layers, weights


def assert_unchanged(model, before):
    layers, weights = model_fingerprint(model)
    assert layers == before[0]
    assert len(weights) == len(before[1])
    for a, b in zip(weights, before[1]):
        np.testing.assert_array_equal(a, b)
