"""How much faster is the batched, cached engine than the article's per-image code? A ratio, measured in one process.

Both explain the same images with the same model (Xception architecture, random weights: speed does not depend on
the weight values), image by image for the article's code (which rebuilds its gradient model on every call and
can only explain one image correctly at a time), one batched call for the engine. Warm-up runs are excluded.
Run:  .venv/bin/python scripts/benchmark_engine.py [--batch 8] [--size 299] [--repeats 3]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import gradcam_utils as gc  # noqa: E402  (first: quiet TensorFlow import)
import keras  # noqa: E402
import seed_article_code as article  # noqa: E402


def best_of(repeats, fn):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=299)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    model = keras.applications.Xception(weights=None, classifier_activation=None,
                                        input_shape=(args.size, args.size, 3))
    images = np.random.default_rng(0).uniform(-1, 1, (args.batch, args.size, args.size, 3)).astype(np.float32)
    layer = "block14_sepconv2_act"

    def seed_loop():
        return [article.make_gradcam_heatmap(images[i:i + 1], model, layer) for i in range(len(images))]

    def engine_batch():
        return gc.compute_heatmaps(model, images, layer)

    ours, theirs = engine_batch(), np.stack(seed_loop())  # warm-up, and a correctness check
    print(f"max |engine - article| over {args.batch} images: {np.abs(ours - theirs).max():.2e}")
    t_seed = best_of(args.repeats, seed_loop)
    t_engine = best_of(args.repeats, engine_batch)
    print(f"article, image by image: {t_seed:.2f} s; engine, one batch: {t_engine:.2f} s; "
          f"speed-up {t_seed / t_engine:.2f}x ({args.batch} images of {args.size}x{args.size})")


if __name__ == "__main__":
    main()
