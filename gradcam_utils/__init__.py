"""gradcam_utils: Grad-CAM for Keras 3, the library behind the course notebooks."""

from ._quiet import import_tensorflow_quietly as _import_tensorflow_quietly

_import_tensorflow_quietly()

from .classic import get_img_array, make_gradcam_heatmap, save_and_display_gradcam  # noqa: E402
from .engine import GradCAMResult, available_methods, clear_cache, compute_heatmaps, explain  # noqa: E402
from .errors import (  # noqa: E402
    ClassIndexError, EmptyHeatmapWarning, GradCAMError, ImageInputError, ImageLoadError, LayerError,
    UnsupportedModelError,
)
from .images import load_image  # noqa: E402
from .layers import default_layer_name, list_conv_layers  # noqa: E402
from .overlay import COLORMAPS, colorize, overlay_heatmap, upsample_heatmap  # noqa: E402

__all__ = [
    "COLORMAPS", "colorize", "get_img_array", "make_gradcam_heatmap", "overlay_heatmap", "save_and_display_gradcam",
    "upsample_heatmap",
    "ClassIndexError", "EmptyHeatmapWarning", "GradCAMError", "GradCAMResult", "ImageInputError", "ImageLoadError",
    "LayerError", "UnsupportedModelError", "available_methods", "clear_cache", "compute_heatmaps",
    "default_layer_name", "explain", "list_conv_layers", "load_image",
]
