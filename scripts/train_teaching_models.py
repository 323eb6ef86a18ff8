"""Train the two teaching models on synthetic shapes and measure where Grad-CAM looks.

    .venv/bin/python scripts/train_teaching_models.py            # a few minutes on 2 CPU cores

Writes ``data/models/shapes_gap.keras`` (trained on clean images), ``data/models/shapes_biased.keras``
(the same architecture trained on images whose colour cue always agrees with the label) and
``data/models/metrics.json``:

* clean model: held-out accuracy, Grad-CAM pointing-game accuracy on the object, and the share of
  Grad-CAM energy on the object and on a cue it never saw;
* biased model: accuracy with the cue correlated / removed / contradicting - the *same* test images,
  differing only in the cue's pixels - and its Grad-CAM energy on the cue and on the object.

Everything is deterministic: fixed data seeds, ``keras.utils.set_random_seed`` and TensorFlow op
determinism, so two runs give the same weights and the same metrics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy import ndimage  # noqa: E402

from gradcam_utils.engine import explain  # noqa: E402
from gradcam_utils.errors import EmptyHeatmapWarning  # noqa: E402
from gradcam_utils.metrics import energy_pointing_game, pointing_accuracy  # noqa: E402
from gradcam_utils.synthetic import make_shapes  # noqa: E402
from gradcam_utils.teaching_models import (  # noqa: E402
    FEATURE_STRIDE,
    LAST_CONV_LAYER,
    build_biased_shapes_cnn,
    build_shapes_cnn,
)

ROOT = Path(__file__).resolve().parents[1]
# Distinct seeds: training and test images must never be the same pictures.
SEEDS = {"clean_train": 1, "clean_test": 2, "biased_train": 3, "biased_test": 4, "weights": 0}
# The biased model's cue: a colour patch (CUE_PALETTE[class]) at a random corner. Colour, not
# position, because a GAP head throws position away: a colour is a shortcut it can actually take.
CUE = dict(cue_kind="color")


def _configure_determinism(seed: int) -> None:
    keras.utils.set_random_seed(seed)  # Python, numpy and TensorFlow seeds: weight init, shuffling
    tf.config.experimental.enable_op_determinism()


def _train(model: keras.Model, images: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int) -> keras.Model:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(images.astype(np.float32), labels, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=2)
    return model


def _accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    logits = model.predict(images.astype(np.float32), batch_size=256, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def _near(masks: np.ndarray) -> np.ndarray:
    """Masks grown by one feature cell: the finest region a 16x16 map can point at."""
    return np.stack([ndimage.distance_transform_edt(~m) <= FEATURE_STRIDE for m in masks])


def _where_it_looks(model: keras.Model, batch) -> dict:
    """Grad-CAM of each image's true class; where is its maximum and its mass?"""
    with warnings.catch_warnings():
        # Counted below instead: a model that ignores the object has no evidence for its class.
        warnings.simplefilter("ignore", EmptyHeatmapWarning)
        result = explain(model, batch.images, layer_name=LAST_CONV_LAYER, class_index=batch.labels)
    heatmaps = result.heatmaps
    result = {
        "empty_maps": float(np.mean(result.empty)),
        "pointing_game_accuracy": pointing_accuracy(heatmaps, batch.masks),
        # One feature cell of tolerance: a 16x16 map cannot place its peak more finely, and it
        # is the pointing game's usual slack (Zhang et al.: 15 px at 224 px = 4.3 px at 64 px).
        f"pointing_game_accuracy_tolerance_{FEATURE_STRIDE}px": pointing_accuracy(
            heatmaps, batch.masks, tolerance=FEATURE_STRIDE
        ),
        "energy_on_object": float(np.mean(energy_pointing_game(heatmaps, batch.masks))),
        f"energy_within_{FEATURE_STRIDE}px_of_object": float(
            np.mean(energy_pointing_game(heatmaps, _near(batch.masks)))
        ),
    }
    if batch.cue_masks.any():
        result["pointing_at_cue"] = pointing_accuracy(heatmaps, batch.cue_masks)
        result[f"pointing_at_cue_tolerance_{FEATURE_STRIDE}px"] = pointing_accuracy(
            heatmaps, batch.cue_masks, tolerance=FEATURE_STRIDE
        )
        result["energy_on_cue"] = float(np.mean(energy_pointing_game(heatmaps, batch.cue_masks)))
        result[f"energy_within_{FEATURE_STRIDE}px_of_cue"] = float(
            np.mean(energy_pointing_game(heatmaps, _near(batch.cue_masks)))
        )
    return {k: round(v, 4) for k, v in result.items()}


def _save(model: keras.Model, builder, path: Path) -> None:
    # Save a fresh, uncompiled copy: no optimizer state in the file (3x smaller), nothing to
    # deserialise but built-in layers (loads with safe_mode=True).
    fresh = builder()
    fresh.set_weights(model.get_weights())
    fresh.save(path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "models", help="output folder")
    parser.add_argument("--train-images", type=int, default=8000, help="training images per model")
    parser.add_argument("--test-images", type=int, default=1000, help="held-out images")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--evaluate-only", action="store_true", help="skip training: measure the models already saved in --out"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    # ---- data: fixed by seed
    clean_test = make_shapes(args.test_images, seed=SEEDS["clean_test"])
    # One seed, three cue modes: the same objects on the same backgrounds, only the cue differs.
    biased_test = {
        mode: make_shapes(args.test_images, seed=SEEDS["biased_test"], cue=mode, **CUE)
        for mode in ("correlated", "none", "contradicting")
    }

    paths = {"clean": args.out / "shapes_gap.keras", "biased": args.out / "shapes_biased.keras"}
    if not args.evaluate_only:
        # ---- clean model
        train = make_shapes(args.train_images, seed=SEEDS["clean_train"])
        _configure_determinism(SEEDS["weights"])
        t0 = time.perf_counter()
        clean = _train(build_shapes_cnn(), train.images, train.labels, args.epochs, args.batch_size)
        print(f"clean model trained in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        _save(clean, build_shapes_cnn, paths["clean"])

        # ---- biased model: same architecture, same initial weights, cue-correlated data
        train = make_shapes(args.train_images, seed=SEEDS["biased_train"], cue="correlated", **CUE)
        _configure_determinism(SEEDS["weights"])
        t0 = time.perf_counter()
        biased = _train(build_biased_shapes_cnn(), train.images, train.labels, args.epochs, args.batch_size)
        print(f"biased model trained in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        _save(biased, build_biased_shapes_cnn, paths["biased"])

    # Measure the files as saved, loaded the way a learner will load them.
    clean = keras.saving.load_model(paths["clean"], safe_mode=True)
    biased = keras.saving.load_model(paths["biased"], safe_mode=True)

    cue_names = {"correlated": "cue_correlated", "none": "cue_removed", "contradicting": "cue_contradicting"}
    metrics = {
        "layer": LAST_CONV_LAYER,
        "class_names": list(clean_test.class_names),
        "clean_model": {
            "file": "shapes_gap.keras",
            "held_out_accuracy": round(_accuracy(clean, clean_test.images, clean_test.labels), 4),
            "gradcam_on_clean_test": _where_it_looks(clean, clean_test),
            # a control: a model that never saw the cue should ignore it
            "accuracy_on_biased_test": {
                cue_names[m]: round(_accuracy(clean, b.images, b.labels), 4) for m, b in biased_test.items()
            },
            "gradcam_on_cue_correlated_test": _where_it_looks(clean, biased_test["correlated"]),
        },
        "biased_model": {
            "file": "shapes_biased.keras",
            "accuracy": {cue_names[m]: round(_accuracy(biased, b.images, b.labels), 4) for m, b in biased_test.items()},
            "gradcam_on_cue_correlated_test": _where_it_looks(biased, biased_test["correlated"]),
            "gradcam_on_cue_removed_test": _where_it_looks(biased, biased_test["none"]),
        },
        "setup": {
            "seeds": SEEDS,
            "train_images": args.train_images,
            "test_images": args.test_images,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "cue": {**CUE, "cue_size": 5, "train": "correlated (always agrees with the label)"},
            "gradcam": "explain(model, images, layer_name=layer, class_index=true labels).heatmaps, "
            "upsampled bilinearly to 64x64 for the metrics; empty_maps = share of all-zero maps (no positive "
            "evidence for the true class), which count as misses and as zero energy",
            "versions": {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__},
        },
    }

    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))
    print(f"total {time.perf_counter() - started:.0f} s; wrote {args.out}", file=sys.stderr)
    return metrics


if __name__ == "__main__":
    main()
