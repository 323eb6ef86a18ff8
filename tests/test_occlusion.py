"""Occlusion sensitivity (gradcam_utils.occlusion) against routes that share none of its code.

* A hand-written loop: one occluded copy at a time, run with ``model(x)`` (Keras' own call), drop of the logit.
* A closed form on a linear model: score = sum(w * x) + b, so the drop at a patch is sum over it of w * (x - s).
"""

import keras
import numpy as np
import pytest
from helpers import assert_unchanged, model_fingerprint, tiny_functional

from gradcam_utils.errors import GradCAMError
from gradcam_utils.occlusion import occlusion_sensitivity


def _linear(classes=3, activation="softmax"):
    keras.utils.set_random_seed(11)
    inputs = keras.Input((8, 8, 3))
    dense = keras.layers.Dense(classes, activation=activation, name="linear")
    return keras.Model(inputs, dense(keras.layers.Flatten()(inputs))), dense


def _images(n=2, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, 8, 8, 3)).astype(np.float32)


def _coverage_average(grid, patch, stride, size):
    """Each pixel's mean over the grid positions whose patch covers it, pixel by pixel."""
    out = np.zeros((len(grid), size, size))
    for y in range(size):
        for x in range(size):
            covering = [
                grid[:, i, j]
                for i in range(grid.shape[1])
                for j in range(grid.shape[2])
                if i * stride <= y < i * stride + patch and j * stride <= x < j * stride + patch
            ]
            if covering:
                out[:, y, x] = np.mean(covering, axis=0)
    return out


def test_a_linear_model_drops_by_the_weights_times_what_the_patch_removed():
    model, dense = _linear()
    kernel = np.asarray(dense.kernel, np.float64).reshape(8, 8, 3, -1)
    x = _images(2, seed=1)
    result = occlusion_sensitivity(model, x, class_index=[0, 2], patch=3, stride=2, substrate=0.5)
    assert result.grid.shape == (2, 3, 3)
    expected = np.zeros((2, 3, 3))
    for b, c in enumerate([0, 2]):
        for i in range(3):
            for j in range(3):
                rows, cols = slice(2 * i, 2 * i + 3), slice(2 * j, 2 * j + 3)
                expected[b, i, j] = (kernel[rows, cols, :, c] * (x[b, rows, cols] - 0.5)).sum()
    np.testing.assert_allclose(result.grid, expected, atol=1e-5)  # logits, not the softmax's probabilities
    np.testing.assert_allclose(result.heatmaps, _coverage_average(expected, 3, 2, 8), atol=1e-5)
    assert not result.heatmaps[:, 7, :].any()  # row 7 lies past the last patch (rows 4..6): covered by none


def test_a_loop_of_single_occluded_copies_gives_the_same_grid():
    model = tiny_functional()  # linear last layer: model(x) returns logits
    x = _images(2, seed=2)
    result = occlusion_sensitivity(model, x, patch=4, stride=2, substrate="zeros", batch_size=5)
    classes = np.asarray(model(x)).argmax(axis=1)
    np.testing.assert_array_equal(result.class_indices, classes)
    expected = np.zeros((2, 3, 3))
    for b in range(2):
        y = float(np.asarray(model(x[b : b + 1]))[0, classes[b]])
        for i in range(3):
            for j in range(3):
                occluded = x[b : b + 1].copy()
                occluded[:, 2 * i : 2 * i + 4, 2 * j : 2 * j + 4] = 0
                expected[b, i, j] = y - float(np.asarray(model(occluded))[0, classes[b]])
    np.testing.assert_allclose(result.grid, expected, atol=1e-5)
    np.testing.assert_allclose(result.scores, np.asarray(model(x))[[0, 1], classes], atol=1e-5)


def test_nothing_handed_in_is_changed():
    model = tiny_functional()
    before = model_fingerprint(model)
    x = _images(1, seed=3)
    copy = x.copy()
    occlusion_sensitivity(model, x, patch=2, stride=2, substrate="blur")
    assert_unchanged(model, before)
    np.testing.assert_array_equal(x, copy)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patch": 9}, "larger than the images"),
        ({"stride": 0}, "stride must be a positive int"),
        ({"patch": 2.5}, "patch must be a positive int"),
        ({"substrate": "grey"}, "Unknown substrate"),
    ],
)
def test_bad_arguments_say_what_is_expected(kwargs, message):
    with pytest.raises(GradCAMError, match=message):
        occlusion_sensitivity(tiny_functional(), _images(1), **kwargs)
