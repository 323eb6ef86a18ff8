"""gradcam_utils: Grad-CAM for Keras 3, the library behind the course notebooks."""

from . import thread_limit as _threads
from ._quiet import import_tensorflow_quietly as _import_tensorflow_quietly

_threads.apply_from_environment("environment")  # GRADCAM_THREADS=N: OpenMP/BLAS variables, before TF loads them
_import_tensorflow_quietly()
_threads.apply_from_environment("tensorflow")  # ... and TensorFlow's pools, before it runs any operation

# ruff: noqa: E402  (imports follow the quiet TensorFlow import on purpose)
from . import (
    metrics,  # gc.metrics.pointing_game, ... (scores against ground truth)
    targets,  # gc.targets.ClassScore, ... (what target= explains)
)
from .classic import get_img_array, make_gradcam_heatmap, save_and_display_gradcam
from .course import sample_image_path, sample_images
from .engine import (
    GradCAMResult,
    available_methods,
    class_logits,
    class_probabilities,
    clear_cache,
    compute_heatmaps,
    explain,
    gradient_inputs,
    heatmaps_from,
)
from .errors import (
    ClassIndexError,
    EmptyHeatmapWarning,
    GradCAMError,
    ImageInputError,
    ImageLoadError,
    ImageNotFoundError,
    LayerError,
    ModelFileError,
    NonFiniteError,
    PretrainedWeightsError,
    ThreadSettingWarning,
    UnknownMethodError,
    UnsupportedModelError,
    WeightsCacheWarning,
    WeightsUnavailableError,
)
from .faithfulness import average_drop, deletion_curve, increase_in_confidence, insertion_curve
from .figures import explained_title, show_heatmaps
from .guided import guided_backprop, guided_gradcam
from .i18n import language, set_language
from .imagenet import Prediction, decode
from .images import load_image
from .layers import default_layer_name, list_conv_layers, list_explainable_layers
from .occlusion import OcclusionResult, occlusion_sensitivity
from .overlay import COLORMAPS, colorize, overlay_heatmap
from .resize import upsample_heatmap
from .sanity import cascading_randomization
from .thread_limit import threads
from .zoo import ModelBundle, available_models, load_model

__all__ = [
    # the engine
    "GradCAMResult",
    "available_methods",
    "class_logits",
    "class_probabilities",
    "clear_cache",
    "compute_heatmaps",
    "explain",
    "gradient_inputs",
    "heatmaps_from",
    "default_layer_name",
    "list_conv_layers",
    "list_explainable_layers",
    # what a map explains (target=): gc.targets.ClassScore, Difference, MultiLabel, Regression, RegionScore
    "targets",
    # guided maps, faithfulness and sanity checks
    "average_drop",
    "cascading_randomization",
    "deletion_curve",
    "guided_backprop",
    "guided_gradcam",
    "increase_in_confidence",
    "insertion_curve",
    "occlusion_sensitivity",
    "OcclusionResult",
    # images and overlays
    "COLORMAPS",
    "colorize",
    "load_image",
    "overlay_heatmap",
    "upsample_heatmap",
    # the sample photos that ship with the package
    "sample_image_path",
    "sample_images",
    # figures
    "explained_title",
    "show_heatmaps",
    # the article's functions
    "get_img_array",
    "make_gradcam_heatmap",
    "save_and_display_gradcam",
    # the language of figures, feedback and the explorer: gc.set_language("ja") / "en"
    "language",
    "set_language",
    # the thread limit of GRADCAM_THREADS=N (shared servers): gc.threads() says what is in force
    "threads",
    "ThreadSettingWarning",
    # models
    "ModelBundle",
    "Prediction",
    "available_models",
    "decode",
    "load_model",
    # scores against ground truth: gc.metrics.pointing_game, ...
    "metrics",
    # errors and warnings
    "ClassIndexError",
    "EmptyHeatmapWarning",
    "GradCAMError",
    "ImageInputError",
    "ImageLoadError",
    "ImageNotFoundError",
    "LayerError",
    "ModelFileError",
    "NonFiniteError",
    "PretrainedWeightsError",
    "UnknownMethodError",
    "UnsupportedModelError",
    "WeightsCacheWarning",
    "WeightsUnavailableError",
]
