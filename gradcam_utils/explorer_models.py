"""The explorer's models: which are offered, loading them once, and their layers and class labels."""

from __future__ import annotations

import numpy as np

from . import class_labels, xception
from .errors import ClassIndexError, LayerError
from .explorer_catalogue import family
from .i18n import text as tr
from .layers import find_layer_path, list_conv_layers
from .zoo import ModelBundle, available_models, load_model

MODEL_ORDER = ("efficientnet_lite0", "xception", "shapes_gap", "shapes_biased", "shapes_flat")
TEACHING_MODELS = ("shapes_gap", "shapes_biased", "shapes_flat")  # shapes_flat: no GAP head, so the methods differ


def xception_weights_available() -> bool:
    """True when Xception's ImageNet weights are on this machine (nothing is downloaded to find out)."""
    return xception.weights_available()


class ModelShelf:
    """Bundles by name, loaded on first use (counted in ``stats.model_loads``).

    With each model's candidate conv layers and unique class labels, cached.
    """

    def __init__(self, stats):
        self.stats = stats
        self.bundles: dict[str, ModelBundle] = {}
        self._xception_available: bool | None = None
        self._layer_sizes: dict[str, dict[str, tuple[int, int]]] = {}
        self._class_labels: dict[str, tuple[str, ...]] = {}

    def get(self, name: str) -> ModelBundle:
        """The bundle ``name``, loaded on first use (Xception only from weights already on this machine)."""
        bundle = self.bundles.get(name)
        if bundle is None:
            if name == "xception":
                bundle = load_model(name, download=False)  # offered only when the weights are here
            else:
                bundle = load_model(name)
            self.stats.model_loads += 1
            self.bundles[name] = bundle
        return bundle

    def add(self, bundle: ModelBundle) -> bool:
        """Offer a loaded bundle under its name; True when it replaced another one (whose results are stale)."""
        previous = self.bundles.get(bundle.name)
        self.bundles[bundle.name] = bundle
        replaced = previous is not None and previous is not bundle
        if replaced:
            for cache in (self._layer_sizes, self._class_labels):
                cache.pop(bundle.name, None)
        self._xception_available = None
        return replaced

    def options(self) -> list[tuple[str, str]]:
        """(label, name) of the models to pick from (see ``Explorer.model_options``)."""
        if self._xception_available is None:
            self._xception_available = "xception" in self.bundles or xception_weights_available()
        registered = available_models()
        names = [n for n in MODEL_ORDER if n in registered and (n != "xception" or self._xception_available)]
        names += [n for n in self.bundles if n not in names]
        return [(self._label(n), n) for n in names]

    def _label(self, name: str) -> str:
        bundle = self.bundles.get(name)
        if name in ("efficientnet_lite0", "xception") or (bundle is not None and family(bundle) == "photos"):
            return tr("explorer.imagenet_model", name=name)
        return tr("explorer.teaching_model", name=name) if name in TEACHING_MODELS else name

    def sizes(self, model: str) -> dict[str, tuple[int, int]]:
        """Candidate conv layers of ``model`` in order, with their (height, width), from the layers' output shapes."""
        if model not in self._layer_sizes:
            keras_model = self.get(model).model
            sizes = {}
            for name in list_conv_layers(keras_model):
                shape = find_layer_path(keras_model, name)[-1].output.shape
                sizes[name] = (shape[1], shape[2])
            self._layer_sizes[model] = sizes
        return self._layer_sizes[model]

    def check_layer(self, model: str, layer_name: str) -> str:
        """``layer_name`` when it is one of ``model``'s candidate conv layers; LayerError otherwise."""
        if layer_name not in self.sizes(model):
            raise LayerError(
                f"Layer {layer_name!r} is not one of {model}'s conv layers; pick from explorer.layers "
                f"(e.g. {self.get(model).last_conv_layer!r})."
            )
        return layer_name

    def check_class(self, model: str, class_index) -> int:
        """``class_index`` as an int when ``model`` has that class; ClassIndexError otherwise."""
        count = len(self.get(model).class_names)
        if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
            raise ClassIndexError(f"A class index must be an int; got {class_index!r}.")
        if not 0 <= int(class_index) < count:
            raise ClassIndexError(
                f"Class index {class_index} is out of range: {model} has {count} classes (0 to {count - 1})."
            )
        return int(class_index)

    def labels(self, model: str) -> tuple[str, ...]:
        """One unique label per class of ``model``, in index order."""
        if model not in self._class_labels:
            self._class_labels[model] = class_labels.unique_labels(self.get(model).class_names)
        return self._class_labels[model]
