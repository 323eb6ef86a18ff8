"""Checks that are not timings.

Every plan traces once whatever the batch size; and how much a map depends on the batch it was computed in (oneDNN).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np

import gradcam_utils as gc
from gradcam_utils import engine

from .cases import ModelCase
from .memory import subprocess_json

# ----- retracing ----------------------------------------------------------------------------------------------


def trace_check(call: Callable[[int], object], trace_count: Callable[[], int], batch_sizes=(1, 3, 8, 2, 8, 1)) -> dict:
    """Calls ``call(batch)`` for each batch size; ``trace_count()`` after each. ``ok``: one trace, then none."""
    counts = []
    for batch in batch_sizes:
        call(batch)
        counts.append(int(trace_count()))
    return {
        "batch_sizes": list(batch_sizes),
        "trace_counts": counts,
        "retraces": counts[-1] - counts[0],
        "ok": counts[0] <= 1 and counts[-1] == counts[0],
    }


def engine_trace_check(case: ModelCase, batch_sizes=(1, 3, 8, 2, 8, 1)) -> dict:
    """Our Grad-CAM plan and logits plan on ``case``: traced once whatever the batch size."""
    images = case.images(max(batch_sizes))
    layer = case.mid_layer or case.layer
    gradcam = trace_check(
        lambda b: gc.compute_heatmaps(case.model, images[:b], layer),
        lambda: engine._get_plan(case.model, layer).trace_count,
        batch_sizes,
    )
    logits = trace_check(
        lambda b: gc.class_logits(case.model, images[:b]),
        lambda: engine._get_logits_plan(case.model).trace_count,
        batch_sizes,
    )
    return {
        "model": case.name,
        "layer": layer,
        "gradcam": gradcam,
        "logits": logits,
        "ok": gradcam["ok"] and logits["ok"],
    }


# ----- oneDNN: does a map depend on the batch it was computed in? ---------------------------------------------


def batch_consistency(case: ModelCase) -> dict:
    """How much the sample photos' gradients and maps change between one at a time and one batch.

    At a middle layer and the last one: the max relative difference of the gradients (to each image's largest
    gradient) and of the normalised maps. Float32 kernels that pick a different algorithm per batch size (oneDNN on
    CPU) make these differ; nothing else in the engine mixes images.
    """
    images = case.photos()
    batch = len(images)
    out: dict = {
        "model": case.name,
        "batch": batch,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "layers": {},
    }
    for layer in dict.fromkeys(filter(None, (case.mid_layer, case.layer))):
        together = engine.gradient_inputs(case.model, images, layer)
        alone = [engine.gradient_inputs(case.model, images[i : i + 1], layer) for i in range(batch)]
        grads_alone = np.concatenate([a.gradients for a in alone])
        scale = np.abs(together.gradients).reshape(batch, -1).max(axis=1)
        grad_diff = np.abs(grads_alone - together.gradients).reshape(batch, -1).max(axis=1) / np.where(
            scale > 0, scale, 1.0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)
            maps_together = engine.heatmaps_from(together)[0]
            maps_alone = np.concatenate([engine.heatmaps_from(a)[0] for a in alone])
        out["layers"][layer] = {
            "max_rel_grad_diff": float(grad_diff.max()),
            "max_map_diff": float(np.abs(maps_alone - maps_together).max()),
        }
    return out


def onednn_off_consistency(model: str = "efficientnet_lite0") -> dict:
    """The batch-consistency check again in a fresh process with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)."""
    return subprocess_json(
        ["--probe", "consistency", "--models", model], env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0")
    )
