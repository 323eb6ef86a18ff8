"""Train and measure ``shapes_vit``, the course's small Vision Transformer (a task module of train_teaching_models.py).

    .venv/bin/python scripts/train_teaching_models.py --only shapes_vit   # trains it, then measures every model

``train(out)`` builds :func:`gradcam_utils.teaching_vit.build_shapes_vit`, copies ``out / shapes_gap.keras``'s
``conv1``-``conv3`` into its stem (frozen), trains the rest on its own pictures (``SEEDS``: seeds no other model trains
on) and saves ``out / FILE``; ``measure(out)`` loads that file the way a learner does and measures,
on the CNN's 1000 test pictures (``make_shapes(1000, seed=2)``), the held-out accuracy and where Grad-CAM of the true
class points at ``EXPLAINED_LAYER`` (the input of the last attention), next to ``shapes_gap`` at ``conv5_act`` on the
same pictures, with bootstrap 95% intervals; and at the layer right after the last attention, where a class-token head
reads no patch token, so every map is empty. Both are deterministic (fixed seeds, op determinism).
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from gradcam_utils.engine import explain
from gradcam_utils.errors import EmptyHeatmapWarning
from gradcam_utils.metrics import bootstrap_ci, energy_pointing_game, pointing_game
from gradcam_utils.synthetic import make_shapes
from gradcam_utils.teaching_models import FEATURE_STRIDE, LAST_CONV_LAYER
from gradcam_utils.teaching_vit import AFTER_LAST_ATTENTION_LAYER, EXPLAINED_LAYER, STEM, build_shapes_vit
from gradcam_utils.zoo import load_keras_file

FILE = "shapes_vit.keras"
# Seeds in the 20s: no other teaching model trains on these pictures or starts from these weights.
SEEDS = {"train": 20, "weights": 21}
# The CNN's test pictures (train_teaching_models.SEEDS["clean_test"]), so the two models are compared on the same ones.
TEST_SEED = 2
TEST_IMAGES = 1000
TRAINING: dict[str, Any] = {  # mixed values (counts, rates, a note): typed loosely
    "train_images": 8000,
    "epochs": 8,
    "batch_size": 32,
    "learning_rate": 2e-3,
    "weight_decay": 0.05,
    "warmup_epochs": 1,
    "global_clipnorm": 1.0,
    "schedule": "linear warm-up for warmup_epochs, then cosine decay to 0 (AdamW); the stem frozen",
}


def _main_script():
    """train_teaching_models.py, for its measuring functions (imported by path: scripts/ is no package)."""
    name = "train_teaching_models"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _stem_from_the_cnn(vit: keras.Model, cnn: keras.Model) -> None:
    """Copy shapes_gap's first conv layers into the ViT's stem (conv1 -> stem1, ...) and freeze them."""
    for i in range(1, len(STEM) + 1):
        layer = vit.get_layer(f"stem{i}")
        layer.set_weights(cnn.get_layer(f"conv{i}").get_weights())
        layer.trainable = False


def train(out: Path) -> None:
    """Train shapes_vit from SEEDS and TRAINING on shapes_gap's frozen stem and save a fresh copy to ``out / FILE``.

    The stem's features are computed once and the layers after it are trained on them (a frozen stem gives the
    same features every epoch), as the main script does for shapes_flat's head.
    """
    cnn_path = out / "shapes_gap.keras"
    if not cnn_path.is_file():
        raise FileNotFoundError(
            f"shapes_vit's stem is shapes_gap's first {len(STEM)} conv layers, and {cnn_path} is missing: train "
            "shapes_gap first (or copy gradcam_utils/data/models/shapes_gap.keras there)"
        )
    data = make_shapes(TRAINING["train_images"], seed=SEEDS["train"])
    keras.utils.set_random_seed(SEEDS["weights"])  # weights and shuffling
    tf.config.experimental.enable_op_determinism()
    vit = build_shapes_vit()
    _stem_from_the_cnn(vit, load_keras_file(cnn_path))
    stem_output = vit.get_layer(f"stem{len(STEM)}_pool").output
    features = keras.Model(vit.input, stem_output).predict(data.images.astype(np.float32), batch_size=256, verbose=0)
    tail = keras.Model(stem_output, vit.output)  # the same layers as vit's: training it trains them
    steps_per_epoch = -(-len(features) // TRAINING["batch_size"])
    warmup = TRAINING["warmup_epochs"] * steps_per_epoch
    peak = TRAINING["learning_rate"]
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else peak,  # from 0 up to the peak during warm-up, then down to 0
        decay_steps=max(TRAINING["epochs"] * steps_per_epoch - warmup, 1),
        warmup_target=peak if warmup else None,
        warmup_steps=warmup,
    )
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=TRAINING["weight_decay"], global_clipnorm=TRAINING["global_clipnorm"]
    )
    tail.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    tail.fit(
        features,
        data.labels,
        batch_size=TRAINING["batch_size"],
        epochs=TRAINING["epochs"],
        shuffle=True,
        verbose=2,
    )
    # A fresh copy: no optimizer state in the file, and the same layers a learner's build_shapes_vit() gives.
    fresh = build_shapes_vit()
    fresh.set_weights(vit.get_weights())
    fresh.save(out / FILE)


def _gradcam(model: keras.Model, batch, layer: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyHeatmapWarning)  # counted as empty_maps
        result = explain(model, batch.images, layer_name=layer, class_index=batch.labels)
    return result.heatmaps, result.empty


def _where(model: keras.Model, batch, layer: str) -> dict:
    """The main script's localisation metrics of the true class's maps at ``layer``, plus bootstrap 95% CIs."""
    script = _main_script()
    heatmaps, empty = _gradcam(model, batch, layer)
    result = {"layer": layer, "map_size": list(heatmaps.shape[1:]), **script._where_maps_point(heatmaps, empty, batch)}
    per_image = {
        "pointing_game_accuracy": pointing_game(heatmaps, batch.masks),
        f"pointing_game_accuracy_tolerance_{FEATURE_STRIDE}px": pointing_game(
            heatmaps, batch.masks, tolerance=FEATURE_STRIDE
        ),
        "energy_on_object": energy_pointing_game(heatmaps, batch.masks),
    }
    result["bootstrap_95ci"] = {
        key: [round(v, 4) for v in bootstrap_ci(values)[1:]] for key, values in per_image.items()
    }
    return result


def measure(out: Path) -> dict:
    """Metrics of ``out / FILE`` (and of ``out / shapes_gap.keras`` on the same pictures), rounded to 4 decimals."""
    vit = load_keras_file(out / FILE)  # as gc.load_model loads it: archive checked, safe mode
    cnn = load_keras_file(out / "shapes_gap.keras")
    test = make_shapes(TEST_IMAGES, seed=TEST_SEED)
    logits = vit.predict(test.images.astype(np.float32), batch_size=256, verbose=0)
    after, after_empty = _gradcam(vit, test, AFTER_LAST_ATTENTION_LAYER)
    return {
        "file": FILE,
        "architecture": "stem = shapes_gap's conv1-conv3 (frozen), each + 2x2 max-pool -> 1x1 patch embedding "
        "(8 px per token, 8x8 grid) -> class token + position embedding -> 4 pre-norm blocks (width 64, 4 heads, "
        "MLP 128) -> final LayerNorm -> class token -> Dense",
        "held_out_accuracy": round(float(np.mean(logits.argmax(axis=1) == test.labels)), 4),
        "gradcam_on_clean_test": _where(vit, test, EXPLAINED_LAYER),
        "versus_cnn": {"file": "shapes_gap.keras", **_where(cnn, test, LAST_CONV_LAYER)},
        # the class-token fact, measured: after the last attention no patch token reaches the head
        "after_last_attention": {
            "layer": AFTER_LAST_ATTENTION_LAYER,
            "empty_maps": round(float(np.mean(after_empty)), 4),
            "max_abs_map_value": round(float(np.abs(after).max()), 4),
        },
        "setup": {
            "seeds": SEEDS,
            "test_images": f"make_shapes({TEST_IMAGES}, seed={TEST_SEED}): the CNN's test pictures",
            **TRAINING,
            "gradcam": "explain(model, images, layer_name=layer, class_index=true labels): maps on the layer's grid "
            "(8x8 patch grid for the ViT, 16x16 conv5_act for the CNN), upsampled bilinearly to 64x64 for the metrics; "
            "bootstrap_95ci: gradcam_utils.metrics.bootstrap_ci over the per-image values (1000 resamples, seed 0)",
        },
    }
