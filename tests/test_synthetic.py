"""Tests of the synthetic shapes generator: the ground truth it hands out must be exactly true.

Reference values come from routes independent of the rasteriser: areas computed by hand
(side^2, 5/9 side^2, pi r^2, sqrt(3)/4 side^2), bounds recomputed with np.nonzero, the cue
corners written out by hand, and pixel colours read back from the images.
"""

import hashlib
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


# ---- golden output: the exact pictures the shipped teaching models were trained and measured on

# SHA-256 of every field of make_shapes' output for a few seeds and settings. They were recorded from the
# implementation that trained the shipped models and measured gradcam_utils/data/models/metrics.json
# (gradcam_utils/synthetic.py as of commit db423fc, numpy 2.4.6), before make_shapes was split into steps. "Same
# seed, same output" alone would not notice a reordered random draw, which silently gives every seed other pictures:
# the teaching models' data, metrics.json and the notebooks' numbers would no longer be reproducible. Never update
# these digests to make a refactor pass; a digest may only change together with retrained models and a new
# metrics.json.
# Each digest hashes dtype and shape, then the array's bytes (see _digest). metrics_* are the script's test sets
# (scripts/train_teaching_models.py: SEEDS["clean_test"], SEEDS["biased_test"] with CUE, --test-images 1000).
GOLDEN_FIELDS = (
    "images",
    "object_labels",
    "object_masks",
    "object_boxes",
    "cue_masks",
    "cue_labels",
    "distractor_masks",
)
GOLDEN = {
    "plain_default": (
        dict(n=50, seed=0),
        {
            "images": "fc986b8f06d63f5440e11daa1e1faab56546c892bf02963d0ba6e5b0e697cc87",
            "object_labels": "6db8d30ff98c1a16a6e57470854a317ebbede296b4477660e248b05222793db1",
            "object_masks": "b205779a682f0400e95fb8338600759857910ed0865ef6cea62fc0d554fa56c2",
            "object_boxes": "af6974fddbb8b4a20ede9b9b6e7e2e4306beae151ba08f086322aebfa7420374",
            "cue_masks": "9a2e062e2aa3f5ccf96a1008b0161f4a60246b41fb1f9dfcc3063b93b0a2e9fa",
            "cue_labels": "581196bbe7c2857dba3ed502040fd7bb8e1f9d35059941feb77cda1d858cc5dc",
            "distractor_masks": "9a2e062e2aa3f5ccf96a1008b0161f4a60246b41fb1f9dfcc3063b93b0a2e9fa",
        },
    ),
    "flat_background_upright": (
        dict(n=20, seed=1, background="plain", rotate=False),
        {
            "images": "f820b13f6646d20a4c26f80cdc6094f052d73de34b65e99a1119ac91a24c87b7",
            "object_labels": "29235d8ede45c329d33e2530c4f64e95dbc79a6b3a8a89b55ed2151c55175b9a",
            "object_masks": "6bb851f41d0cbe1d10b0fdda673d43c0ecd4b704203ca6c0fb4aaa86aedfbed0",
            "object_boxes": "c1ee1105ebcf66f6f910ff46db534055be379c90bbff8863343101d5a9947ee9",
            "cue_masks": "ba24c69849ef57de206d70de3aac7405fc6ff5272a4cd261636f647c239eedec",
            "cue_labels": "c9d8267ecd2e7292dba462d34434b6f26dc5a29d7c77256492120f7a4b000537",
            "distractor_masks": "ba24c69849ef57de206d70de3aac7405fc6ff5272a4cd261636f647c239eedec",
        },
    ),
    "cue_correlated_position": (
        dict(n=40, seed=2, cue="correlated"),
        {
            "images": "f9573561bdb1b14997e2e1f19e8becc1e0678def8790de6142459ced2c95f24f",
            "object_labels": "3f88bc7bd0e5de8444a8764bad5545a982a18bc2a61e856abfef16d91ee9ca30",
            "object_masks": "407ac9bfa8a6bd54a8462e5a0098c1cdda9a6037051a530785139dda1ba5fb47",
            "object_boxes": "15edc41ad1ca9a6fb233080585fed1246be165d58a9b9989dd0e3386bb65870d",
            "cue_masks": "fa014a204727fb18206c1fdb83aeffd228fd5ed5156a09d4c62d105a5922af43",
            "cue_labels": "c176901a91449b7e071dd840c33a80fe83305f69aa1d2315c30ea30dd9a3e469",
            "distractor_masks": "a20243a2c28c827baf5bbad4319ddaed2d5b05fa4293193be4e6f1104f4f2ce8",
        },
    ),
    "cue_contradicting_position": (
        dict(n=40, seed=2, cue="contradicting"),
        {
            "images": "72a852cd64fc7cf1e6e32c1c2d7f669caa27f99c26deff139eccfcc02e0d6c41",
            "object_labels": "3f88bc7bd0e5de8444a8764bad5545a982a18bc2a61e856abfef16d91ee9ca30",
            "object_masks": "407ac9bfa8a6bd54a8462e5a0098c1cdda9a6037051a530785139dda1ba5fb47",
            "object_boxes": "15edc41ad1ca9a6fb233080585fed1246be165d58a9b9989dd0e3386bb65870d",
            "cue_masks": "dd5157b48b02086e997e1c270fb90c73211af92073cfc02b213eaf65275099d3",
            "cue_labels": "55f7b41164d571a4efe0799342298fe33dd4e67ba86277389425e155cbd7168a",
            "distractor_masks": "a20243a2c28c827baf5bbad4319ddaed2d5b05fa4293193be4e6f1104f4f2ce8",
        },
    ),
    "cue_none_color": (
        dict(n=40, seed=4, cue="none", cue_kind="color"),
        {
            "images": "258f4508ce137c3f8364f9c659d000b1ddb0646679a343ccf325a068f04adc0a",
            "object_labels": "efadc61f449983dcd7f40dc2aeb4a83273d320d11662712cacafe50f0c3cde88",
            "object_masks": "3afc9d94a43ca6e99cb97342d037241678faa808dab075cdf4a032e059de954f",
            "object_boxes": "039c2daa66103532ca99ce04a816f12e1fa0839b518d29fe52fc33acf1fc08c6",
            "cue_masks": "a20243a2c28c827baf5bbad4319ddaed2d5b05fa4293193be4e6f1104f4f2ce8",
            "cue_labels": "fe53aa0edaabb707a628d84702440150c3d0b118aa082f7e16261eb233fdc6b4",
            "distractor_masks": "a20243a2c28c827baf5bbad4319ddaed2d5b05fa4293193be4e6f1104f4f2ce8",
        },
    ),
    "cue_correlated_color_partial": (
        dict(n=40, seed=4, cue="correlated", cue_kind="color", cue_correlation=0.7),
        {
            "images": "638a2abee3d08b06c95d46aa63d61b5534cce037c9245c52f7f8393573cdd360",
            "object_labels": "efadc61f449983dcd7f40dc2aeb4a83273d320d11662712cacafe50f0c3cde88",
            "object_masks": "3afc9d94a43ca6e99cb97342d037241678faa808dab075cdf4a032e059de954f",
            "object_boxes": "039c2daa66103532ca99ce04a816f12e1fa0839b518d29fe52fc33acf1fc08c6",
            "cue_masks": "9181b85fc8e0c2c825d710a49a5e2c660ab8a4d44d874679d72a729fc695831f",
            "cue_labels": "fcd53f87c6d97c31a5fb65bbd97710f90269af5d0ba7209664426b379fc93442",
            "distractor_masks": "a20243a2c28c827baf5bbad4319ddaed2d5b05fa4293193be4e6f1104f4f2ce8",
        },
    ),
    "cue_contradicting_color": (
        dict(n=40, seed=4, cue="contradicting", cue_kind="color"),
        {
            "images": "0d8670b5ee7e9319042010caf02feda3eb3a8a86a8ee65ade62dd1f37fcb5baf",
            "object_labels": "efadc61f449983dcd7f40dc2aeb4a83273d320d11662712cacafe50f0c3cde88",
            "object_masks": "3afc9d94a43ca6e99cb97342d037241678faa808dab075cdf4a032e059de954f",
            "object_boxes": "039c2daa66103532ca99ce04a816f12e1fa0839b518d29fe52fc33acf1fc08c6",
            "cue_masks": "9181b85fc8e0c2c825d710a49a5e2c660ab8a4d44d874679d72a729fc695831f",
            "cue_labels": "50341ca36694fd0a889d547fefa57645d4897dab2795156bc2910f58f2e35124",
            "distractor_masks": "a20243a2c28c827baf5bbad4319ddaed2d5b05fa4293193be4e6f1104f4f2ce8",
        },
    ),
    "two_objects": (
        dict(n=30, seed=9, objects_per_image=2),
        {
            "images": "43708a1c34b2ce828502347b05e7e09b4f5a96bd4850e143d835f5755cf06718",
            "object_labels": "491e2c0de08b37dc211ac047977f376047366b85d19ec86d73d844a0d6cac76d",
            "object_masks": "890cf913e35c407d12310d2050c1eab9d0f3c2b067a77164376c1b8cf5e36f5b",
            "object_boxes": "967194a18412906efc68c6b3d8ef13faf1807d3fa6a5dd460d5367995a69a9e1",
            "cue_masks": "112cefc49e220ea845c8fa10cd5eda17df33a80ab8bf3e86503d3635fb3256a4",
            "cue_labels": "bdf4b777f7d8ce6a0fad7425e4d61096022d10885c696ac54a7ab277ad3869b3",
            "distractor_masks": "112cefc49e220ea845c8fa10cd5eda17df33a80ab8bf3e86503d3635fb3256a4",
        },
    ),
    "size_range": (
        dict(n=30, seed=71, size_range=(8, 12)),
        {
            "images": "52821ce2e4a3aaa77f09f4521aa35503762a6272e2670e11f6e59accac6bc285",
            "object_labels": "291d2a5b05e0475e515bcddfd5b74bc4d5086f742ee5235393f44ec5cabb341d",
            "object_masks": "f952ff200d124a038aff543b977e907925ecc56dbda48eb60b02c1054f815356",
            "object_boxes": "c4fc70a38d9b5b8f2add34fee5a15a14417831c1d6cb910e262369e753209ba7",
            "cue_masks": "112cefc49e220ea845c8fa10cd5eda17df33a80ab8bf3e86503d3635fb3256a4",
            "cue_labels": "bdf4b777f7d8ce6a0fad7425e4d61096022d10885c696ac54a7ab277ad3869b3",
            "distractor_masks": "112cefc49e220ea845c8fa10cd5eda17df33a80ab8bf3e86503d3635fb3256a4",
        },
    ),
    "busy_distractors": (
        dict(n=30, seed=3, objects_per_image=2, size_range=(10, 18), distractors=2, cue="correlated"),
        {
            "images": "e7fb77c51aa7a03f81d1d550d087dce5e225f4c5c1bbb9b4a155e79b7b316fb7",
            "object_labels": "d5e264fdd1d8091a95aeca70fac170976fea9039ab490fa3b93b50662c0f9b98",
            "object_masks": "1382f045f30702dc0457ff1a75b475ba3adde980cfe0f9799c0f6d215aed61c7",
            "object_boxes": "8d5a2c6b688d67ba063b8c3853bb55c9f399d76114aa0ff974e3bd477dcc4f54",
            "cue_masks": "e1b585e39cee8af18b6e96681d5506af0301016d701a513aaa87c951834630a9",
            "cue_labels": "8f4fb30fe2d9713e21ceef8f75a28e87d5ae46aba0383b974266d3e953a35c60",
            "distractor_masks": "7026f7280ad0dba9896370cc17c68ebfd7294634cacf08fae0b5eb27309caea8",
        },
    ),
    "rect_custom_classes": (
        dict(n=30, seed=8, image_size=(48, 80), classes=("circle", "square", "cross"), size_range=(8, 12)),
        {
            "images": "420220816b8ec71543aa163e01c58b82db440e190b089f4bcdd6341d4c4517e0",
            "object_labels": "44e828cad468c4b8fb4e4b7b169788037422646e882d69a528b381286d3c6c6c",
            "object_masks": "d277834fffc5f8267d250f1137dd6602fb0eeb37179a46bfc883f22b15e4d4af",
            "object_boxes": "d3e863af3aab3f55996cf1a559e939745637401124f22a1a695b24f7a9e6e5ba",
            "cue_masks": "60303785c05103f6c7d6fdbae0c36a564ea2d259f9513c21f46b9adde02ac95a",
            "cue_labels": "bdf4b777f7d8ce6a0fad7425e4d61096022d10885c696ac54a7ab277ad3869b3",
            "distractor_masks": "60303785c05103f6c7d6fdbae0c36a564ea2d259f9513c21f46b9adde02ac95a",
        },
    ),
    "more_than_one_chunk": (
        dict(n=300, seed=70),
        {
            "images": "5c79552d8394a786e4f570e7179a98d396d53e2fa624e4ba6c6b344aa056fc0b",
            "object_labels": "b1f6e3ff9b21f7c4e0efb3c59678e9162dff988f765ed309fd879828e68eedc8",
            "object_masks": "4f18181c2a59198ece9c29588e81dd8efb67595a0d6d952dd682f39aea6812dc",
            "object_boxes": "d9405b25dcba4153f387bbba0493831411f757e635bff8e3514a2d102c197568",
            "cue_masks": "7ce57f7950e12e445220cef973acb31d006c0e19588e80b1cfb0ce4c3ad8700a",
            "cue_labels": "0c9ab45704ecdd7be545aaa17c09e6ee40802b37b87cec88f0c72e689b3a1169",
            "distractor_masks": "7ce57f7950e12e445220cef973acb31d006c0e19588e80b1cfb0ce4c3ad8700a",
        },
    ),
    "metrics_clean_test": (
        dict(n=1000, seed=2),
        {
            "images": "f2986240bd74dcc1468de8ad6ac4018fb6a05e96f0793b248488ee44a1d14643",
            "object_labels": "508adee9f17a861ab5ca54f819b3eb374394f10205e2ecaa84dc38154c0a91ea",
            "object_masks": "d3ada56d3ebe98a50677b710ba32b14df2972d805aeaf7fe05a647c9034477a5",
            "object_boxes": "733c16f89febc4e7c67104090a8c6732219b1c70181a68b65f093603e6724b32",
            "cue_masks": "422388288998b7e092379ac4e72467212685b50dfce19e4696ce849d442d7ae6",
            "cue_labels": "e3d84fdcdc9ea8a78ad6dd61a34079329a4e93ca64299bfcc9e30d7812f5b184",
            "distractor_masks": "422388288998b7e092379ac4e72467212685b50dfce19e4696ce849d442d7ae6",
        },
    ),
    "metrics_biased_test_correlated": (
        dict(n=1000, seed=4, cue="correlated", cue_kind="color"),
        {
            "images": "82d529acf08858e69561373778e690ae1dc93f478bd50b1292b0d30a6d1bf59e",
            "object_labels": "55865c2aa4e52e36980e3a99651ffe4d5e9d89de9adccae8f8bdc7c86bf9413b",
            "object_masks": "a3890fb6fca37d954573918e36225ecd7b10c78abf4a1169f92a80de5d446f8a",
            "object_boxes": "41a9cae7f4c50cda76548952fb67ed31eee647693f9c7ecbeefcd458723ac059",
            "cue_masks": "7d19bdbf7575576ccc576fd3ec69a23e810eb0039a2d87c44468ed2976ed76a2",
            "cue_labels": "9a1fa130de4695d276b716ad8025babd9b40ae351fa740e560105ae9b5d7f9a0",
            "distractor_masks": "422388288998b7e092379ac4e72467212685b50dfce19e4696ce849d442d7ae6",
        },
    ),
}


def _digest(array):
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("case", list(GOLDEN))
def test_output_is_byte_identical_to_the_data_the_shipped_models_were_trained_on(case):
    kwargs, expected = GOLDEN[case]
    kwargs = dict(kwargs)
    batch = make_shapes(kwargs.pop("n"), **kwargs)
    changed = [field for field in GOLDEN_FIELDS if _digest(getattr(batch, field)) != expected[field]]
    assert not changed, (
        f"make_shapes {case} ({GOLDEN[case][0]}) no longer gives the recorded {changed}: the random draws or the "
        "drawing changed, so every seed now gives other pictures than the shipped models were trained and measured "
        "on (gradcam_utils/data/models/metrics.json)"
    )
    # the labelled object's fields are object 0's, so the digests above cover them too
    np.testing.assert_array_equal(batch.labels, batch.object_labels[:, 0])
    np.testing.assert_array_equal(batch.masks, batch.object_masks[:, 0])
    np.testing.assert_array_equal(batch.boxes, batch.object_boxes[:, 0])
