"""Two teaching models beyond the one-label classifier: a segmenter and a multi-label model, on several shapes.

Both learn from :func:`make_scenes`: pictures of 1 to 3 shapes of distinct classes from
:func:`gradcam_utils.synthetic.make_shapes`, whose exact masks give the ground truth of both tasks at once:

* multi-label: ``labels`` (N, 5), multi-hot, and ``label_masks`` (N, 5, H, W), the pixels of the shape of each
  present label (all False for an absent one);
* segmentation: ``pixel_labels`` (N, H, W), class ``c`` on the pixels of the shape of class ``c`` and
  ``BACKGROUND`` (5) everywhere else, so a class has the same index as in the classifiers.

``shapes_multilabel`` (:func:`build_shapes_multilabel`) is ``shapes_gap``'s architecture (the conv body of
:mod:`gradcam_utils.teaching_models`, global average pooling, ``Dense(5)``) trained with one sigmoid per label: its
outputs are the five pre-sigmoid logits, and ``gc.targets.MultiLabel(k)`` explains label ``k``. With the GAP head,
Grad-CAM of a label at ``conv5_act`` is again that label's CAM.

``shapes_segmenter`` (:func:`build_shapes_segmenter`) is an encoder-decoder: the same conv body down to 16x16
(``conv5_act``), then two ``x2`` upsamplings, each joined with the encoder's map at that scale (a skip connection,
as in U-Net), and a 1x1 convolution at full size giving 6 logits per pixel (no softmax), output (B, 64, 64, 6).
Its explained layer, ``SEGMENTER_LAYER``, is the 16x16 bottleneck ``conv5_act``: there each cell sees the whole shape
(a 50 px receptive field, the blurred blocks of the classifiers), which is what tells a circle from a square, while
the skips from 32x32 and 64x64 carry only edges and colour. A region target, ``gc.targets.RegionScore(c, mask)``,
sums class ``c``'s logits over the region's pixels, so its gradient reaches the bottleneck through the decoder from
those pixels: its Grad-CAM map says which cells' features made the region class ``c``.

Layer names are part of the interface (notebooks and tests use them); the models hold built-in layers only, so their
files load with ``keras.saving.load_model(path, safe_mode=True)``. Inputs are raw RGB values in [0, 255].
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from .errors import GradCAMError
from .synthetic import DEFAULT_CLASSES, make_shapes
from .teaching_models import LAST_CONV_LAYER, _conv_body, build_shapes_cnn

__all__ = [
    "BACKGROUND",
    "MAX_OBJECTS",
    "MULTILABEL_LAYER",
    "SCENE_SIZE_RANGE",
    "SEGMENTER_CLASSES",
    "SEGMENTER_LAYER",
    "ShapeScenes",
    "build_shapes_multilabel",
    "build_shapes_segmenter",
    "make_scenes",
]

#: The segmenter's classes: the shape classes in the classifiers' order, then the background (the last index).
SEGMENTER_CLASSES: tuple[str, ...] = tuple(DEFAULT_CLASSES) + ("background",)
#: Index of the background class in ``pixel_labels`` and in the segmenter's logits.
BACKGROUND = len(DEFAULT_CLASSES)
#: The segmenter's explained layer: the 16x16 bottleneck, where each cell sees the whole shape.
SEGMENTER_LAYER = LAST_CONV_LAYER
#: The multi-label model's explained layer: the last conv activation before global average pooling.
MULTILABEL_LAYER = LAST_CONV_LAYER
#: At most this many shapes per picture, of distinct classes.
MAX_OBJECTS = 3
#: Shape sizes in pixels (make_shapes' size_range): three shapes up to 18 px fit a 64x64 picture without overlap.
SCENE_SIZE_RANGE = (12, 18)


@dataclass(frozen=True)
class ShapeScenes:
    """Pictures of 1 to ``MAX_OBJECTS`` shapes with the ground truth of both tasks; ``N`` pictures, ``C`` classes."""

    images: np.ndarray  # (N, H, W, 3) uint8
    labels: np.ndarray  # (N, C) bool, multi-hot: which classes are in the picture
    label_masks: np.ndarray  # (N, C, H, W) bool, the pixels of each present class's shape; all False if absent
    pixel_labels: np.ndarray  # (N, H, W) int64, the class of each pixel, BACKGROUND outside every shape
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _scene_seed(seed: int, objects: int) -> int:
    """An independent make_shapes seed for the pictures with ``objects`` shapes (never a small integer a set uses)."""
    return int(np.random.SeedSequence((seed, objects)).generate_state(1)[0])


def make_scenes(n: int, seed: int) -> ShapeScenes:
    """``n`` pictures with 1, 2 or 3 shapes of distinct classes (a third each, shuffled), with exact ground truth.

    Args:
        n: number of pictures (>= 0).
        seed: integer seed; the same seed gives the same pictures. Use different seeds for training and test sets.

    Returns:
        A :class:`ShapeScenes`; for each picture, ``labels`` marks exactly the classes whose ``label_masks`` are
        non-empty, and ``pixel_labels`` is ``BACKGROUND`` outside the union of the masks.

    Raises:
        GradCAMError: if ``n`` or ``seed`` is not a non-negative integer.
    """
    for name, value in (("n", n), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise GradCAMError(f"make_scenes' {name} must be a non-negative integer, got {value!r}")
    classes = len(DEFAULT_CLASSES)
    counts = [n // MAX_OBJECTS + (k < n % MAX_OBJECTS) for k in range(MAX_OBJECTS)]
    images, labels, label_masks = [], [], []
    for objects, count in enumerate(counts, start=1):
        batch = make_shapes(
            count, seed=_scene_seed(seed, objects), objects_per_image=objects, size_range=SCENE_SIZE_RANGE
        )
        rows = np.arange(count)[:, None]
        hot = np.zeros((count, classes), bool)
        hot[rows, batch.object_labels] = True
        masks = np.zeros((count, classes) + batch.images.shape[1:3], bool)
        masks[rows, batch.object_labels] = batch.object_masks  # classes are distinct within a picture
        images.append(batch.images)
        labels.append(hot)
        label_masks.append(masks)
    # Shuffled so that any first m pictures mix the three counts.
    order = np.random.default_rng(seed).permutation(n)
    image_array = np.concatenate(images)[order]
    mask_array = np.concatenate(label_masks)[order]
    # Shapes never overlap (make_shapes keeps them apart), so each pixel has at most one class.
    pixel_labels = np.where(mask_array.any(axis=1), mask_array.argmax(axis=1), BACKGROUND).astype(np.int64)
    return ShapeScenes(image_array, np.concatenate(labels)[order], mask_array, pixel_labels, tuple(DEFAULT_CLASSES))


def build_shapes_multilabel(
    num_labels: int = len(DEFAULT_CLASSES),
    image_size: int | tuple[int, int] = 64,
    name: str = "shapes_multilabel",
) -> keras.Model:
    """``shapes_gap``'s architecture (conv body, GAP, ``Dense(num_labels)``) for one sigmoid per label.

    The outputs are logits: train with ``BinaryCrossentropy(from_logits=True)``; a label is present when its logit
    is above 0 (its sigmoid above 0.5).

    Args:
        num_labels: number of labels (>= 2).
        image_size: input height and width, ``H`` or ``(H, W)``; both must be divisible by 4.
        name: the model's name.
    """
    return build_shapes_cnn(num_labels, image_size, name)


def build_shapes_segmenter(
    num_classes: int = len(SEGMENTER_CLASSES),
    image_size: int | tuple[int, int] = 64,
    name: str = "shapes_segmenter",
) -> keras.Model:
    """An encoder-decoder mapping ``(B, H, W, 3)`` raw pixels to ``(B, H, W, num_classes)`` per-pixel logits.

    The encoder is the classifiers' conv body down to ``conv5_act`` (H/4 x W/4); the decoder upsamples it by 2
    (``up1``), concatenates the encoder's ``conv2_act`` (``skip1``) and mixes them with a 3x3 conv (``dec1``,
    ``dec1_act``), upsamples by 2 again (``up2``), concatenates ``conv1_act`` (``skip2``) and ends in ``logits``, a
    1x1 conv with no softmax.

    Args:
        num_classes: classes per pixel, background included (>= 2).
        image_size: input height and width, ``H`` or ``(H, W)``; both must be divisible by 4.
        name: the model's name.
    """
    inputs, bottleneck = _conv_body(num_classes, image_size)
    encoder = keras.Model(inputs, bottleneck)  # only to reach the skips' tensors by name; same graph
    x = keras.layers.UpSampling2D(2, name="up1")(bottleneck)
    x = keras.layers.Concatenate(name="skip1")([x, encoder.get_layer("conv2_act").output])
    x = keras.layers.Conv2D(32, 3, padding="same", name="dec1")(x)
    x = keras.layers.Activation("relu", name="dec1_act")(x)
    x = keras.layers.UpSampling2D(2, name="up2")(x)
    x = keras.layers.Concatenate(name="skip2")([x, encoder.get_layer("conv1_act").output])
    # A 1x1 conv at full size: a 3x3 one there tripled the training time for little gain on these sharp shapes.
    outputs = keras.layers.Conv2D(num_classes, 1, name="logits")(x)  # no softmax: RegionScore reads logits
    return keras.Model(inputs, outputs, name=name)
