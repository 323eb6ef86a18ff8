"""Tests of the localisation metrics on hand-built maps whose answers are worked out by hand."""

import numpy as np
import pytest
from scipy import ndimage

from gradcam_utils.metrics import (
    box_accuracy,
    box_iou,
    box_to_mask,
    energy_pointing_game,
    pointing_accuracy,
    pointing_game,
    upsample_heatmap,
    weakly_supervised_box,
)


def _square_mask(size=32, y0=10, x0=10, y1=20, x1=20):
    mask = np.zeros((size, size), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _peak(y, x, size=32, value=1.0):
    heatmap = np.zeros((size, size))
    heatmap[y, x] = value
    return heatmap


# --- upsampling -----------------------------------------------------------------------------


def test_upsample_matches_hand_computed_bilinear_values():
    # f(y, x) = 2y + x on a 2x2 grid; output pixel centres sit at source coordinates
    # (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, held at the edges -> 0, 0.25, 0.75, 1
    t = np.array([0.0, 0.25, 0.75, 1.0])
    expected = 2 * t[:, None] + t[None, :]
    np.testing.assert_allclose(upsample_heatmap([[0.0, 1.0], [2.0, 3.0]], (4, 4)), expected, atol=1e-12)


def test_upsample_agrees_with_scipy_zoom_and_the_overlay_resize():
    heatmap = np.random.default_rng(0).random((7, 5))
    ours = upsample_heatmap(heatmap, (63, 45))
    np.testing.assert_allclose(ours, ndimage.zoom(heatmap, 9, order=1, grid_mode=True, mode="nearest"), atol=1e-12)
    # a third route: Pillow's bilinear resize (what overlays used before the shared resize module)
    from PIL import Image

    pil = np.asarray(Image.fromarray(heatmap.astype(np.float32)).resize((45, 63), Image.Resampling.BILINEAR))
    np.testing.assert_allclose(ours, pil, atol=1e-5)


def test_upsample_batch_equals_maps_one_by_one_and_keeps_the_range():
    maps = np.random.default_rng(1).random((3, 8, 8))
    batch = upsample_heatmap(maps, (64, 64))
    assert batch.shape == (3, 64, 64)
    for i in range(3):
        np.testing.assert_allclose(batch[i], upsample_heatmap(maps[i], (64, 64)))
        assert maps[i].min() <= batch[i].min() and batch[i].max() <= maps[i].max()
    np.testing.assert_array_equal(upsample_heatmap(maps[0], (8, 8)), maps[0])


def test_upsample_refuses_downsampling_and_bad_sizes():
    with pytest.raises(ValueError, match="larger than"):
        upsample_heatmap(np.zeros((8, 8)), (4, 8))
    with pytest.raises(ValueError, match="pair of positive integers"):
        upsample_heatmap(np.zeros((8, 8)), (16,))
    with pytest.raises(ValueError, match="pair of positive integers"):
        upsample_heatmap(np.zeros((8, 8)), (16.0, 16.0))


# --- pointing game --------------------------------------------------------------------------


def test_single_peak_inside_the_mask_is_a_hit_and_outside_a_miss():
    mask = _square_mask()
    assert pointing_game(_peak(15, 15), mask) is True
    assert pointing_game(_peak(19, 19), mask) is True  # last pixel inside (end-exclusive box)
    assert pointing_game(_peak(20, 15), mask) is False  # first pixel outside
    assert pointing_game(_peak(2, 2), mask) is False


def test_tolerance_is_the_euclidean_distance_to_the_mask():
    mask = _square_mask()  # rows and columns 10..19
    straight = _peak(12, 23)  # 4 px right of column 19
    assert not pointing_game(straight, mask, tolerance=3.9)
    assert pointing_game(straight, mask, tolerance=4)
    diagonal = _peak(6, 23)  # 4 px above row 10 and 4 px right of column 19: sqrt(32) = 5.66
    assert not pointing_game(diagonal, mask, tolerance=5.6)
    assert pointing_game(diagonal, mask, tolerance=5.7)


def test_ties_count_as_a_hit_when_any_maximum_is_inside():
    mask = _square_mask()
    one_in = _peak(15, 15) + _peak(2, 2)  # two equal maxima, one on the object
    assert pointing_game(one_in, mask)
    assert pointing_game(one_in[::-1, ::-1].copy(), mask[::-1, ::-1].copy())  # scan order does not matter
    both_out = _peak(2, 2) + _peak(30, 30)
    assert not pointing_game(both_out, mask)


def test_flat_and_all_zero_maps_point_nowhere():
    mask = _square_mask()
    assert pointing_game(np.zeros((32, 32)), mask) is False
    assert pointing_game(np.full((32, 32), 0.7), mask) is False


def test_low_resolution_map_is_upsampled_to_the_mask():
    coarse = np.zeros((8, 8))
    coarse[2, 3] = 1.0  # upsampled x8 the peak lands on rows 19..20 and columns 27..28
    on = np.zeros((64, 64), dtype=bool)
    on[16:24, 24:32] = True
    off = np.zeros((64, 64), dtype=bool)
    off[40:48, 40:48] = True
    assert pointing_game(coarse, on) and not pointing_game(coarse, off)


def test_batched_pointing_game_and_accuracy():
    masks = np.stack([_square_mask()] * 4)
    maps = np.stack([_peak(15, 15), _peak(11, 18), _peak(0, 0), _peak(12, 12)])
    hits = pointing_game(maps, masks)
    assert hits.dtype == bool
    np.testing.assert_array_equal(hits, [True, True, False, True])
    assert pointing_accuracy(maps, masks) == 0.75


@pytest.mark.parametrize(
    "heatmap, mask, message",
    [
        (np.zeros((32, 32)), np.zeros((32, 32), dtype=bool), "empty"),
        (np.zeros((2, 32, 32)), np.ones((3, 32, 32), dtype=bool), "2 heatmaps but 3"),
        (np.zeros((32, 32)), np.ones((2, 32, 32), dtype=bool), r"\(H, W\) for a single heatmap"),
        (np.zeros((64, 64)), np.ones((32, 32), dtype=bool), "larger than"),
        (np.full((32, 32), np.nan), np.ones((32, 32), dtype=bool), "NaN"),
        (np.zeros(32), np.ones(32, dtype=bool), "one map"),
        (np.zeros((1, 1, 32, 32)), np.ones((32, 32), dtype=bool), "one map"),
        (np.zeros((32, 32)), np.full((32, 32), 0.5), "boolean"),
        (np.zeros((32, 32), dtype=bool), np.ones((32, 32), dtype=bool), "real-valued"),
    ],
)
def test_pointing_game_rejects_bad_input(heatmap, mask, message):
    with pytest.raises(ValueError, match=message):
        pointing_game(heatmap, mask)


def test_pointing_game_rejects_negative_tolerance():
    with pytest.raises(ValueError, match="tolerance"):
        pointing_game(_peak(1, 1), _square_mask(), tolerance=-1)


# --- energy pointing game -------------------------------------------------------------------


def test_energy_is_the_share_of_mass_inside_the_mask_or_box():
    heatmap = _peak(15, 15, value=3.0) + _peak(2, 2, value=1.0)  # 3 of 4 units on the object
    assert energy_pointing_game(heatmap, _square_mask()) == pytest.approx(0.75)
    assert energy_pointing_game(heatmap, (10, 10, 20, 20)) == pytest.approx(0.75)
    uniform = np.ones((8, 8))
    assert energy_pointing_game(uniform, (0, 0, 8, 6)) == pytest.approx(48 / 64)
    assert energy_pointing_game(uniform, np.ones((8, 8), dtype=bool)) == 1.0


def test_energy_of_a_coarse_map_against_a_full_size_mask_or_box():
    coarse = np.ones((4, 4))  # constant, so the upsampled map is constant too
    mask = np.zeros((16, 16), dtype=bool)
    mask[:12, :] = True
    assert energy_pointing_game(coarse, mask) == pytest.approx(0.75)
    assert energy_pointing_game(np.ones((8, 8)), (0, 0, 32, 64), image_size=(64, 64)) == pytest.approx(0.5)


def test_energy_batched_with_masks_and_boxes():
    maps = np.stack([_peak(15, 15), _peak(2, 2), _peak(15, 15, value=3.0) + _peak(2, 2, value=1.0)])
    boxes = np.array([(10, 10, 20, 20)] * 3)
    expected = [1.0, 0.0, 0.75]
    np.testing.assert_allclose(energy_pointing_game(maps, boxes), expected)
    np.testing.assert_allclose(energy_pointing_game(maps, np.stack([_square_mask()] * 3)), expected)


def test_all_zero_map_has_zero_energy_not_nan():
    assert energy_pointing_game(np.zeros((8, 8)), (0, 0, 4, 4)) == 0.0
    out = energy_pointing_game(np.zeros((2, 8, 8)), np.ones((2, 8, 8), dtype=bool))
    np.testing.assert_array_equal(out, [0.0, 0.0])


@pytest.mark.parametrize(
    "heatmap, target, kwargs, message",
    [
        (-_peak(1, 1), _square_mask(), {}, "non-negative"),
        (_peak(1, 1), (0, 0, 40, 10), {}, "outside"),
        (_peak(1, 1), (5, 5, 2, 10), {}, "y0 <= y1"),
        (_peak(1, 1), (0.5, 0, 4, 4), {}, "integer"),
        (_peak(1, 1), (0, 0, 4), {}, r"shape \(4,\)"),
        (_peak(1, 1), _square_mask(), dict(image_size=(64, 64)), "disagrees"),
        (np.ones((2, 8, 8)), np.array([(0, 0, 4, 4)] * 3), {}, "2 heatmaps but 3"),
    ],
)
def test_energy_rejects_bad_input(heatmap, target, kwargs, message):
    with pytest.raises(ValueError, match=message):
        energy_pointing_game(heatmap, target, **kwargs)


# --- weakly supervised box ------------------------------------------------------------------


def test_the_larger_blob_wins_over_the_hotter_one():
    heatmap = np.zeros((32, 32))
    heatmap[4:9, 20:26] = 0.2  # 5x6 = 30 px, warm: mass 6, above 15% of the peak
    heatmap[20:23, 3:6] = 1.0  # 3x3 = 9 px, hot: mass 9
    assert weakly_supervised_box(heatmap) == (4, 20, 9, 26)


def test_equally_large_blobs_go_to_the_heavier_one():
    heatmap = np.zeros((16, 16))
    heatmap[1:3, 1:3] = 0.5
    heatmap[10:12, 10:12] = 1.0
    assert weakly_supervised_box(heatmap) == (10, 10, 12, 12)
    assert weakly_supervised_box(heatmap[::-1, ::-1].copy()) == (4, 4, 6, 6)


def test_threshold_is_relative_to_the_maximum():
    heatmap = np.zeros((32, 32))
    heatmap[10:14, 10:14] = 1.0
    heatmap[10:14, 14:20] = 0.1  # faint shoulder: below 15% of the peak, above 5%
    assert weakly_supervised_box(heatmap) == (10, 10, 14, 14)
    assert weakly_supervised_box(heatmap, threshold=0.05) == (10, 10, 14, 20)
    assert weakly_supervised_box(heatmap * 7.0) == (10, 10, 14, 14)  # scale-free


def test_connectivity_eight_joins_diagonal_neighbours_four_does_not():
    heatmap = np.zeros((16, 16))
    heatmap[2:5, 2:5] = 1.0  # 3x3
    heatmap[5:7, 5:7] = 1.0  # 2x2 touching the first only at a corner
    assert weakly_supervised_box(heatmap) == (2, 2, 7, 7)
    assert weakly_supervised_box(heatmap, connectivity=4) == (2, 2, 5, 5)


def test_box_of_an_upsampled_single_cell_matches_the_hand_computation():
    # One hot cell (3, 4) of an 8x8 map, upsampled x8. Along y its weight is 1 - |s - 3| with
    # s = (y + 0.5) / 8 - 0.5; the map's peak is 0.9375^2 (no pixel centre hits s = 3 exactly),
    # so the 15% region needs 1 - |s - 3| >= 0.15 * 0.9375 at the best column: y in 21..34.
    # Columns likewise around cell 4: x in 29..42.
    coarse = np.zeros((8, 8))
    coarse[3, 4] = 1.0
    assert weakly_supervised_box(coarse, image_size=(64, 64)) == (21, 29, 35, 43)


def test_all_zero_map_has_no_box_and_batches_flag_it():
    assert weakly_supervised_box(np.zeros((8, 8))) is None
    maps = np.zeros((2, 8, 8))
    maps[1, 2:4, 3:6] = 1.0
    boxes = weakly_supervised_box(maps)
    np.testing.assert_array_equal(boxes, [(-1, -1, -1, -1), (2, 3, 4, 6)])
    np.testing.assert_allclose(box_iou(boxes, (2, 3, 4, 6)), [0.0, 1.0])


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(threshold=0.0), "threshold"), (dict(threshold=1.5), "threshold"), (dict(connectivity=6), "connectivity")],
)
def test_weakly_supervised_box_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        weakly_supervised_box(_peak(1, 1), **kwargs)
    with pytest.raises(ValueError, match="non-negative"):
        weakly_supervised_box(-_peak(1, 1))


# --- box IoU --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ((0, 0, 10, 10), (5, 5, 15, 15), 25 / 175),  # 5x5 overlap, 100 + 100 - 25
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (0, 10, 10, 20), 0.0),  # end-exclusive: a shared edge shares no pixel
        ((0, 0, 10, 10), (2, 2, 4, 4), 4 / 100),
        ((0, 0, 10, 10), (20, 20, 30, 30), 0.0),
        ((0, 0, 4, 8), (2, 0, 6, 8), 16 / 48),
        ((3, 3, 3, 3), (3, 3, 3, 3), 0.0),  # empty boxes: 0, not NaN
    ],
)
def test_box_iou_hand_computed(a, b, expected):
    assert box_iou(a, b) == pytest.approx(expected)
    assert box_iou(b, a) == pytest.approx(expected)


def test_box_iou_batched_pairs_rows_and_broadcasts_a_single_box():
    a = np.array([(0, 0, 10, 10), (0, 0, 10, 10)])
    b = np.array([(5, 5, 15, 15), (0, 0, 10, 10)])
    np.testing.assert_allclose(box_iou(a, b), [25 / 175, 1.0])
    np.testing.assert_allclose(box_iou(a, (0, 0, 10, 10)), [1.0, 1.0])
    assert box_accuracy(np.array([(0, 0, 10, 10), (0, 0, 10, 9), (0, 0, 2, 2)]), (0, 0, 10, 10)) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "a, b, message",
    [
        ((0, 0, 10), (0, 0, 10, 10), r"shape \(4,\) or \(N, 4\)"),
        ((10, 0, 0, 10), (0, 0, 10, 10), "y0 <= y1"),
        ((0, 0, np.nan, 10), (0, 0, 10, 10), "NaN"),
        (np.zeros((2, 4)), np.zeros((3, 4)), "pair them"),
    ],
)
def test_box_iou_rejects_bad_boxes(a, b, message):
    with pytest.raises(ValueError, match=message):
        box_iou(a, b)


def test_box_to_mask_is_true_exactly_inside():
    mask = box_to_mask((1, 2, 3, 5), (4, 6))
    expected = np.zeros((4, 6), dtype=bool)
    expected[1:3, 2:5] = True
    np.testing.assert_array_equal(mask, expected)
    assert box_to_mask(np.array([(0, 0, 1, 1), (0, 0, 4, 6)]), (4, 6)).sum(axis=(1, 2)).tolist() == [1, 24]


# --- inputs are never modified --------------------------------------------------------------


def _frozen(array):
    array = np.array(array)
    array.setflags(write=False)  # any in-place write would raise
    return array


def test_metrics_do_not_modify_their_inputs():
    rng = np.random.default_rng(3)
    maps = _frozen(rng.random((3, 8, 8)))
    masks = _frozen(rng.random((3, 32, 32)) > 0.5)
    boxes = _frozen([(0, 0, 16, 16), (4, 4, 20, 30), (1, 2, 3, 4)])
    before = [maps.copy(), masks.copy(), boxes.copy()]
    upsample_heatmap(maps, (32, 32))
    pointing_game(maps, masks)
    pointing_game(maps, masks, tolerance=2)
    energy_pointing_game(maps, masks)
    energy_pointing_game(maps, boxes, image_size=(32, 32))
    weakly_supervised_box(maps, image_size=(32, 32))
    box_iou(boxes, boxes[::-1])
    box_to_mask(boxes, (32, 32))
    for original, array in zip(before, (maps, masks, boxes), strict=True):
        np.testing.assert_array_equal(original, array)
    # the same map given at full size (no upsampling path) must not be modified either
    full = _frozen(rng.random((32, 32)))
    energy_pointing_game(full, masks[0])
    pointing_game(full, masks[0])
    weakly_supervised_box(full)
    np.testing.assert_array_equal(full, np.asarray(full).copy())


# --- bootstrap confidence interval ----------------------------------------------------------


def test_bootstrap_ci_matches_the_normal_approximation_on_a_large_sample():
    """Reference: for a large sample the mean's 95% interval is mean +- 1.96 * sd / sqrt(n) (central limit)."""
    from gradcam_utils.metrics import bootstrap_ci

    values = np.random.default_rng(1).normal(3.0, 2.0, size=2000)
    mean, low, high = bootstrap_ci(values, n=4000, seed=0)
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert mean == pytest.approx(values.mean())
    assert low == pytest.approx(mean - half, abs=0.1 * half) and high == pytest.approx(mean + half, abs=0.1 * half)
    hits = np.arange(400) < 100  # a proportion of 0.25: the binomial interval p +- 1.96 sqrt(p(1-p)/n)
    mean, low, high = bootstrap_ci(hits, n=4000)
    half = 1.96 * np.sqrt(0.25 * 0.75 / 400)
    assert mean == 0.25 and low == pytest.approx(0.25 - half, abs=0.1 * half)
    assert high == pytest.approx(0.25 + half, abs=0.1 * half)


def test_bootstrap_ci_hand_cases():
    """Constant values: no spread. Two values 0 and 1: the resampled mean is 0, 0.5 or 1 with probabilities 1/4,
    1/2, 1/4 (by hand), so the 95% interval runs from 0 to 1."""
    from gradcam_utils.metrics import bootstrap_ci

    assert bootstrap_ci([0.7] * 5) == pytest.approx((0.7, 0.7, 0.7))
    assert bootstrap_ci(np.array([0.0, 1.0]), n=2000) == (0.5, 0.0, 1.0)
    narrow = bootstrap_ci(np.array([0.0, 1.0]), n=2000, level=0.4)
    assert narrow[1:] == (0.5, 0.5)  # the middle 40% of the resampled means is all 0.5 (probability 1/2)


def test_bootstrap_ci_is_seeded_and_leaves_its_input_alone():
    from gradcam_utils.metrics import bootstrap_ci

    values = np.random.default_rng(2).uniform(size=50)
    before = values.copy()
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)
    np.testing.assert_array_equal(values, before)


@pytest.mark.parametrize(
    "values, kwargs, message",
    [
        ([1.0], {}, "at least two"),
        (np.zeros((3, 2)), {}, "one number per image"),
        ([1.0, np.nan], {}, "NaN"),
        (["a", "b"], {}, "real numbers"),
        ([1.0, 2.0], {"n": 0}, "positive int"),
        ([1.0, 2.0], {"level": 1.0}, "level"),
    ],
)
def test_bootstrap_ci_rejects_bad_input(values, kwargs, message):
    from gradcam_utils.errors import GradCAMError
    from gradcam_utils.metrics import bootstrap_ci

    with pytest.raises(GradCAMError, match=message):
        bootstrap_ci(values, **kwargs)
