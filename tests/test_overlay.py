"""Overlays: size, dtype, blending by hand computation, bilinear range, clear errors, and the lightness (CIELAB L*)
of colours and colormaps against known values."""

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


@pytest.mark.parametrize(
    "heatmap, match",
    [
        (np.full((3, 3), np.nan), "NaN"),
        (np.full((3, 3), 2.0), r"\[0, 1\]"),
        (np.zeros((2, 3, 3)), "2-D"),
    ],
)
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


@pytest.mark.parametrize(
    "rgb, expected",
    [
        ((255, 255, 255), 100.0),  # white: L* = 100 by definition of the scale
        ((0, 0, 0), 0.0),  # black: L* = 0
        ((119, 119, 119), 50.03),  # sRGB 119 is the usual "mid grey": Y = 0.1845, L* = 116 * Y^(1/3) - 16 = 50.03
        ((255, 0, 0), 53.24),  # primaries: L* of sRGB red, green and blue as tabulated by colour-science
        ((0, 255, 0), 87.74),  # references (CIELAB of sRGB primaries under D65)
        ((0, 0, 255), 32.30),
    ],
)
def test_srgb_lightness_matches_known_values(rgb, expected):
    from gradcam_utils.overlay import srgb_lightness

    assert srgb_lightness(np.array(rgb, np.uint8)) == pytest.approx(expected, abs=0.01)
    assert srgb_lightness(np.array(rgb) / 255.0) == pytest.approx(expected, abs=0.01)


def test_srgb_lightness_linear_segment_by_hand():
    """Very dark colours use the linear pieces of both curves: sRGB 1/255 -> Y = (1/255 / 12.92) * (sum of the Y
    row = 1) -> L* = 116 * (Y / (3 (6/29)^2) + 4/29) - 16 = 903.3 * Y (CIE's kappa), computed here by hand."""
    from gradcam_utils.overlay import srgb_lightness

    y = 1 / 255 / 12.92
    assert srgb_lightness(np.array([1, 1, 1], np.uint8)) == pytest.approx(24389 / 27 * y, rel=1e-9)


def test_colormap_lightness_uniform_maps_rise_and_rainbows_do_not():
    from gradcam_utils.overlay import colormap_lightness, srgb_lightness

    for name in ("viridis", "inferno", "gray"):
        assert (np.diff(colormap_lightness(name)) > 0).all(), name
    for name in ("jet", "turbo"):
        lightness = colormap_lightness(name)
        assert lightness.argmax() not in (0, len(lightness) - 1), name  # the lightest colour is inside the map
        assert lightness[-1] < lightness.max() - 50, name  # and the top value is much darker
    # second route: sampled at its 256 entries, the grey map's L* at entry i is the L* of the grey level i
    levels = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    np.testing.assert_allclose(colormap_lightness("gray", 256), srgb_lightness(levels), atol=1e-9)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda f, g: f(np.zeros((4, 2))), "3 channels"),
        (lambda f, g: f(np.full((2, 3), 1.5)), r"\[0, 1\]"),
        (lambda f, g: g("rainbowish"), "viridis"),
        (lambda f, g: g("viridis", 1), "n is the number"),
    ],
)
def test_lightness_bad_input_is_a_clear_error(call, match):
    from gradcam_utils.overlay import colormap_lightness, srgb_lightness

    with pytest.raises(gc.GradCAMError, match=match):
        call(srgb_lightness, colormap_lightness)


def test_srgb_lightness_does_not_modify_its_input():
    from gradcam_utils.overlay import srgb_lightness

    colours = np.array([[0.2, 0.4, 0.6]])
    srgb_lightness(colours)
    np.testing.assert_array_equal(colours, [[0.2, 0.4, 0.6]])


def test_one_heatmap_check_for_overlays_metrics_and_curves():
    from gradcam_utils import metrics
    from gradcam_utils.overlay import check_heatmap, check_heatmaps

    maps, batched = check_heatmaps(np.ones((4, 5), np.float32))
    assert maps.shape == (1, 4, 5) and maps.dtype == np.float64 and not batched
    for bad, match in [
        (np.zeros((0, 3)), "empty"),
        (np.array([["a"]]), "real-valued"),
        (np.full((3, 3), np.inf), "NaN"),
    ]:
        with pytest.raises(gc.ImageInputError, match=match):
            gc.overlay_heatmap(np.zeros((4, 4, 3), np.uint8), bad)
        with pytest.raises(gc.GradCAMError, match=match):
            metrics.pointing_game(bad, np.ones(np.shape(bad), bool))
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True
    np.testing.assert_array_equal(check_heatmap(mask), mask.astype(np.float32))
