"""Shared fixtures: random inputs and Xception(weights=None) where the real architecture matters. Nothing here
downloads anything. Plain helpers (tiny models, model fingerprints) live in helpers.py: ``from helpers import ...``."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


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
