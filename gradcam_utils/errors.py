"""Errors and warnings raised by gradcam_utils.

Every error is a ``ValueError`` subclass so that ``except ValueError`` keeps working, and each message says what
was expected and what to do instead. Catch the narrower classes when you want to react to one kind of mistake.
"""


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


class EmptyHeatmapWarning(UserWarning):
    """A map had no positive evidence for its class (all values <= 0); it was returned as zeros, not NaN."""


class WeightsUnavailableError(FileNotFoundError):
    """Pretrained weights could not be found locally nor downloaded; the message says which file and how to get it."""


class PretrainedWeightsError(GradCAMError):
    """The bundled EfficientNet-Lite0 weights are missing, unreadable or do not fit the model."""


class WeightsCacheWarning(UserWarning):
    """The converted-weights cache could not be used; the weights were converted again."""
