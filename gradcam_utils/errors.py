"""Errors and warnings raised by gradcam_utils: the one place they are defined.

Every error is a :class:`GradCAMError`, which is a ``ValueError``, so ``except GradCAMError`` catches anything this
package raises for a bad input and ``except ValueError`` keeps working; each message says what was expected and what
to do instead. Catch the narrower classes when you want to react to one kind of mistake.

The tree (``tests/test_errors.py`` checks that it matches the classes below)::

    GradCAMError(ValueError)
        LayerError
        ClassIndexError
        ImageInputError
        ImageLoadError
            ImageNotFoundError(FileNotFoundError)
        UnsupportedModelError
        ModelFileError
        NonFiniteError
        UnknownMethodError
        WeightsUnavailableError(FileNotFoundError)
        PretrainedWeightsError
        TorchLegacyFormatError
            DisallowedGlobalError
        UsageError

    EmptyHeatmapWarning(UserWarning)
    WeightsCacheWarning(UserWarning)
    ThreadSettingWarning(UserWarning)

Two classes also derive from ``FileNotFoundError`` (an ``OSError``), as Python users expect for a missing file:
``ImageNotFoundError`` and ``WeightsUnavailableError``; code that catches them as ``FileNotFoundError`` or ``OSError``
keeps working. ``TorchLegacyFormatError`` and ``DisallowedGlobalError`` are also importable from
``gradcam_utils.torch_legacy``, and ``UsageError`` from ``gradcam_utils.cli``, where they used to live.
"""

from __future__ import annotations

from collections.abc import Iterable


class GradCAMError(ValueError):
    """Base class of every bad-input error this package raises."""


class LayerError(GradCAMError):
    """The requested layer does not exist or cannot carry a class activation map."""


class ClassIndexError(GradCAMError):
    """A class index is outside the model's range of classes."""


class ImageInputError(GradCAMError):
    """An image or batch has the wrong rank, shape, dtype or contains NaN/inf."""


class ImageLoadError(GradCAMError):
    """A file or buffer could not be decoded as an image, or is too large to decode safely."""


class ImageNotFoundError(ImageLoadError, FileNotFoundError):
    """No file at the given path (also a FileNotFoundError, as Python users expect)."""


class UnsupportedModelError(GradCAMError):
    """The model's structure does not allow Grad-CAM (e.g. a subclassed model with no layer graph)."""


class ModelFileError(GradCAMError):
    """A model file (``.keras``) is not a Keras archive, or declares more data than is safe to unpack (a zip bomb)."""


class NonFiniteError(GradCAMError):
    """The model produced NaN or infinite activations, scores or gradients; the message names the likely cause."""


class UnknownMethodError(GradCAMError):
    """The map method is not one of the registered methods; the message lists them (see :func:`check_method`)."""


class WeightsUnavailableError(GradCAMError, FileNotFoundError):
    """Pretrained weights could not be found locally nor downloaded; the message says which file and how to get it.

    Also a ``FileNotFoundError`` (what it was before it joined this hierarchy), so ``except FileNotFoundError``
    and ``except OSError`` still catch it.
    """


class PretrainedWeightsError(GradCAMError):
    """The bundled EfficientNet-Lite0 weights are missing, unreadable or do not fit the model."""


class TorchLegacyFormatError(GradCAMError):
    """The file is not a readable legacy-format torch state dict."""


class DisallowedGlobalError(TorchLegacyFormatError):
    """The pickle names a global that a state dict never needs (possible malicious file)."""


class UsageError(GradCAMError):
    """The ``gradcam`` command cannot run as given; its main() prints the message on one line and returns 2."""


class EmptyHeatmapWarning(UserWarning):
    """A map had no positive evidence for its class (all values <= 0); it was returned as zeros, not NaN."""


class WeightsCacheWarning(UserWarning):
    """The converted-weights cache could not be used; the weights were converted again."""


class ThreadSettingWarning(UserWarning):
    """GRADCAM_THREADS holds a value that cannot be used, or came too late to apply; it is ignored."""


def check_method(method: str, available: Iterable[str]) -> None:
    """Raise :class:`UnknownMethodError` naming the known methods unless ``method`` is one of ``available``."""
    known = sorted(available)
    if method not in known:
        raise UnknownMethodError(f"Unknown method {method!r}; available: {', '.join(known)}.")
