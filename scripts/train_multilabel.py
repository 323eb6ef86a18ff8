"""Train and measure ``shapes_multilabel``, the course's multi-label model (a task module of train_teaching_models.py).

    .venv/bin/python scripts/train_teaching_models.py --only shapes_multilabel   # trains it, then measures every model

``train(out)`` trains :func:`gradcam_utils.teaching_tasks.build_shapes_multilabel` on its own pictures of 1 to 3 shapes
(``SEEDS``: seeds no other model uses), starting from ``shapes_gap``'s conv body (``out / shapes_gap.keras``, which
the main script trains first), with one sigmoid per label (binary cross-entropy from logits), and saves ``out / FILE``;
``measure(out)`` loads that file the way a learner does (``gc.load_model``) and measures, on held-out pictures, each
label's accuracy and F1 (a label is predicted when its logit is above 0) and the exact-match ratio, then
for each label present in a picture the Grad-CAM map of ``MultiLabel(k)`` at ``MULTILABEL_LAYER``: does it point at
that label's shape, or at another shape of the picture? Both are deterministic (fixed seeds, op determinism).
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np

from gradcam_utils.engine import explain
from gradcam_utils.errors import EmptyHeatmapWarning
from gradcam_utils.targets import MultiLabel
from gradcam_utils.teaching_tasks import MULTILABEL_LAYER, ShapeScenes, build_shapes_multilabel, make_scenes
from gradcam_utils.zoo import load_model

FILE = "shapes_multilabel.keras"
# Seeds in the 40s: no other teaching model trains on, or is tested on, these pictures or starts from these weights.
SEEDS = {"train": 40, "test": 41, "weights": 42}
TEST_IMAGES = 600
TRAINING: dict[str, Any] = {  # mixed values (counts, rates, notes): typed loosely
    "train_images": 4000,
    "epochs": 4,
    "batch_size": 64,
    "learning_rate": 5e-4,
    "schedule": "cosine decay to 0 over all steps (Adam)",
    "initial_weights": "conv body: shapes_gap's; logits: random (seed SEEDS['weights']), then trained alone first",
    # stage 1: the head alone on the frozen body's pooled features (seconds: no conv runs)
    "head": {"epochs": 100, "batch_size": 256, "learning_rate": 1e-2},
}


def _segmenter_script():
    """train_segmenter.py, for the training loop and the map measures both task models share (imported by path)."""
    name = "train_segmenter"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def train(out: Path, training: dict[str, Any] = TRAINING) -> None:
    """Train the multi-label model from its own seeds and save ``out / FILE`` (uncompiled, built-in layers only).

    Two stages, both from ``shapes_gap``'s conv body (``out / shapes_gap.keras``, trained first): the
    ``logits`` head alone on the body's pooled features (computed once), then every layer together. From scratch,
    ten epochs of 6000 pictures left the loss at 0.6 (of 0.67 at the start), and a fresh head on the pretrained body
    pulled the body's weights around before it had learnt anything; a linear head on the frozen features alone
    already reaches 0.89 per-label accuracy, which the second stage then improves.

    Raises:
        FileNotFoundError: ``out / shapes_gap.keras`` is missing (train shapes_gap first, or copy the shipped file).
    """
    segmenter = _segmenter_script()
    main = segmenter._main_script()
    gap = segmenter.load_body(Path(out), FILE)
    data = make_scenes(training["train_images"], seed=SEEDS["train"])
    main._configure_determinism(SEEDS["weights"])
    model = build_shapes_multilabel()
    segmenter.copy_body(gap, model)
    labels = data.labels.astype(np.float32)
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    pooled = keras.Model(model.input, model.get_layer("gap").output).predict(
        data.images.astype(np.float32), batch_size=256, verbose=0
    )
    head = keras.Sequential([keras.Input(pooled.shape[1:]), model.get_layer("logits")])  # shares the layer
    segmenter.fit(head, pooled, labels, loss, training["head"])
    segmenter.fit(model, data.images, labels, loss, training)
    main._save(model, build_shapes_multilabel, Path(out) / FILE)


def label_maps(model: keras.Model, scenes: ShapeScenes) -> dict:
    """Grad-CAM of MultiLabel(k) for each present label k of each picture, against the true masks."""
    maps, empties, own, others = [], [], [], []
    for k in range(scenes.labels.shape[1]):
        rows = np.flatnonzero(scenes.labels[:, k])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyHeatmapWarning)  # counted in empty_maps
            result = explain(
                model, scenes.images[rows].astype(np.float32), layer_name=MULTILABEL_LAYER, target=MultiLabel(k)
            )
        maps.append(result.heatmaps)
        empties.append(result.empty)
        own.append(scenes.label_masks[rows, k])
        others.append(scenes.label_masks[rows].any(axis=1) & ~scenes.label_masks[rows, k])
    measured = _segmenter_script().where_region_maps_point(*(np.concatenate(v) for v in (maps, empties, own, others)))
    return {"maps": int(sum(len(m) for m in maps)), **measured}


def measure(out: Path) -> dict:
    """Metrics of ``out / FILE`` as a learner loads it, on ``TEST_IMAGES`` held-out pictures (seed SEEDS['test'])."""
    bundle = load_model("shapes_multilabel", path=Path(out) / FILE)
    scenes = make_scenes(TEST_IMAGES, seed=SEEDS["test"])
    predicted = bundle.model.predict(scenes.images.astype(np.float32), batch_size=256, verbose=0) > 0
    truth = scenes.labels
    true_positive = (predicted & truth).sum(axis=0)
    f1 = 2 * true_positive / np.maximum(predicted.sum(axis=0) + truth.sum(axis=0), 1)
    return {
        "file": FILE,
        "task": bundle.task,
        "layer": MULTILABEL_LAYER,
        "labels": list(scenes.class_names),
        "test_images": TEST_IMAGES,
        "label_accuracy": dict(
            zip(scenes.class_names, np.round((predicted == truth).mean(0), 4).tolist(), strict=True)
        ),
        "label_f1": dict(zip(scenes.class_names, np.round(f1, 4).tolist(), strict=True)),
        "mean_label_accuracy": round(float((predicted == truth).mean()), 4),
        "mean_f1": round(float(f1.mean()), 4),
        "exact_match_ratio": round(float((predicted == truth).all(axis=1).mean()), 4),
        "gradcam_label_targets": label_maps(bundle.model, scenes),
        "setup": {
            "seeds": SEEDS,
            **TRAINING,
            "data": "make_scenes: 1, 2 or 3 shapes of distinct classes (a third each), sizes 12..18 px",
            "gradcam": "for each label k present in a test picture: explain(model, picture, MULTILABEL_LAYER, "
            "target=MultiLabel(k)) (the pre-sigmoid logit); maps 16x16, upsampled to 64x64 for the metrics; 'own' = "
            "the true mask of label k's shape, 'other' = the union of the picture's other shapes (pictures with 2 or "
            "3 shapes only)",
        },
    }
