"""Exercise checks: the worked solutions pass them in their notebook's context, wrong answers fail them, and the
committed notebooks show the unanswered placeholders (they must not give the answers away)."""

import json
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from test_notebooks_meta import build_notebooks

import gradcam_utils as gc
from gradcam_utils import exercises as ex
from gradcam_utils import metrics

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.md"))
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_every_notebook_with_exercises_has_solutions():
    for source in sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py")):
        if "gradcam_utils.exercises import" in source.read_text():
            assert (ROOT / "notebooks" / "solutions" / f"{source.stem}.md").is_file(), source.stem


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_pass_their_checks_in_the_notebook(solution, monkeypatch):
    """Run the notebook's code (as a learner's kernel would have it), then each solution block; every block
    ends in ``assert check_...(answer)``, so a solution the check rejects fails here."""
    import matplotlib.pyplot as plt

    monkeypatch.chdir(ROOT / "notebooks")
    monkeypatch.setattr(plt, "show", lambda *a, **k: plt.close("all"))
    namespace = {}
    for cell in build_notebooks.parse((ROOT / "notebooks" / "src" / f"{solution.stem}.py").read_text()):
        if cell.cell_type == "code":
            exec(compile(cell.source, f"{solution.stem}.py", "exec"), namespace)
    blocks = PYTHON_BLOCK.findall(solution.read_text())
    assert blocks, "a solutions file without code"
    for block in blocks:
        assert "assert check_" in block, "each solution block should end by asserting its check"
        exec(compile(block, solution.name, "exec"), namespace)
    plt.close("all")


@pytest.mark.parametrize(
    "check, wrong",
    [
        (ex.check_gradcam_facts, {s: True for s in ex.GRADCAM_FACTS}),
        (ex.check_gradcam_facts, {"needs the model to be retrained": False}),
        (ex.check_gradcam_facts, {**{s: None for s in ex.GRADCAM_FACTS}, "needs the model to be retrained": False}),
        (ex.check_white_marker_star_share, 0.2),
        (ex.check_blue_weights, [10 / 64, 0.0]),
        (ex.check_blue_weights, [0.0, 10.0]),
        (ex.check_gradcam_function, lambda a, g: np.einsum("bhwk,k->bhw", a, g.mean(axis=(0, 1, 2)))),
        (ex.check_gradcam_function, lambda a, g: (a * g).sum(axis=-1)),
        (ex.check_gradcam_function, lambda a, g: 1 / 0),
        (ex.check_counterfactual_square, "blue"),
        (lambda answer: ex.check_class_index("space shuttle", answer), 813),
        (lambda answer: ex.check_espresso_probability("efficientnet_lite0", answer), 0.5),
        (lambda answer: ex.check_espresso_probability("efficientnet_lite0", answer), "a lot"),
        (lambda answer: ex.check_left_half_share("efficientnet_lite0", "tabby", answer), 0.5),
        (ex.check_bilinear_value, 0.5),
        (lambda answer: ex.check_layer_size("efficientnet_lite0", "block3a_expand_activation", answer), (28, 28)),
        (ex.check_marker_sample_prediction, "circle"),  # 05: the shape's class, not what the biased model says
        (ex.check_box_iou, 0.25),  # 06: the intersection over one box's area, not over the union
        (ex.check_misleading_marker_energy, 0.095),  # the share of the map of the class the marker names
        (ex.check_blend, 120),
        (ex.check_scorecam_passes, 64),  # 07: the channels alone, without the first pass
        (ex.check_lower_deletion, "mask"),  # 07: the check computes Grad-CAM 0.28 vs mask 0.48 (shapes_flat, blur)
        (ex.check_circle_rather_than_square, 0.92),  # 08: the share of the other difference, square rather than circle
        (ex.check_empty_vit_layers, {"block4_add1", "block4_mlp2", "final_norm"}),  # forgets the attention's output
        (ex.check_empty_vit_layers, set(ex.VIT_LAYER_CHOICES)),  # the last attention's input is still read
        (ex.check_empty_vit_layers, "final_norm"),  # a name, not a set of names
        (ex.check_occlusion_rho_24, 0.70),  # 08: the 16-pixel reference's value
    ],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_wrong_answers_are_rejected_with_a_message(check, wrong):
    feedback = check(wrong)
    assert not feedback and repr(feedback).startswith("✗") and len(feedback.message) > 20


def test_a_gradcam_function_that_returns_none_is_not_an_answer_yet():
    # 02's placeholder is a function whose body is ``return None``: the learner has not written it yet.
    feedback = ex.check_gradcam_function(lambda a, g: None)
    assert not feedback and "No answer yet" in feedback.message


def test_gradcam_facts_placeholder_dict_is_no_answer_yet():
    """01's learner cell hands in the dict of Nones as it stands: that is "no answer yet", not a wrong answer."""
    feedback = ex.check_gradcam_facts({s: None for s in ex.GRADCAM_FACTS})
    assert not feedback and "No answer yet" in feedback.message


def test_batch_averaging_mistake_gets_a_specific_hint():
    feedback = ex.check_gradcam_function(
        lambda a, g: np.maximum(np.einsum("bhwk,k->bhw", a, g.mean(axis=(0, 1, 2))), 0)
    )
    assert "axes (1, 2)" in feedback.message


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_committed_notebooks_show_unanswered_exercises(path):
    cells = json.loads(path.read_text())["cells"]
    results = [
        "".join(o.get("data", {}).get("text/plain", ""))
        for c in cells
        if c["cell_type"] == "code"
        for o in c["outputs"]
    ]
    checks = [
        c
        for c in cells
        if c["cell_type"] == "code"
        and "check_" in "".join(c["source"])
        and "import" not in "".join(c["source"]).splitlines()[-1]
    ]
    answered = [r for r in results if r.startswith("✓")]
    assert not answered, "a committed notebook shows a solved exercise"
    assert len([r for r in results if "No answer yet" in r]) == len(checks)


NEW_08_CHECKS = [ex.check_circle_rather_than_square, ex.check_empty_vit_layers, ex.check_occlusion_rho_24]


@pytest.mark.parametrize("check", NEW_08_CHECKS, ids=lambda c: c.__name__)
def test_notebook_08_checks_say_no_answer_yet_to_none(check):
    feedback = check(None)
    assert not feedback and "No answer yet" in feedback.message


def test_circle_rather_than_square_accepts_the_share_from_the_cam_closed_form():
    """Independent route: on shapes_gap's GAP head the map of a difference is ReLU(CAM_a - CAM_b), computed here from
    conv5_act's activations and the Dense weights (no gradient, no target), then scored on the circles' masks."""
    import keras

    from gradcam_utils.synthetic import make_shapes

    gap = ex._model("shapes_gap")
    pairs = make_shapes(60, seed=81, classes=("circle", "square"), objects_per_image=2)
    features = keras.Model(gap.model.inputs, gap.model.get_layer("conv5_act").output)
    activations = np.asarray(features(gap.preprocess(pairs.images)))
    weights = gap.model.layers[-1].get_weights()[0]  # (K, classes), after the global average pooling
    circle, square = gap.class_names.index("circle"), gap.class_names.index("square")
    cam = np.maximum(activations @ (weights[:, circle] - weights[:, square]), 0)  # (60, 16, 16)
    share = metrics.pointing_game(cam, pairs.object_masks[pairs.object_labels == circle]).mean()
    assert ex.check_circle_rather_than_square(float(share))
    assert not ex.check_circle_rather_than_square(float(share) + 0.05)


def test_empty_vit_layers_are_those_after_the_last_attention():
    """Independent route: the architecture. Only attention moves information between tokens and the head reads the
    class token, so the patch tokens of the last attention's output and of everything after it never reach it."""
    assert ex.check_empty_vit_layers({"block4_attention", "block4_add1", "block4_mlp2", "final_norm"})


def test_occlusion_rho_24_accepts_a_hand_written_occlusion_loop():
    """Independent route: every 24-pixel blurred patch built and scored by hand (model(copy) directly), the drops
    averaged over the patches covering each pixel, then scipy's Spearman rho against Grad-CAM."""
    from scipy.stats import spearmanr

    from gradcam_utils.faithfulness import blur
    from gradcam_utils.synthetic import make_shapes

    flat = ex._model("shapes_flat")
    batch = make_shapes(30, seed=84)
    x = flat.preprocess(batch.images)
    blurred, rows = blur(x), np.arange(30)
    base = np.asarray(flat.model(x))[rows, batch.labels]
    total, count = np.zeros((30, 64, 64)), np.zeros((64, 64))
    for i in range(0, 64 - 24 + 1, 8):
        for j in range(0, 64 - 24 + 1, 8):
            copy = x.copy()
            copy[:, i : i + 24, j : j + 24] = blurred[:, i : i + 24, j : j + 24]
            total[:, i : i + 24, j : j + 24] += (base - np.asarray(flat.model(copy))[rows, batch.labels])[:, None, None]
            count[i : i + 24, j : j + 24] += 1
    reference = total / count
    maps = gc.compute_heatmaps(flat.model, x, class_index=batch.labels)
    rho = [
        spearmanr(gc.upsample_heatmap(m, (64, 64)).ravel(), r.ravel()).statistic
        for m, r in zip(maps, reference, strict=True)
    ]
    assert ex.check_occlusion_rho_24(float(np.mean(rho)))
    assert not ex.check_occlusion_rho_24(float(np.mean(rho)) - 0.02)


def test_marker_sample_feedback_says_where_the_map_measurably_is():
    """05, exercise 2's right-answer message says whether the map is on the marker, from a measurement.

    Independent route: the 16x16 map upsampled by repetition (np.kron, not the library's bilinear resize) and the
    marker found by its magenta colour in the picture (not from the generator's mask).
    """
    from gradcam_utils.explorer import Explorer

    explorer = Explorer("shapes_biased", "circle, marker of star")
    heatmap, image = explorer.heatmap(), explorer.image
    up = np.kron(heatmap, np.ones((image.shape[0] // heatmap.shape[0],) * 2))
    rgb = image.astype(int)
    marker = (rgb[..., 0] > 150) & (rgb[..., 1] < 80) & (rgb[..., 2] > 150)
    hand_share, hand_area = float(up[marker].sum() / up.sum()), float(marker.mean())
    share, area = ex.marker_sample_share(heatmap, image)
    assert area == pytest.approx(hand_area) and hand_area > 0
    assert share == pytest.approx(hand_share, abs=0.003)
    message = ex.check_marker_sample_prediction("star").message
    assert ("is not on the marker" in message) == (hand_share <= hand_area), message
    assert f"{hand_area:.1%}" in message
    # The other branch: a map that is all marker is measured as such.
    on_marker = np.zeros((64, 64))
    on_marker[marker] = 1.0
    assert ex.marker_sample_share(on_marker, image)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="circle, marker of star"):
        ex.marker_sample_share(heatmap, np.zeros_like(image))
