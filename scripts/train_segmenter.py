"""Train and measure ``shapes_segmenter``, the course's segmentation network (a task module of the main script).

    .venv/bin/python scripts/train_teaching_models.py --only shapes_segmenter   # trains it, then measures every model

``train(out)`` trains :func:`gradcam_utils.teaching_tasks.build_shapes_segmenter` on its own pictures of 1 to 3 shapes
(``SEEDS``: seeds no other model uses), its encoder starting from ``shapes_gap``'s conv body, with a per-pixel
softmax cross-entropy, and saves ``out / FILE``;
``measure(out)`` loads that file the way a learner does (``gc.load_model``) and measures, on held-out pictures, the
pixel accuracy and each class's IoU, then for each shape present in a picture the Grad-CAM map at ``SEGMENTER_LAYER``
of ``RegionScore(c, the pixels predicted as c)``: does the map of the circle's pixels point at the circle, and not at
the square beside it? Both are deterministic (fixed seeds, op determinism).
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import keras
import numpy as np

from gradcam_utils.engine import explain
from gradcam_utils.errors import EmptyHeatmapWarning
from gradcam_utils.metrics import energy_pointing_game, pointing_accuracy
from gradcam_utils.targets import RegionScore
from gradcam_utils.teaching_models import FEATURE_STRIDE
from gradcam_utils.teaching_tasks import (
    BACKGROUND,
    SEGMENTER_CLASSES,
    SEGMENTER_LAYER,
    ShapeScenes,
    build_shapes_segmenter,
    make_scenes,
)
from gradcam_utils.zoo import load_model

FILE = "shapes_segmenter.keras"
# Both task models start from the shipped classifier's conv body, which already tells the five shapes apart.
BODY_FILE = "shapes_gap.keras"
# Seeds in the 30s: no other teaching model trains on, or is tested on, these pictures or starts from these weights.
SEEDS = {"train": 30, "test": 31, "weights": 32}
TEST_IMAGES = 600
TRAINING: dict[str, Any] = {  # mixed values (counts, a rate, a note): typed loosely
    "train_images": 3000,
    "epochs": 6,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "schedule": "cosine decay to 0 over all steps (Adam)",
    "initial_weights": "encoder: shapes_gap's conv body; decoder: random (seed SEEDS['weights'])",
}


def _main_script():
    """train_teaching_models.py, for its training and measuring helpers (imported by path: scripts/ is no package)."""
    name = "train_teaching_models"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fit(model: keras.Model, images: np.ndarray, targets: np.ndarray, loss, training: dict[str, Any]) -> None:
    """Adam with a cosine decay over all steps, shuffled batches, as both task models are trained."""
    steps = training["epochs"] * -(-len(images) // training["batch_size"])
    schedule = keras.optimizers.schedules.CosineDecay(training["learning_rate"], decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss=loss)
    model.fit(
        images.astype(np.float32),
        targets,
        batch_size=training["batch_size"],
        epochs=training["epochs"],
        shuffle=True,
        verbose=2,
    )


def load_body(out: Path, file: str) -> keras.Model:
    """``out / BODY_FILE``, the classifier whose conv body a task model starts from; FileNotFoundError if missing."""
    path = out / BODY_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{file} starts from shapes_gap's conv body, and {path} is missing: train shapes_gap first (or copy "
            "gradcam_utils/data/models/shapes_gap.keras there)"
        )
    return keras.saving.load_model(path, safe_mode=True)


def copy_body(source: keras.Model, model: keras.Model) -> None:
    """Set ``model``'s conv body (``conv1`` ... ``conv5``, same names) to ``source``'s weights, layer by layer."""
    for layer in source.layers:
        if layer.weights and layer.name.startswith("conv"):
            model.get_layer(layer.name).set_weights(layer.get_weights())


def train(out: Path, training: dict[str, Any] = TRAINING) -> None:
    """Train the segmenter from its own seeds and save ``out / FILE`` (uncompiled, built-in layers only).

    The encoder starts from ``shapes_gap``'s conv body (``out / BODY_FILE``, which the main script trains first), the
    decoder from random weights (seed ``SEEDS["weights"]``); every layer is trained. From scratch, the same budget
    gave a mean IoU of 0.38 over the shapes: the pixels were found (background IoU 0.99) but their classes confused.

    Raises:
        FileNotFoundError: ``out / BODY_FILE`` is missing (train shapes_gap first, or copy the shipped file).
    """
    main = _main_script()
    gap = load_body(Path(out), FILE)
    data = make_scenes(training["train_images"], seed=SEEDS["train"])
    main._configure_determinism(SEEDS["weights"])
    model = build_shapes_segmenter()
    copy_body(gap, model)
    fit(model, data.images, data.pixel_labels, keras.losses.SparseCategoricalCrossentropy(from_logits=True), training)
    main._save(model, build_shapes_segmenter, Path(out) / FILE)


def where_region_maps_point(heatmaps: np.ndarray, empty: np.ndarray, own: np.ndarray, others: np.ndarray) -> dict:
    """Where maps (B, h, w) point: at their own object's mask ``own`` (B, H, W), or at the other objects' ``others``.

    The own-object numbers are the main script's (pointing game exact and within one feature cell, energy); the
    other-object ones are taken over the pictures that have another object.
    """
    main = _main_script()
    result = main._where_maps_point(heatmaps, empty, SimpleNamespace(masks=own, cue_masks=np.zeros_like(own)))
    crowded = others.any(axis=(1, 2))
    if crowded.any():
        maps, masks = heatmaps[crowded], others[crowded]
        result["maps_with_another_object"] = int(crowded.sum())
        result["points_at_other_object"] = round(pointing_accuracy(maps, masks), 4)
        result[f"points_at_other_object_tolerance_{FEATURE_STRIDE}px"] = round(
            pointing_accuracy(maps, masks, tolerance=FEATURE_STRIDE), 4
        )
        result["energy_on_other_objects"] = round(float(np.mean(energy_pointing_game(maps, masks))), 4)
        result["energy_on_own_object_same_maps"] = round(float(np.mean(energy_pointing_game(maps, own[crowded]))), 4)
    return result


def _iou(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    ious = {}
    for c, name in enumerate(SEGMENTER_CLASSES):
        union = np.sum((predicted == c) | (truth == c))
        ious[name] = round(float(np.sum((predicted == c) & (truth == c)) / union), 4) if union else float("nan")
    return ious


def region_maps(model: keras.Model, scenes: ShapeScenes, predicted: np.ndarray) -> dict:
    """Grad-CAM of RegionScore(c, predicted == c) for each present class c of each picture, against the true masks."""
    maps, empties, own, others = [], [], [], []
    missed = 0
    for c in range(BACKGROUND):
        rows = np.flatnonzero(scenes.labels[:, c])
        regions = predicted[rows] == c
        found = regions.any(axis=(1, 2))
        missed += int((~found).sum())
        rows, regions = rows[found], regions[found]
        if not len(rows):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyHeatmapWarning)  # counted in empty_maps
            result = explain(
                model,
                scenes.images[rows].astype(np.float32),
                layer_name=SEGMENTER_LAYER,
                target=RegionScore(c, regions),
            )
        maps.append(result.heatmaps)
        empties.append(result.empty)
        own.append(scenes.label_masks[rows, c])
        others.append(scenes.label_masks[rows].any(axis=1) & ~scenes.label_masks[rows, c])
    measured = where_region_maps_point(*(np.concatenate(v) for v in (maps, empties, own, others)))
    return {"regions": int(sum(len(m) for m in maps)), "present_shapes_with_no_predicted_pixel": missed, **measured}


def measure(out: Path) -> dict:
    """Metrics of ``out / FILE`` as a learner loads it, on ``TEST_IMAGES`` held-out pictures (seed SEEDS['test'])."""
    bundle = load_model("shapes_segmenter", path=Path(out) / FILE)
    scenes = make_scenes(TEST_IMAGES, seed=SEEDS["test"])
    logits = bundle.model.predict(scenes.images.astype(np.float32), batch_size=64, verbose=0)
    predicted = logits.argmax(axis=-1)
    ious = _iou(predicted, scenes.pixel_labels)
    return {
        "file": FILE,
        "task": bundle.task,
        "layer": SEGMENTER_LAYER,
        "classes": list(SEGMENTER_CLASSES),
        "test_images": TEST_IMAGES,
        "pixel_accuracy": round(float(np.mean(predicted == scenes.pixel_labels)), 4),
        "iou": ious,
        "mean_iou_shapes": round(float(np.mean([ious[name] for name in SEGMENTER_CLASSES[:BACKGROUND]])), 4),
        "mean_iou": round(float(np.mean(list(ious.values()))), 4),
        "gradcam_region_targets": region_maps(bundle.model, scenes, predicted),
        "setup": {
            "seeds": SEEDS,
            **TRAINING,
            "data": "make_scenes: 1, 2 or 3 shapes of distinct classes (a third each), sizes 12..18 px",
            "gradcam": "for each shape class c present in a test picture with at least one pixel predicted c: "
            "explain(model, picture, SEGMENTER_LAYER, target=RegionScore(c, predicted == c)); maps 16x16, "
            "upsampled to 64x64 for the metrics; 'own' = the true mask of the shape of class c, 'other' = the union "
            "of the picture's other shapes (pictures with 2 or 3 shapes only)",
        },
    }
