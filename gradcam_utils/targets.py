"""What a map explains: ``target=`` callables for ``explain``, ``compute_heatmaps`` and ``gradient_inputs``.

A target takes the model's output batch, read *before* a final softmax or sigmoid (the engine leaves those out without
changing the model, as it does for ``class_index``), and returns one differentiable score per image, shape (B,). The
map then shows where the layer's features raise that score. Any callable works, e.g.
``target=lambda out: out[:, 3] + out[:, 5]``; the classes here cover the common cases::

    gc.explain(model, images, target=ClassScore(3))            # same map as class_index=3
    gc.explain(model, images, target=Difference(3, 5))         # why 3 rather than 5
    gc.explain(tagger, images, target=MultiLabel(2))           # label 2 of a sigmoid head, its pre-sigmoid logit
    gc.explain(regressor, images, target=Regression(0))        # a regression output
    gc.explain(segmenter, images, target=RegionScore(1, mask)) # class 1's logits summed over a mask or box

A target is part of the plan's cache key: targets of this module that are equal (same class, same parameters) share
one traced plan; a plain function is traced once per function object, so define it once rather than in a loop.
Every method takes every target. The perturbation methods score each masked or ablated copy with the target itself
(``target(outputs)`` per copy, batched): AblationCAM weights a channel by the drop of the target's score, Score-CAM by
the target's score on a masked copy; for a class (``class_index`` or ``ClassScore``) Score-CAM keeps the paper's class
*probability* (the softmax), for a ``MultiLabel`` the label's probability (its sigmoid), and any other target's score as
it is (see ``methods.scorecam``, ``copy_score_kind``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from .errors import ClassIndexError, GradCAMError

NO_CLASS = -1  # ``class_indices`` reported for a target that is not one class's score


class Target:
    """Base of this module's targets: a score per image from the output batch, with per-image parameters.

    Subclasses implement ``score(outputs, rows)``, where ``rows`` (int32, (B,)) are the images' positions in the
    caller's batch (the engine runs long batches in slices), so per-image parameters are picked with ``tf.gather``.
    Called directly, ``target(outputs)`` scores a whole batch.
    """

    per_image: int | None = None  # number of images the parameters are given for, when they are per image

    def score(self, outputs: tf.Tensor, rows: tf.Tensor) -> tf.Tensor:
        """The (B,) scores of ``outputs``; ``rows`` are the images' positions in the caller's batch."""
        raise NotImplementedError

    def __call__(self, outputs) -> tf.Tensor:
        """The (B,) scores of a whole output batch."""
        outputs = tf.convert_to_tensor(outputs)
        return self.score(outputs, tf.range(tf.shape(outputs)[0], dtype=tf.int32))

    def check(self, num_images: int, output_shape: tuple) -> None:
        """GradCAMError before any pass when the target cannot apply to ``num_images`` outputs of ``output_shape``."""
        if self.per_image is not None and self.per_image != num_images:
            raise GradCAMError(
                f"{self!r} has parameters for {self.per_image} images but the batch has {num_images}; give one per "
                "image, or a single value for all."
            )

    def class_indices(self, num_images: int) -> np.ndarray:
        """The class each image's map explains, as ``GradCAMResult.class_indices`` reports it (NO_CLASS: none)."""
        return np.full(num_images, NO_CLASS, np.int64)

    def _key(self) -> tuple:
        return ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Target) and type(other) is type(self) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))


def _classes(value, name: str) -> np.ndarray:
    values = np.asarray(value)
    if values.dtype == bool or not np.issubdtype(values.dtype, np.integer) or values.ndim > 1:
        raise ClassIndexError(f"{name} must be an int or a sequence of ints (one per image); got {value!r}.")
    return values.astype(np.int32)


def _check_index(values: np.ndarray, size, what: str) -> None:
    bad = (values < 0) | (values >= size) if size is not None else values < 0
    if bad.any():
        raise ClassIndexError(
            f"{what} {values[bad].tolist()} out of range: the model's output has {size} entries on its last axis, so "
            f"each index must satisfy 0 <= index < {size}."
        )


def _pick(outputs: tf.Tensor, values: np.ndarray, rows: tf.Tensor) -> tf.Tensor:
    """outputs[b, values[b]] (or values for all when one value), for (B, classes) outputs."""
    per_row = tf.fill(tf.shape(rows), int(values)) if values.ndim == 0 else tf.gather(tf.constant(values), rows)
    return tf.gather(outputs, per_row, axis=1, batch_dims=1)


class ClassScore(Target):
    """Class ``c``'s pre-softmax score: what ``class_index=c`` explains. ``c`` is an int or one int per image.

    Example: ``gc.explain(model, images, target=ClassScore(3))`` gives the same maps as ``class_index=3``;
    ``ClassScore([3, 0, 7])`` explains class 3 in the first image, 0 in the second, 7 in the third.
    """

    def __init__(self, class_index):
        self.values = _classes(class_index, "ClassScore's class_index")
        self.per_image = len(self.values) if self.values.ndim == 1 else None

    def score(self, outputs, rows):
        """The (B,) scores of ``outputs``; ``rows`` are the images' positions in the caller's batch."""
        return _pick(_rank2(outputs, self), self.values, rows)

    def check(self, num_images, output_shape):
        """GradCAMError before any pass when this target cannot apply to ``num_images`` outputs of ``output_shape``."""
        super().check(num_images, output_shape)
        _check_index(self.values, output_shape[-1], "ClassScore's class_index")

    def class_indices(self, num_images):
        """The class each image's map explains."""
        return np.broadcast_to(self.values, (num_images,)).astype(np.int64)

    def _key(self):
        return (self.values.shape, self.values.tobytes())

    def __repr__(self):
        return f"ClassScore({self.values.tolist()})"


class MultiLabel(ClassScore):
    """Label ``label`` of a multi-label (sigmoid) head: its pre-sigmoid logit, one int or one per image.

    The engine reads a final ``Dense(..., activation='sigmoid')`` (or a separate sigmoid) without the sigmoid, so the
    score is the logit, which does not saturate the way the probability does. Example:
    ``[gc.explain(tagger, image, target=MultiLabel(k)) for k in present_labels]``, one map per label.
    """

    def __repr__(self):
        return f"MultiLabel({self.values.tolist()})"


class Difference(Target):
    """Score of class ``a`` minus score of class ``b`` (pre-softmax): the evidence for ``a`` *rather than* ``b``.

    Example: ``gc.explain(model, images, target=Difference(cat, dog))`` shows where the features favour cat over dog.
    """

    def __init__(self, a, b):
        self.a, self.b = _classes(a, "Difference's a"), _classes(b, "Difference's b")
        sizes = {len(v) for v in (self.a, self.b) if v.ndim == 1}
        if len(sizes) > 1:
            raise ClassIndexError(f"Difference's a and b give classes for {sorted(sizes)} images; give the same count.")
        self.per_image = sizes.pop() if sizes else None

    def score(self, outputs, rows):
        """The (B,) scores of ``outputs``; ``rows`` are the images' positions in the caller's batch."""
        outputs = _rank2(outputs, self)
        return _pick(outputs, self.a, rows) - _pick(outputs, self.b, rows)

    def check(self, num_images, output_shape):
        """GradCAMError before any pass when this target cannot apply to ``num_images`` outputs of ``output_shape``."""
        super().check(num_images, output_shape)
        for values in (self.a, self.b):
            _check_index(values, output_shape[-1], "Difference's class")

    def _key(self):
        return tuple((v.shape, v.tobytes()) for v in (self.a, self.b))

    def __repr__(self):
        return f"Difference({self.a.tolist()}, {self.b.tolist()})"


class Regression(Target):
    """Output ``index`` of a regression model (its last layer linear), on (B, outputs) or (B,) outputs.

    Example: ``gc.explain(counter, images, target=Regression(0))`` shows what raises the predicted count.
    """

    def __init__(self, index: int = 0):
        self.index = int(_classes(index, "Regression's index"))

    def score(self, outputs, rows):
        """The (B,) scores of ``outputs``; ``rows`` are the images' positions in the caller's batch."""
        return outputs if outputs.shape.rank == 1 else _pick(_rank2(outputs, self), np.asarray(self.index), rows)

    def check(self, num_images, output_shape):
        """GradCAMError before any pass when this target cannot apply to ``num_images`` outputs of ``output_shape``."""
        if len(output_shape) > 1:
            _check_index(np.asarray([self.index]), output_shape[-1], "Regression's index")

    def _key(self):
        return (self.index,)

    def __repr__(self):
        return f"Regression({self.index})"


class RegionScore(Target):
    """Class ``class_index``'s pre-activation logits summed over a region, for a (B, H, W, classes) segmentation output.

    ``region`` is a bool mask (H, W) for all images, a bool mask (B, H, W), one per image, or a box
    ``(top, left, bottom, right)`` in output pixels (bottom and right excluded). Example: why did these pixels get
    class 1? ``gc.explain(segmenter, image, target=RegionScore(1, predicted == 1))``.
    """

    def __init__(self, class_index, region):
        self.values = _classes(class_index, "RegionScore's class_index")
        if self.values.ndim:
            raise ClassIndexError(f"RegionScore takes one class; got {class_index!r}. Make one target per class.")
        self.box = None
        if isinstance(region, tuple) and len(region) == 4 and all(isinstance(v, (int, np.integer)) for v in region):
            self.box = tuple(int(v) for v in region)
            if not (0 <= self.box[0] < self.box[2] and 0 <= self.box[1] < self.box[3]):
                raise GradCAMError(f"RegionScore's box {region} must be (top, left, bottom, right) with top < bottom.")
            self.mask = None
        else:
            self.mask = np.asarray(region)
            if self.mask.dtype != bool or self.mask.ndim not in (2, 3):
                raise GradCAMError(
                    f"RegionScore's region must be a bool mask (H, W) or (B, H, W), or a box (top, left, bottom, "
                    f"right); got {'an array of ' + str(self.mask.dtype) + ' ' if self.mask.ndim else ''}"
                    f"shape {self.mask.shape}. Compare to make a mask, e.g. labels == 1."
                )
        self.per_image = len(self.mask) if self.mask is not None and self.mask.ndim == 3 else None

    def score(self, outputs, rows):
        """The (B,) scores of ``outputs``; ``rows`` are the images' positions in the caller's batch."""
        if outputs.shape.rank != 4:
            raise GradCAMError(f"{self!r} needs a (B, H, W, classes) output; the model's has shape {outputs.shape}.")
        logits = outputs[..., int(self.values)]
        if self.box is not None:
            top, left, bottom, right = self.box
            return tf.reduce_sum(logits[:, top:bottom, left:right], axis=(1, 2))
        assert self.mask is not None
        mask = tf.constant(self.mask, logits.dtype)
        mask = tf.gather(mask, rows) if self.mask.ndim == 3 else mask[None]
        return tf.reduce_sum(logits * mask, axis=(1, 2))

    def check(self, num_images, output_shape):
        """GradCAMError before any pass when this target cannot apply to ``num_images`` outputs of ``output_shape``."""
        super().check(num_images, output_shape)
        if len(output_shape) != 3:
            raise GradCAMError(f"{self!r} needs a (B, H, W, classes) output; the model's is (B, *{output_shape}).")
        _check_index(self.values.reshape(1), output_shape[-1], "RegionScore's class_index")
        size = output_shape[:2]
        if self.mask is not None and None not in size and self.mask.shape[-2:] != size:
            raise GradCAMError(f"RegionScore's mask is {self.mask.shape[-2:]} but the output's grid is {size}.")
        if self.box is not None and None not in size and (self.box[2] > size[0] or self.box[3] > size[1]):
            raise GradCAMError(f"RegionScore's box {self.box} reaches outside the output's {size} grid.")

    def _key(self):
        region = self.box if self.mask is None else (self.mask.shape, self.mask.tobytes())
        return (int(self.values), region)

    def __repr__(self):
        region = self.box if self.mask is None else f"mask{self.mask.shape}"
        return f"RegionScore({int(self.values)}, {region})"


def _rank2(outputs: tf.Tensor, target) -> tf.Tensor:
    if outputs.shape.rank != 2:
        raise GradCAMError(
            f"{target!r} needs a (batch, classes) output; the model's has shape {tuple(outputs.shape)}. For a "
            "segmentation output use RegionScore."
        )
    return outputs


# ----- what the engine uses ---------------------------------------------------------------------------------------


def check_target(target, class_index) -> None:
    """GradCAMError before any work when ``target`` cannot be used (with ``class_index``, or not callable)."""
    if target is None:
        return
    if class_index is not None:
        raise GradCAMError(
            f"Pass either class_index or target, not both (got class_index={class_index!r} and target={target!r}); "
            "class_index=c is the shortcut for target=ClassScore(c)."
        )
    if not callable(target):
        raise GradCAMError(
            f"target must be a callable taking the model's output batch and returning one score per image, shape "
            f"(B,), e.g. gradcam_utils.targets.ClassScore(3); got {type(target).__name__} {target!r}."
        )


def class_target(target) -> bool:
    """True for a target that is one class's score per image (``ClassScore``, not a sigmoid head's ``MultiLabel``)."""
    return type(target) is ClassScore


def copy_score_kind(target) -> str:
    """How Score-CAM turns ``target``'s score on a masked copy into a channel weight: its probability or as it is.

    "softmax" for no target (``class_index``) or a ``ClassScore``: the class probability of the paper; "sigmoid" for
    a ``MultiLabel``: the label's probability, what its sigmoid head reports; "score" for any other target, which has
    no probability (a difference of classes, a regression output, a region's summed logits, a function of your own).
    """
    if target is None or class_target(target):
        return "softmax"
    return "sigmoid" if isinstance(target, MultiLabel) else "score"


def target_scores(target: Callable, outputs: tf.Tensor, rows: tf.Tensor) -> tf.Tensor:
    """``target``'s (B,) float32 scores for ``outputs``, checked while tracing; GradCAMError naming what went wrong."""
    try:
        scores = target.score(outputs, rows) if isinstance(target, Target) else target(outputs)
    except GradCAMError:
        raise
    except Exception as err:  # the user's code: say it was the target, keep its message
        raise GradCAMError(
            f"target={target!r} raised {type(err).__name__}: {err}. A target takes the model's output batch (a "
            f"tensor of shape {tuple(outputs.shape)}, pre-softmax) and returns one score per image, shape (B,)."
        ) from err
    if not isinstance(scores, tf.Tensor) and not hasattr(scores, "dtype"):
        raise GradCAMError(
            f"target={target!r} returned {type(scores).__name__}; it must return a tensor of shape (B,)."
        )
    scores = tf.convert_to_tensor(scores)
    if not scores.dtype.is_floating:
        raise GradCAMError(
            f"target={target!r} returned {scores.dtype.name} scores, which have no gradient; return float scores "
            "computed from the outputs (not an argmax or a count)."
        )
    if scores.shape.rank != 1 or not scores.shape[:1].is_compatible_with(outputs.shape[:1]):
        raise GradCAMError(
            f"target={target!r} returned shape {tuple(scores.shape)} for outputs of shape {tuple(outputs.shape)}; "
            "it must return one score per image, shape (B,), e.g. outputs[:, 3] rather than outputs[:, 3:4] or a sum "
            "over the batch."
        )
    return tf.cast(scores, tf.float32)


def no_gradient_message(target) -> str:
    """Why a target whose score has no gradient with respect to the outputs is refused."""
    return (
        f"target={target!r} has no gradient with respect to the model's output: its score does not depend on the "
        "outputs through differentiable operations (an argmax, a comparison, a constant, tf.stop_gradient). Return a "
        "score computed from the outputs with differentiable operations, e.g. outputs[:, 3]."
    )
