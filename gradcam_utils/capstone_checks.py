"""Checks for notebook 09, the capstone: each takes the learner's own model and computes the expected answer from it.

Imported by ``gradcam_utils.exercises`` too, so a notebook imports every check from one place. The messages follow
``gc.set_language`` (their texts: ``messages_checks``).
"""

from __future__ import annotations

import numpy as np

from .feedback import Feedback, _no_answer
from .i18n import text as tr

# These checks take the learner's own model: they compute every expected answer from it, so they stay right
# whatever classes, image size or cue the learner chose.

#: 09: the sanity check's verdict. Grad-CAM "passes" on a model when, after each of the first SANITY_STEPS
#: randomisation steps (top layers first), its maps' mean rank correlation with the trained model's stays below this.
SANITY_THRESHOLD = 0.5
SANITY_STEPS = 2
SANITY_IMAGES = 16


def _spatial(model, name: str) -> bool:
    try:
        return len(model.get_layer(name).output.shape) == 4
    except (ValueError, AttributeError):
        return False


def check_capstone_layer(model, answer) -> Feedback:
    """09, exercise 1: the name of the layer Grad-CAM should explain in the learner's own model."""
    if (empty := _no_answer(answer)) is not None:
        return empty
    from .layers import default_layer_name

    expected = default_layer_name(model)
    names = [layer.name for layer in model.layers]
    if answer == expected:
        return Feedback(True, tr("cap.layer.right", expected=expected))
    if not isinstance(answer, str) or answer not in names:
        return Feedback(False, tr("cap.layer.unknown", answer=answer, model=model.name, names=names))
    if not _spatial(model, answer):
        return Feedback(False, tr("cap.layer.flat", answer=answer, shape=tuple(model.get_layer(answer).output.shape)))
    if names.index(answer) > names.index(expected):
        return Feedback(False, tr("cap.layer.after", answer=answer))
    if model.get_layer(expected).input is model.get_layer(answer).output:
        return Feedback(False, tr("cap.layer.before_relu", answer=answer))
    return Feedback(False, tr("cap.layer.earlier", answer=answer))


def check_energy_function(energy_fn) -> Feedback:
    """09, exercise 2: a function (heatmap (h, w), mask (H, W)) -> the share of the map's energy on the mask.

    Reference: ``metrics.energy_pointing_game`` (bilinear upsampling to the mask's size, then inside / total).
    """
    if (empty := _no_answer(energy_fn)) is not None:
        return empty
    if not callable(energy_fn):
        return Feedback(False, tr("cap.energy.not_function", kind=type(energy_fn).__name__))
    from .metrics import energy_pointing_game
    from .resize import upsample_heatmap

    rng = np.random.default_rng(8)
    cases = []
    for _ in range(3):
        heatmap = rng.uniform(size=(12, 12)) ** 3  # peaked, like a real map
        mask = np.zeros((48, 48), bool)
        y, x = rng.integers(0, 30, size=2)
        mask[y : y + 15, x : x + 12] = True
        cases.append((heatmap, mask))
    cases.append((np.zeros((12, 12)), cases[0][1]))  # no evidence anywhere
    got = []
    for heatmap, mask in cases:
        try:
            value = energy_fn(heatmap.copy(), mask.copy())
            got.append(float(value))
        except Exception as err:  # a learner's function may fail in any way; say how
            return Feedback(False, tr("check.raised", error=type(err).__name__, message=err))
    expected = [float(energy_pointing_game(h, m)) for h, m in cases]
    if np.allclose(got, expected, atol=1e-6):
        return Feedback(True, tr("cap.energy.right"))
    if np.allclose(got[:3], expected[:3], atol=1e-6):
        return Feedback(False, tr("cap.energy.zeros", got=got[3]))
    nearest = [float((np.kron(h, np.ones((4, 4))) * m).sum() / np.kron(h, np.ones((4, 4))).sum()) for h, m in cases[:3]]
    if np.allclose(got[:3], nearest, atol=1e-6):
        return Feedback(False, tr("cap.energy.nearest"))
    mean_on = [float(upsample_heatmap(h, m.shape)[m].mean()) for h, m in cases[:3]]
    if np.allclose(got[:3], mean_on, atol=1e-6):
        return Feedback(False, tr("cap.energy.mean"))
    return Feedback(False, tr("cap.energy.hint"))


def sanity_verdict(model, images, layer_name: str) -> tuple[bool, np.ndarray]:
    """09: (passes, mean rank correlation per step) of Grad-CAM under the cascading randomisation test.

    Run on the first SANITY_IMAGES images, top SANITY_STEPS layers, seed 0 (see SANITY_THRESHOLD).
    """
    from .sanity import cascading_randomization

    result = cascading_randomization(
        model, np.asarray(images)[:SANITY_IMAGES], layer_name, max_steps=SANITY_STEPS, seed=0, guided_maps=False
    )
    means = np.array([row["gradcam"] for row in result.rows()])
    return bool(np.all(means < SANITY_THRESHOLD)), means


def check_sanity_prediction(model, images, layer_name: str, answer) -> Feedback:
    """09, exercise 3: does Grad-CAM on the learner's model pass the sanity check (True or False)?"""
    if (empty := _no_answer(answer)) is not None:
        return empty
    if not isinstance(answer, (bool, np.bool_)):
        return Feedback(False, tr("cap.sanity.format", answer=answer))
    passes, means = sanity_verdict(model, images, layer_name)
    numbers = ", ".join(f"{m:.2f}" for m in means)
    if bool(answer) == passes:
        key = "cap.sanity.right_pass" if passes else "cap.sanity.right_fail"
        return Feedback(True, tr(key, numbers=numbers, steps=len(means), threshold=SANITY_THRESHOLD))
    return Feedback(False, tr("cap.sanity.wrong", numbers=numbers, threshold=SANITY_THRESHOLD))


def _gradcam_by_tape(model, layer_name: str, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Grad-CAM written out with a GradientTape, independently of the engine: the check's second route."""
    import keras
    import tensorflow as tf

    grad_model = keras.Model(model.inputs, [model.get_layer(layer_name).output, model.outputs[0]])
    with tf.GradientTape() as tape:
        activations, scores = grad_model(tf.convert_to_tensor(images, tf.float32), training=False)
        chosen = tf.gather(scores, classes, axis=1, batch_dims=1)
    gradients = tape.gradient(chosen, activations).numpy()
    weights = gradients.mean(axis=(1, 2))  # per image and channel
    maps = np.maximum(np.einsum("bhwk,bk->bhw", activations.numpy(), weights), 0)
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peaks, out=np.zeros_like(maps), where=peaks > 0)


CAPSTONE_REPORT_KEYS = ("layer", "accuracy", "energy_on_object", "energy_random", "passes_sanity")


def check_capstone(model, images, labels, masks, heatmaps, report) -> Feedback:
    """09, exercise 4: the learner's Grad-CAM maps of the true classes and their report, checked against the model.

    ``report`` is a dict with the keys of ``CAPSTONE_REPORT_KEYS``; every number in it is recomputed here.
    """
    if (empty := _no_answer(report)) is not None:
        return empty
    if not isinstance(report, dict) or set(report) != set(CAPSTONE_REPORT_KEYS):
        return Feedback(False, tr("cap.report.keys", keys=list(CAPSTONE_REPORT_KEYS)))
    from .engine import class_logits
    from .metrics import energy_pointing_game

    layer = report["layer"]
    if not isinstance(layer, str) or not _spatial(model, layer):
        return Feedback(False, tr("cap.report.layer", layer=layer))
    x, labels = np.asarray(images, dtype=np.float32), np.asarray(labels)
    maps = np.asarray(heatmaps, dtype=np.float64)
    expected = _gradcam_by_tape(model, layer, x, labels)
    if maps.shape != expected.shape:
        return Feedback(False, tr("cap.report.shape", layer=layer, expected=expected.shape, got=maps.shape))
    if not np.allclose(maps, expected, atol=1e-3):
        logits = class_logits(model, x)
        if np.allclose(maps, _gradcam_by_tape(model, layer, x, logits.argmax(axis=1)), atol=1e-3):
            return Feedback(False, tr("cap.report.predicted"))
        return Feedback(False, tr("cap.report.not_gradcam", layer=layer))
    accuracy = float((class_logits(model, x).argmax(axis=1) == labels).mean())
    energy = float(energy_pointing_game(expected, np.asarray(masks)).mean())
    area = float(np.asarray(masks).mean())  # a map with no information: its expected share is the object's area
    passes, means = sanity_verdict(model, x, layer)
    problems = []
    for key, value, tolerance, hint in [
        ("accuracy", accuracy, 0.005, tr("cap.report.accuracy_hint")),
        ("energy_on_object", energy, 0.01, tr("cap.report.energy_hint")),
        ("energy_random", area, 0.01, tr("cap.report.random_hint")),
    ]:
        try:
            off = abs(float(report[key]) - value) > tolerance
        except (TypeError, ValueError):
            off = True
        if off:
            problems.append(tr("cap.report.off", key=key, value=value, given=report[key], hint=hint))
    if not isinstance(report["passes_sanity"], (bool, np.bool_)) or bool(report["passes_sanity"]) != passes:
        problems.append(tr("cap.report.sanity_off", passes=passes, means=np.round(means, 2).tolist()))
    if problems:
        return Feedback(False, tr("cap.report.problems", problems=tr("cap.report.separator").join(problems)))
    verdict = tr("cap.report.passed" if passes else "cap.report.failed")
    return Feedback(
        True, tr("cap.report.right", layer=layer, accuracy=accuracy, energy=energy, area=area, verdict=verdict)
    )
