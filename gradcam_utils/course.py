"""Choices the course notebooks make about the machine they run on, in one place.

Notebook 03 follows the article with Xception when its weights are on this machine and says plainly when it uses
the embedded EfficientNet-Lite0 instead. The committed outputs are what a learner without the Xception weights sees.
``GRADCAM_COURSE_MODEL=efficientnet_lite0`` (set by the test command) makes a machine that has the weights run the
embedded model too, and print the very same sentence, so the outputs match there as well; no output names it.
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
        return forced, _SENTENCES[forced]
    if xception.weights_available():
        return "xception", _SENTENCES["xception"]
    return "efficientnet_lite0", _SENTENCES["efficientnet_lite0"]


# True whichever way the model was chosen (weights missing, or the choice fixed for a reproducible run).
_SENTENCES = {
    "xception": "xception: its ImageNet weights are on this machine.",
    "efficientnet_lite0": ("efficientnet_lite0: the embedded ImageNet model, which needs no download. With the "
                           "Xception weights on this machine, the same steps run on Xception."),
}
