"""The logic behind the interactive explorer: one image, one model; pick a class and a layer, get a map.

Kept apart from the widgets (``gradcam_utils.widgets``) so it can be tested and used without a browser. Maps are
cached per (class, layer), so moving a slider back and forth does not recompute them.
"""

from __future__ import annotations

import numpy as np

from .engine import compute_heatmaps
from .errors import GradCAMError
from .layers import list_conv_layers
from .overlay import overlay_heatmap
from .zoo import ModelBundle


class Explorer:
    """Grad-CAM for one uint8 RGB image (at the bundle's input size) and any class or layer."""

    def __init__(self, bundle: ModelBundle, image, top: int = 5):
        self.bundle = bundle
        self.image = bundle.load_images(image)[0]  # a copy at the input size: the caller's image is not kept
        self._input = bundle.preprocess(self.image)
        self.predictions = bundle.decode(bundle.predict(self.image), top=top)[0]
        self.layers = list_conv_layers(bundle.model)
        self._maps: dict[tuple[int, str], np.ndarray] = {}

    @property
    def top_class(self) -> int:
        return self.predictions[0].index

    def class_options(self) -> list[tuple[str, int]]:
        """(label, class index) pairs for a class picker: the top predictions with their probabilities."""
        return [(f"{p.name} ({p.score:.0%})", p.index) for p in self.predictions]

    def heatmap(self, class_index: int | None = None, layer_name: str | None = None) -> np.ndarray:
        """The normalised map (h, w) for a class (default: the top one) at a layer (default: the bundle's)."""
        key = (self.top_class if class_index is None else int(class_index),
               self.bundle.last_conv_layer if layer_name is None else layer_name)
        if key[1] not in self.layers:
            raise GradCAMError(f"Layer {key[1]!r} is not one of this model's conv layers; pick from explorer.layers.")
        if key not in self._maps:
            self._maps[key] = compute_heatmaps(self.bundle.model, self._input, key[1], key[0])[0]
        return self._maps[key]

    def overlay(self, class_index: int | None = None, layer_name: str | None = None, alpha: float = 0.4,
                colormap: str = "jet") -> np.ndarray:
        """The image with that map blended over it, uint8 RGB."""
        return overlay_heatmap(self.image, self.heatmap(class_index, layer_name), alpha=alpha, colormap=colormap)
