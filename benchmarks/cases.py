"""What the benchmarks measure on: the machine, the models, and the implementations compared with ours.

The models are ``ModelCase``s; the other implementations are the article's one-image-per-call code, a plain forward
pass and tf-keras-vis.
"""

from __future__ import annotations

import importlib.util
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import gradcam_utils as gc
from gradcam_utils import course

ROOT = Path(__file__).resolve().parents[1]


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
        cpu_model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu_model = platform.processor()
    return {
        "device": ", ".join(names) if names else "CPU",
        "gpus": names,
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": load_average(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86 Linux CPUs)"),
    }


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the platform has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


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
        """The model's input shape without the batch axis."""
        return tuple(self.model.inputs[0].shape[1:])

    def images(self, batch: int) -> np.ndarray:
        """Uniform in [-1, 1]: the range both ImageNet models' preprocessing produces; the same for every method."""
        rng = np.random.default_rng(self.seed)
        return rng.uniform(-1, 1, (batch,) + self.input_shape).astype(np.float32)

    def photos(self) -> np.ndarray:
        """The course's sample photos (``course.sample_images()``), resized and preprocessed.

        Real content, for the checks of what the maps look like (random inputs give flat, often empty maps).
        """
        files = [course.sample_image_path(name) for name in course.sample_images()]
        height, width = self.input_shape[:2]
        if not files or height is None or width is None:
            return self.images(5)
        return np.asarray(
            self.preprocess(np.stack([gc.load_image(f, size=(height, width)) for f in files])), np.float32
        )


def xception_case(batch_sizes=(1, 8, 32), repeats=3, article_calls=5) -> ModelCase:
    """The article's model: Xception at 299x299, random weights (speed does not depend on the values; offline)."""
    keras.utils.set_random_seed(0)
    model = keras.applications.Xception(weights=None, classifier_activation=None)
    return ModelCase(
        "xception", model, "block14_sepconv2_act", "block8_sepconv3_act", tuple(batch_sizes), repeats, article_calls
    )


def efficientnet_case(batch_sizes=(1, 8, 32), repeats=5, article_calls=7) -> ModelCase:
    """The embedded ImageNet model (EfficientNet-Lite0, 224x224), as the course and the explorer use it."""
    bundle = gc.load_model("efficientnet_lite0")
    return ModelCase(
        "efficientnet_lite0",
        bundle.model,
        bundle.last_conv_layer,
        "block4c_expand_activation",
        tuple(batch_sizes),
        repeats,
        article_calls,
        preprocess=bundle.preprocess,
    )


CASES = {"xception": xception_case, "efficientnet_lite0": efficientnet_case}


# ----- the implementations compared with ours -----------------------------------------------------------------


def forward_floor(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """A plain forward pass: ``model(x, training=False)`` traced once with a batch-free signature, result to numpy.

    The floor: any Grad-CAM has to run at least this (the class score needs the whole forward pass), on the same
    batch, traced like our plans (no Python per layer), and it too hands its output back to numpy.
    """
    spec = tf.TensorSpec((None,) + tuple(model.inputs[0].shape[1:]), tf.float32)
    traced = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return lambda images: traced(tf.constant(images)).numpy()


def article_gradcam():
    """The article's ``make_gradcam_heatmap`` as it behaves: one image per call.

    From tests/article_reference.py (our reimplementation), loaded from its file: tests/ is not a package (and
    ``tests`` on sys.path may be another's).
    """
    spec = importlib.util.spec_from_file_location("gradcam_article_reference", ROOT / "tests" / "article_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_gradcam_heatmap


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
        return np.concatenate(
            [
                np.asarray(
                    visualizer(
                        CategoricalScore(list(classes[i : i + step])),
                        images[i : i + step],
                        penultimate_layer=layer,
                        seek_penultimate_conv_layer=False,
                        expand_cam=False,
                        normalize_cam=normalize,
                    )
                )
                for i in range(0, len(images), step)
            ]
        )

    return run


# ----- AblationCAM next to Score-CAM -------------------------------------------------------------------------------


def ablation_calls(
    model: keras.Model, layer: str, images: np.ndarray, batch_size: int = 64, scorecam: bool = True
) -> dict[str, Callable[[], object] | None]:
    """{method: call} for Grad-CAM, AblationCAM and (``scorecam``) Score-CAM on the same images, classes and layer.

    Each is one ``gc.compute_heatmaps`` call: AblationCAM's includes the forward and backward pass that gives the
    activations, then the layers after ``layer`` once per channel (``_graph.tail_call``); Score-CAM's runs the whole
    model once per channel (leave it out at a layer with many channels: ~10 s per image at EfficientNet-Lite0's
    1280-channel last layer on a CPU).
    """
    classes = gc.class_logits(model, images).argmax(axis=1)
    methods = ("gradcam", "ablationcam", "scorecam") if scorecam else ("gradcam", "ablationcam")

    def call(method: str) -> Callable[[], object]:
        return lambda: gc.compute_heatmaps(model, images, layer, classes, method, batch_size=batch_size)

    return {method: call(method) for method in methods}


def ablation_cost(
    name: str, model: keras.Model, layer: str, images: np.ndarray, repeats: int = 3, scorecam: bool = True
) -> dict:
    """Median ms of Grad-CAM, AblationCAM and Score-CAM (interleaved), each method's ratio to Grad-CAM.

    Ratios are of medians measured in the same process, round-robin, on the same images: only they mean anything
    (absolute times move with the machine's load). Score-CAM's entries are None when ``scorecam`` is False.
    """
    from .timing import interleaved_medians

    channels = int(gc.gradient_inputs(model, images[:1], layer).activations.shape[-1])
    calls = ablation_calls(model, layer, images, scorecam=scorecam)
    medians = {k: v["median_ms"] for k, v in interleaved_medians(calls, repeats).items()}
    scorecam_ms = medians.get("scorecam")
    return {
        "model": name,
        "layer": layer,
        "images": len(images),
        "channels": channels,
        "gradcam_ms": medians["gradcam"],
        "ablationcam_ms": medians["ablationcam"],
        "scorecam_ms": scorecam_ms,
        "ablation_over_gradcam": medians["ablationcam"] / medians["gradcam"],
        "scorecam_over_gradcam": None if scorecam_ms is None else scorecam_ms / medians["gradcam"],
        "scorecam_over_ablation": None if scorecam_ms is None else scorecam_ms / medians["ablationcam"],
    }


def main_ablation(quick: bool = False) -> list[dict]:
    """``python -m benchmarks.cases``: AblationCAM at the last conv layer of shapes_gap and EfficientNet-Lite0 alone.

    ``benchmarks/run.py`` measures the same (``ablation_cost``) inside the whole suite; this is the short way.
    """
    from gradcam_utils.synthetic import make_shapes

    shapes = gc.load_model("shapes_gap")
    rows = [
        ablation_cost(
            "shapes_gap",
            shapes.model,
            shapes.last_conv_layer,
            np.asarray(shapes.preprocess(make_shapes(8, seed=3).images)),
        )
    ]
    if not quick:
        lite = efficientnet_case(batch_sizes=(1,))
        rows.append(ablation_cost("efficientnet_lite0", lite.model, lite.layer, lite.images(1), scorecam=False))
    for row in rows:
        scorecam = (
            "Score-CAM skipped (one whole forward pass per channel)"
            if row["scorecam_ms"] is None
            else f"Score-CAM {row['scorecam_ms']:.0f} ms ({row['scorecam_over_gradcam']:.1f}x Grad-CAM)"
        )
        print(
            f"{row['model']} {row['layer']} ({row['images']} images, {row['channels']} channels): Grad-CAM "
            f"{row['gradcam_ms']:.0f} ms, AblationCAM {row['ablationcam_ms']:.0f} ms "
            f"({row['ablation_over_gradcam']:.1f}x Grad-CAM), {scorecam}"
        )
    return rows


if __name__ == "__main__":
    import sys

    main_ablation(quick="--quick" in sys.argv)
