"""Checks for the notebooks' exercises: each tells a learner whether an answer is right, and if not, a hint.

Every check computes its expected answer itself, from the library or from first principles, so it cannot go stale
when a model or an image changes. A check returns ``Feedback``, which is truthy when the answer is right and shows
as one line in a notebook. ``None`` (the placeholder in the notebooks) gets "no answer yet". Worked solutions are
in ``notebooks/solutions/``. The messages follow ``gc.set_language`` (their texts: ``messages_checks``).
"""

from __future__ import annotations

from typing import cast

import numpy as np

from .course import sample_image_path
from .feedback import Feedback, _close, _model, _no_answer  # noqa: F401 (Feedback: part of this module's API)
from .i18n import text as tr

# ----- 01 · why interpretability ---------------------------------------------------------------------------------

GRADCAM_FACTS = {
    "needs the model to be retrained": False,
    "gives a different map for each class": True,
    "has the resolution of the input image": False,
    "proves that the prediction is right": False,
    "works on any model with a convolution layer": True,
}


def check_gradcam_facts(answers: dict | None) -> Feedback:
    """01, exercise 1: mark each statement of ``GRADCAM_FACTS`` True or False.

    The notebook hands in a dict whose values are all ``None`` until the learner fills them in: that is "no answer
    yet", and a dict with some ``None`` left says how many are still open.
    """
    if isinstance(answers, dict) and answers and all(value is None for value in answers.values()):
        answers = None
    if (empty := _no_answer(answers)) is not None:
        return empty
    if not isinstance(answers, dict) or set(answers) != set(GRADCAM_FACTS):
        return Feedback(False, tr("ex.facts.keys"))
    if open_ := [s for s, value in answers.items() if value is None]:
        return Feedback(False, tr("ex.facts.open", open=len(open_), total=len(GRADCAM_FACTS), example=open_[0]))
    wrong = [s for s, truth in GRADCAM_FACTS.items() if bool(answers[s]) != truth]
    if not wrong:
        return Feedback(True, tr("ex.facts.right"))
    return Feedback(False, tr("ex.facts.wrong", wrong=len(wrong), total=len(GRADCAM_FACTS), example=wrong[0]))


def check_white_marker_star_share(answer) -> Feedback:
    """01, exercise 2: the share of 200 pictures with a white marker (seed 11) that the biased model calls "star"."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    from .synthetic import make_shapes

    biased = _model("shapes_biased")
    test = make_shapes(200, seed=11, cue="correlated", cue_kind="position")
    star = biased.class_names.index("star")
    expected = float((biased.predict(test.images).argmax(axis=1) == star).mean())
    return _close(answer, expected, 0.005, tr("ex.marker_share.what"), tr("ex.marker_share.hint"))


# ----- 02 · the gradient math ------------------------------------------------------------------------------------


def check_blue_weights(alpha) -> Feedback:
    """02, exercise 1: the Grad-CAM weights alpha^blue at conv2_act of the colour detector, worked out on paper."""
    if (empty := _no_answer(alpha)) is not None:
        return empty
    from .toy import build_colour_detector

    kernel = build_colour_detector().get_layer("predictions").kernel.numpy()
    expected = kernel[:, 1] / 64  # the GAP head: d y / d A_ij = w / Z with Z = 8 x 8 positions
    value = np.asarray(alpha, dtype=float)
    if value.shape != expected.shape:
        return Feedback(False, tr("ex.blue.shape", expected=expected.shape, got=value.shape))
    if np.allclose(value, expected, atol=1e-4):
        return Feedback(True, tr("ex.blue.right", values=[round(float(v), 4) for v in expected]))
    return Feedback(False, tr("ex.blue.hint"))


def check_gradcam_function(gradcam_fn) -> Feedback:
    """02, exercise 2: write Grad-CAM from activations and gradients of shape (B, h, w, K) -> maps (B, h, w)."""
    if (empty := _no_answer(gradcam_fn)) is not None:
        return empty
    rng = np.random.default_rng(0)
    acts = rng.uniform(0, 1, size=(3, 4, 5, 6))
    grads = rng.normal(size=(3, 4, 5, 6))
    expected = np.maximum(np.einsum("bhwk,bk->bhw", acts, grads.mean(axis=(1, 2))), 0)
    try:
        got = gradcam_fn(acts.copy(), grads.copy())
        if got is None:  # the notebook's placeholder body (``return None``): not attempted yet
            return cast(Feedback, _no_answer(None))  # never None for a None answer
        got = np.asarray(got, dtype=float)
    except Exception as err:  # a learner's function may fail in any way; say how
        return Feedback(False, tr("check.raised", error=type(err).__name__, message=err))
    if got.shape != expected.shape:
        return Feedback(False, tr("ex.gradcam_fn.shape", expected=expected.shape, got=got.shape))
    if np.allclose(got, expected, atol=1e-6):
        return Feedback(True, tr("ex.gradcam_fn.right"))
    mixed = np.maximum(np.einsum("bhwk,k->bhw", acts, grads.mean(axis=(0, 1, 2))), 0)
    if np.allclose(got, mixed, atol=1e-6):
        return Feedback(False, tr("ex.gradcam_fn.batch"))
    if np.allclose(np.maximum(got, 0), expected, atol=1e-6):
        return Feedback(False, tr("ex.gradcam_fn.relu"))
    return Feedback(False, tr("ex.gradcam_fn.hint"))


def check_counterfactual_square(answer) -> Feedback:
    """02, exercise 3: on the colour detector, where is the counterfactual map for 'red': "red", "blue" or "empty"?"""
    if (empty := _no_answer(answer)) is not None:
        return empty
    import warnings

    from .engine import compute_heatmaps
    from .toy import build_colour_detector, two_squares_image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        heatmap = compute_heatmaps(build_colour_detector(), two_squares_image(), "conv2_act", 0, "counterfactual")[0]
    # The red square covers cells (1..2, 1..2) of the 8x8 map fully, the blue one cells (5..6, 5..6).
    red, blue = heatmap[1:3, 1:3].sum(), heatmap[5:7, 5:7].sum()
    expected = "empty" if heatmap.max() == 0 else ("blue" if blue > red else "red")
    if str(answer).strip().lower() == expected:
        if expected == "empty":
            return Feedback(True, tr("ex.counterfactual.right_empty"))
        return Feedback(True, tr("ex.counterfactual.right", square=expected))
    return Feedback(False, tr("ex.counterfactual.hint"))


# ----- 03 · the article's recipe on a real network ---------------------------------------------------------------


def check_class_index(name: str, answer) -> Feedback:
    """03, exercise 1: the ImageNet index of a class name (e.g. 'space shuttle')."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    from .imagenet import class_names_cached

    names = class_names_cached()
    if name not in names:
        return Feedback(False, tr("ex.class_index.unknown", name=name))
    expected = names.index(name)
    if answer == expected:
        return Feedback(True, tr("ex.class_index.right", name=name, index=expected))
    return Feedback(False, tr("ex.class_index.hint", name=name))


def check_espresso_probability(model_name: str, answer) -> Feedback:
    """03, exercise 2: the model's softmax probability for 'espresso' on espresso.png."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    from .engine import class_probabilities

    bundle = _model(model_name)
    images = bundle.preprocess(bundle.load_images(sample_image_path("espresso.png")))
    expected = float(class_probabilities(bundle.model, images)[0, bundle.class_names.index("espresso")])
    return _close(answer, expected, 0.01, tr("ex.espresso.what"), tr("ex.espresso.hint"))


def check_left_half_share(model_name: str, class_name: str, answer) -> Feedback:
    """03, exercise 3: the share of a class's upsampled map on the left half of cat_and_espresso.png."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    from .engine import compute_heatmaps
    from .resize import upsample_heatmap

    bundle = _model(model_name)
    image = bundle.preprocess(bundle.load_images(sample_image_path("cat_and_espresso.png")))
    heatmap = compute_heatmaps(bundle.model, image, class_index=bundle.class_names.index(class_name))[0]
    up = upsample_heatmap(heatmap, bundle.input_size)
    expected = float(up[:, : up.shape[1] // 2].sum() / up.sum())
    return _close(answer, expected, 0.01, tr("ex.left_half.what", class_name=class_name), tr("ex.left_half.hint"))


# ----- 04 · heatmaps and overlays --------------------------------------------------------------------------------


def check_bilinear_value(answer) -> Feedback:
    """04, exercise 1: upsample [[0, 1], [1, 0]] to 4x4 bilinearly (half-pixel centres); the value at row 0, col 1."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    # Output pixel j of 4 sits at input coordinate (j + 0.5) / 2 - 0.5: row 0 -> -0.25 (held at the edge: 0),
    # column 1 -> 0.25, a quarter of the way from the 0 to the 1 in the first row.
    return _close(answer, 0.25, 1e-6, tr("ex.bilinear.what"), tr("ex.bilinear.hint"))


def check_blend(answer) -> Feedback:
    """04, exercise 2: a grey pixel 200 under colour value 40 with alpha 0.25: the blended value."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    return _close(answer, 0.75 * 200 + 0.25 * 40, 0.5, tr("ex.blend.what"), tr("ex.blend.hint"))


# ----- 05 · the interactive explorer -----------------------------------------------------------------------------


def check_layer_size(model_name: str, layer_name: str, answer) -> Feedback:
    """05, exercise 1: the (rows, columns) of a layer's feature maps."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    from .layers import find_layer_path

    layer = find_layer_path(_model(model_name).model, layer_name)[-1]
    expected = tuple(int(n) for n in layer.output.shape[1:3])
    try:
        given = tuple(int(n) for n in answer)
    except (TypeError, ValueError):
        return Feedback(False, tr("ex.layer_size.format", answer=answer))
    if given == expected:
        return Feedback(True, tr("ex.layer_size.right", layer=layer_name, rows=expected[0], cols=expected[1]))
    return Feedback(False, tr("ex.layer_size.hint"))


def check_marker_sample_prediction(answer) -> Feedback:
    """05, exercise 2: the biased model's top class on the explorer's "circle, marker of star" picture."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    from .explorer import Explorer

    explorer = Explorer("shapes_biased", "circle, marker of star")
    expected = explorer.predictions[0].name
    if str(answer).strip().lower() != expected:
        return Feedback(False, tr("ex.marker_sample.hint"))
    # Where the map sits is measured, not assumed: its energy share on the marker's pixels against their area.
    share, area = marker_sample_share(explorer.heatmap(), explorer.image)
    key = "ex.marker_sample.right_on" if share > area else "ex.marker_sample.right_off"
    return Feedback(True, tr(key, name=expected, share=share, area=area, ratio=share / area))


def marker_sample_share(heatmap: np.ndarray, image: np.ndarray) -> tuple[float, float]:
    """The share of a map's energy on the marker of 05's "circle, marker of star" picture, and the marker's area.

    The picture is regenerated (the explorer's shapes samples are seeded), so the marker's exact pixels are known.
    """
    from .explorer_catalogue import DEFAULT_CLASSES, marked_shapes
    from .metrics import energy_pointing_game

    batch = marked_shapes()
    (i,) = [i for i in range(len(batch)) if DEFAULT_CLASSES[batch.labels[i]] == "circle"]
    if not np.array_equal(batch.images[i], image):
        raise ValueError('marker_sample_share: the image is not the explorer\'s "circle, marker of star" picture')
    mask = batch.cue_masks[i]
    return float(energy_pointing_game(heatmap, mask)), float(mask.mean())


# ----- 06 · applications -----------------------------------------------------------------------------------------


def check_box_iou(answer) -> Feedback:
    """06, exercise 1: IoU of (0, 0, 10, 10) and (5, 5, 15, 15), boxes (y0, x0, y1, x1) end-exclusive."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    intersection, union = 5 * 5, 10 * 10 + 10 * 10 - 5 * 5  # a 5x5 overlap; the union counts it once
    return _close(answer, intersection / union, 1e-3, tr("ex.iou.what"), tr("ex.iou.hint"))


def check_misleading_marker_energy(answer) -> Feedback:
    """06, exercise 2: the biased model's Grad-CAM energy share on a marker that names another class.

    The mean share, over 100 images (seed 12), of the map of the TRUE class.
    """
    if (empty := _no_answer(answer)) is not None:
        return empty
    import warnings

    from .engine import compute_heatmaps
    from .errors import EmptyHeatmapWarning
    from .metrics import energy_pointing_game
    from .synthetic import make_shapes

    biased = _model("shapes_biased")
    batch = make_shapes(100, seed=12, cue="contradicting", cue_kind="color")
    with warnings.catch_warnings(action="ignore", category=EmptyHeatmapWarning):  # an empty map scores 0
        maps = compute_heatmaps(biased.model, biased.preprocess(batch.images), class_index=batch.labels)
    expected = float(energy_pointing_game(maps, batch.cue_masks).mean())
    area = float(batch.cue_masks.mean())
    what = tr("ex.marker_energy.what", ratio=expected / area)
    return _close(answer, expected, 0.005, what, tr("ex.marker_energy.hint"))


# ----- 07 · evaluation and limits --------------------------------------------------------------------------------


def check_scorecam_passes(answer) -> Feedback:
    """07, exercise 1: Score-CAM's forward passes per image at conv5_act of shapes_gap (an upper bound)."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    from .methods import passes_per_image

    channels = int(_model("shapes_gap").model.get_layer("conv5_act").output.shape[-1])
    expected = passes_per_image("scorecam", channels)[0]
    if answer == expected:
        return Feedback(True, tr("ex.scorecam.right", channels=channels, expected=expected))
    return Feedback(False, tr("ex.scorecam.hint"))


def check_lower_deletion(answer) -> Feedback:
    """07, exercise 2: which has the lower deletion AUC, Grad-CAM's maps or the true object masks?

    On the first 20 of make_shapes(300, seed=70), explained by shapes_flat (16 steps, the default substrate).
    """
    if (empty := _no_answer(answer)) is not None:
        return empty
    from .engine import compute_heatmaps
    from .faithfulness import deletion_curve
    from .synthetic import make_shapes

    flat = _model("shapes_flat")
    batch = make_shapes(300, seed=70)
    x, labels = flat.preprocess(batch.images[:20]), batch.labels[:20]
    gradcam = deletion_curve(
        flat.model, x, compute_heatmaps(flat.model, x, class_index=labels), labels, steps=16
    ).mean_auc
    mask = deletion_curve(flat.model, x, batch.masks[:20].astype(np.float32), labels, steps=16).mean_auc
    expected = "gradcam" if gradcam < mask else "mask"
    if str(answer).strip().lower() == expected:
        return Feedback(True, tr("ex.deletion.right", gradcam=gradcam, mask=mask))
    return Feedback(False, tr("ex.deletion.hint"))


# ----- 08 · beyond the CNN classifier ----------------------------------------------------------------------------

#: 08, exercise 2: the ViT layers a learner marks as giving empty maps (or not) for a class-token head.
VIT_LAYER_CHOICES = ("block3_add2", "block4_norm1", "block4_attention", "block4_add1", "block4_mlp2", "final_norm")


def _pairs_pointing_rather(a: str, b: str) -> float:
    """The share of notebook 08's 60 circle-and-square pictures whose map of ``a`` rather than ``b`` peaks on ``a``."""
    from .engine import compute_heatmaps
    from .metrics import pointing_game
    from .synthetic import make_shapes
    from .targets import Difference

    gap = _model("shapes_gap")
    pairs = make_shapes(60, seed=81, classes=("circle", "square"), objects_per_image=2)
    first, second = gap.class_names.index(a), gap.class_names.index(b)
    maps = compute_heatmaps(gap.model, gap.preprocess(pairs.images), target=Difference(first, second))
    return float(pointing_game(maps, pairs.object_masks[pairs.object_labels == first]).mean())


def check_circle_rather_than_square(answer) -> Feedback:
    """08, exercise 1: the share of the 60 pictures where the map of circle rather than square peaks on the circle."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    expected = _pairs_pointing_rather("circle", "square")
    return _close(answer, expected, 0.005, tr("ex.rather.what"), tr("ex.rather.hint"))


def check_empty_vit_layers(answer) -> Feedback:
    """08, exercise 2: which of ``VIT_LAYER_CHOICES`` give shapes_vit an empty Grad-CAM map (every picture)?"""
    if (empty := _no_answer(answer)) is not None:
        return empty
    import warnings

    from .engine import explain
    from .errors import EmptyHeatmapWarning
    from .synthetic import make_shapes

    if isinstance(answer, str) or not all(isinstance(name, str) for name in answer):
        return Feedback(False, tr("ex.vit.format", answer=answer))
    if unknown := set(answer) - set(VIT_LAYER_CHOICES):
        return Feedback(False, tr("ex.vit.unknown", unknown=sorted(unknown), choices=list(VIT_LAYER_CHOICES)))
    vit = _model("shapes_vit")
    batch = make_shapes(8, seed=85)
    x = vit.preprocess(batch.images)
    with warnings.catch_warnings(action="ignore", category=EmptyHeatmapWarning):  # empty maps are the answer
        expected = {n for n in VIT_LAYER_CHOICES if explain(vit.model, x, n, class_index=batch.labels).empty.all()}
    if set(answer) == expected:
        return Feedback(True, tr("ex.vit.right", layers=sorted(expected)))
    missed, extra = sorted(expected - set(answer)), sorted(set(answer) - expected)
    return Feedback(False, tr("ex.vit.hint", missed=len(missed), extra=len(extra)))


def check_occlusion_rho_24(answer) -> Feedback:
    """08, exercise 3: Grad-CAM's mean Spearman rho with 24-pixel blurred occlusion (stride 8), shapes_flat.

    On notebook 08's 30 pictures (make_shapes(30, seed=84)), the true classes, over the 64x64 pixels of each.
    """
    if (empty := _no_answer(answer)) is not None:
        return empty
    from scipy.stats import spearmanr

    from .engine import compute_heatmaps
    from .occlusion import occlusion_sensitivity
    from .resize import upsample_heatmap
    from .synthetic import make_shapes

    flat = _model("shapes_flat")
    batch = make_shapes(30, seed=84)
    x = flat.preprocess(batch.images)
    maps = compute_heatmaps(flat.model, x, class_index=batch.labels)
    reference = occlusion_sensitivity(flat.model, x, batch.labels, patch=24, stride=8, substrate="blur").heatmaps
    up = [upsample_heatmap(m, r.shape) for m, r in zip(maps, reference, strict=True)]
    # as the notebook's rank_correlation: an empty map orders no pixel and counts as rho 0
    rho = [
        spearmanr(u.ravel(), r.ravel()).statistic if u.max() > u.min() else 0.0
        for u, r in zip(up, reference, strict=True)
    ]
    return _close(answer, float(np.mean(rho)), 0.005, tr("ex.occlusion.what"), tr("ex.occlusion.hint"))


# ----- 09 · capstone: in capstone_checks, importable from here like every other check -------------------------------
from .capstone_checks import (  # noqa: E402,F401
    CAPSTONE_REPORT_KEYS,
    SANITY_IMAGES,
    SANITY_STEPS,
    SANITY_THRESHOLD,
    check_capstone,
    check_capstone_layer,
    check_energy_function,
    check_sanity_prediction,
    sanity_verdict,
)
