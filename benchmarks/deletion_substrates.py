"""Which deletion substrate measures the model, and which measures damage to the picture?

RISE's deletion score (Petsiuk et al., BMVC 2018) replaces the pixels a map ranks highest and follows the class
probability. What the removed pixels become (the *substrate*) decides what the score measures: a patch pattern of
black pixels is a picture the model never saw, so its probability can fall because the picture is damaged, whatever
the pixels meant (the reason ROAR, Hooker et al., NeurIPS 2019, retrains the model on perturbed data and ROAD, Rong
et al., ICML 2022, fills removed pixels by noisy linear imputation).

For each course model and each substrate this prints one table row:

* ``p image`` / ``p rnd1/16``: mean probability of the explained class on the intact pictures, and after a random
  1/16 of the pixels (the same pixels for every substrate, seeded) take the substrate's values: the damage a
  deletion does that has nothing to do with any map;
* deletion AUC (16 steps, lower is better) of Grad-CAM's maps, of random maps (uniform noise at the Grad-CAM map's
  resolution, upsampled like it; the mean over ``--seeds`` seeds per picture) and of the true object masks, with the
  per-picture differences ``random - Grad-CAM`` and ``mask - Grad-CAM`` and their 95% bootstrap intervals over
  pictures (2000 resamples, seeded);
* insertion AUC (higher is better) of Grad-CAM's and the random maps, onto the same substrate, with
  ``Grad-CAM - random`` and its interval.

Models: ``shapes_gap`` on held-out ``make_shapes`` pictures (seed 70; training used seeds 1-4), ``shapes_biased`` on
pictures with its class-coloured cue (the data it was trained for), ``shapes_flat`` when its file is there, and
EfficientNet-Lite0 on the five sample photos (``gradcam_utils/data/images``; no masks; the explained class is the
predicted one; five pictures give wide intervals). Grad-CAM explains the true class on the shapes pictures.

    .venv/bin/python benchmarks/deletion_substrates.py            # the full table: ~5 min of CPU time
    .venv/bin/python benchmarks/deletion_substrates.py --quick    # 16 pictures per shapes model, no photos: ~30 s

(The full table took 4.7 min of CPU time, 20 min of wall time while eight sessions shared 2 cores.)

Deterministic: the same command prints the same table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import gradcam_utils as gc
from gradcam_utils import course, engine, faithfulness, synthetic, zoo

STEPS = 16
SHAPES_SEED = 70  # not one of the training script's seeds (1-4)
DAMAGE_FRACTION = 1 / 16
BOOTSTRAP = 2000


def substrates(quick: bool) -> dict:
    """Name -> what faithfulness accepts as ``substrate``; ``blur10`` is a stronger blur, sigma 10 (21x21)."""
    chosen: dict = {"zeros": "zeros", "mean": "mean", "blur": "blur"}
    if not quick:
        chosen["blur10"] = lambda x: faithfulness.blur(x, 10.0)
    return chosen


def shapes_case(name: str, n: int):
    """(model, images, classes, masks) for a shapes model on pictures it was not trained on."""
    bundle = gc.load_model(name)
    cue: dict = dict(cue="correlated", cue_kind="color") if name == "shapes_biased" else {}
    batch = synthetic.make_shapes(n, seed=SHAPES_SEED, **cue)
    return bundle.model, bundle.preprocess(batch.images), batch.labels.astype(np.int64), batch.masks.astype(np.float32)


def photos_case():
    """(model, images, classes, None) for EfficientNet-Lite0 on the sample photos, each on its predicted class."""
    bundle = gc.load_model("efficientnet_lite0")
    files = [course.sample_image_path(name) for name in course.sample_images()]
    x = bundle.preprocess(np.stack([gc.load_image(p, size=bundle.input_size) for p in files]))
    classes = engine.class_logits(bundle.model, x).argmax(axis=1)
    return bundle.model, x, classes, None


def bootstrap_ci(differences: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """(mean, 2.5th, 97.5th percentile of the mean over pictures resampled with replacement)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(differences), size=(BOOTSTRAP, len(differences)))
    means = differences[picks].mean(axis=1)
    return float(differences.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def measure(model, x, classes, masks, subs: dict, seeds: int, steps: int) -> dict:
    """One table row per substrate: probabilities, and deletion / insertion AUCs of Grad-CAM, random maps and masks."""
    result = gc.explain(model, x, class_index=classes)
    gradcam = result.heatmaps
    randoms = [np.random.default_rng(seed).random(gradcam.shape) for seed in range(seeds)]
    rows = np.arange(len(x))
    scattered = np.random.default_rng(1000).random(x.shape[:3]) < DAMAGE_FRACTION  # pixels, not blobs
    p_image = engine.class_probabilities(model, x)[rows, classes]
    table = {}
    for name, substrate in subs.items():
        substrate = substrate(x) if callable(substrate) else substrate
        filled = faithfulness.substrate_images(x, substrate)
        damaged = np.where(scattered[..., None], filled, x).astype(np.float32)
        p_damaged = engine.class_probabilities(model, damaged)[rows, classes]

        def auc(kind, maps, substrate=substrate):  # bound now: the loop's next substrate must not leak in
            fn = faithfulness.deletion_curve if kind == "deletion" else faithfulness.insertion_curve
            return fn(model, x, maps, classes, steps=steps, batch_size=256, substrate=substrate).auc

        d_gc = auc("deletion", gradcam)
        d_rnd = np.mean([auc("deletion", r) for r in randoms], axis=0)
        i_gc = auc("insertion", gradcam)
        i_rnd = np.mean([auc("insertion", r) for r in randoms], axis=0)
        row: dict = {
            "n": len(x),
            "p_image": float(p_image.mean()),
            "p_random_1_16": float(p_damaged.mean()),
            "deletion": {
                "gradcam": float(d_gc.mean()),
                "random": float(d_rnd.mean()),
                "random_minus_gradcam": bootstrap_ci(d_rnd - d_gc),
            },
            "insertion": {
                "gradcam": float(i_gc.mean()),
                "random": float(i_rnd.mean()),
                "gradcam_minus_random": bootstrap_ci(i_gc - i_rnd),
            },
        }
        if masks is not None:
            d_mask = auc("deletion", masks)
            row["deletion"]["mask"] = float(d_mask.mean())
            row["deletion"]["mask_minus_gradcam"] = bootstrap_ci(d_mask - d_gc)
        table[name] = row
    return table


def fmt_ci(triple) -> str:
    """A (mean, low, high) interval as "+0.12 [+0.05,+0.20]"."""
    mean, low, high = triple
    return f"{mean:+.2f} [{low:+.2f},{high:+.2f}]"


def print_table(results: dict) -> None:
    """Print one line per (model, substrate) of ``measure``'s results."""
    header = (
        f"{'model':18s} {'substrate':9s} {'n':>3s} {'p image':>7s} {'p rnd1/16':>9s} | {'del GC':>6s} "
        f"{'del rnd':>7s} {'rnd-GC [95% CI]':>21s} {'del mask':>8s} {'mask-GC [95% CI]':>21s} | "
        f"{'ins GC':>6s} {'ins rnd':>7s} {'GC-rnd [95% CI]':>21s}"
    )
    print(header)
    print("-" * len(header))
    for model, table in results.items():
        for sub, row in table.items():
            d, i = row["deletion"], row["insertion"]
            mask = (
                f"{d['mask']:8.2f} {fmt_ci(d['mask_minus_gradcam']):>21s}" if "mask" in d else f"{'-':>8s} {'-':>21s}"
            )
            print(
                f"{model:18s} {sub:9s} {row['n']:3d} {row['p_image']:7.2f} {row['p_random_1_16']:9.2f} | "
                f"{d['gradcam']:6.2f} {d['random']:7.2f} {fmt_ci(d['random_minus_gradcam']):>21s} {mask} | "
                f"{i['gradcam']:6.2f} {i['random']:7.2f} {fmt_ci(i['gradcam_minus_random']):>21s}"
            )


def main(argv=None) -> int:
    """Measure every chosen model on every substrate and print the table (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="16 pictures per shapes model, no photos, no blur10")
    parser.add_argument("--images", type=int, default=None, help="pictures per shapes model (default 100; quick 16)")
    parser.add_argument("--seeds", type=int, default=2, help="random maps per picture (default 2)")
    parser.add_argument(
        "--models", nargs="+", default=None, help="subset of shapes_gap shapes_biased shapes_flat efficientnet_lite0"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write every number as JSON")
    args = parser.parse_args(argv)
    n = args.images or (16 if args.quick else 100)
    wanted = args.models or ["shapes_gap", "shapes_biased", "shapes_flat"] + (
        [] if args.quick else ["efficientnet_lite0"]
    )
    subs = substrates(args.quick)
    results, started = {}, time.perf_counter()
    for name in wanted:
        if name != "efficientnet_lite0" and name not in zoo.available_models():
            print(f"{name}: not registered, skipped", file=sys.stderr)
            continue
        if name.startswith("shapes_") and not (course.MODELS_DIR / f"{name}.keras").is_file():
            print(f"{name}: {name}.keras not in gradcam_utils/data/models yet, skipped", file=sys.stderr)
            continue
        model, x, classes, masks = photos_case() if name == "efficientnet_lite0" else shapes_case(name, n)
        label = "efficientnet_photos" if name == "efficientnet_lite0" else name
        chosen = {k: v for k, v in subs.items() if k != "blur10"} if label == "efficientnet_photos" else subs
        results[label] = measure(model, x, classes, masks, chosen, args.seeds, STEPS)
        print(f"{label}: done after {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(
        f"Deletion / insertion AUC, {STEPS} steps; random maps: mean of {args.seeds} seeds per picture; "
        f"differences: mean over pictures [95% bootstrap CI]"
    )
    print_table(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
