"""The model registry: every model the course uses, loaded by name as a ready-to-explain bundle.

``load_model(name)`` returns a ``ModelBundle``: the Keras model (producing logits), how to preprocess uint8 RGB
images for it, how to decode its outputs into named classes, its input size and its usual Grad-CAM layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from . import efficientnet_lite, imagenet, xception
from . import engine_checks as checks
from .course import MODELS_DIR
from .engine import softmax
from .errors import GradCAMError, ImageInputError, WeightsUnavailableError
from .images import load_image
from .keras_archive import check_keras_archive
from .synthetic import DEFAULT_CLASSES
from .teaching_models import LAST_CONV_LAYER


@dataclass(frozen=True)
class ModelBundle:
    """A model and everything needed to feed it and read its answers."""

    name: str
    model: keras.Model  # outputs logits (pre-softmax scores)
    preprocess_fn: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    input_size: tuple[int, int]  # (height, width)
    last_conv_layer: str
    class_names: tuple[str, ...] = field(repr=False)
    # What the outputs are: "classification" (B, classes) softmax logits, "multilabel" (B, labels) pre-sigmoid
    # logits, "segmentation" (B, H, W, classes) per-pixel logits (explain it with a gc.targets.RegionScore).
    task: str = "classification"

    def load_images(self, *sources) -> np.ndarray:
        """uint8 RGB batch (B, H, W, 3) at the model's input size, from paths, bytes, PIL images or arrays."""
        return np.stack([load_image(source, size=self.input_size) for source in sources])

    def preprocess(self, images) -> np.ndarray:
        """uint8 RGB image(s) at the input size -> float32 model input batch (B, H, W, 3)."""
        array = np.asarray(images)
        if array.ndim == 3:
            array = array[np.newaxis]
        if array.ndim != 4 or array.shape[1:] != self.input_size + (3,):
            raise ImageInputError(
                f"{self.name} expects RGB images of shape ({self.input_size[0]}, {self.input_size[1]}, 3); got "
                f"{np.shape(images)}. Load them with bundle.load_images(path, ...) to resize."
            )
        if array.dtype != np.uint8:
            raise ImageInputError(
                f"preprocess expects uint8 RGB pixels (0..255); got dtype {array.dtype}. "
                "Use bundle.load_images(...) or gc.load_image(...) to get them."
            )
        return self.preprocess_fn(array)

    def predict(self, images) -> np.ndarray:
        """Logits for uint8 RGB image(s) at the input size; NonFiniteError rather than NaN scores.

        (B, classes) for a classifier or a multi-label model, (B, H, W, classes) for a segmenter.
        """
        batch = self.preprocess(images)
        logits = np.asarray(self.model(batch, training=False))
        checks.check_finite(
            {"the model's scores": logits}, lambda rows: checks.nonfinite_cause(self.model, np.asarray(batch)[rows])
        )
        return logits

    def probabilities(self, logits) -> np.ndarray:
        """(B, classes) probabilities from logits: a softmax, or for a multi-label model each label's own sigmoid.

        Raises:
            GradCAMError: for a segmenter, whose outputs are per pixel (see :meth:`decode`).
        """
        if self.task == "segmentation":
            raise GradCAMError(self._per_pixel_message())
        array = np.atleast_2d(np.asarray(logits, dtype=np.float64))
        if self.task == "multilabel":  # labels are independent: one sigmoid each, they need not sum to 1
            return 0.5 * (1.0 + np.tanh(0.5 * array))  # the sigmoid, without exp's overflow for large |logit|
        return softmax(array)

    def decode(self, logits, top: int = 5) -> list[list[imagenet.Prediction]]:
        """Top (class index, name, probability) per image, best first, like Keras' decode_predictions.

        For a multi-label model the probability is each label's own sigmoid (a label is present above 0.5, and
        several can be); for a classifier it is the softmax over the classes.

        Raises:
            GradCAMError: for a segmenter: its outputs are a class per pixel, not one per image.
        """
        if self.task == "segmentation":
            raise GradCAMError(self._per_pixel_message())
        if self.task == "multilabel":
            names = self.class_names
            array = np.asarray(logits)
            if array.ndim not in (1, 2) or array.shape[-1] != len(names):
                raise GradCAMError(
                    f"decode expects outputs of shape (batch, {len(names)}), one logit per label; got {array.shape}."
                )
            return imagenet.decode(self.probabilities(logits), top=top, from_logits=False, class_names=names)
        return imagenet.decode(logits, top=top, class_names=self.class_names)

    def _per_pixel_message(self) -> str:
        return (
            f"{self.name} is a segmentation model: its logits (B, H, W, {len(self.class_names)}) give a class per "
            "pixel, not one per image, so there is nothing to decode into a top-k list. Take the class of each pixel "
            "with bundle.predict(images).argmax(axis=-1), and explain a region with "
            "gc.explain(bundle.model, bundle.preprocess(images), target=gc.targets.RegionScore(c, mask))."
        )


_LOADERS: dict[str, tuple[Callable[..., ModelBundle], str]] = {}


def register_model(name: str, description: str):
    """Decorator adding a bundle loader to the registry under ``name``."""

    def add(loader: Callable[..., ModelBundle]):
        _LOADERS[name] = (loader, description)
        return loader

    return add


def available_models() -> dict[str, str]:
    """Registered model names and what each one is."""
    return {name: description for name, (_, description) in _LOADERS.items()}


def load_model(name: str = "efficientnet_lite0", **options) -> ModelBundle:
    """Load a registered model as a ``ModelBundle``; ``options`` go to that model's loader."""
    if name not in _LOADERS:
        raise GradCAMError(f"Unknown model {name!r}; available: {', '.join(_LOADERS)}.")
    return _LOADERS[name][0](**options)


@register_model("efficientnet_lite0", "EfficientNet-Lite0, ImageNet, 224x224: embedded, works offline")
def _load_efficientnet_lite0(cache_dir=None) -> ModelBundle:
    return ModelBundle(
        name="efficientnet_lite0",
        model=efficientnet_lite.load_efficientnet_lite0(cache_dir=cache_dir),
        preprocess_fn=efficientnet_lite.preprocess_input,
        input_size=efficientnet_lite.INPUT_SIZE,
        last_conv_layer=efficientnet_lite.LAST_CONV_LAYER,
        class_names=imagenet.class_names_cached(),
    )


@register_model("xception", "Xception, ImageNet, 299x299: the article's model; weights downloaded once (88 MB)")
def _load_xception(weights_path=None, fallback: bool = False, **resolve_options) -> ModelBundle:
    try:
        path = xception.resolve_weights(weights_path, **resolve_options)
    except WeightsUnavailableError as err:
        if not fallback:
            raise
        warnings.warn(
            f"{err}\nFalling back to the embedded EfficientNet-Lite0, as fallback=True asked.",
            UserWarning,
            stacklevel=3,
        )
        return _load_efficientnet_lite0()
    return ModelBundle(
        name="xception",
        model=xception.build_xception(path),
        preprocess_fn=xception.preprocess_input,
        input_size=xception.INPUT_SIZE,
        last_conv_layer=xception.LAST_CONV_LAYER,
        class_names=imagenet.class_names_cached(),
    )


def load_keras_file(path) -> keras.Model:
    """Load a ``.keras`` model file safely: its archive checked first, then Keras' loader in safe mode.

    ``gradcam_utils.keras_archive.check_keras_archive`` refuses (ModelFileError) a file that is not a zip archive or
    declares more than is safe to unpack (a zip bomb), before Keras reads anything; safe mode means no code stored in
    the file runs. The model is loaded without its training configuration (``compile=False``). Keras' own errors for
    a damaged or incompatible file pass through unchanged.
    """
    check_keras_archive(path)
    return keras.saving.load_model(path, safe_mode=True, compile=False)


def _load_teaching_model(
    name: str,
    path,
    layer: str = LAST_CONV_LAYER,
    class_names: tuple[str, ...] = tuple(DEFAULT_CLASSES),
    task: str = "classification",
) -> ModelBundle:
    file = Path(path) if path is not None else MODELS_DIR / f"{name}.keras"
    if not file.is_file():
        raise WeightsUnavailableError(
            f"The teaching model file {file} is missing. It ships inside the package (gradcam_utils/data/models); "
            "reinstall the package, regenerate it from a checkout with `python scripts/train_teaching_models.py`, "
            "or pass path=... to a copy."
        )
    model = load_keras_file(file)  # the archive checked, then safe mode: no code runs from the file
    height, width = model.inputs[0].shape[1:3]
    return ModelBundle(
        name=name,
        model=model,
        preprocess_fn=lambda images: images.astype(np.float32),
        input_size=(height, width),
        last_conv_layer=layer,
        class_names=class_names,
        task=task,
    )


@register_model("shapes_gap", "The course's shapes classifier (64x64, 5 classes, GAP head): trained on clean data")
def _load_shapes_gap(path=None) -> ModelBundle:
    return _load_teaching_model("shapes_gap", path)


@register_model("shapes_biased", "The same network trained with a class-coloured marker: right for the wrong reason")
def _load_shapes_biased(path=None) -> ModelBundle:
    return _load_teaching_model("shapes_biased", path)


@register_model(
    "shapes_flat",
    "The course's shapes classifier with a Flatten + Dense head, not GAP: where Grad-CAM, "
    "HiResCAM, Grad-CAM++ and LayerCAM differ",
)
def _load_shapes_flat(path=None) -> ModelBundle:
    return _load_teaching_model("shapes_flat", path)


# The models beyond the CNN classifier (issue 16). Their modules are imported when a model is loaded: the ViT's
# registers its own layers (class token, position embedding) with Keras, which safe mode then accepts.
@register_model("shapes_vit", "A small Vision Transformer on the shapes (64x64, 5 classes): Grad-CAM on tokens")
def _load_shapes_vit(path=None) -> ModelBundle:
    from . import teaching_vit

    return _load_teaching_model("shapes_vit", path, layer=teaching_vit.EXPLAINED_LAYER)


@register_model(
    "shapes_segmenter",
    "A small segmentation network on the shapes (64x64 -> 64x64 x 6 classes, the last background): region targets",
)
def _load_shapes_segmenter(path=None) -> ModelBundle:
    from . import teaching_tasks

    return _load_teaching_model(
        "shapes_segmenter",
        path,
        layer=teaching_tasks.SEGMENTER_LAYER,
        class_names=teaching_tasks.SEGMENTER_CLASSES,
        task="segmentation",
    )


@register_model("shapes_multilabel", "A multi-label shapes model (several shapes per picture, one sigmoid per label)")
def _load_shapes_multilabel(path=None) -> ModelBundle:
    from . import teaching_tasks

    return _load_teaching_model("shapes_multilabel", path, layer=teaching_tasks.MULTILABEL_LAYER, task="multilabel")
