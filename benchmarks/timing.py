"""Timing: medians of interleaved calls after a warm-up, and the timed sections.

The sections: Grad-CAM against the article, a forward pass and tf-keras-vis; Score-CAM batched or not; the
explorer's updates.
"""

from __future__ import annotations

import functools
import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import gradcam_utils as gc
from gradcam_utils import engine

from .cases import ModelCase, article_gradcam, forward_floor, load_average, tf_keras_vis_gradcam
from .memory import fitting_chunk, memory_available_mb


def interleaved_medians(cases: dict[str, Callable[[], object] | None], repeats: int, warmup: int = 1) -> dict[str, Any]:
    """{name: {"median_ms", "samples_ms"}}: each case warmed up, then timed ``repeats`` times, one of each per round.

    A case whose value is None is skipped (reported as None).
    """
    live = {name: fn for name, fn in cases.items() if fn is not None}
    for fn in live.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in live}
    for _ in range(repeats):
        for name, fn in live.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1000.0)
    return {
        name: ({"median_ms": statistics.median(samples[name]), "samples_ms": samples[name]} if name in live else None)
        for name in cases
    }


def _chunk_that_runs(tfkv, images: np.ndarray, classes, chunk: int) -> int | None:
    """``chunk``, halved until a tf-keras-vis call on ``images`` fits in the device's memory (None: not even one)."""
    while True:
        try:
            tfkv(images, classes, chunk=chunk)
            return chunk
        except (tf.errors.ResourceExhaustedError, MemoryError):
            if chunk == 1:
                return None
            chunk = max(1, chunk // 2)


# ----- Grad-CAM: the article, ours, the floor, tf-keras-vis ---------------------------------------------------


def gradcam_section(case: ModelCase, log=print, tf_keras_vis_mb_per_image: float | None = None) -> dict:
    """Per batch size: the article (one image per call), our batched Grad-CAM, one forward pass, tf-keras-vis.

    tf-keras-vis gets the whole batch in one call, unless the machine lacks the memory that needs
    (``tf_keras_vis_mb_per_image``, from the memory probe); then it gets it in the largest chunks that fit, and the
    row says so.
    """
    model, layer = case.model, case.layer
    biggest = case.images(max(case.batch_sizes))
    classes_all = gc.class_logits(model, biggest).argmax(axis=1)  # the same classes for every implementation
    floor = forward_floor(model)
    tfkv = tf_keras_vis_gradcam(model, layer)
    make_gradcam_heatmap = article_gradcam()

    # The article: its time per image does not depend on the batch (it takes one image per call), so it is measured
    # once, over single-image calls cycling through the images, and multiplied by B for each batch size.
    calls = itertools.count()
    article = interleaved_medians(
        {"article": lambda: make_gradcam_heatmap(biggest[next(calls) % len(biggest)][None], model, layer)},
        case.article_calls,
    )["article"]
    photos = case.photos()
    photo_classes = gc.class_logits(model, photos).argmax(axis=1)
    result = {
        "model": case.name,
        "layer": layer,
        "input_shape": list(case.input_shape),
        "article_ms_per_image": article["median_ms"],
        "article_samples_ms": article["samples_ms"],
        # The article is right for one image at a time: its map of a photo must be ours.
        "max_abs_diff_vs_article": float(
            np.abs(
                gc.compute_heatmaps(model, photos[:1], layer)[0] - make_gradcam_heatmap(photos[:1], model, layer)
            ).max()
        ),
        "tf_keras_vis": tfkv is not None,
        "batches": {},
    }
    if tfkv is not None:  # raw maps (tf-keras-vis normalises min-max, we divide by the max after the ReLU)
        theirs = tfkv(photos, photo_classes, normalize=False)
        raw = gc.compute_heatmaps(model, photos, layer, photo_classes, normalize=False)
        result["max_rel_diff_vs_tf_keras_vis"] = float(np.abs(raw - theirs).max() / np.abs(theirs).max())
    for batch in case.batch_sizes:
        images, classes = biggest[:batch], classes_all[:batch]
        chunk = None
        if tfkv is not None:
            chunk = _chunk_that_runs(
                tfkv, images, classes, fitting_chunk(batch, tf_keras_vis_mb_per_image, memory_available_mb())
            )
        # partial binds this batch's images, classes and chunk now, not whatever the loop variables hold when called
        timings = interleaved_medians(
            {
                "ours": functools.partial(gc.compute_heatmaps, model, images, layer, classes),
                "forward": functools.partial(floor, images),
                "tf_keras_vis": None if not chunk else functools.partial(tfkv, images, classes, chunk=chunk),
            },
            case.repeats,
        )
        ours, forward = timings["ours"]["median_ms"], timings["forward"]["median_ms"]
        other = timings["tf_keras_vis"]["median_ms"] if timings["tf_keras_vis"] else None
        article_ms = article["median_ms"] * batch
        row = {
            "article_ms": article_ms,
            "ours_ms": ours,
            "forward_ms": forward,
            "tf_keras_vis_ms": other,
            "speedup_vs_article": article_ms / ours,
            "ceiling_vs_article": article_ms / forward,  # the most any Grad-CAM could gain: article / one forward
            "gradcam_over_forward": ours / forward,
            "speedup_vs_tf_keras_vis": None if other is None else other / ours,
            "images_per_s": 1000.0 * batch / ours,
            "tf_keras_vis_chunk": chunk,
            "tf_keras_vis_note": (
                "tf-keras-vis is not installed"
                if tfkv is None
                else "tf-keras-vis ran out of memory, even one image per call"
                if not chunk
                else ""
            ),
            "samples_ms": {k: v["samples_ms"] for k, v in timings.items() if v},
        }
        result["batches"][batch] = row
        log(
            f"  {case.name} B={batch}: ours {ours:.0f} ms, forward {forward:.0f} ms, article {article_ms:.0f} ms"
            + (f", tf-keras-vis {other:.0f} ms" if other is not None else "")
            + (f" (in chunks of {chunk}: memory)" if chunk and chunk < batch else "")
            + f"  (load {load_average()})"
        )
    result["trace_count"] = engine._get_plan(model, layer).trace_count
    return result


# ----- Score-CAM ----------------------------------------------------------------------------------------------


def scorecam_section(
    name: str, model: keras.Model, layer: str, images: np.ndarray, batch_size: int = 64, repeats: int = 3
) -> dict:
    """Score-CAM with its per-channel forward passes batched (``batch_size``) vs one forward pass per channel."""
    classes = gc.class_logits(model, images).argmax(axis=1)
    channels = int(engine.gradient_inputs(model, images[:1], layer).activations.shape[-1])
    timings = interleaved_medians(
        {
            "batched": lambda: gc.compute_heatmaps(model, images, layer, classes, "scorecam", batch_size=batch_size),
            "one_per_pass": lambda: gc.compute_heatmaps(model, images, layer, classes, "scorecam", batch_size=1),
        },
        repeats,
    )
    batched, single = timings["batched"]["median_ms"], timings["one_per_pass"]["median_ms"]
    return {
        "model": name,
        "layer": layer,
        "images": len(images),
        "channels": channels,
        "batch_size": batch_size,
        "batched_ms": batched,
        "one_per_pass_ms": single,
        "speedup": single / batched,
        "logits_trace_count": engine._get_logits_plan(model).trace_count,
    }


# ----- the explorer -------------------------------------------------------------------------------------------


def explorer_section(repeats: int = 5) -> dict:
    """Median ms per kind of explorer update (benchmarks/explorer_latency.py), on the embedded model."""
    from . import explorer_latency

    return {"repeats": repeats, "median_ms": explorer_latency.measure(repeats=repeats)}
