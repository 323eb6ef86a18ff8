"""The hand-built colour detector: its Grad-CAM is worked out on paper in the module docstring."""

import numpy as np
import pytest

import gradcam_utils as gc
from gradcam_utils.toy import build_colour_detector, solid_and_striped_image, two_squares_image


def test_logits_and_maps_match_the_paper_computation():
    model = build_colour_detector()
    image = two_squares_image(red_at=(0, 0), blue_at=(16, 16), red_side=8, blue_side=8)
    # By hand: redness of a red pixel = 0.9 - 0.1 - 0.1 - 0.2 = 0.5; the red square covers 2x2 blocks of 4x4.
    redness = np.zeros((8, 8), np.float32)
    redness[:2, :2] = 0.5
    logits = model(image[None]).numpy()[0]
    np.testing.assert_allclose(logits, [10 * redness.mean(), 10 * redness.mean()], rtol=1e-5)
    result = gc.explain(model, image, class_index=0, normalize=False)
    np.testing.assert_allclose(result.heatmaps[0], 10 / 64 * redness, rtol=1e-5, atol=1e-7)
    blue_map = gc.compute_heatmaps(model, image, class_index=1)[0]
    assert blue_map[4:6, 4:6].min() == 1.0 and blue_map[:4, :4].max() == 0.0


def test_default_class_follows_the_larger_square():
    model = build_colour_detector()
    only_red = two_squares_image(blue_at=None)
    assert gc.explain(model, only_red).class_indices[0] == 0


def test_striped_blocks_are_evidence_for_both_classes_alike():
    model = build_colour_detector()
    image = solid_and_striped_image()
    activations = gc.gradient_inputs(model, image, "conv2_act", 0).activations[0]
    # By hand: a red pixel has redness 0.5, a blue one blueness 0.5; each 4x4 block of the striped square holds 8 of
    # each, so both block averages are 0.5 * 8 / 16 = 0.25; the solid square's blocks have redness 0.5, blueness 0.
    np.testing.assert_allclose(activations[5:7, 5:7], 0.25, rtol=1e-6)
    np.testing.assert_allclose(activations[1:3, 1:3, 0], 0.5, rtol=1e-6)
    np.testing.assert_allclose(activations[1:3, 1:3, 1], 0.0, atol=1e-7)
    assert activations[[0, 3, 4, 7]].max() == 0.0  # grey background: no colour evidence
    with pytest.raises(ValueError, match="side"):
        solid_and_striped_image(side=0)
