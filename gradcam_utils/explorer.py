"""The logic behind the interactive explorer: state, caching and computation, without any widget.

``Explorer`` holds what the explorer shows (model, image, class, layer, method, opacity, colormap) and turns it into
a ``View``: the image, the coloured heatmap and the overlay as uint8 RGB arrays, a caption and an error message.
``gradcam_utils.widgets`` only wires controls to it, so everything here is tested without a browser.

Every change is a transaction: the new state is rendered first and kept only if that worked. A bad upload, an
unknown class name or a layer that cannot carry a map leaves the previous state, and its picture, as they were, and
the message is in ``explorer.error`` (and ``view.error``).

What runs the model, and what does not:
  * a new (model, image): one forward pass for the predictions (``class_logits``), then, per layer, ONE batched
    ``gradient_inputs`` call: the image repeated ``top`` times, one row per top class;
  * a class outside the top ones: one more ``gradient_inputs`` call for that class alone, cached;
  * class, opacity, colormap and method changes reuse those (``heatmaps_from`` does no forward pass), except
    Score-CAM, whose channel weights need extra forward passes.
``explorer.stats`` counts these calls, so tests assert "no forward pass" instead of timing it.

The parts: ``explorer_catalogue`` (sample images and uploads), ``explorer_models`` (models, their layers and class
labels), ``class_labels`` (class search and lookup, shared with the command's ``--class``) and ``map_cache`` (the
computation, its caches and counters); ``Explorer`` keeps the state and its transitions, on top of its two read-only
sides, what is shown (``_Shown``) and what the controls offer (``_Offers``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import class_labels, engine
from .errors import GradCAMError, WeightsUnavailableError, check_method
from .explorer_catalogue import (  # noqa: F401  (re-exported: the explorer's public constants)
    PHOTO_ORDER,
    SAMPLE_SUFFIXES,
    SAMPLES_DIR,
    SHAPES_SEED,
    ImageCatalogue,
    check_upload,
    family,
)
from .explorer_models import MODEL_ORDER, TEACHING_MODELS, ModelShelf, xception_weights_available  # noqa: F401
from .i18n import language
from .i18n import text as tr
from .imagenet import Prediction
from .map_cache import ExplorerStats, MapCache, _Prepared, _read_only
from .overlay import COLORMAPS, overlay_heatmap
from .zoo import ModelBundle

MAX_UPLOAD_BYTES = 20 * 2**20
DEFAULT_MODEL = "efficientnet_lite0"
DEFAULT_METHOD = "gradcam"
DEFAULT_ALPHA = 0.4
DEFAULT_COLORMAP = "jet"
#: Methods whose label warns that they are slow: method -> catalogue key ("slow: one forward pass per channel").
SLOW_METHODS = {"scorecam": "explorer.slow"}

_USER_ERRORS = (GradCAMError, WeightsUnavailableError)  # shown in the view; anything else is a bug and raises


@dataclass(frozen=True)
class ExplorerState:
    """What is selected. ``image`` is the label of an entry of ``image_options()``."""

    model: str
    image: str
    class_index: int
    layer: str
    method: str = DEFAULT_METHOD
    alpha: float = DEFAULT_ALPHA
    colormap: str = DEFAULT_COLORMAP


@dataclass(frozen=True)
class View:
    """Everything the widget shows: three uint8 RGB pictures at the model's input size, a caption, an error."""

    image: np.ndarray
    heatmap: np.ndarray  # the map upsampled to the image and coloured
    overlay: np.ndarray
    caption: str  # e.g. "tabby (57%) · layer top_activation (7x7) · gradcam"
    error: str | None  # the last action's problem; the pictures are those of the last state that worked
    state: ExplorerState
    empty: bool  # the map had no positive evidence (all zeros)


def percent(p: float) -> str:
    """A probability as a short percentage: 57%, 0.4%, <0.1%."""
    if p >= 0.01:
        return f"{p:.0%}"
    return f"{p:.1%}" if p >= 0.001 else "<0.1%"


class _Shown:
    """What the explorer shows for the current state: the view, the image, its predictions, maps and overlays.

    Nothing here changes the state; ``Explorer.__init__`` sets up ``state``, ``_models``, ``_catalogue`` and
    ``_cache``.
    """

    state: ExplorerState
    error: str | None
    _view: View
    _view_language: str  # the language of _view's caption
    _models: ModelShelf
    _catalogue: ImageCatalogue
    _cache: MapCache

    @property
    def view(self) -> View:
        """The current pictures, caption and error (the last action's, or None).

        The caption is in the current language (``gc.set_language``): a change of language renders it again.
        """
        if self._view_language != language():
            self._view = self._render(self._view.state)
        return self._view if self._view.error == self.error else replace(self._view, error=self.error)

    @property
    def bundle(self) -> ModelBundle:
        return self._models.bundles[self.state.model]

    @property
    def image(self) -> np.ndarray:
        """The current image, uint8 RGB at the model's input size (read-only)."""
        return self._cache.prepared(self.state.model, self.state.image).pixels

    @property
    def predictions(self) -> list[Prediction]:
        """The top predictions for the current image: (index, name, probability), best first."""
        return self._cache.prepared(self.state.model, self.state.image).predictions

    @property
    def probabilities(self) -> np.ndarray:
        """Every class's probability (softmax of the logits) for the current image, in class order (read-only)."""
        return self._cache.prepared(self.state.model, self.state.image).probabilities

    @property
    def top_class(self) -> int:
        return self.predictions[0].index

    @property
    def layers(self) -> list[str]:
        """The current model's candidate conv layers, input side first (``list_conv_layers``)."""
        return list(self._models.sizes(self.state.model))

    def heatmap(
        self, class_index: int | None = None, layer_name: str | None = None, method: str | None = None
    ) -> np.ndarray:
        """The normalised map (h, w) for the current image; None means the current selection.

        Cached, read-only; the state does not change.
        """
        state = self._state_for(class_index, layer_name, method)
        return self._map(state).heatmap

    def overlay(
        self,
        class_index: int | None = None,
        layer_name: str | None = None,
        alpha: float | None = None,
        colormap: str | None = None,
        method: str | None = None,
    ) -> np.ndarray:
        """The current image with a map blended over it, uint8 RGB; None means the current selection."""
        state = self._state_for(class_index, layer_name, method)
        return overlay_heatmap(
            self.image,
            self._map(state).upsampled,
            alpha=self.state.alpha if alpha is None else alpha,
            colormap=self.state.colormap if colormap is None else colormap,
        )

    def _state_for(self, class_index, layer_name, method) -> ExplorerState:
        model, models = self.state.model, self._models
        return replace(
            self.state,
            class_index=self.state.class_index if class_index is None else models.check_class(model, class_index),
            layer=self.state.layer if layer_name is None else models.check_layer(model, layer_name),
            method=self.state.method if method is None else method,
        )

    def _map(self, state: ExplorerState):
        """The (cached) map for ``state``; a test of the unknown-method error calls it directly."""
        return self._cache.map(state)

    def _render(self, state: ExplorerState) -> View:
        prepared = self._cache.prepared(state.model, state.image)
        result = self._map(state)
        coloured = self._cache.coloured(state, result.upsampled)
        overlay = _read_only(overlay_heatmap(prepared.pixels, result.upsampled, state.alpha, state.colormap))
        height, width = self._models.sizes(state.model)[state.layer]
        class_caption = self._class_caption(state.model, prepared, state.class_index)
        size = {"height": height, "width": width}
        caption = tr("explorer.caption", class_caption=class_caption, layer=state.layer, method=state.method, **size)
        if result.empty:
            caption += tr("explorer.empty")
        self._cache.stats.renders += 1
        self._view_language = language()
        return View(prepared.pixels, coloured, overlay, caption, None, state, result.empty)

    def _class_caption(self, model: str, prepared: _Prepared, class_index: int) -> str:
        return f"{self._models.labels(model)[class_index]} ({percent(prepared.probabilities[class_index])})"


class _Offers(_Shown):
    """What the controls offer for the current state: models, images, classes (with search), layers, methods.

    Nothing here changes the state either.
    """

    def model_options(self) -> list[tuple[str, str]]:
        """(label, name) of the models to pick from.

        The embedded ImageNet model, Xception when its weights are on this machine, the teaching models, and any other
        bundle handed in.
        """
        return self._models.options()

    def image_options(self, model: str | None = None) -> list[str]:
        """Labels of the images offered with ``model`` (default: the current one).

        Its family's samples, then the user's own images (uploads), which go with every model.
        """
        return [s.label for s in self._catalogue.sources(model or self.state.model)]

    def class_options(self) -> list[tuple[str, int]]:
        """(label, class index) for the class picker.

        The top predictions with their probabilities, best first, plus the selected class when it is not among them.
        """
        prepared = self._cache.prepared(self.state.model, self.state.image)
        options = [(f"{p.name} ({percent(p.score)})", p.index) for p in prepared.predictions]
        if self.state.class_index not in {index for _, index in options}:
            options.append(
                (self._class_caption(self.state.model, prepared, self.state.class_index), self.state.class_index)
            )
        return options

    @property
    def all_class_names(self) -> tuple[str, ...]:
        """One label per class of the current model, in index order, unique ("crane (134)" where names repeat)."""
        return self._models.labels(self.state.model)

    def search_classes(self, text: str, limit: int | None = 20) -> list[tuple[str, int]]:
        """Type-ahead: (label, index) of the classes whose name contains ``text`` (case-insensitive).

        Exact matches first, then names starting with it, then names with a word starting with it, then the rest;
        within each group the classes the model finds more likely for this image come first.
        """
        if not class_labels.normalize(text):
            return []
        return class_labels.search(self.all_class_names, text, self.probabilities, limit)

    def class_index_for(self, text: str) -> int:
        """The class a label or name stands for ("tabby", "Tabby", "crane (517)"); a clear error otherwise."""
        return class_labels.index_for(self.all_class_names, text, self.state.model)

    def layer_options(self, model: str | None = None) -> list[tuple[str, str]]:
        """(label, name) of every candidate conv layer, input side first, with its spatial size.

        For example ("top_activation (7x7)", "top_activation").
        """
        return [(f"{name} ({h}x{w})", name) for name, (h, w) in self._models.sizes(model or self.state.model).items()]

    @staticmethod
    def method_options() -> list[tuple[str, str]]:
        """(label, name) of the CAM methods; the slow ones say so."""
        return [(f"{m} ({tr(SLOW_METHODS[m])})" if m in SLOW_METHODS else m, m) for m in engine.available_methods()]

    @staticmethod
    def colormap_options() -> list[str]:
        return list(COLORMAPS)


class Explorer(_Offers):
    """Grad-CAM for one image at a time, any model, class, layer and method; the state behind ``explore()``.

    ``Explorer(bundle_or_model_name, image)``: a ``ModelBundle`` (or a registered model's name) and an image (a
    sample's name from ``image_options()``, or a path, bytes or uint8 array; None picks the first sample). It starts
    on the top class, the model's usual layer, Grad-CAM, jet at opacity 0.4. Errors while starting raise; after
    that, each ``select_*``/``set_*``/``upload`` call returns True when it worked, and otherwise records the
    reason in ``error`` and keeps the previous state.
    """

    def __init__(self, bundle_or_model_name: ModelBundle | str = DEFAULT_MODEL, image=None, top: int = 5):
        if not isinstance(top, int) or isinstance(top, bool) or top < 1:
            raise GradCAMError(f"top must be a positive int (how many top classes to offer); got {top!r}.")
        self.top = top
        self.max_upload_bytes = MAX_UPLOAD_BYTES
        self.stats = ExplorerStats()
        self.error: str | None = None
        self._models = ModelShelf(self.stats)
        self._catalogue = ImageCatalogue(self._models.get)
        self._cache = MapCache(self.stats, self._models.get, self._catalogue.source, lambda: self.top)
        if isinstance(bundle_or_model_name, ModelBundle):
            self.add_model(bundle_or_model_name)
            name = bundle_or_model_name.name
        else:
            name = str(bundle_or_model_name)
        state = self._opening(name, self._catalogue.label_for(name, image))
        self._view = self._render(state)
        self.state = state

    # ----- changing the state (each returns True when it worked) ---------------------------------------------

    def select_model(self, name: str) -> bool:
        """Switch model, keeping the method, opacity and colormap.

        The same image if the new model takes the same kind of images, else its first sample; the top class; the model's
        usual layer.
        """

        def build():
            same_family = family(self._models.get(name)) == family(self.bundle)
            image = self._catalogue.image_after_switch(name, self.state.image, same_family)
            return self._opening(name, image, like=self.state)

        return self._transition(build)

    def select_image(self, label: str) -> bool:
        """Show another image (a label from ``image_options()``), on its top class; the layer is kept."""

        def build():
            self._catalogue.check_offered(self.state.model, label)
            top = self._cache.prepared(self.state.model, label).predictions[0].index
            return replace(self.state, image=label, class_index=top)

        return self._transition(build)

    def upload(self, data, name: str = "upload") -> bool:
        """Add the user's picture (the file's bytes) to the images and show it.

        A file that is empty, too large or not an image leaves everything as it was and explains why in ``error``.
        """
        try:
            data = check_upload(data, self.max_upload_bytes)
        except GradCAMError as err:
            self.error = tr(
                "explorer.upload_failed", name=name, reason=str(err).replace("the given bytes", "the file", 1)
            )
            return False
        label, added = self._catalogue.add_user_image(f"upload: {name}", data)
        if not self.select_image(label) and added:
            self._catalogue.remove_user_image(label)
            return False
        return self.error is None

    def select_class(self, class_index: int) -> bool:
        """Explain another class (any index of the model; the top ones are precomputed)."""

        def build():
            index = self._models.check_class(self.state.model, class_index)
            return replace(self.state, class_index=index)

        return self._transition(build)

    def select_class_by_name(self, text: str) -> bool:
        """Explain the class with this label or name, e.g. "tabby" (see ``search_classes`` for type-ahead)."""
        return self._transition(lambda: replace(self.state, class_index=self.class_index_for(text)))

    def select_layer(self, layer_name: str) -> bool:
        """Explain at another of the model's conv layers (see ``layers``)."""
        return self._transition(
            lambda: replace(self.state, layer=self._models.check_layer(self.state.model, layer_name))
        )

    def select_method(self, method: str) -> bool:
        """Switch to another CAM method (one of ``engine.available_methods()``)."""

        def build():
            check_method(method, engine.available_methods())
            return replace(self.state, method=method)

        return self._transition(build)

    def set_alpha(self, alpha: float) -> bool:
        """Set the overlay's opacity (0: the image only, 1: the heatmap only)."""
        return self._transition(lambda: replace(self.state, alpha=float(alpha)))

    def set_colormap(self, colormap: str) -> bool:
        """Colour the heatmap with another matplotlib colormap."""
        return self._transition(lambda: replace(self.state, colormap=colormap))

    def clear_cache(self, maps_only: bool = False) -> None:
        """Forget computed maps (and, unless ``maps_only``, gradients and predictions); loaded models stay."""
        self._cache.clear(maps_only)

    def add_model(self, bundle: ModelBundle) -> None:
        """Offer an already loaded bundle under its name (it replaces a loaded model of that name)."""
        if not isinstance(bundle, ModelBundle):
            raise GradCAMError(f"add_model expects a ModelBundle (from gc.load_model); got {type(bundle).__name__}.")
        if self._models.add(bundle):  # results of the model it replaces are stale
            self.clear_cache()

    def __repr__(self) -> str:
        s = self.state
        return (
            f"Explorer(model={s.model!r}, image={s.image!r}, class={s.class_index}, layer={s.layer!r}, "
            f"method={s.method!r}, colormap={s.colormap!r}, alpha={s.alpha})"
        )

    # ----- internals ----------------------------------------------------------------------------------------

    def _opening(self, model: str, image: str, like: ExplorerState | None = None) -> ExplorerState:
        """``image`` with ``model`` on its top class and usual layer; the method, opacity and colormap of ``like``."""
        top = self._cache.prepared(model, image).predictions[0].index
        layer = self._models.check_layer(model, self._models.get(model).last_conv_layer)
        if like is None:
            return ExplorerState(model, image, top, layer)
        return replace(like, model=model, image=image, class_index=top, layer=layer)

    def _transition(self, build: Callable[[], ExplorerState]) -> bool:
        try:
            state = build()
            view = self._render(state)
        except _USER_ERRORS as err:
            self.error = str(err)
            return False
        self.state, self._view, self.error = state, view, None
        return True
