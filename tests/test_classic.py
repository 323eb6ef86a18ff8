"""The article's functions keep working, equal the article's code where it is right, and are right where it is not.
Reference: article_reference.py, our own reimplementation of the article's behaviour (quirks included), a second
route written independently of gradcam_utils."""

import warnings

import article_reference as article
import keras
import numpy as np
import pytest
from helpers import tiny_functional
from PIL import Image

import gradcam_utils as gc


def test_one_image_on_a_logits_model_equals_the_article(images):
    model = tiny_functional()
    for layer in ("conv1_act", "conv2_act", "conv2"):
        for pred_index in (None, 0, 2):
            ours = gc.make_gradcam_heatmap(images[:1], model, layer, pred_index)
            theirs = article.make_gradcam_heatmap(images[:1], model, layer, pred_index)
            assert ours.shape == theirs.shape and ours.ndim == 2
            np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_article_mixes_the_batch_and_ours_does_not(images):
    # At conv1_act the gradient passes conv2's ReLU, so it differs from image to image (at conv2_act, with a
    # GAP -> Dense head, it would be the same for all images and the article's bug would not show).
    model = tiny_functional()
    ours = gc.make_gradcam_heatmap(images, model, "conv1_act", pred_index=1)
    alone = [gc.make_gradcam_heatmap(images[i : i + 1], model, "conv1_act", 1) for i in range(4)]
    np.testing.assert_allclose(ours, np.stack(alone), atol=1e-6)
    theirs_batched = article.make_gradcam_heatmap(images, model, "conv1_act", 1)
    theirs_alone = article.make_gradcam_heatmap(images[:1], model, "conv1_act", 1)
    assert np.abs(theirs_batched - theirs_alone).max() > 1e-3  # the bug we fixed is real on this model


def test_map_with_no_evidence_is_zeros_not_nan():
    """A black image through zero-bias convs gives activations that are exactly 0, so the map's max is 0 and the
    article's max(h, 0) / max(h) is 0 / 0."""
    model = tiny_functional()
    x = np.zeros((1, 8, 8, 3), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        theirs = article.make_gradcam_heatmap(x, model, "conv2_act")
    assert np.isnan(theirs).all()
    with pytest.warns(gc.EmptyHeatmapWarning):
        ours = gc.make_gradcam_heatmap(x, model, "conv2_act")
    assert (ours == 0).all()


def test_all_negative_map_is_flagged(images):
    model = tiny_functional()
    dense = model.get_layer("predictions")
    dense.set_weights([-np.abs(dense.kernel.numpy()) - 0.1, dense.bias.numpy()])
    x = np.abs(images[:1])
    # The article silently returns -0.0 everywhere (a negative max divides zeros); ours says so.
    assert (article.make_gradcam_heatmap(x, model, "conv2_act") == 0).all()
    with pytest.warns(gc.EmptyHeatmapWarning, match="no positive evidence"):
        ours = gc.explain(model, x, "conv2_act")
    assert ours.empty.all() and (ours.heatmaps == 0).all()


def test_softmax_model_needs_no_mutation(images):
    mutated = tiny_functional(activation="softmax")
    mutated.layers[-1].activation = None  # what the article does to the user's model
    untouched = tiny_functional(activation="softmax")
    expected = article.make_gradcam_heatmap(images[:1], mutated, "conv2_act")
    np.testing.assert_allclose(gc.make_gradcam_heatmap(images[:1], untouched, "conv2_act"), expected, atol=1e-5)
    assert untouched.layers[-1].activation is keras.activations.softmax


def test_get_img_array_shape_and_values(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "x.png")
    ours = gc.get_img_array(tmp_path / "x.png", size=(20, 30))
    assert ours.shape == (1, 20, 30, 3) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, article.get_img_array(tmp_path / "x.png", size=(20, 30)))  # no resize
    assert gc.get_img_array(tmp_path / "x.png", size=(10, 12)).shape == (1, 10, 12, 3)


def test_save_and_display_gradcam_writes_the_overlay(tmp_path):
    pixels = np.full((40, 60, 3), 100, np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    heatmap = np.zeros((4, 6), np.float32)
    heatmap[0, 0] = 1.0
    out = gc.save_and_display_gradcam(tmp_path / "in.png", heatmap, cam_path=tmp_path / "cam.png", alpha=0.5)
    saved = np.asarray(Image.open(out))
    assert saved.shape == (40, 60, 3)
    expected = gc.overlay_heatmap(pixels, heatmap, alpha=0.5)
    np.testing.assert_array_equal(saved, expected)
    assert not np.array_equal(saved[0, 0], saved[-1, -1])  # the hot corner differs from the cold one


def test_article_overlay_stretches_the_whole_picture_and_ours_blends(tmp_path):
    """By hand: jet(0) is (0, 0, 0.5). The article stretches those colours to (0, 0, 255), adds 0.4 of them to a
    flat grey 100 photo, (100, 100, 202), and stretches that sum to 0..255: pure blue, the photo is gone. Ours blends
    (1 - 0.4) * 100 + 0.4 * (0, 0, 128) = (60, 60, 111)."""
    Image.fromarray(np.full((12, 16, 3), 100, np.uint8)).save(tmp_path / "grey.png")
    cold = np.zeros((3, 4), np.float32)
    np.testing.assert_array_equal(article.overlay(tmp_path / "grey.png", cold), np.full((12, 16, 3), (0, 0, 255)))
    np.testing.assert_array_equal(
        gc.overlay_heatmap(tmp_path / "grey.png", cold, alpha=0.4), np.full((12, 16, 3), (60, 60, 111))
    )


def test_article_loads_nearest_neighbour_and_ours_bilinear(tmp_path):
    """A 1-pixel checkerboard halved: nearest-neighbour keeps one colour of each 2x2 block (0 or 255), bilinear
    averages it to the middle grey (by hand: (0 + 255 + 255 + 0) / 4 = 127.5; a few levels off at the border, where
    PIL's filter is cut off)."""
    board = (np.indices((8, 8)).sum(axis=0) % 2 * 255).astype(np.uint8)
    Image.fromarray(np.stack([board] * 3, axis=-1)).save(tmp_path / "board.png")
    theirs = article.get_img_array(tmp_path / "board.png", size=(4, 4))
    ours = gc.get_img_array(tmp_path / "board.png", size=(4, 4))
    assert set(np.unique(theirs)) <= {0.0, 255.0}
    assert np.abs(ours - 127.5).max() <= 3.0
