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
"""

from __future__ import annotations

import collections
import difflib
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from . import engine, xception
from .errors import (
    ClassIndexError, EmptyHeatmapWarning, GradCAMError, ImageInputError, ImageLoadError, LayerError,
    WeightsUnavailableError, check_method,
)
from .images import load_image
from .imagenet import Prediction
from .layers import find_layer_path, list_conv_layers
from .overlay import COLORMAPS, colorize, overlay_heatmap
from .resize import upsample_heatmap
from .synthetic import DEFAULT_CLASSES, make_shapes
from .zoo import ModelBundle, available_models, load_model

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "data" / "images"  # not the working directory: notebooks/ runs
SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg")
PHOTO_ORDER = ("cat", "espresso", "cat_and_espresso", "astronaut", "grace_hopper")  # the rest follow, sorted
SHAPES_SEED = 505  # the teaching models' samples: not a seed their training or test sets used
MAX_UPLOAD_BYTES = 20 * 2**20
MODEL_ORDER = ("efficientnet_lite0", "xception", "shapes_gap", "shapes_biased", "shapes_flat")
TEACHING_MODELS = ("shapes_gap", "shapes_biased", "shapes_flat")  # shapes_flat: no GAP head, so the methods differ
DEFAULT_MODEL = "efficientnet_lite0"
DEFAULT_METHOD = "gradcam"
DEFAULT_ALPHA = 0.4
DEFAULT_COLORMAP = "jet"
SLOW_METHODS = {"scorecam": "slow: one forward pass per channel"}

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


@dataclass
class ExplorerStats:
    """Counters for tests and benchmarks. ``forward_passes`` counts every engine call that runs the model."""

    forward_passes: int = 0
    prediction_passes: int = 0  # class_logits for a new (model, image)
    gradient_calls: int = 0  # gradient_inputs: one forward + one backward pass for a whole batch
    gradient_rows: int = 0  # images (rows) sent through those calls
    scorecam_calls: int = 0  # heatmaps_from(..., "scorecam"): extra forward passes
    model_loads: int = 0
    maps_computed: int = 0
    renders: int = 0


class _ImageSource(NamedTuple):
    label: str
    source: object  # whatever load_image takes: a path, bytes or a uint8 array
    family: str | None  # "photos" or "shapes" for samples; None for the user's images, offered with every model


class _Prepared(NamedTuple):
    pixels: np.ndarray  # (H, W, 3) uint8 at the model's input size, read-only
    batch: np.ndarray  # (1, H, W, 3) float32 model input
    probabilities: np.ndarray  # (classes,) float64 softmax of the logits
    predictions: list  # top Prediction tuples, best first


class _Map(NamedTuple):
    heatmap: np.ndarray  # (h, w) float32 in [0, 1], read-only
    upsampled: np.ndarray  # (H, W) float64 at the image size, read-only
    empty: bool


class _LRU:
    """A small least-recently-used cache, bounded by entries and optionally by bytes."""

    def __init__(self, max_items: int, max_bytes: int | None = None, size_of: Callable[[object], int] | None = None):
        self._items: collections.OrderedDict = collections.OrderedDict()
        self.max_items, self.max_bytes, self._size_of = max_items, max_bytes, size_of
        self._bytes = 0

    def get(self, key):
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key, value):
        if key in self._items:
            self._drop(key)
        self._items[key] = value
        self._bytes += self._size(value)
        while len(self._items) > 1 and (len(self._items) > self.max_items
                                        or (self.max_bytes is not None and self._bytes > self.max_bytes)):
            self._drop(next(iter(self._items)))
        return value

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def _drop(self, key) -> None:
        self._bytes -= self._size(self._items.pop(key))

    def _size(self, value) -> int:
        return self._size_of(value) if self._size_of is not None else 0


def _cam_bytes(rows: dict) -> int:
    return sum(inputs.activations.nbytes + inputs.gradients.nbytes for inputs in rows.values())


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def percent(p: float) -> str:
    """A probability as a short percentage: 57%, 0.4%, <0.1%."""
    if p >= 0.01:
        return f"{p:.0%}"
    return f"{p:.1%}" if p >= 0.001 else "<0.1%"


def _file_size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{max(1, round(n / 2**10))} KB"


def xception_weights_available() -> bool:
    """True when Xception's ImageNet weights are on this machine (nothing is downloaded to find out)."""
    return xception.weights_available()


class Explorer:
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
        self._bundles: dict[str, ModelBundle] = {}
        self._xception_available: bool | None = None
        self._samples: dict[str, list[_ImageSource]] = {}
        self._user_images: list[_ImageSource] = []
        self._layer_sizes: dict[str, dict[str, tuple[int, int]]] = {}
        self._class_labels: dict[str, tuple[str, ...]] = {}
        self._prepared_cache = _LRU(32)
        self._gradient_cache = _LRU(24, max_bytes=384 * 2**20, size_of=_cam_bytes)
        self._map_cache = _LRU(256)
        self._colour_cache = _LRU(64)
        if isinstance(bundle_or_model_name, ModelBundle):
            self.add_model(bundle_or_model_name)
            name = bundle_or_model_name.name
        else:
            name = str(bundle_or_model_name)
        bundle = self._bundle(name)
        label = self._image_label_for(name, image)
        prepared = self._prepared(name, label)
        layer = self._check_layer(name, bundle.last_conv_layer)
        state = ExplorerState(name, label, prepared.predictions[0].index, layer)
        self._view = self._render(state)
        self.state = state

    # ----- what the controls offer --------------------------------------------------------------------------

    def model_options(self) -> list[tuple[str, str]]:
        """(label, name) of the models to pick from: the embedded ImageNet model, Xception when its weights are on
        this machine, the teaching models, and any other bundle handed in."""
        if self._xception_available is None:
            self._xception_available = "xception" in self._bundles or xception_weights_available()
        registered = available_models()
        names = [n for n in MODEL_ORDER if n in registered and (n != "xception" or self._xception_available)]
        names += [n for n in self._bundles if n not in names]
        return [(self._model_label(n), n) for n in names]

    def image_options(self, model: str | None = None) -> list[str]:
        """Labels of the images offered with ``model`` (default: the current one): its family's samples, then the
        user's own images (uploads), which go with every model."""
        return [s.label for s in self._image_sources(model or self.state.model)]

    def class_options(self) -> list[tuple[str, int]]:
        """(label, class index) for the class picker: the top predictions with their probabilities, best first,
        plus the selected class when it is not among them."""
        prepared = self._prepared(self.state.model, self.state.image)
        options = [(f"{p.name} ({percent(p.score)})", p.index) for p in prepared.predictions]
        if self.state.class_index not in {index for _, index in options}:
            options.append((self._class_caption(self.state.model, prepared, self.state.class_index),
                            self.state.class_index))
        return options

    @property
    def all_class_names(self) -> tuple[str, ...]:
        """One label per class of the current model, in index order, unique ("crane (134)" where names repeat)."""
        return self._labels(self.state.model)

    def search_classes(self, text: str, limit: int | None = 20) -> list[tuple[str, int]]:
        """Type-ahead: (label, index) of the classes whose name contains ``text`` (case-insensitive).

        Exact matches first, then names starting with it, then names with a word starting with it, then the rest;
        within each group the classes the model finds more likely for this image come first.
        """
        needle = " ".join(str(text).lower().split())
        if not needle:
            return []
        probabilities = self._prepared(self.state.model, self.state.image).probabilities
        found = []
        for index, label in enumerate(self.all_class_names):
            name = label.lower()
            if needle not in name:
                continue
            base = self._base_name(label).lower()
            if needle in (name, base):
                group = 0
            elif name.startswith(needle):
                group = 1
            elif any(word.startswith(needle) for word in name.replace("-", " ").split()):
                group = 2
            else:
                group = 3
            found.append((group, -probabilities[index], index, label))
        found.sort()
        return [(label, index) for _, _, index, label in found[:limit]]

    def class_index_for(self, text: str) -> int:
        """The class a label or name stands for ("tabby", "Tabby", "crane (517)"); a clear error otherwise."""
        wanted = " ".join(str(text).lower().split())
        labels = self.all_class_names
        exact = [i for i, label in enumerate(labels) if label.lower() == wanted]
        if exact:
            return exact[0]
        same_name = [i for i, label in enumerate(labels) if self._base_name(label).lower() == wanted]
        if len(same_name) == 1:
            return same_name[0]
        if same_name:
            raise ClassIndexError(f"{text!r} names {len(same_name)} classes: "
                                  f"{', '.join(labels[i] for i in same_name)}. Pick one of those.")
        close = difflib.get_close_matches(wanted, [label.lower() for label in labels], n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else " Type part of a name to see matching classes."
        raise ClassIndexError(f"No class named {text!r} in {self.state.model}.{hint}")

    def layer_options(self, model: str | None = None) -> list[tuple[str, str]]:
        """(label, name) of every candidate conv layer, input side first, with its spatial size:
        ("top_activation (7x7)", "top_activation")."""
        return [(f"{name} ({h}x{w})", name) for name, (h, w) in self._sizes(model or self.state.model).items()]

    @staticmethod
    def method_options() -> list[tuple[str, str]]:
        """(label, name) of the CAM methods; the slow ones say so."""
        return [(f"{m} ({SLOW_METHODS[m]})" if m in SLOW_METHODS else m, m) for m in engine.available_methods()]

    @staticmethod
    def colormap_options() -> list[str]:
        return list(COLORMAPS)

    # ----- changing the state (each returns True when it worked) ---------------------------------------------

    def select_model(self, name: str) -> bool:
        """Switch model: same image if the new model takes the same kind of images, else its first sample; the top
        class; the model's usual layer. Method, opacity and colormap are kept."""
        def build():
            bundle = self._bundle(name)
            same_family = self._family(bundle) == self._family(self.bundle)
            images = self.image_options(name)
            if same_family and self.state.image in images:
                image = self.state.image
            else:
                samples = [s.label for s in self._image_sources(name) if s.family is not None]
                if not (samples or images):
                    raise ImageLoadError(f"There are no sample images for {name}; upload one.")
                image = (samples or images)[0]
            top = self._prepared(name, image).predictions[0].index
            return replace(self.state, model=name, image=image, class_index=top,
                           layer=self._check_layer(name, bundle.last_conv_layer))
        return self._transition(build)

    def select_image(self, label: str) -> bool:
        """Show another image (a label from ``image_options()``), on its top class; the layer is kept."""
        def build():
            if label not in self.image_options():
                raise ImageInputError(f"No image {label!r} for {self.state.model}; pick one of "
                                      f"{', '.join(self.image_options())}, or upload one.")
            top = self._prepared(self.state.model, label).predictions[0].index
            return replace(self.state, image=label, class_index=top)
        return self._transition(build)

    def upload(self, data, name: str = "upload") -> bool:
        """Add the user's picture (the file's bytes) to the images and show it. A file that is empty, too large or
        not an image leaves everything as it was and explains why in ``error``."""
        what = f"the upload {name!r}"
        try:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise ImageInputError(f"an upload is the file's bytes; got {type(data).__name__}.")
            data = bytes(data)
            if not data:
                raise ImageLoadError("the file is empty (0 bytes). Choose it again.")
            if len(data) > self.max_upload_bytes:
                raise ImageLoadError(f"the file is {_file_size(len(data))}, over the "
                                     f"{_file_size(self.max_upload_bytes)} limit for uploads. Downscale it or save "
                                     "it as JPEG, then upload it again.")
            load_image(data)  # decoded once here, so a bad file is refused before anything changes
        except GradCAMError as err:
            self.error = f"Could not use {what}: {str(err).replace('the given bytes', 'the file', 1)}"
            return False
        label, added = self._add_user_image(f"upload: {name}", data)
        if not self.select_image(label) and added:
            self._user_images = [s for s in self._user_images if s.label != label]
            return False
        return self.error is None

    def select_class(self, class_index: int) -> bool:
        """Explain another class (any index of the model; the top ones are precomputed)."""
        def build():
            index = self._check_class(self.state.model, class_index)
            return replace(self.state, class_index=index)
        return self._transition(build)

    def select_class_by_name(self, text: str) -> bool:
        """Explain the class with this label or name, e.g. "tabby" (see ``search_classes`` for type-ahead)."""
        return self._transition(lambda: replace(self.state, class_index=self.class_index_for(text)))

    def select_layer(self, layer_name: str) -> bool:
        return self._transition(lambda: replace(self.state, layer=self._check_layer(self.state.model, layer_name)))

    def select_method(self, method: str) -> bool:
        def build():
            check_method(method, engine.available_methods())
            return replace(self.state, method=method)
        return self._transition(build)

    def set_alpha(self, alpha: float) -> bool:
        return self._transition(lambda: replace(self.state, alpha=float(alpha)))

    def set_colormap(self, colormap: str) -> bool:
        return self._transition(lambda: replace(self.state, colormap=colormap))

    def clear_cache(self, maps_only: bool = False) -> None:
        """Forget computed maps (and, unless ``maps_only``, gradients and predictions); loaded models stay."""
        self._map_cache.clear()
        self._colour_cache.clear()
        if not maps_only:
            self._gradient_cache.clear()
            self._prepared_cache.clear()

    # ----- what is shown ------------------------------------------------------------------------------------

    @property
    def view(self) -> View:
        """The current pictures, caption and error (the last action's, or None)."""
        return self._view if self._view.error == self.error else replace(self._view, error=self.error)

    @property
    def bundle(self) -> ModelBundle:
        return self._bundles[self.state.model]

    @property
    def image(self) -> np.ndarray:
        """The current image, uint8 RGB at the model's input size (read-only)."""
        return self._prepared(self.state.model, self.state.image).pixels

    @property
    def predictions(self) -> list[Prediction]:
        """The top predictions for the current image: (index, name, probability), best first."""
        return self._prepared(self.state.model, self.state.image).predictions

    @property
    def probabilities(self) -> np.ndarray:
        """Every class's probability (softmax of the logits) for the current image, in class order (read-only)."""
        return self._prepared(self.state.model, self.state.image).probabilities

    @property
    def top_class(self) -> int:
        return self.predictions[0].index

    @property
    def layers(self) -> list[str]:
        """The current model's candidate conv layers, input side first (``list_conv_layers``)."""
        return list(self._sizes(self.state.model))

    def heatmap(self, class_index: int | None = None, layer_name: str | None = None,
                method: str | None = None) -> np.ndarray:
        """The normalised map (h, w) for the current image; None means the current selection. Cached, read-only;
        the state does not change."""
        state = self._state_for(class_index, layer_name, method)
        return self._map(state).heatmap

    def overlay(self, class_index: int | None = None, layer_name: str | None = None, alpha: float | None = None,
                colormap: str | None = None, method: str | None = None) -> np.ndarray:
        """The current image with a map blended over it, uint8 RGB; None means the current selection."""
        state = self._state_for(class_index, layer_name, method)
        return overlay_heatmap(self.image, self._map(state).upsampled,
                               alpha=self.state.alpha if alpha is None else alpha,
                               colormap=self.state.colormap if colormap is None else colormap)

    def add_model(self, bundle: ModelBundle) -> None:
        """Offer an already loaded bundle under its name (it replaces a loaded model of that name)."""
        if not isinstance(bundle, ModelBundle):
            raise GradCAMError(f"add_model expects a ModelBundle (from gc.load_model); got {type(bundle).__name__}.")
        previous = self._bundles.get(bundle.name)
        self._bundles[bundle.name] = bundle
        if previous is not None and previous is not bundle:  # results of the model it replaces are stale
            for cache in (self._layer_sizes, self._class_labels):
                cache.pop(bundle.name, None)
            self.clear_cache()
        self._xception_available = None

    def __repr__(self) -> str:
        s = self.state
        return (f"Explorer(model={s.model!r}, image={s.image!r}, class={s.class_index}, layer={s.layer!r}, "
                f"method={s.method!r}, colormap={s.colormap!r}, alpha={s.alpha})")

    # ----- internals ----------------------------------------------------------------------------------------

    def _transition(self, build: Callable[[], ExplorerState]) -> bool:
        try:
            state = build()
            view = self._render(state)
        except _USER_ERRORS as err:
            self.error = str(err)
            return False
        self.state, self._view, self.error = state, view, None
        return True

    def _state_for(self, class_index, layer_name, method) -> ExplorerState:
        model = self.state.model
        return replace(
            self.state,
            class_index=self.state.class_index if class_index is None else self._check_class(model, class_index),
            layer=self.state.layer if layer_name is None else self._check_layer(model, layer_name),
            method=self.state.method if method is None else method)

    def _render(self, state: ExplorerState) -> View:
        prepared = self._prepared(state.model, state.image)
        result = self._map(state)
        key = (state.model, state.image, state.layer, state.method, state.class_index, state.colormap)
        coloured = self._colour_cache.get(key)
        if coloured is None:
            coloured = self._colour_cache.put(key, _read_only(colorize(result.upsampled, state.colormap)))
        overlay = _read_only(overlay_heatmap(prepared.pixels, result.upsampled, state.alpha, state.colormap))
        height, width = self._sizes(state.model)[state.layer]
        caption = (f"{self._class_caption(state.model, prepared, state.class_index)} · layer {state.layer} "
                   f"({height}x{width}) · {state.method}")
        if result.empty:
            caption += " · no positive evidence for this class here: the map is empty"
        self.stats.renders += 1
        return View(prepared.pixels, coloured, overlay, caption, None, state, result.empty)

    def _bundle(self, name: str) -> ModelBundle:
        bundle = self._bundles.get(name)
        if bundle is None:
            if name == "xception":
                bundle = load_model(name, download=False)  # offered only when the weights are here
            else:
                bundle = load_model(name)
            self.stats.model_loads += 1
            self._bundles[name] = bundle
        return bundle

    def _model_label(self, name: str) -> str:
        bundle = self._bundles.get(name)
        if name in ("efficientnet_lite0", "xception") or (bundle is not None and self._family(bundle) == "photos"):
            return f"{name} (ImageNet)"
        return f"{name} (teaching)" if name in TEACHING_MODELS else name

    @staticmethod
    def _family(bundle: ModelBundle) -> str:
        return "shapes" if tuple(bundle.class_names) == tuple(DEFAULT_CLASSES) else "photos"

    def _image_sources(self, model: str) -> list[_ImageSource]:
        family = self._family(self._bundle(model))
        return self._sample_sources(family) + self._user_images

    def _sample_sources(self, family: str) -> list[_ImageSource]:
        if family not in self._samples:
            self._samples[family] = _shapes_samples() if family == "shapes" else _photo_samples()
        return self._samples[family]

    def _image_label_for(self, model: str, image) -> str:
        """The label of the image handed to the constructor, registering it when it is not a sample."""
        samples = self._sample_sources(self._family(self._bundle(model)))
        if image is None:
            if not samples:
                raise ImageLoadError(f"No sample images were found in {SAMPLES_DIR}; pass an image.")
            return samples[0].label
        if isinstance(image, str) and image in {s.label for s in samples}:
            return image
        if isinstance(image, (str, Path)):
            path = Path(image)
            for sample in samples:
                if isinstance(sample.source, Path) and path.is_file() and path.resolve() == sample.source:
                    return sample.label
            label = path.name
        else:
            label = "your image"
        pixels = load_image(image)  # raises the usual clear errors: nothing is shown yet to fall back on
        return self._add_user_image(label, image if isinstance(image, (str, Path)) else pixels)[0]

    def _add_user_image(self, label: str, source) -> tuple[str, bool]:
        """Register a user image under a unique label: (its label, True), or (the label it already has, False) when
        the same file was uploaded before."""
        for existing in self._user_images:
            if isinstance(source, bytes) and isinstance(existing.source, bytes) and existing.source == source:
                return existing.label, False
        taken = {s.label for s in self._user_images} | {s.label for f in self._samples.values() for s in f}
        unique, n = label, 2
        while unique in taken:
            unique, n = f"{label} ({n})", n + 1
        self._user_images.append(_ImageSource(unique, source, None))
        return unique, True

    def _prepared(self, model: str, image: str) -> _Prepared:
        key = (model, image)
        hit = self._prepared_cache.get(key)
        if hit is not None:
            return hit
        sources = {s.label: s for s in self._image_sources(model)}
        if image not in sources:
            raise ImageInputError(f"No image {image!r} for {model}.")
        bundle = self._bundle(model)
        pixels = _read_only(bundle.load_images(sources[image].source)[0])
        batch = bundle.preprocess(pixels)
        logits = engine.class_logits(bundle.model, batch)
        self.stats.forward_passes += 1
        self.stats.prediction_passes += 1
        probabilities = engine.softmax(logits)[0]
        predictions = bundle.decode(logits, top=min(self.top, len(bundle.class_names)))[0]
        return self._prepared_cache.put(key, _Prepared(pixels, batch, _read_only(probabilities), predictions))

    def _cam_inputs(self, state: ExplorerState):
        """The engine's inputs for one class: the top classes come from one batched call per (model, image, layer),
        any other class from one call of its own; all cached."""
        key = (state.model, state.image, state.layer)
        rows = self._gradient_cache.get(key)
        model = self._bundle(state.model).model
        if rows is None:
            prepared = self._prepared(state.model, state.image)
            classes = [p.index for p in prepared.predictions]
            inputs = engine.gradient_inputs(model, np.repeat(prepared.batch, len(classes), axis=0), state.layer,
                                            classes)
            self._count_gradient_call(len(classes))
            rows = {int(c): inputs.select(slice(i, i + 1)) for i, c in enumerate(inputs.class_indices)}
            self._gradient_cache.put(key, rows)
        if state.class_index not in rows:
            prepared = self._prepared(state.model, state.image)
            rows[state.class_index] = engine.gradient_inputs(model, prepared.batch, state.layer, [state.class_index])
            self._count_gradient_call(1)
            self._gradient_cache.put(key, rows)  # re-counts its size
        return rows[state.class_index]

    def _count_gradient_call(self, rows: int) -> None:
        self.stats.forward_passes += 1
        self.stats.gradient_calls += 1
        self.stats.gradient_rows += rows

    def _map(self, state: ExplorerState) -> _Map:
        key = (state.model, state.image, state.layer, state.method, state.class_index)
        hit = self._map_cache.get(key)
        if hit is not None:
            return hit
        inputs = self._cam_inputs(state)
        check_method(state.method, engine.available_methods())
        if state.method == "scorecam":
            self.stats.forward_passes += 1
            self.stats.scorecam_calls += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyHeatmapWarning)  # said in the caption instead
            maps, empty = engine.heatmaps_from(inputs, state.method)
        self.stats.maps_computed += 1
        heatmap = _read_only(maps[0])
        size = self._prepared(state.model, state.image).pixels.shape[:2]
        return self._map_cache.put(key, _Map(heatmap, _read_only(upsample_heatmap(heatmap, size)), bool(empty[0])))

    def _sizes(self, model: str) -> dict[str, tuple[int, int]]:
        """Candidate conv layers of ``model`` in order, with their (height, width), from the layers' output shapes."""
        if model not in self._layer_sizes:
            keras_model = self._bundle(model).model
            sizes = {}
            for name in list_conv_layers(keras_model):
                shape = find_layer_path(keras_model, name)[-1].output.shape
                sizes[name] = (shape[1], shape[2])
            self._layer_sizes[model] = sizes
        return self._layer_sizes[model]

    def _check_layer(self, model: str, layer_name: str) -> str:
        if layer_name not in self._sizes(model):
            raise LayerError(f"Layer {layer_name!r} is not one of {model}'s conv layers; pick from explorer.layers "
                             f"(e.g. {self._bundle(model).last_conv_layer!r}).")
        return layer_name

    def _check_class(self, model: str, class_index) -> int:
        count = len(self._bundle(model).class_names)
        if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
            raise ClassIndexError(f"A class index must be an int; got {class_index!r}.")
        if not 0 <= int(class_index) < count:
            raise ClassIndexError(f"Class index {class_index} is out of range: {model} has {count} classes "
                                  f"(0 to {count - 1}).")
        return int(class_index)

    def _labels(self, model: str) -> tuple[str, ...]:
        if model not in self._class_labels:
            names = [str(n) for n in self._bundle(model).class_names]
            counts = collections.Counter(n.lower() for n in names)
            self._class_labels[model] = tuple(n if counts[n.lower()] == 1 else f"{n} ({i})"
                                              for i, n in enumerate(names))
        return self._class_labels[model]

    def _class_caption(self, model: str, prepared: _Prepared, class_index: int) -> str:
        return f"{self._labels(model)[class_index]} ({percent(prepared.probabilities[class_index])})"

    @staticmethod
    def _base_name(label: str) -> str:
        """"crane (134)" -> "crane"; other labels unchanged."""
        head, _, tail = label.rpartition(" (")
        return head if head and tail.endswith(")") and tail[:-1].isdigit() else label


def _photo_samples() -> list[_ImageSource]:
    files = [p for p in SAMPLES_DIR.glob("*") if p.suffix.lower() in SAMPLE_SUFFIXES and p.is_file()]
    rank = {stem: i for i, stem in enumerate(PHOTO_ORDER)}
    files.sort(key=lambda p: (rank.get(p.stem, len(rank)), p.name))
    return [_ImageSource(p.stem, p.resolve(), "photos") for p in files]


def _shapes_samples() -> list[_ImageSource]:
    """One clean picture per class, then the same pictures with a colour marker that stands for another class
    (the cue the biased teaching model learned); labelled by their true class. Always the same pictures."""
    clean = make_shapes(len(DEFAULT_CLASSES), seed=SHAPES_SEED)
    marked = make_shapes(len(DEFAULT_CLASSES), seed=SHAPES_SEED, cue="contradicting", cue_kind="color")
    samples = []
    for batch, marker in ((clean, False), (marked, True)):
        for i in np.argsort(batch.labels, kind="stable"):
            name = DEFAULT_CLASSES[batch.labels[i]]
            label = f"{name}, marker of {DEFAULT_CLASSES[batch.cue_labels[i]]}" if marker else name
            samples.append(_ImageSource(label, _read_only(batch.images[i].copy()), "shapes"))
    return samples
