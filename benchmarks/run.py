"""The benchmark suite: Grad-CAM speed, memory and tracing, measured in one process on the same inputs.

    .venv/bin/python benchmarks/run.py                      # the full suite: ~3 min on 2 CPU cores
    .venv/bin/python benchmarks/run.py --quick              # a smoke run, ~1.5 min: batch sizes 1 and 8, fewer repeats
    .venv/bin/python benchmarks/run.py --out results.json   # also write every number as JSON
    .venv/bin/python benchmarks/run.py --onednn-off-check   # also the batch-consistency check with oneDNN off

It runs on whatever TensorFlow sees (CPU or GPU, unchanged) and prints a table of ratios against the performance
targets (PASS/FAIL), then the absolute medians behind them. Every timing is a median over repeats, taken after a
warm-up call; the compared cases are run round-robin (one of each per round), so a change in the machine's load
hits them alike. Only ratios measured in the same run mean anything; absolute times depend on the machine and its
load (printed at the start and the end). What each row means: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc as _pygc
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# On a GPU, TensorFlow would reserve nearly all of its memory at start: the memory probes' processes could then get
# none, and the peak figures would be the reservation. Allocate as needed instead (children inherit this).
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "tests", ROOT / "benchmarks"):  # gradcam_utils from a fresh clone, the article's code
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import gradcam_utils as gc  # noqa: E402  (first: imports TensorFlow quietly)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from gradcam_utils import engine  # noqa: E402
from gradcam_utils.synthetic import make_shapes  # noqa: E402

TARGETS = {
    "speedup_vs_article": 6.0,  # batched Grad-CAM throughput / the article's one-image-per-call code, Xception B=32
    "gradcam_over_forward": 1.25,  # Grad-CAM time / one plain forward pass of the same batch, B=8
    "speedup_vs_tf_keras_vis": 1.5,  # tf-keras-vis Gradcam time / ours, same inputs
    "explorer_fast_ms": 100.0,  # class, alpha, colormap change
    "explorer_layer_ms": 1500.0,  # a layer not visited before
    "leak_rss_mb": 16.0,  # RSS growth from call 10 to call 200, above which we call it a leak
    "leak_python_mb": 1.0,  # Python/numpy allocations (tracemalloc) growth over the same calls
    "suite_seconds": 600.0,
}
FAST_EXPLORER_UPDATES = ("class_change_topk", "class_change_by_name", "alpha_change", "colormap_change")
LAYER_EXPLORER_UPDATES = ("layer_change", "layer_change_revisit")


# ----- the machine --------------------------------------------------------------------------------------------

def machine_info() -> dict:
    """What the numbers came from: device, TensorFlow, cores, load."""
    gpus = tf.config.list_physical_devices("GPU")
    names = []
    for gpu in gpus:
        try:
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name))
        except Exception:  # details are optional
            names.append(gpu.name)
    cpu_model = ""
    try:
        cpu_model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu_model = platform.processor()
    return {
        "device": ", ".join(names) if names else "CPU",
        "gpus": names,
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": _load(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86 Linux CPUs)"),
    }


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# ----- timing -------------------------------------------------------------------------------------------------

def interleaved_medians(cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, dict]:
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
    return {name: ({"median_ms": statistics.median(samples[name]), "samples_ms": samples[name]} if name in live
                   else None) for name in cases}


def forward_floor(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """A plain forward pass: ``model(x, training=False)`` traced once with a batch-free signature, result to numpy.

    The floor: any Grad-CAM has to run at least this (the class score needs the whole forward pass), on the same
    batch, traced like our plans (no Python per layer), and it too hands its output back to numpy.
    """
    spec = tf.TensorSpec((None,) + tuple(model.inputs[0].shape[1:]), tf.float32)
    traced = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return lambda images: traced(tf.constant(images)).numpy()


def article_gradcam():
    """The article's ``make_gradcam_heatmap`` as it behaves (tests/article_reference.py, our reimplementation):
    one image per call."""
    import article_reference

    return article_reference.make_gradcam_heatmap


def tf_keras_vis_gradcam(model: keras.Model, layer: str):
    """tf-keras-vis' Gradcam on ``layer`` (ReplaceToLinear, no seeking of another layer), or None if not installed.

    Built once, outside the timing (its constructor clones the model); maps normalised at the layer's resolution,
    like ours.
    """
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return None
    visualizer = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)

    def run(images: np.ndarray, classes, normalize: bool = True, chunk: int | None = None) -> np.ndarray:
        step = chunk or len(images)
        return np.concatenate([np.asarray(visualizer(
            CategoricalScore(list(classes[i:i + step])), images[i:i + step], penultimate_layer=layer,
            seek_penultimate_conv_layer=False, expand_cam=False, normalize_cam=normalize))
            for i in range(0, len(images), step)])
    return run


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
    """The largest number of images per call (a divisor of ``batch``) whose estimated memory stays under 25% of
    what the machine has free; ``batch`` itself when unknown. tf-keras-vis runs eagerly and its tape keeps every
    activation of the batch: ~0.4 GB per Xception image, 13 GB for 32 on a CPU."""
    if not mb_per_image or not available_mb:
        return batch
    for chunk in range(batch, 0, -1):
        if batch % chunk == 0 and chunk * mb_per_image * 1.25 <= 0.25 * available_mb:
            return chunk
    return 1


# ----- the models ---------------------------------------------------------------------------------------------

@dataclass
class ModelCase:
    """A model to benchmark, the layer Grad-CAM explains, and a middle layer for the batch-consistency check."""

    name: str
    model: keras.Model
    layer: str
    mid_layer: str | None = None
    batch_sizes: tuple[int, ...] = (1, 8, 32)
    repeats: int = 3
    article_calls: int = 5
    seed: int = 0
    preprocess: Callable[[np.ndarray], np.ndarray] = lambda pixels: pixels.astype(np.float32) / 127.5 - 1.0

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.model.inputs[0].shape[1:])

    def images(self, batch: int) -> np.ndarray:
        """Uniform in [-1, 1]: the range both ImageNet models' preprocessing produces; the same for every method."""
        rng = np.random.default_rng(self.seed)
        return rng.uniform(-1, 1, (batch,) + self.input_shape).astype(np.float32)

    def photos(self) -> np.ndarray:
        """The course's sample photos (data/images), resized and preprocessed: real content, for the checks of
        what the maps look like (random inputs give flat, often empty maps)."""
        files = sorted(p for p in (ROOT / "data" / "images").iterdir() if p.suffix.lower() in (".png", ".jpg"))
        size = self.input_shape[:2]
        if not files or None in size:
            return self.images(5)
        return np.asarray(self.preprocess(np.stack([gc.load_image(f, size=size) for f in files])), np.float32)


def xception_case(batch_sizes=(1, 8, 32), repeats=3, article_calls=5) -> ModelCase:
    """The article's model: Xception at 299x299, random weights (speed does not depend on the values; offline)."""
    keras.utils.set_random_seed(0)
    model = keras.applications.Xception(weights=None, classifier_activation=None)
    return ModelCase("xception", model, "block14_sepconv2_act", "block8_sepconv3_act", tuple(batch_sizes), repeats,
                     article_calls)


def efficientnet_case(batch_sizes=(1, 8, 32), repeats=5, article_calls=7) -> ModelCase:
    """The embedded ImageNet model (EfficientNet-Lite0, 224x224), as the course and the explorer use it."""
    bundle = gc.load_model("efficientnet_lite0")
    return ModelCase("efficientnet_lite0", bundle.model, bundle.last_conv_layer, "block4c_expand_activation",
                     tuple(batch_sizes), repeats, article_calls, preprocess=bundle.preprocess)


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
        case.article_calls)["article"]
    photos = case.photos()
    photo_classes = gc.class_logits(model, photos).argmax(axis=1)
    result = {"model": case.name, "layer": layer, "input_shape": list(case.input_shape),
              "article_ms_per_image": article["median_ms"], "article_samples_ms": article["samples_ms"],
              # The article is right for one image at a time: its map of a photo must be ours.
              "max_abs_diff_vs_article": float(np.abs(gc.compute_heatmaps(model, photos[:1], layer)[0]
                                                      - make_gradcam_heatmap(photos[:1], model, layer)).max()),
              "tf_keras_vis": tfkv is not None, "batches": {}}
    if tfkv is not None:  # raw maps (tf-keras-vis normalises min-max, we divide by the max after the ReLU)
        theirs = tfkv(photos, photo_classes, normalize=False)
        ours = gc.compute_heatmaps(model, photos, layer, photo_classes, normalize=False)
        result["max_rel_diff_vs_tf_keras_vis"] = float(np.abs(ours - theirs).max() / np.abs(theirs).max())
    for batch in case.batch_sizes:
        images, classes = biggest[:batch], classes_all[:batch]
        chunk = None
        if tfkv is not None:
            chunk = _chunk_that_runs(tfkv, images, classes,
                                     fitting_chunk(batch, tf_keras_vis_mb_per_image, memory_available_mb()))
        timings = interleaved_medians({
            "ours": lambda: gc.compute_heatmaps(model, images, layer, classes),
            "forward": lambda: floor(images),
            "tf_keras_vis": None if not chunk else (lambda: tfkv(images, classes, chunk=chunk)),
        }, case.repeats)
        ours, forward, other = (timings[k]["median_ms"] if timings[k] else None
                                for k in ("ours", "forward", "tf_keras_vis"))
        article_ms = article["median_ms"] * batch
        row = {
            "article_ms": article_ms, "ours_ms": ours, "forward_ms": forward, "tf_keras_vis_ms": other,
            "speedup_vs_article": article_ms / ours,
            "ceiling_vs_article": article_ms / forward,  # the most any Grad-CAM could gain: article / one forward
            "gradcam_over_forward": ours / forward,
            "speedup_vs_tf_keras_vis": None if other is None else other / ours,
            "images_per_s": 1000.0 * batch / ours,
            "tf_keras_vis_chunk": chunk,
            "tf_keras_vis_note": ("tf-keras-vis is not installed" if tfkv is None else
                                  "tf-keras-vis ran out of memory, even one image per call" if not chunk else ""),
            "samples_ms": {k: v["samples_ms"] for k, v in timings.items() if v},
        }
        result["batches"][batch] = row
        log(f"  {case.name} B={batch}: ours {ours:.0f} ms, forward {forward:.0f} ms, article {article_ms:.0f} ms"
            + (f", tf-keras-vis {other:.0f} ms" if other is not None else "")
            + (f" (in chunks of {chunk}: memory)" if chunk and chunk < batch else "") + f"  (load {_load()})")
    result["trace_count"] = engine._get_plan(model, layer).trace_count
    return result


# ----- Score-CAM ----------------------------------------------------------------------------------------------

def scorecam_section(name: str, model: keras.Model, layer: str, images: np.ndarray, batch_size: int = 64,
                     repeats: int = 3) -> dict:
    """Score-CAM with its per-channel forward passes batched (``batch_size``) vs one forward pass per channel."""
    classes = gc.class_logits(model, images).argmax(axis=1)
    channels = int(engine.gradient_inputs(model, images[:1], layer).activations.shape[-1])
    timings = interleaved_medians({
        "batched": lambda: gc.compute_heatmaps(model, images, layer, classes, "scorecam", batch_size=batch_size),
        "one_per_pass": lambda: gc.compute_heatmaps(model, images, layer, classes, "scorecam", batch_size=1),
    }, repeats)
    batched, single = timings["batched"]["median_ms"], timings["one_per_pass"]["median_ms"]
    return {"model": name, "layer": layer, "images": len(images), "channels": channels, "batch_size": batch_size,
            "batched_ms": batched, "one_per_pass_ms": single, "speedup": single / batched,
            "logits_trace_count": engine._get_logits_plan(model).trace_count}


# ----- the explorer -------------------------------------------------------------------------------------------

def explorer_section(repeats: int = 5) -> dict:
    """Median ms per kind of explorer update (benchmarks/explorer_latency.py), on the embedded model."""
    import explorer_latency

    return {"repeats": repeats, "median_ms": explorer_latency.measure(repeats=repeats)}


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
        python_peak = (tracemalloc.get_traced_memory()[1] - start_traced) / 2 ** 20
    finally:
        if not tracing:
            tracemalloc.stop()
    peak = _proc_status_mb("VmHWM")
    result = {"python_peak_mb": python_peak,
              "rss_before_mb": before,
              "rss_peak_mb": peak,
              "rss_peak_above_before_mb": (peak - before) if (reset and peak is not None and before is not None)
              else None,
              "rss_peak_is_since_start": not reset}
    if gpu:
        try:
            result["gpu_peak_mb"] = tf.config.experimental.get_memory_info(gpu)["peak"] / 2 ** 20
        except (ValueError, RuntimeError):
            pass
    return result


def memory_probe(case: ModelCase, what: str, batch: int) -> dict:
    """Peak memory of one call of ``what`` ("ours", "forward" or "tf_keras_vis") on ``batch`` images of ``case``,
    after a one-image warm-up call (tracing and first-run costs are not counted)."""
    images = case.images(batch)
    classes = np.arange(batch) % int(case.model.outputs[0].shape[-1])
    if what == "ours":
        call = lambda x: gc.compute_heatmaps(case.model, x, case.layer, classes[:len(x)])  # noqa: E731
    elif what == "forward":
        call = forward_floor(case.model)
    elif what == "tf_keras_vis":
        tfkv = tf_keras_vis_gradcam(case.model, case.layer)
        if tfkv is None:
            return {"skipped": "tf-keras-vis is not installed"}
        call = lambda x: tfkv(x, classes[:len(x)])  # noqa: E731
    else:
        raise ValueError(f"unknown call {what!r}")
    call(images[:1])
    peak = peak_memory(lambda: call(images))
    peak["rss_mb_per_image"] = None if peak["rss_peak_above_before_mb"] is None else (
        peak["rss_peak_above_before_mb"] / batch)
    return peak


def memory_section(cases: list[ModelCase], batches: dict[str, int], fresh_process: bool = True,
                   log=print) -> list[dict]:
    """``memory_probe`` for each case and call, each in a fresh Python process when ``fresh_process`` (a process
    keeps the memory it freed, so a second measurement in the same process would see too little).
    ``batches``: {call: batch size}."""
    rows = []
    for case in cases:
        for what, batch in batches.items():
            if fresh_process and case.name in CASES:
                log(f"  memory probe: {case.name} {what} B={batch} (a fresh process)")
                probe = _subprocess_json(["--probe", "memory", "--models", case.name, "--call", what,
                                          "--batch", str(batch)])
            else:
                probe = memory_probe(case, what, batch)
            rows.append({"model": case.name, "call": what, "batch": batch, "fresh_process": fresh_process, **probe})
    return rows


def _subprocess_json(args: list[str], env: dict | None = None, timeout: float = 300) -> dict:
    """Run this script with ``args`` in a fresh process; the JSON it prints last, or {"error": ...}."""
    try:
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], env=env, capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, OSError, ValueError, IndexError) as err:
        return {"error": f"{type(err).__name__}: {err}"}


# ----- leaks and retracing ------------------------------------------------------------------------------------

def leak_check(call: Callable[[], object], first: int = 10, total: int = 200,
               rss_tolerance_mb: float = TARGETS["leak_rss_mb"],
               python_tolerance_mb: float = TARGETS["leak_python_mb"]) -> dict:
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
        rss_first, python_first, gpu_first = rss_mb(), tracemalloc.get_traced_memory()[0] / 2 ** 20, _gpu_now_mb()
        for _ in range(total - first):
            call()
        _pygc.collect()
        rss_last, python_last, gpu_last = rss_mb(), tracemalloc.get_traced_memory()[0] / 2 ** 20, _gpu_now_mb()
    finally:
        if not tracing:
            tracemalloc.stop()
    rss_growth = None if rss_first is None or rss_last is None else rss_last - rss_first
    gpu_growth = None if gpu_first is None or gpu_last is None else gpu_last - gpu_first
    python_growth = python_last - python_first
    calls = total - first
    ok = (python_growth <= python_tolerance_mb and (rss_growth is None or rss_growth <= rss_tolerance_mb)
          and (gpu_growth is None or gpu_growth <= rss_tolerance_mb))
    return {"first": first, "total": total, "rss_after_first_mb": rss_first, "rss_after_total_mb": rss_last,
            "rss_growth_mb": rss_growth, "rss_growth_kb_per_call": None if rss_growth is None
            else 1024 * rss_growth / calls, "python_growth_mb": python_growth,
            "python_growth_kb_per_call": 1024 * python_growth / calls, "gpu_growth_mb": gpu_growth, "ok": ok}


def _gpu_now_mb() -> float | None:
    gpu = _gpu_name()
    if gpu is None:
        return None
    try:
        return tf.config.experimental.get_memory_info(gpu)["current"] / 2 ** 20
    except (ValueError, RuntimeError):
        return None


def trace_check(call: Callable[[int], object], trace_count: Callable[[], int],
                batch_sizes=(1, 3, 8, 2, 8, 1)) -> dict:
    """Calls ``call(batch)`` for each batch size; ``trace_count()`` after each. ``ok``: one trace, then none."""
    counts = []
    for batch in batch_sizes:
        call(batch)
        counts.append(int(trace_count()))
    return {"batch_sizes": list(batch_sizes), "trace_counts": counts, "retraces": counts[-1] - counts[0],
            "ok": counts[0] <= 1 and counts[-1] == counts[0]}


def engine_trace_check(case: ModelCase, batch_sizes=(1, 3, 8, 2, 8, 1)) -> dict:
    """Our Grad-CAM plan and logits plan on ``case``: traced once whatever the batch size."""
    images = case.images(max(batch_sizes))
    layer = case.mid_layer or case.layer
    gradcam = trace_check(lambda b: gc.compute_heatmaps(case.model, images[:b], layer),
                          lambda: engine._get_plan(case.model, layer).trace_count, batch_sizes)
    logits = trace_check(lambda b: gc.class_logits(case.model, images[:b]),
                         lambda: engine._get_logits_plan(case.model).trace_count, batch_sizes)
    return {"model": case.name, "layer": layer, "gradcam": gradcam, "logits": logits,
            "ok": gradcam["ok"] and logits["ok"]}


# ----- oneDNN: does a map depend on the batch it was computed in? ---------------------------------------------

def batch_consistency(case: ModelCase) -> dict:
    """The sample photos one at a time vs in one batch, at a middle layer and the last one: max relative difference
    of the gradients (to each image's largest gradient) and of the normalised maps. Float32 kernels that pick a
    different algorithm per batch size (oneDNN on CPU) make these differ; nothing else in the engine mixes images.
    """
    images = case.photos()
    batch = len(images)
    out = {"model": case.name, "batch": batch, "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
           "layers": {}}
    for layer in dict.fromkeys(filter(None, (case.mid_layer, case.layer))):
        together = engine.gradient_inputs(case.model, images, layer)
        alone = [engine.gradient_inputs(case.model, images[i:i + 1], layer) for i in range(batch)]
        grads_alone = np.concatenate([a.gradients for a in alone])
        scale = np.abs(together.gradients).reshape(batch, -1).max(axis=1)
        grad_diff = (np.abs(grads_alone - together.gradients).reshape(batch, -1).max(axis=1) /
                     np.where(scale > 0, scale, 1.0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)
            maps_together = engine.heatmaps_from(together)[0]
            maps_alone = np.concatenate([engine.heatmaps_from(a)[0] for a in alone])
        out["layers"][layer] = {"max_rel_grad_diff": float(grad_diff.max()),
                                "max_map_diff": float(np.abs(maps_alone - maps_together).max())}
    return out


def onednn_off_consistency(model: str = "efficientnet_lite0") -> dict:
    """The batch-consistency check again in a fresh process with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)."""
    return _subprocess_json(["--probe", "consistency", "--models", model],
                            env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0"))


# ----- targets ------------------------------------------------------------------------------------------------

def evaluate(results: dict) -> list[dict]:
    """Rows (check, measured, target, verdict) for every target the issue sets, from the results of a run."""
    rows = []

    def add(check: str, value, target: str, ok: bool | None, note: str = ""):
        rows.append({"check": check, "measured": value, "target": target,
                     "verdict": "n/a" if ok is None else ("PASS" if ok else "FAIL"), "note": note})

    for section in results.get("gradcam", []):
        name, batches = section["model"], section["batches"]
        big = max(batches)
        row = batches[big]
        add(f"{name} B={big}: throughput vs the article", f"{row['speedup_vs_article']:.2f}x",
            f">= {TARGETS['speedup_vs_article']:g}x", row["speedup_vs_article"] >= TARGETS["speedup_vs_article"],
            f"ceiling (article / one forward pass): {row['ceiling_vs_article']:.2f}x"
            + ("" if name == "xception" else "; the target is set for xception"))
        for batch in sorted(batches):
            row = batches[batch]
            if batch == 8 or 8 not in batches and batch == big:
                add(f"{name} B={batch}: Grad-CAM / forward pass", f"{row['gradcam_over_forward']:.2f}x",
                    f"<= {TARGETS['gradcam_over_forward']:g}x",
                    row["gradcam_over_forward"] <= TARGETS["gradcam_over_forward"])
        for batch in sorted(batches):
            row = batches[batch]
            if row["speedup_vs_tf_keras_vis"] is None:
                add(f"{name} B={batch}: throughput vs tf-keras-vis", "skipped", "", None,
                    row.get("tf_keras_vis_note") or "tf-keras-vis is not installed")
            else:
                chunk = row.get("tf_keras_vis_chunk")
                add(f"{name} B={batch}: throughput vs tf-keras-vis", f"{row['speedup_vs_tf_keras_vis']:.2f}x",
                    f">= {TARGETS['speedup_vs_tf_keras_vis']:g}x",
                    row["speedup_vs_tf_keras_vis"] >= TARGETS["speedup_vs_tf_keras_vis"],
                    f"tf-keras-vis in chunks of {chunk} (memory)" if chunk and chunk < batch else "")
    explorer = results.get("explorer")
    if explorer:
        for update in FAST_EXPLORER_UPDATES + LAYER_EXPLORER_UPDATES:
            ms = explorer["median_ms"].get(update)
            if ms is None:
                continue
            limit = TARGETS["explorer_fast_ms" if update in FAST_EXPLORER_UPDATES else "explorer_layer_ms"]
            add(f"explorer: {update.replace('_', ' ')}", f"{ms:.0f} ms", f"< {limit:g} ms", ms < limit)
    for leak in results.get("leaks", []):
        growth = leak["rss_growth_mb"]
        add(f"{leak['label']}: memory, call {leak['first']} -> {leak['total']}",
            f"RSS {growth:+.1f} MB, Python {leak['python_growth_mb']:+.2f} MB" if growth is not None
            else f"Python {leak['python_growth_mb']:+.2f} MB",
            f"<= {TARGETS['leak_rss_mb']:g} MB / {TARGETS['leak_python_mb']:g} MB", leak["ok"])
    for traces in results.get("traces", []):
        add(f"{traces['model']}: traces per plan over batch sizes {traces['gradcam']['batch_sizes']}",
            f"Grad-CAM {traces['gradcam']['trace_counts'][-1]}, logits {traces['logits']['trace_counts'][-1]}",
            "1 each", traces["ok"])
    for section in results.get("gradcam", []):
        add(f"{section['model']}: traces after all timed calls", str(section["trace_count"]), "1",
            section["trace_count"] == 1)
    if "seconds" in results:
        add("suite wall time", f"{results['seconds']:.0f} s", f"< {TARGETS['suite_seconds']:g} s",
            results["seconds"] < TARGETS["suite_seconds"])
    return rows


# ----- printing -----------------------------------------------------------------------------------------------

def _table(headers: list[str], rows: list[list], out=print) -> None:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        out("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if n == 0:
            out("  ".join("-" * w for w in widths))


def _f(value, digits=0, suffix=""):
    return None if value is None else f"{value:.{digits}f}{suffix}"


def report(results: dict, out=print) -> None:
    m = results["machine"]
    out(f"\nmachine: {m['device']} | {m['cpu_model']} | {m['cpus_usable']} usable of {m['cpu_count']} CPUs | "
        f"TF {m['tensorflow']}, Keras {m['keras']} | load average at start {m['load_average']}, at end "
        f"{results.get('load_average_end')} | oneDNN {m['onednn']}")
    out("\nTargets (ratios measured in this run)")
    _table(["check", "measured", "target", "verdict", "note"],
           [[r["check"], r["measured"], r["target"], r["verdict"], r["note"]] for r in results["targets"]], out)
    for section in results.get("gradcam", []):
        out(f"\nGrad-CAM, {section['model']} {tuple(section['input_shape'])}, layer {section['layer']} "
            f"(median ms per batch; the article: {section['article_ms_per_image']:.0f} ms per one-image call x B)")
        _table(["B", "article", "ours", "forward", "tf-keras-vis", "vs article", "ceiling", "ours/forward",
                "vs tf-keras-vis", "images/s"],
               [[b, _f(r["article_ms"]), _f(r["ours_ms"]), _f(r["forward_ms"]), _f(r["tf_keras_vis_ms"]),
                 _f(r["speedup_vs_article"], 2, "x"), _f(r["ceiling_vs_article"], 2, "x"),
                 _f(r["gradcam_over_forward"], 2, "x"), _f(r["speedup_vs_tf_keras_vis"], 2, "x"),
                 _f(r["images_per_s"], 1)] for b, r in section["batches"].items()], out)
        chunked = {b: r["tf_keras_vis_chunk"] for b, r in section["batches"].items()
                   if r.get("tf_keras_vis_chunk") and r["tf_keras_vis_chunk"] < int(b)}
        if chunked:
            out("tf-keras-vis ran in chunks (not enough free memory for the whole batch at once): "
                + ", ".join(f"B={b} in chunks of {c}" for b, c in chunked.items()))
        out(f"same maps: max |ours - article| {section['max_abs_diff_vs_article']:.1e} (a photo, maps in [0, 1])"
            + ("" if not section["tf_keras_vis"] else ", max |ours - tf-keras-vis| / peak "
               f"{section['max_rel_diff_vs_tf_keras_vis']:.1e} (5 photos, raw maps)"))
    if results.get("scorecam"):
        out("\nScore-CAM: per-channel forward passes batched vs one per pass")
        _table(["model", "layer", "images", "channels", "batched", "one per pass", "speedup"],
               [[s["model"], s["layer"], s["images"], s["channels"], f"{s['batched_ms']:.0f} ms (bs {s['batch_size']})",
                 f"{s['one_per_pass_ms']:.0f} ms", f"{s['speedup']:.1f}x"] for s in results["scorecam"]], out)
    if results.get("explorer"):
        out(f"\nExplorer updates, efficientnet_lite0 (median of {results['explorer']['repeats']}, PNG encoding "
            "included)")
        _table(["update", "ms"], [[k, f"{v:.0f}"] for k, v in results["explorer"]["median_ms"].items()], out)
    if results.get("memory"):
        fresh = all(mem.get("fresh_process") for mem in results["memory"])
        out("\nPeak memory of one call (MB above the process's RSS just before it; Python = tracemalloc"
            + ("; a fresh process per row)" if fresh else "; measured in this process: a lower bound)"))
        rows = []
        for mem in results["memory"]:
            if "error" in mem or "skipped" in mem:
                rows.append([f"{mem['model']} {mem['call']}", mem["batch"], mem.get("error") or mem.get("skipped"),
                             None, None, None])
                continue
            rows.append([f"{mem['model']} {mem['call']}", mem["batch"], _f(mem["rss_peak_above_before_mb"]),
                         _f(mem["rss_mb_per_image"], 1), _f(mem["python_peak_mb"], 1), _f(mem.get("gpu_peak_mb"))])
        _table(["call", "B", "RSS peak", "per image", "Python peak", "GPU peak"], rows, out)
    for leak in results.get("leaks", []):
        out(f"\nleak check, {leak['label']}: RSS {leak['rss_after_first_mb']:.0f} MB after {leak['first']} calls, "
            f"{leak['rss_after_total_mb']:.0f} MB after {leak['total']} ({leak['rss_growth_kb_per_call']:+.1f} KB "
            f"per call); Python allocations {leak['python_growth_kb_per_call']:+.2f} KB per call"
            + ("" if leak.get("gpu_growth_mb") is None else f"; GPU memory {leak['gpu_growth_mb']:+.1f} MB"))
    for check in results.get("consistency", []):
        for layer, d in check["layers"].items():
            out(f"batch consistency, {check['model']} {layer}: one at a time vs batch of {check['batch']}: "
                f"gradients differ by up to {d['max_rel_grad_diff']:.1e} (relative), maps by {d['max_map_diff']:.1e}"
                f" (oneDNN {check['onednn']})")
    out(f"\nsuite: {results.get('seconds', 0):.0f} s")


# ----- the suite ----------------------------------------------------------------------------------------------

CASES = {"xception": xception_case, "efficientnet_lite0": efficientnet_case}


def run_suite(cases: list[ModelCase], scorecam_cases: list[tuple] = (), explorer_repeats: int | None = 5,
              leak_calls: tuple[int, int] = (10, 200), memory_batches: dict[str, int] | None = None,
              fresh_process_memory: bool = True, onednn_off_model: str | None = None, log=print) -> dict:
    """Run every section on ``cases``; returns the results (``report`` prints them, ``evaluate`` judges them).

    ``scorecam_cases``: (name, model, layer, images, batch_size) tuples. ``memory_batches``: {call: batch} for the
    memory probes (default: ours and the forward pass at the largest batch, tf-keras-vis at 8).
    """
    with warnings.catch_warnings():
        # The article's code (tests/article_reference.py reproduces it) wraps model.inputs in a list, and Keras
        # says so on every call; random inputs often have no positive evidence at a middle layer. Neither is what
        # is measured.
        warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")
        warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)
        return _run_suite(cases, scorecam_cases, explorer_repeats, leak_calls, memory_batches, fresh_process_memory,
                          onednn_off_model, log)


def _run_suite(cases, scorecam_cases, explorer_repeats, leak_calls, memory_batches, fresh_process_memory,
               onednn_off_model, log) -> dict:
    started = time.perf_counter()
    results: dict = {"machine": machine_info(), "targets_set": TARGETS, "gradcam": [], "scorecam": [],
                     "memory": [], "leaks": [], "traces": [], "consistency": []}
    m = results["machine"]
    log(f"{m['device']}, TF {m['tensorflow']}, {m['cpus_usable']} CPUs, load {m['load_average']}")
    # Memory first, in fresh processes: before this one holds the models, and so that tf-keras-vis' need is known
    # before it is handed a big batch.
    log("peak memory")
    for case in cases:
        batches = memory_batches or {"ours": max(case.batch_sizes), "forward": max(case.batch_sizes),
                                     "tf_keras_vis": min(8, max(case.batch_sizes))}
        results["memory"] += memory_section([case], batches, fresh_process_memory, log)
    for case in cases:
        log(f"Grad-CAM timings: {case.name}")
        tfkv_need = next((row.get("rss_mb_per_image") for row in results["memory"]
                          if row["model"] == case.name and row["call"] == "tf_keras_vis"), None)
        results["gradcam"].append(gradcam_section(case, log, tfkv_need))
    for name, model, layer, images, batch_size in scorecam_cases:
        log(f"Score-CAM: {name} {layer}")
        results["scorecam"].append(scorecam_section(name, model, layer, images, batch_size))
    if explorer_repeats:
        log("explorer latencies")
        results["explorer"] = explorer_section(explorer_repeats)
    for case in cases:
        log(f"traces, batch consistency: {case.name}")
        results["traces"].append(engine_trace_check(case))
        results["consistency"].append(batch_consistency(case))
    if onednn_off_model:
        log(f"batch consistency with oneDNN off: {onednn_off_model} (a fresh process)")
        off = onednn_off_consistency(onednn_off_model)
        results["consistency_onednn_off"] = off
        if "layers" in off:
            results["consistency"].append(off)
    leak_case = cases[-1]
    one = leak_case.images(1)
    log(f"leak check: {leak_case.name}, {leak_calls[1]} calls")
    results["leaks"].append({"label": f"{leak_case.name} explain, B=1", **leak_check(
        lambda: gc.explain(leak_case.model, one, leak_case.layer), *leak_calls)})
    results["seconds"] = time.perf_counter() - started
    results["load_average_end"] = _load()
    results["targets"] = evaluate(results)
    return results


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch sizes 1 and 8, fewer repeats and calls")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--models", default=",".join(CASES), help=f"comma-separated, from: {', '.join(CASES)}")
    parser.add_argument("--no-explorer", action="store_true", help="skip the explorer latencies")
    parser.add_argument("--onednn-off-check", action="store_true",
                        help="repeat the batch-consistency check in a fresh process with TF_ENABLE_ONEDNN_OPTS=0")
    parser.add_argument("--probe", choices=("memory", "consistency"), help=argparse.SUPPRESS)  # run in a subprocess
    parser.add_argument("--call", default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CASES))
    if unknown or not names:
        parser.error(f"unknown model(s) {unknown}; use some of {', '.join(CASES)}")
    batch_sizes = (1, 8) if args.quick else (1, 8, 32)
    settings = {"xception": (2, 3) if args.quick else (3, 5),  # (repeats, article calls)
                "efficientnet_lite0": (3, 4) if args.quick else (5, 7)}

    def build(name: str) -> ModelCase:
        return CASES[name](batch_sizes, *settings[name])

    if args.probe:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)
            case = build(names[0])
            found = memory_probe(case, args.call, args.batch) if args.probe == "memory" else batch_consistency(case)
        print(json.dumps(_jsonable(found)))
        return 0

    cases = [build(n) for n in names]
    shapes = gc.load_model("shapes_gap")
    scorecam_cases = [("shapes_gap", shapes.model, shapes.last_conv_layer,
                       np.asarray(shapes.preprocess(make_shapes(1, seed=3).images)), 64)]
    if not args.quick and "efficientnet_lite0" in names:
        lite = next(c for c in cases if c.name == "efficientnet_lite0")
        scorecam_cases.append(("efficientnet_lite0", lite.model, "block2a_project_conv", lite.images(1), 32))
    results = run_suite(cases, scorecam_cases, None if args.no_explorer else (2 if args.quick else 5),
                        (10, 60) if args.quick else (10, 200),
                        onednn_off_model="efficientnet_lite0" if args.onednn_off_check else None,
                        log=lambda line: print(line, file=sys.stderr, flush=True))
    report(results)
    if args.out:
        args.out.write_text(json.dumps(_jsonable(results), indent=1))
        print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
