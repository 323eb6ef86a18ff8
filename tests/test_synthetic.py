"""Tests of the synthetic shapes generator: the ground truth it hands out must be exactly true.

Reference values come from routes independent of the rasteriser: areas computed by hand
(side^2, 5/9 side^2, pi r^2, sqrt(3)/4 side^2), bounds recomputed with np.nonzero, the cue
corners written out by hand, and pixel colours read back from the images.
"""

import math

import numpy as np
import pytest

from gradcam_utils.synthetic import CUE_PALETTE, DEFAULT_CLASSES, make_shapes

H = W = 64


def _tight_box(mask):
    ys, xs = np.nonzero(mask)
    return ys.min(), xs.min(), ys.max() + 1, xs.max() + 1


@pytest.fixture(scope="module")
def busy():
    """Two objects, distractors and a correlated cue: every kind of thing the generator draws."""
    return make_shapes(120, seed=3, objects_per_image=2, size_range=(10, 18), distractors=2, cue="correlated")


def test_same_seed_gives_byte_identical_output_and_other_seeds_differ():
    kwargs = dict(objects_per_image=2, size_range=(10, 18), distractors=1, cue="correlated")
    a, b = make_shapes(40, seed=7, **kwargs), make_shapes(40, seed=7, **kwargs)
    fields = ("images", "object_labels", "object_masks", "object_boxes", "cue_masks", "cue_labels", "distractor_masks")
    for field in fields:
        assert getattr(a, field).tobytes() == getattr(b, field).tobytes(), field
    c = make_shapes(40, seed=8, **kwargs)
    assert a.images.tobytes() != c.images.tobytes()
    assert not np.array_equal(a.object_boxes, c.object_boxes)


def test_shapes_and_dtypes_single_object():
    batch = make_shapes(10, seed=0, cue="correlated")
    assert len(batch) == 10
    assert batch.images.shape == (10, H, W, 3) and batch.images.dtype == np.uint8
    assert batch.labels.shape == (10,) and np.issubdtype(batch.labels.dtype, np.integer)
    assert batch.masks.shape == (10, H, W) and batch.masks.dtype == bool
    assert batch.boxes.shape == (10, 4) and np.issubdtype(batch.boxes.dtype, np.integer)
    assert batch.object_labels.shape == (10, 1) and batch.object_masks.shape == (10, 1, H, W)
    assert batch.cue_masks.shape == (10, H, W) and batch.cue_masks.dtype == bool
    assert batch.cue_labels.shape == (10,) and batch.distractor_masks.shape == (10, H, W)
    assert batch.class_names == DEFAULT_CLASSES
    assert batch.labels.min() >= 0 and batch.labels.max() < len(DEFAULT_CLASSES)


def test_shapes_with_several_objects_and_rectangular_images(busy):
    assert busy.object_labels.shape == (120, 2)
    assert busy.object_masks.shape == (120, 2, H, W)
    assert busy.object_boxes.shape == (120, 2, 4)
    # the labelled object is object 0
    np.testing.assert_array_equal(busy.labels, busy.object_labels[:, 0])
    np.testing.assert_array_equal(busy.masks, busy.object_masks[:, 0])
    np.testing.assert_array_equal(busy.boxes, busy.object_boxes[:, 0])
    # objects in one image have distinct classes
    assert (busy.object_labels[:, 0] != busy.object_labels[:, 1]).all()
    rect = make_shapes(3, seed=0, image_size=(48, 80), size_range=(8, 12))
    assert rect.images.shape == (3, 48, 80, 3)


def test_zero_images_gives_empty_arrays():
    batch = make_shapes(0, seed=0)
    assert batch.images.shape == (0, H, W, 3) and batch.labels.shape == (0,) and len(batch) == 0


def test_masks_lie_in_boxes_and_boxes_are_tight(busy):
    for i in range(len(busy)):
        for k in range(2):
            mask, box = busy.object_masks[i, k], busy.object_boxes[i, k]
            y0, x0, y1, x1 = box
            assert 0 <= y0 < y1 <= H and 0 <= x0 < x1 <= W
            assert mask.sum() == mask[y0:y1, x0:x1].sum()  # nothing outside the box
            assert tuple(box) == _tight_box(mask)  # and the box is no larger than needed


@pytest.mark.parametrize("side", [8, 11, 20, 33])
def test_upright_square_covers_exactly_side_squared_pixels(side):
    batch = make_shapes(5, seed=side, classes=("square",), size_range=(side, side), rotate=False)
    assert (batch.masks.sum(axis=(1, 2)) == side * side).all()
    assert ((batch.boxes[:, 2] - batch.boxes[:, 0]) == side).all()
    assert ((batch.boxes[:, 3] - batch.boxes[:, 1]) == side).all()


def test_upright_cross_covers_five_ninths_of_its_frame():
    # arms one third as wide as the cross: 2 bars of side*side/3 minus the shared centre (side/3)^2
    side = 21
    batch = make_shapes(3, seed=1, classes=("cross",), size_range=(side, side), rotate=False)
    assert (batch.masks.sum(axis=(1, 2)) == 2 * side * (side // 3) - (side // 3) ** 2).all()


@pytest.mark.parametrize("diameter", [20, 40])
def test_circle_area_is_close_to_pi_r_squared(diameter):
    batch = make_shapes(4, seed=2, classes=("circle",), size_range=(diameter, diameter), rotate=False)
    expected = math.pi * (diameter / 2) ** 2
    np.testing.assert_allclose(batch.masks.sum(axis=(1, 2)), expected, rtol=0.02)


def test_triangle_area_is_close_to_sqrt3_over_4_side_squared():
    side = 36
    batch = make_shapes(4, seed=4, classes=("triangle",), size_range=(side, side), rotate=False)
    np.testing.assert_allclose(batch.masks.sum(axis=(1, 2)), math.sqrt(3) / 4 * side**2, rtol=0.04)


def test_rotation_keeps_the_area_of_a_square():
    side = 24
    batch = make_shapes(20, seed=5, classes=("square",), size_range=(side, side), rotate=True)
    np.testing.assert_allclose(batch.masks.sum(axis=(1, 2)), side * side, rtol=0.05)
    # and rotation really happens: most tight boxes are wider than the side
    assert ((batch.boxes[:, 3] - batch.boxes[:, 1]) > side).mean() > 0.5


def test_masks_are_exactly_the_painted_pixels_on_plain_backgrounds():
    batch = make_shapes(30, seed=6, background="plain", distractors=1, cue="correlated")
    for i in range(len(batch)):
        img = batch.images[i].reshape(-1, 3)
        obj, dis, cue = batch.masks[i].ravel(), batch.distractor_masks[i].ravel(), batch.cue_masks[i].ravel()
        assert len(np.unique(img[obj], axis=0)) == 1  # one flat colour on the object
        background = np.unique(img[~(obj | dis | cue)], axis=0)
        assert len(background) == 1  # and everything else is the backdrop
        assert not (img[obj] == background).all(axis=1).any()  # the object is visible


def test_labels_are_balanced():
    batch = make_shapes(503, seed=9)
    counts = np.bincount(batch.labels, minlength=len(DEFAULT_CLASSES))
    assert counts.max() - counts.min() <= 1 and counts.sum() == 503
    assert not (np.diff(batch.labels[:50]) == 0).all()  # shuffled, not sorted


# cue positions written out by hand for a 64x64 image with a 5x5 cue 1 px from the border:
# class 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right, 4 top edge centre.
HAND_CUE_TOP_LEFT = {0: (1, 1), 1: (1, 58), 2: (58, 1), 3: (58, 58), 4: (1, 29)}


def test_correlated_position_cue_sits_at_the_place_of_the_class():
    batch = make_shapes(100, seed=10, cue="correlated", background="plain")
    np.testing.assert_array_equal(batch.cue_labels, batch.labels)
    for i in range(len(batch)):
        y, x = HAND_CUE_TOP_LEFT[int(batch.labels[i])]
        expected = np.zeros((H, W), dtype=bool)
        expected[y : y + 5, x : x + 5] = True
        np.testing.assert_array_equal(batch.cue_masks[i], expected)
        assert (batch.images[i][expected] == 255).all()  # a bright white patch


def test_contradicting_cue_never_sits_at_the_place_of_the_class():
    batch = make_shapes(100, seed=10, cue="contradicting")
    assert (batch.cue_labels != batch.labels).all()
    assert (batch.cue_labels >= 0).all()
    for i in range(len(batch)):
        y, x = HAND_CUE_TOP_LEFT[int(batch.labels[i])]
        assert not batch.cue_masks[i, y : y + 5, x : x + 5].any()
        y, x = HAND_CUE_TOP_LEFT[int(batch.cue_labels[i])]
        assert batch.cue_masks[i, y : y + 5, x : x + 5].all()
    # every wrong class is used, not just one
    assert len(np.unique(batch.cue_labels - batch.labels)) > 2


def test_colour_cue_encodes_the_class_by_colour():
    batch = make_shapes(60, seed=11, cue="correlated", cue_kind="color", background="plain")
    for i in range(len(batch)):
        colours = np.unique(batch.images[i][batch.cue_masks[i]], axis=0)
        np.testing.assert_array_equal(colours, CUE_PALETTE[batch.labels[i]][None])
    corners = {_tight_box(m)[:2] for m in batch.cue_masks}
    assert corners == {(1, 1), (1, 58), (58, 1), (58, 58)}  # at random corners


def test_partial_correlation_matches_the_requested_probability():
    batch = make_shapes(2000, seed=12, cue="correlated", cue_correlation=0.7)
    assert abs((batch.cue_labels == batch.labels).mean() - 0.7) < 0.04


def test_no_cue_means_empty_cue_masks():
    batch = make_shapes(20, seed=13)
    assert not batch.cue_masks.any() and (batch.cue_labels == -1).all()


def test_cue_modes_share_objects_and_backgrounds_and_differ_only_on_the_cue():
    kwargs = dict(seed=14, distractors=1)
    none = make_shapes(50, cue="none", **kwargs)
    for mode in ("correlated", "contradicting"):
        cued = make_shapes(50, cue=mode, **kwargs)
        np.testing.assert_array_equal(cued.object_masks, none.object_masks)
        np.testing.assert_array_equal(cued.labels, none.labels)
        np.testing.assert_array_equal(cued.distractor_masks, none.distractor_masks)
        outside = ~cued.cue_masks
        np.testing.assert_array_equal(cued.images[outside], none.images[outside])
        assert (cued.images[cued.cue_masks] != none.images[cued.cue_masks]).any()


def test_objects_distractors_and_cue_never_overlap(busy):
    from scipy import ndimage

    grown = np.stack([ndimage.binary_dilation(m) for m in busy.distractor_masks])  # keep a gap too
    assert busy.distractor_masks.any(axis=(1, 2)).all()  # distractors were drawn
    for k in range(2):
        assert not (grown & busy.object_masks[:, k]).any()
        assert not (busy.cue_masks & busy.object_masks[:, k]).any()
    assert not (busy.object_masks[:, 0] & busy.object_masks[:, 1]).any()
    assert not (grown & busy.cue_masks).any()


def test_distractors_use_a_shape_that_is_not_a_class():
    # with the default classes only "ring" is left: a ring has a hole, so its mask is not
    # simply connected (its background has two components inside its box)
    from scipy import ndimage

    batch = make_shapes(10, seed=15, distractors=1, distractor_size_range=(14, 14), rotate=False)
    for m in batch.distractor_masks:
        y0, x0, y1, x1 = _tight_box(m)
        _, holes = ndimage.label(~m[y0:y1, x0:x1])
        assert holes >= 5  # four corners outside the ring plus the hole


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(classes=("circle", "hexagon")), "unknown shape"),
        (dict(classes=("circle", "circle")), "duplicates"),
        (dict(classes="circle"), "sequence of shape names"),
        (dict(image_size=32, size_range=(20, 30)), "too small"),
        (dict(image_size=8), "at least 16"),
        (dict(classes=("circle", "square"), objects_per_image=3), "exceeds the number of classes"),
        (dict(objects_per_image=0), "positive integer"),
        (dict(size_range=(20, 10)), "size_range"),
        (dict(size_range=(2, 10)), "size_range"),
        (dict(cue="sometimes"), "cue must be one of"),
        (dict(cue_kind="sound"), "cue_kind"),
        (dict(cue="correlated", cue_correlation=1.5), "probability"),
        (dict(cue="none", cue_correlation=0.5), "only applies"),
        (dict(cue="contradicting", classes=("circle",)), "at least 2 classes"),
        (dict(distractors=1, distractor_shapes=("circle",)), "also classes"),
        (dict(distractors=1, classes=("circle", "square", "triangle", "cross", "star", "ring")), "none is left"),
        (dict(distractors=-1), "non-negative"),
        (dict(objects_per_image=3, distractors=4), "do not fit"),
        (dict(background="stars"), "background"),
        (dict(cue_size=30), "cue_size"),
    ],
)
def test_bad_arguments_raise_clear_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_shapes(4, seed=0, **kwargs)


@pytest.mark.parametrize("n, seed", [(-1, 0), (2.5, 0), (3, None), (3, 1.5)])
def test_bad_count_or_seed_raise(n, seed):
    with pytest.raises(ValueError, match="n must|seed must"):
        make_shapes(n, seed=seed)
