"""Overlays: size, dtype, blending by hand computation, bilinear range, and clear errors."""

import matplotlib
import numpy as np
import pytest

import gradcam_utils as gc


def test_overlay_has_the_image_size_and_is_uint8_rgb():
    image = np.full((30, 50, 3), 120, np.uint8)
    out = gc.overlay_heatmap(image, np.random.default_rng(0).uniform(size=(7, 7)))
    assert out.shape == (30, 50, 3) and out.dtype == np.uint8


@pytest.mark.parametrize("colormap", list(gc.COLORMAPS))
def test_blend_equals_hand_computation(colormap):
    image = np.full((4, 4, 3), 100, np.uint8)
    heatmap = np.full((2, 2), 1.0, np.float32)  # constant map: upsampling changes nothing
    top = np.array(matplotlib.colormaps[colormap](1.0)[:3]) * 255
    expected = np.round(0.7 * 100 + 0.3 * np.round(top))
    out = gc.overlay_heatmap(image, heatmap, alpha=0.3, colormap=colormap)
    np.testing.assert_array_equal(out[0, 0], expected)


def test_alpha_zero_returns_the_image():
    image = np.random.default_rng(1).integers(0, 256, (9, 9, 3), dtype=np.uint8)
    np.testing.assert_array_equal(gc.overlay_heatmap(image, np.eye(3), alpha=0.0), image)


def test_bilinear_upsampling_stays_in_range_and_interpolates():
    heatmap = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    up = gc.upsample_heatmap(heatmap, (64, 64))
    assert up.shape == (64, 64) and up.min() >= 0 and up.max() <= 1
    assert 0 < up[32, 32] < 1  # the centre is a blend, not a copy of a corner
    # A linear ramp stays linear in the interior (bilinear reproduces linear functions).
    ramp = np.tile(np.linspace(0, 1, 4, dtype=np.float32), (4, 1))
    row = gc.upsample_heatmap(ramp, (4, 16))[0]
    inner = np.diff(row[2:-2])
    np.testing.assert_allclose(inner, inner[0], atol=1e-6)


@pytest.mark.parametrize("heatmap, match", [
    (np.full((3, 3), np.nan), "NaN"),
    (np.full((3, 3), 2.0), r"\[0, 1\]"),
    (np.zeros((2, 3, 3)), "2-D"),
])
def test_bad_heatmaps_are_clear_errors(heatmap, match):
    with pytest.raises(gc.ImageInputError, match=match):
        gc.overlay_heatmap(np.zeros((4, 4, 3), np.uint8), heatmap)


def test_bad_alpha_and_colormap():
    image, heatmap = np.zeros((4, 4, 3), np.uint8), np.zeros((2, 2))
    with pytest.raises(gc.GradCAMError, match="alpha"):
        gc.overlay_heatmap(image, heatmap, alpha=1.5)
    with pytest.raises(gc.GradCAMError, match="viridis"):
        gc.overlay_heatmap(image, heatmap, colormap="rainbowish")


def test_overlay_does_not_modify_its_inputs():
    image = np.full((4, 4, 3), 10, np.uint8)
    heatmap = np.full((2, 2), 0.5, np.float32)
    gc.overlay_heatmap(image, heatmap)
    assert (image == 10).all() and (heatmap == 0.5).all()
