"""The explorer's computation and its caches: predictions, gradients, maps and coloured maps, with counters.

``MapCache`` runs the model only when a result is not cached, and counts every engine call in ``ExplorerStats`` so
tests can assert "no forward pass" instead of timing it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import engine
from .errors import EmptyHeatmapWarning, check_method
from .lru import LRUCache
from .overlay import colorize
from .resize import upsample_heatmap
from .zoo import ModelBundle


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


class _Prepared(NamedTuple):
    pixels: np.ndarray  # (H, W, 3) uint8 at the model's input size, read-only
    batch: np.ndarray  # (1, H, W, 3) float32 model input
    probabilities: np.ndarray  # (classes,) float64 softmax of the logits
    predictions: list  # top Prediction tuples, best first


class _Map(NamedTuple):
    heatmap: np.ndarray  # (h, w) float32 in [0, 1], read-only
    upsampled: np.ndarray  # (H, W) float64 at the image size, read-only
    empty: bool


def _cam_bytes(rows: dict) -> int:
    return sum(inputs.activations.nbytes + inputs.gradients.nbytes for inputs in rows.values())


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


class MapCache:
    """Prepared inputs, gradients, maps and coloured maps for (model, image, layer, method, class) keys.

    ``bundle_for(model)`` gives a model's bundle and ``source_for(model, image)`` what ``load_image`` takes for an
    image label (raising the user's error when there is none); ``top()`` how many top classes to precompute.
    """

    def __init__(
        self,
        stats: ExplorerStats,
        bundle_for: Callable[[str], ModelBundle],
        source_for: Callable[[str, str], object],
        top: Callable[[], int],
    ):
        self.stats = stats
        self._bundle_for, self._source_for, self._top = bundle_for, source_for, top
        self._prepared_cache = LRUCache(32)
        self._gradient_cache = LRUCache(24, max_bytes=384 * 2**20, size_of=_cam_bytes)
        self._map_cache = LRUCache(256)
        self._colour_cache = LRUCache(64)

    def clear(self, maps_only: bool = False) -> None:
        """Forget computed maps (and, unless ``maps_only``, gradients and predictions)."""
        self._map_cache.clear()
        self._colour_cache.clear()
        if not maps_only:
            self._gradient_cache.clear()
            self._prepared_cache.clear()

    def prepared(self, model: str, image: str) -> _Prepared:
        """The image at the model's size, its model input, probabilities and top predictions (one forward pass)."""
        key = (model, image)
        hit = self._prepared_cache.get(key)
        if hit is not None:
            return hit
        source = self._source_for(model, image)
        bundle = self._bundle_for(model)
        pixels = _read_only(bundle.load_images(source)[0])
        batch = bundle.preprocess(pixels)
        logits = engine.class_logits(bundle.model, batch)
        self.stats.forward_passes += 1
        self.stats.prediction_passes += 1
        probabilities = engine.softmax(logits)[0]
        predictions = bundle.decode(logits, top=min(self._top(), len(bundle.class_names)))[0]
        return self._prepared_cache.put(key, _Prepared(pixels, batch, _read_only(probabilities), predictions))

    def cam_inputs(self, state):
        """The engine's inputs for one class, cached.

        The top classes come from one batched call per (model, image, layer), any other class from one call of its
        own.
        """
        key = (state.model, state.image, state.layer)
        rows = self._gradient_cache.get(key)
        model = self._bundle_for(state.model).model
        if rows is None:
            prepared = self.prepared(state.model, state.image)
            classes = [p.index for p in prepared.predictions]
            inputs = engine.gradient_inputs(
                model, np.repeat(prepared.batch, len(classes), axis=0), state.layer, classes
            )
            self._count_gradient_call(len(classes))
            rows = {int(c): inputs.select(slice(i, i + 1)) for i, c in enumerate(inputs.class_indices)}
            self._gradient_cache.put(key, rows)
        if state.class_index not in rows:
            prepared = self.prepared(state.model, state.image)
            rows[state.class_index] = engine.gradient_inputs(model, prepared.batch, state.layer, [state.class_index])
            self._count_gradient_call(1)
            self._gradient_cache.put(key, rows)  # re-counts its size
        return rows[state.class_index]

    def _count_gradient_call(self, rows: int) -> None:
        self.stats.forward_passes += 1
        self.stats.gradient_calls += 1
        self.stats.gradient_rows += rows

    def map(self, state) -> _Map:
        """The normalised map and its upsampled copy for a state's (model, image, layer, method, class)."""
        key = (state.model, state.image, state.layer, state.method, state.class_index)
        hit = self._map_cache.get(key)
        if hit is not None:
            return hit
        inputs = self.cam_inputs(state)
        check_method(state.method, engine.available_methods())
        if state.method == "scorecam":
            self.stats.forward_passes += 1
            self.stats.scorecam_calls += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyHeatmapWarning)  # said in the caption instead
            maps, empty = engine.heatmaps_from(inputs, state.method)
        self.stats.maps_computed += 1
        heatmap = _read_only(maps[0])
        size = self.prepared(state.model, state.image).pixels.shape[:2]
        return self._map_cache.put(key, _Map(heatmap, _read_only(upsample_heatmap(heatmap, size)), bool(empty[0])))

    def coloured(self, state, upsampled: np.ndarray) -> np.ndarray:
        """The upsampled map in the state's colormap (uint8 RGB, read-only), cached."""
        key = (state.model, state.image, state.layer, state.method, state.class_index, state.colormap)
        coloured = self._colour_cache.get(key)
        if coloured is None:
            coloured = self._colour_cache.put(key, _read_only(colorize(upsampled, state.colormap)))
        return coloured
