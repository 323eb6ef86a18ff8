"""Train the three teaching models on synthetic shapes and measure where Grad-CAM looks.

    .venv/bin/python scripts/train_teaching_models.py                     # a few minutes on 2 CPU cores
    .venv/bin/python scripts/train_teaching_models.py --only shapes_flat  # retrain one model, measure all

Writes, in the package's data folder ``gradcam_utils/data/models/`` (which the wheel ships),
``shapes_gap.keras`` (trained on clean images), ``shapes_biased.keras`` (the same architecture trained on
images whose colour cue always agrees with the label), ``shapes_flat.keras`` (the same conv body with a
Flatten + Dense head instead of GAP, trained on clean images) and ``metrics.json``:

* clean model: held-out accuracy, Grad-CAM pointing-game accuracy on the object, and the share of
  Grad-CAM energy on the object and on a cue it never saw;
* biased model: accuracy with the cue correlated / removed / contradicting - the *same* test images,
  differing only in the cue's pixels - and its Grad-CAM energy on the cue and on the object;
* flat model: held-out accuracy (on the clean model's test images), where each CAM method's maps point,
  and how far HiResCAM, Grad-CAM++, LayerCAM and XGrad-CAM are from Grad-CAM on it - and, as the
  contrast, on the GAP model, where HiResCAM and XGrad-CAM equal Grad-CAM.

Everything is deterministic: fixed data seeds, ``keras.utils.set_random_seed`` and TensorFlow op
determinism, so two runs give the same weights and the same metrics.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy import ndimage, stats  # noqa: E402

from gradcam_utils.engine import explain, gradient_inputs, heatmaps_from  # noqa: E402
from gradcam_utils.errors import EmptyHeatmapWarning  # noqa: E402
from gradcam_utils.metrics import energy_pointing_game, pointing_accuracy  # noqa: E402
from gradcam_utils.synthetic import make_shapes  # noqa: E402
from gradcam_utils.teaching_models import (  # noqa: E402
    FEATURE_STRIDE,
    LAST_CONV_LAYER,
    build_biased_shapes_cnn,
    build_shapes_cnn,
    build_shapes_flat_cnn,
)

ROOT = Path(__file__).resolve().parents[1]
# The checkout's copy of the models (what the wheel ships), not an installed package's: this script is a repository
# tool, run from a checkout.
DEFAULT_OUT = ROOT / "gradcam_utils" / "data" / "models"
# Distinct seeds: training and test images must never be the same pictures.
SEEDS = {"clean_train": 1, "clean_test": 2, "biased_train": 3, "biased_test": 4, "weights": 0}
# The flat model has its own training data and initial weights (seeds no other set uses); it is measured
# on the clean model's test images (SEEDS["clean_test"], never trained on), so the two heads are compared
# on the same pictures.
FLAT_SEEDS = {"flat_train": 5, "flat_weights": 6}
FLAT_TRAINING: dict[str, Any] = {  # mixed values (counts, a rate, a note): typed loosely
    "train_images": 6000,
    "epochs": 10,
    "batch_size": 64,
    "learning_rate": 1e-3,
    "schedule": "cosine decay to 0 over all steps",
}
# The methods compared with Grad-CAM on the flat head (Score-CAM is left out: it is not gradient-based,
# and costs 64 forward passes per image).
COMPARED_METHODS = ("hirescam", "gradcam++", "layercam", "xgradcam")
MODEL_FILES = {
    "shapes_gap": "shapes_gap.keras",
    "shapes_biased": "shapes_biased.keras",
    "shapes_flat": "shapes_flat.keras",
}
# The models beyond the CNN classifier (issue 16), each trained and measured by its own script module next to this
# one: name -> (module file in scripts/, key in metrics.json). A module defines FILE (the .keras name),
# train(out: Path) -> None (trains from its own seeds and saves out / FILE) and measure(out: Path) -> dict (the
# metrics of the saved file, loaded as a learner loads it; it may read the other models in out).
TASK_MODELS: dict[str, tuple[str, str]] = {
    "shapes_vit": ("train_vit.py", "vit_model"),
    # Both start from shapes_gap's conv body, which --only needs in --out (trained first in a full run).
    "shapes_segmenter": ("train_segmenter.py", "segmenter_model"),
    "shapes_multilabel": ("train_multilabel.py", "multilabel_model"),
}
# The biased model's cue: a colour patch (CUE_PALETTE[class]) at a random corner. Colour, not
# position, because a GAP head throws position away: a colour is a shortcut it can actually take.
CUE: dict[str, Any] = dict(cue_kind="color")  # make_shapes keywords


def _task_module(name: str):
    """The script module that trains and measures the task model ``name`` (imported by path: scripts/ is no package)."""
    file, _ = TASK_MODELS[name]
    spec = importlib.util.spec_from_file_location(file.removesuffix(".py"), Path(__file__).with_name(file))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _configure_determinism(seed: int) -> None:
    keras.utils.set_random_seed(seed)  # Python, numpy and TensorFlow seeds: weight init, shuffling
    tf.config.experimental.enable_op_determinism()


def _train(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    batch_size: int,
    learning_rate: float = 2e-3,
) -> keras.Model:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
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
    return _where_maps_point(result.heatmaps, result.empty, batch)


def _where_maps_point(heatmaps: np.ndarray, empty: np.ndarray, batch) -> dict:
    """Where the maxima and the mass of (B, h, w) maps of the true classes lie, against the exact masks."""
    result = {
        "empty_maps": float(np.mean(empty)),
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


def _rank_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rank correlation of each pair of maps (ties get average ranks); NaN where a map is constant."""
    ra = stats.rankdata(a.reshape(len(a), -1), axis=1)
    rb = stats.rankdata(b.reshape(len(b), -1), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    norms = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    return np.divide((ra * rb).sum(axis=1), norms, out=np.full(len(a), np.nan), where=norms > 0)


def _methods_compared(model: keras.Model, batch) -> dict:
    """Each method's maps of the true class at LAST_CONV_LAYER against Grad-CAM's, and where each points.

    One gradient pass (``gradient_inputs``) feeds every method, so the maps differ only by how each method
    weighs the same activations and gradients.
    """
    inputs = gradient_inputs(model, batch.images, layer_name=LAST_CONV_LAYER, class_index=batch.labels)
    gradients = inputs.gradients.astype(np.float64)
    # How much d(logit)/dA changes from cell to cell: 0 for a GAP head, where it is w_k / (h w) everywhere.
    spread = gradients.std(axis=(1, 2)).mean() / np.abs(gradients).mean()
    maps = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyHeatmapWarning)  # counted in empty_maps
        for method in ("gradcam",) + COMPARED_METHODS:
            maps[method] = heatmaps_from(inputs, method)
    reference = maps["gradcam"][0]
    versus = {}
    for method in COMPARED_METHODS:
        heatmaps = maps[method][0]
        rho = _rank_correlations(reference, heatmaps)
        versus[method] = {
            "mean_spearman": round(float(np.nanmean(rho)), 4),
            "images_with_a_constant_map": int(np.isnan(rho).sum()),
            "mean_abs_difference": round(float(np.abs(reference - heatmaps).mean()), 4),
            "max_abs_difference": round(float(np.abs(reference - heatmaps).max()), 4),
            "same_peak_cell": round(
                float(
                    np.mean(
                        reference.reshape(len(reference), -1).argmax(1) == heatmaps.reshape(len(heatmaps), -1).argmax(1)
                    )
                ),
                4,
            ),
        }
    return {
        "gradient_spread_over_positions": round(float(spread), 4),
        "versus_gradcam": versus,
        "where_each_method_points": {m: _where_maps_point(h, e, batch) for m, (h, e) in maps.items()},
    }


def _train_flat(gap_path: Path) -> keras.Model:
    """shapes_flat: the clean model's conv body, frozen, under a new Flatten + Dense head trained from scratch.

    Frozen so that the two teaching models have the very same ``conv5_act`` maps and differ only in the head:
    whatever changes in the CAM methods' maps comes from the head. The body's features are computed once and
    the linear head is trained on them (a few seconds per epoch on a CPU instead of minutes).
    """
    gap = keras.saving.load_model(gap_path, safe_mode=True)
    body = keras.Model(gap.input, gap.get_layer(LAST_CONV_LAYER).output)
    train = make_shapes(FLAT_TRAINING["train_images"], seed=FLAT_SEEDS["flat_train"])
    features = body.predict(train.images.astype(np.float32), batch_size=256, verbose=0)
    _configure_determinism(FLAT_SEEDS["flat_weights"])
    flat = build_shapes_flat_cnn()
    head = keras.Sequential([keras.Input(features.shape[1:]), flat.get_layer("flatten"), flat.get_layer("logits")])
    steps = FLAT_TRAINING["epochs"] * -(-len(features) // FLAT_TRAINING["batch_size"])
    schedule = keras.optimizers.schedules.CosineDecay(FLAT_TRAINING["learning_rate"], decay_steps=steps)
    _train(head, features, train.labels, FLAT_TRAINING["epochs"], FLAT_TRAINING["batch_size"], schedule)
    for layer in gap.layers:  # the body's weights, layer by layer (the head's are already in place)
        if layer.weights and layer.name not in ("gap", "logits"):
            flat.get_layer(layer.name).set_weights(layer.get_weights())
    return flat


def _save(model: keras.Model, builder, path: Path) -> None:
    # Save a fresh, uncompiled copy: no optimizer state in the file (3x smaller), nothing to
    # deserialise but built-in layers (loads with safe_mode=True).
    fresh = builder()
    fresh.set_weights(model.get_weights())
    fresh.save(path)


def main(argv: list[str] | None = None) -> dict:
    """Train the chosen models, measure all three and write metrics.json; returns the metrics."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument(
        "--train-images",
        type=int,
        default=8000,
        help="training images per GAP model (shapes_flat: FLAT_TRAINING in this script)",
    )
    parser.add_argument("--test-images", type=int, default=1000, help="held-out images")
    parser.add_argument("--epochs", type=int, default=15, help="epochs per GAP model")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--evaluate-only", action="store_true", help="skip training: measure the models already saved in --out"
    )
    parser.add_argument(
        "--only",
        choices=tuple(MODEL_FILES) + tuple(TASK_MODELS),
        help="train only this model, leaving the other files as they are "
        "(shapes_flat needs shapes_gap's file: it reuses its conv body); all models are measured",
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

    paths = {
        "clean": args.out / MODEL_FILES["shapes_gap"],
        "biased": args.out / MODEL_FILES["shapes_biased"],
        "flat": args.out / MODEL_FILES["shapes_flat"],
    }
    to_train = set() if args.evaluate_only else {args.only} if args.only else set(MODEL_FILES) | set(TASK_MODELS)
    if "shapes_gap" in to_train:
        # ---- clean model
        train = make_shapes(args.train_images, seed=SEEDS["clean_train"])
        _configure_determinism(SEEDS["weights"])
        t0 = time.perf_counter()
        clean = _train(build_shapes_cnn(), train.images, train.labels, args.epochs, args.batch_size)
        print(f"clean model trained in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        _save(clean, build_shapes_cnn, paths["clean"])

    if "shapes_biased" in to_train:
        # ---- biased model: same architecture, same initial weights, cue-correlated data
        train = make_shapes(args.train_images, seed=SEEDS["biased_train"], cue="correlated", **CUE)
        _configure_determinism(SEEDS["weights"])
        t0 = time.perf_counter()
        biased = _train(build_biased_shapes_cnn(), train.images, train.labels, args.epochs, args.batch_size)
        print(f"biased model trained in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        _save(biased, build_biased_shapes_cnn, paths["biased"])

    if "shapes_flat" in to_train:
        # ---- flat model: the clean model's conv body, a Flatten + Dense head (needs shapes_gap.keras)
        t0 = time.perf_counter()
        if not paths["clean"].is_file():
            parser.error(
                f"shapes_flat reuses shapes_gap's conv body, and {paths['clean']} is missing: train "
                "shapes_gap first (or copy gradcam_utils/data/models/shapes_gap.keras there)"
            )
        flat = _train_flat(paths["clean"])
        print(f"flat model trained in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        _save(flat, build_shapes_flat_cnn, paths["flat"])

    tasks = {name: _task_module(name) for name in TASK_MODELS}
    for name, module in tasks.items():
        if name in to_train:
            t0 = time.perf_counter()
            try:
                module.train(args.out)
            except FileNotFoundError as err:  # a model it starts from is missing: what to do, not a traceback
                parser.error(str(err))
            print(f"{name} trained in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    missing = [str(path) for path in paths.values() if not path.is_file()]
    missing += [str(args.out / module.FILE) for module in tasks.values() if not (args.out / module.FILE).is_file()]
    if missing:
        parser.error(f"no model file to measure at {', '.join(missing)}: train it (drop --evaluate-only / --only)")

    # Measure the files as saved, loaded the way a learner will load them.
    clean = keras.saving.load_model(paths["clean"], safe_mode=True)
    biased = keras.saving.load_model(paths["biased"], safe_mode=True)
    flat = keras.saving.load_model(paths["flat"], safe_mode=True)

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
        "flat_model": {
            "file": MODEL_FILES["shapes_flat"],
            "head": "conv5_act -> Flatten -> Dense (no GAP); conv body = shapes_gap's, frozen",
            "held_out_accuracy": round(_accuracy(flat, clean_test.images, clean_test.labels), 4),
            "methods_on_clean_test": _methods_compared(flat, clean_test),
            # the contrast: the GAP head on the same pictures, where HiResCAM and XGrad-CAM equal Grad-CAM
            "gap_model_methods_on_clean_test": _methods_compared(clean, clean_test),
            "setup": {
                "seeds": FLAT_SEEDS,
                "test_images": f"the clean model's (seed {SEEDS['clean_test']})",
                **FLAT_TRAINING,
                "methods": "gradient_inputs(model, images, layer, true labels) once, heatmaps_from(inputs, method): "
                "ReLU + divide by the max, 16x16; mean_spearman = Spearman rank correlation with Grad-CAM's map per "
                "image (ties ranked by average), averaged; abs differences of the normalised maps (mean over "
                "cells and images, max); same_peak_cell = share of images whose maximum is in the same cell; "
                "gradient_spread_over_positions = mean over images and channels of the std over positions of "
                "d(logit)/dA, divided by the mean |d(logit)/dA|",
            },
        },
        **{TASK_MODELS[name][1]: module.measure(args.out) for name, module in tasks.items()},
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
