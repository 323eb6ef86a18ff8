"""Memory of the calls under test.

The peak of one call (in a fresh process per call), the leak check, and how many images tf-keras-vis can take per
call on this machine.
"""

from __future__ import annotations

import gc as _pygc
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

import gradcam_utils as gc

from .cases import CASES, ModelCase, forward_floor, tf_keras_vis_gradcam
from .report import TARGETS

RUN_SCRIPT = Path(__file__).resolve().with_name("run.py")


def memory_available_mb() -> float | None:
    """MemAvailable from /proc/meminfo (Linux), MB; None elsewhere."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def fitting_chunk(batch: int, mb_per_image: float | None, available_mb: float | None) -> int:
    """The number of images per tf-keras-vis call that fits in memory.

    The largest divisor of ``batch`` whose estimated memory stays under 25% of what the machine has free; ``batch``
    itself when unknown. tf-keras-vis runs eagerly and its tape keeps every activation of the batch: ~0.4 GB per
    Xception image, 13 GB for 32 on a CPU.
    """
    if not mb_per_image or not available_mb:
        return batch
    for chunk in range(batch, 0, -1):
        if batch % chunk == 0 and chunk * mb_per_image * 1.25 <= 0.25 * available_mb:
            return chunk
    return 1


# ----- memory -------------------------------------------------------------------------------------------------


def rss_mb() -> float | None:
    """Resident set size now, MB (Linux /proc; None elsewhere)."""
    return _proc_status_mb("VmRSS")


def _proc_status_mb(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Restart the kernel's peak-RSS counter (VmHWM) from the current RSS; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _gpu_name() -> str | None:
    return "GPU:0" if tf.config.list_logical_devices("GPU") else None


def peak_memory(fn: Callable[[], object]) -> dict:
    """Peak memory while ``fn`` runs once: Python/numpy allocations (tracemalloc), process RSS, and the GPU's.

    RSS figures are in MB above the RSS just before the call (the models and earlier work are not counted); the
    peak covers the whole process, TensorFlow's own buffers included. Not timed (tracemalloc slows Python down).
    """
    _pygc.collect()
    gpu = _gpu_name()
    if gpu:
        try:
            tf.config.experimental.reset_memory_stats(gpu)
        except (ValueError, RuntimeError):
            gpu = None
    before = rss_mb()
    reset = _reset_peak_rss()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start_traced = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        python_peak = (tracemalloc.get_traced_memory()[1] - start_traced) / 2**20
    finally:
        if not tracing:
            tracemalloc.stop()
    peak = _proc_status_mb("VmHWM")
    result = {
        "python_peak_mb": python_peak,
        "rss_before_mb": before,
        "rss_peak_mb": peak,
        "rss_peak_above_before_mb": (peak - before) if (reset and peak is not None and before is not None) else None,
        "rss_peak_is_since_start": not reset,
    }
    if gpu:
        try:
            result["gpu_peak_mb"] = tf.config.experimental.get_memory_info(gpu)["peak"] / 2**20
        except (ValueError, RuntimeError):
            pass
    return result


def memory_probe(case: ModelCase, what: str, batch: int) -> dict:
    """Peak memory of one call of ``what`` ("ours", "forward" or "tf_keras_vis") on ``batch`` images of ``case``.

    Measured after a one-image warm-up call (tracing and first-run costs are not counted).
    """
    images = case.images(batch)
    classes = np.arange(batch) % int(case.model.outputs[0].shape[-1])
    if what == "ours":
        call = lambda x: gc.compute_heatmaps(case.model, x, case.layer, classes[: len(x)])  # noqa: E731
    elif what == "forward":
        call = forward_floor(case.model)
    elif what == "tf_keras_vis":
        tfkv = tf_keras_vis_gradcam(case.model, case.layer)
        if tfkv is None:
            return {"skipped": "tf-keras-vis is not installed"}
        call = lambda x: tfkv(x, classes[: len(x)])  # noqa: E731
    else:
        raise ValueError(f"unknown call {what!r}")
    call(images[:1])
    peak = peak_memory(lambda: call(images))
    peak["rss_mb_per_image"] = (
        None if peak["rss_peak_above_before_mb"] is None else (peak["rss_peak_above_before_mb"] / batch)
    )
    return peak


def memory_section(
    cases: list[ModelCase], batches: dict[str, int], fresh_process: bool = True, log=print
) -> list[dict]:
    """``memory_probe`` for each case and call; ``batches`` is {call: batch size}.

    Each probe runs in a fresh Python process when ``fresh_process``: a process keeps the memory it freed, so a
    second measurement in the same process would see too little.
    """
    rows = []
    for case in cases:
        for what, batch in batches.items():
            if fresh_process and case.name in CASES:
                log(f"  memory probe: {case.name} {what} B={batch} (a fresh process)")
                probe = subprocess_json(
                    ["--probe", "memory", "--models", case.name, "--call", what, "--batch", str(batch)]
                )
            else:
                probe = memory_probe(case, what, batch)
            rows.append({"model": case.name, "call": what, "batch": batch, "fresh_process": fresh_process, **probe})
    return rows


def subprocess_json(args: list[str], env: dict | None = None, timeout: float = 300) -> dict:
    """Run benchmarks/run.py with ``args`` in a fresh process; the JSON it prints last, or {"error": ...}."""
    try:
        done = subprocess.run(
            [sys.executable, str(RUN_SCRIPT), *args], env=env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError) as err:
        return {"error": f"{type(err).__name__}: {err}"}


# ----- leaks ----------------------------------------------------------------------------------------------------


def leak_check(
    call: Callable[[], object],
    first: int = 10,
    total: int = 200,
    rss_tolerance_mb: float = TARGETS["leak_rss_mb"],
    python_tolerance_mb: float = TARGETS["leak_python_mb"],
) -> dict:
    """Memory after ``total`` calls vs after ``first`` calls: growth of RSS and of Python/numpy allocations.

    A leak shows as growth that keeps coming with the calls: RSS catches TensorFlow-side leaks (graphs from
    retracing, kept tensors), tracemalloc catches Python-side ones (arrays kept in a list or cache) to the byte.
    ``ok`` is False when either grows beyond its tolerance (allocator noise stays well below them).
    """
    if not 0 < first < total:
        raise ValueError(f"need 0 < first < total; got first={first}, total={total}")
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        for _ in range(first):
            call()
        _pygc.collect()
        rss_first, python_first, gpu_first = rss_mb(), tracemalloc.get_traced_memory()[0] / 2**20, _gpu_now_mb()
        for _ in range(total - first):
            call()
        _pygc.collect()
        rss_last, python_last, gpu_last = rss_mb(), tracemalloc.get_traced_memory()[0] / 2**20, _gpu_now_mb()
    finally:
        if not tracing:
            tracemalloc.stop()
    rss_growth = None if rss_first is None or rss_last is None else rss_last - rss_first
    gpu_growth = None if gpu_first is None or gpu_last is None else gpu_last - gpu_first
    python_growth = python_last - python_first
    calls = total - first
    ok = (
        python_growth <= python_tolerance_mb
        and (rss_growth is None or rss_growth <= rss_tolerance_mb)
        and (gpu_growth is None or gpu_growth <= rss_tolerance_mb)
    )
    return {
        "first": first,
        "total": total,
        "rss_after_first_mb": rss_first,
        "rss_after_total_mb": rss_last,
        "rss_growth_mb": rss_growth,
        "rss_growth_kb_per_call": None if rss_growth is None else 1024 * rss_growth / calls,
        "python_growth_mb": python_growth,
        "python_growth_kb_per_call": 1024 * python_growth / calls,
        "gpu_growth_mb": gpu_growth,
        "ok": ok,
    }


def _gpu_now_mb() -> float | None:
    gpu = _gpu_name()
    if gpu is None:
        return None
    try:
        return tf.config.experimental.get_memory_info(gpu)["current"] / 2**20
    except (ValueError, RuntimeError):
        return None
