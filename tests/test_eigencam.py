"""EigenCAM (gradcam_utils.methods.eigencam) against routes that share none of its code.

* The first principal direction from numpy's symmetric eigendecomposition of the Gram matrix A^T A (``eigh``), not
  from the SVD the method uses; the sign fixed here by hand to agree with the channel mean.
* A closed form: rank-1 activations A[i, j, k] = u[i, j] * v[k] (u, v >= 0) give back u itself.
"""

import numpy as np
import pytest
from helpers import tiny_functional

import gradcam_utils as gc
from gradcam_utils import engine
from gradcam_utils.methods import METHODS, CamInputs


def _inputs(acts: np.ndarray, seed: int = 0) -> CamInputs:
    batch = acts.shape[0]
    grads = np.random.default_rng(seed).normal(size=acts.shape).astype(np.float32)
    return CamInputs(acts.astype(np.float32), grads, np.zeros(batch, np.int64), np.ones(batch, np.float32))


def _by_gram_eigenvector(acts: np.ndarray) -> np.ndarray:
    """Projection on the top eigenvector of A^T A (the first right singular vector), ReLU, divided by the peak."""
    maps = []
    for image in acts.astype(np.float64):
        matrix = image.reshape(-1, image.shape[-1])
        values, vectors = np.linalg.eigh(matrix.T @ matrix)
        projection = matrix @ vectors[:, np.argmax(values)]
        mean = matrix.mean(axis=1)
        if np.corrcoef(projection, mean)[0, 1] < 0:
            projection = -projection
        projection = np.maximum(projection, 0)
        maps.append((projection / projection.max()).reshape(image.shape[:2]))
    return np.array(maps)


def test_eigencam_is_the_projection_on_the_first_principal_direction():
    rng = np.random.default_rng(3)
    acts = np.maximum(rng.normal(size=(3, 5, 6, 7)), 0)  # ReLU activations, 3 images
    heatmaps, empty = engine.heatmaps_from(_inputs(acts), "eigencam")
    assert not empty.any()
    np.testing.assert_allclose(heatmaps, _by_gram_eigenvector(acts), atol=1e-5)


def test_rank_one_activations_give_back_their_spatial_factor():
    rng = np.random.default_rng(4)
    u = rng.uniform(0.1, 1.0, size=(2, 4, 5))
    v = rng.uniform(0.0, 2.0, size=(2, 6))
    acts = u[..., None] * v[:, None, None, :]
    heatmaps, _ = engine.heatmaps_from(_inputs(acts), "eigencam")
    np.testing.assert_allclose(heatmaps, u / u.max(axis=(1, 2), keepdims=True), atol=1e-6)
    raw = METHODS["eigencam"](_inputs(acts))  # s_1 * u_1 = A v_1 = u * |v|: the scale too
    np.testing.assert_allclose(raw, u * np.linalg.norm(v, axis=1)[:, None, None], rtol=1e-5)


def test_the_sign_follows_the_channel_mean_whatever_sign_the_svd_returns(monkeypatch):
    rng = np.random.default_rng(5)
    acts = np.maximum(rng.normal(size=(1, 4, 4, 3)), 0)
    expected, _ = engine.heatmaps_from(_inputs(acts), "eigencam")
    svd = np.linalg.svd

    def flipped(matrix, *args, **kwargs):
        u, s, vt = svd(matrix, *args, **kwargs)
        return -u, s, -vt

    monkeypatch.setattr(np.linalg, "svd", flipped)
    np.testing.assert_allclose(engine.heatmaps_from(_inputs(acts), "eigencam")[0], expected, atol=1e-7)


def test_eigencam_is_class_independent_and_ignores_gradients():
    acts = np.maximum(np.random.default_rng(6).normal(size=(2, 4, 4, 5)), 0)
    first = METHODS["eigencam"](_inputs(acts, seed=1))
    other = CamInputs(acts.astype(np.float32), -_inputs(acts, seed=2).gradients, np.array([1, 2]), np.zeros(2))
    np.testing.assert_array_equal(first, METHODS["eigencam"](other))


def test_eigencam_from_the_engine_on_a_model():
    model = tiny_functional()
    x = np.random.default_rng(7).uniform(size=(2, 8, 8, 3)).astype(np.float32)
    inputs = engine.gradient_inputs(model, x, "conv2_act")
    heatmaps, _ = engine.heatmaps_from(inputs, "eigencam")
    np.testing.assert_allclose(heatmaps, _by_gram_eigenvector(inputs.activations), atol=1e-5)
    assert "eigencam" in gc.available_methods()


def test_all_zero_activations_give_an_empty_map_with_the_engines_warning():
    with pytest.warns(gc.EmptyHeatmapWarning):
        heatmaps, empty = engine.heatmaps_from(_inputs(np.zeros((1, 3, 3, 2))), "eigencam")
    assert empty.all() and not heatmaps.any()
