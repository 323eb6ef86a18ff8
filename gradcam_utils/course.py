"""Choices the course notebooks make about the machine they run on, in one place.

Notebook 03 follows the article with Xception when its weights are on this machine and says plainly when it uses
the embedded EfficientNet-Lite0 instead. The test command sets ``GRADCAM_COURSE_MODEL`` so that the committed
outputs reproduce everywhere, whether or not a machine has the Xception weights cached.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import xception
from .errors import GradCAMError
from .zoo import available_models

ENV_VAR = "GRADCAM_COURSE_MODEL"
IMAGENET_MODELS = ("xception", "efficientnet_lite0")
#: The course's data folder (images and teaching models), found from the package, not the working directory.
DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def imagenet_model_choice() -> tuple[str, str]:
    """(model name, one sentence saying why) for the ImageNet notebooks."""
    forced = os.environ.get(ENV_VAR)
    if forced:
        if forced not in IMAGENET_MODELS or forced not in available_models():
            raise GradCAMError(f"{ENV_VAR}={forced!r} is not an ImageNet model of the course; use one of "
                               f"{', '.join(IMAGENET_MODELS)} or unset it.")
        return forced, f"{forced}, fixed by the {ENV_VAR} environment variable."
    if xception.weights_available():
        return "xception", "xception: its ImageNet weights are on this machine."
    return "efficientnet_lite0", ("efficientnet_lite0: the Xception weights are not on this machine (no download "
                                  "here), so the same steps run on the embedded ImageNet model.")
