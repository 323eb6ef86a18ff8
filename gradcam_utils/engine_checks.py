"""What the engine checks around a pass: the batch before it, and that nothing non-finite comes out of it.

Before: the batch's size (before its float32 copy is made, ``MAX_BATCH_BYTES``), and for a model that takes any
image size, that its layers can run at the images' size (Keras' shape inference, no tensors). After: one float64 sum
per image of each array a pass returns (NaN and infinities propagate through it, and finite float32 values cannot
overflow it), and for a NaN or an infinity a :class:`NonFiniteError` naming its likely cause. TensorFlow's own
failures during a pass become one-line errors.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import layers as layer_lookup
from .errors import GradCAMError, ImageInputError, NonFiniteError, UnsupportedModelError
from .images import to_batch
from .methods import CamInputs

MAX_BATCH_BYTES = 2 << 30  # the float32 copy of a batch the engine makes: larger batches are refused before it is made
LARGE_INPUT = 1e6  # preprocessed pixels beyond this size are named as the likely cause of an overflow


def check_batch_size(batch_size) -> None:
    """GradCAMError unless ``batch_size`` is a positive int (numpy ints too; not a bool)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise GradCAMError(f"batch_size must be a positive int; got {batch_size!r}.")


def model_batch(images, plan) -> np.ndarray:
    """``images`` as the model's float32 batch, checked: its size before the copy, its spatial size against the model.

    The spatial size is checked against what the model's layers need when the model takes any size.
    """
    shape = getattr(images, "shape", None)  # a numpy array, a tensor: its size is known without converting it
    if shape is not None and len(shape) in (3, 4) and all(isinstance(d, (int, np.integer)) for d in shape):
        nbytes = 4 * int(np.prod(shape, dtype=np.float64))
        if nbytes > MAX_BATCH_BYTES:
            count = shape[0] if len(shape) == 4 else 1
            raise ImageInputError(
                f"The batch of {count} images of shape {tuple(int(d) for d in shape[-3:])} would take "
                f"{nbytes / 2**30:.1f} GiB as float32, more than the engine takes at once "
                f"({MAX_BATCH_BYTES / 2**30:.0f} GiB, engine_checks.MAX_BATCH_BYTES). Explain it in slices, e.g. "
                "for start in range(0, len(images), 64): gc.explain(model, images[start:start + 64])."
            )
    batch = to_batch(images, plan.input_shape)
    if None in plan.input_shape:
        _check_runs_at(plan, batch.shape[1:])
    return batch


def _check_runs_at(plan, image_shape: tuple) -> None:
    """ImageInputError, before any pass, when images of ``image_shape`` are too small for the model's layers.

    Checked symbolically (Keras' shape inference, no tensors), once per plan and size; only for models that take
    any size (the others' size is checked by ``to_batch``).
    """
    if image_shape in plan.sizes_ok:
        return
    problem = _size_problem(plan.model, image_shape)
    if problem is None:
        plan.sizes_ok.add(image_shape)
        return
    height, width, channels = image_shape
    smallest = _smallest_size(plan.model, channels, max(height, width))
    need = (
        f" Its layers need images of at least {smallest}x{smallest}: resize them, e.g. "
        f"load_image(path, size=({smallest}, {smallest}))."
        if smallest
        else ""
    )
    raise ImageInputError(f"Model '{plan.model.name}' cannot run on {height}x{width} images: {problem}{need}")


def _size_problem(model: keras.Model, image_shape: tuple) -> str | None:
    """Keras' reason why the model cannot take one image of ``image_shape``, or None when it can (or cannot tell)."""
    try:
        model.compute_output_spec(keras.KerasTensor((1,) + tuple(image_shape)))
    except ValueError as err:
        first = str(err).strip().split(". ")[0].splitlines()[0]
        return first if first.endswith(".") else first + "."
    except Exception:  # shape inference not supported by some layer: the pass itself will tell
        return None
    return None


def _smallest_size(model: keras.Model, channels: int, start: int, limit: int = 8192) -> int | None:
    """The smallest square size the model runs at (output sizes only grow with the input), or None past ``limit``."""
    low, high = start, max(2 * start, 2)
    while _size_problem(model, (high, high, channels)) is not None:
        low, high = high, 2 * high
        if high > limit:
            return None
    while high - low > 1:
        middle = (low + high) // 2
        if _size_problem(model, (middle, middle, channels)) is None:
            high = middle
        else:
            low = middle
    return high


def nonfinite_rows(array: np.ndarray) -> np.ndarray:
    """(B,) bool: True for each image whose slice of ``array`` holds a NaN or an infinity.

    One float64 sum per image: NaN and infinities propagate through it, and finite float32 values cannot overflow it.
    """
    array = np.asarray(array)
    if array.ndim == 0 or len(array) == 0:
        return np.zeros(array.shape[:1], bool)
    return ~np.isfinite(array.reshape(len(array), -1).sum(axis=1, dtype=np.float64))


def check_finite(parts: dict, cause, first_image: int = 0) -> None:
    """NonFiniteError for the first of ``parts`` (description -> (B, ...) array) holding a NaN or an infinity.

    ``cause(rows)`` explains it for those rows of the batch; it runs only when something is wrong.
    """
    for what, array in parts.items():
        bad = nonfinite_rows(array)
        if bad.any():
            rows = np.flatnonzero(bad)
            kind = "NaN" if np.isnan(np.asarray(array)[rows]).any() else "infinite"
            raise NonFiniteError(
                f"{what[0].upper()}{what[1:]} are {kind} for {_images(rows + first_image)}: {cause(rows)}."
            )


def _images(indices) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:5]) + (f" and {len(indices) - 5} more" if len(indices) > 5 else "")
    return f"image {shown}" if len(indices) == 1 else f"images {shown}"


def nonfinite_cause(model: keras.Model, images: np.ndarray) -> str:
    """Why a pass gave NaN or infinities: weights that hold them, a broken BatchNormalization, or a huge input."""
    for path, layer in layer_lookup.walk(model):
        name = layer_lookup.display_name(path)
        for weight in layer.weights:
            values = keras.ops.convert_to_numpy(weight)
            if not np.isfinite(values).all():
                kind = "NaN" if np.isnan(values).any() else "infinite values"
                return (
                    f"the model's weights contain {kind} (layer '{name}', weight '{weight.name}'). No map can be "
                    "computed from them: reload the model's weights, or retrain it (training diverged)"
                )
        if isinstance(layer, keras.layers.BatchNormalization) and layer.moving_variance is not None:
            variance = keras.ops.convert_to_numpy(layer.moving_variance)
            if (variance + layer.epsilon < 0).any():
                return (
                    f"layer '{name}' has a negative moving variance, whose square root is NaN: reload the model's "
                    "weights or retrain it"
                )
    peak = float(np.abs(images).max()) if images.size else 0.0
    if peak > LARGE_INPUT:
        return (
            f"the input has values up to {peak:.3g}, and the model's sums overflow float32 (3.4e38) on them. "
            "Preprocessed images usually lie in [-1, 1], [0, 1] or [0, 255]: check the preprocessing step"
        )
    return (
        f"the model's own arithmetic overflows float32 on this input, though its weights and the input (values up "
        f"to {peak:.3g}) are finite. Check the preprocessing the model expects, and the model itself"
    )


def map_overflow_message(method: str, rows: np.ndarray, inputs: CamInputs | None) -> str:
    """Why the ``method`` maps of the images flagged in ``rows`` are not finite, from the inputs they came from."""
    where = _images(np.flatnonzero(rows))
    if inputs is None:
        return f"The {method} maps of {where} are NaN or beyond float32's range."
    acts = float(np.abs(inputs.activations).max())
    grads = float(np.abs(inputs.gradients).max())
    return (
        f"The {method} maps of {where} overflow float32 (3.4e38): the layer's activations reach {acts:.3g} and "
        f"the gradients {grads:.3g}, so their weighted sums do not fit. Such values point to a model or an input "
        "far outside the usual range: check the preprocessing, or pick another layer"
    ) + "."


def call_traced(traced, images: np.ndarray, *more: np.ndarray):
    """Run a plan's traced function; TensorFlow's own failures become one-line errors, not graph tracebacks."""
    try:
        return traced(tf.constant(images), *(tf.constant(m) for m in more))
    except tf.errors.ResourceExhaustedError:
        raise GradCAMError(
            f"Out of memory running the model on {len(images)} images of shape {images.shape[1:]} at once: pass "
            "a smaller batch_size (or fewer images)."
        ) from None
    except tf.errors.InvalidArgumentError as err:
        first = (err.message or str(err)).strip().splitlines()[0]
        raise UnsupportedModelError(
            f"The model failed on images of shape {images.shape[1:]}: {first}. Check that they are the size and "
            "kind of input the model was built for."
        ) from None
