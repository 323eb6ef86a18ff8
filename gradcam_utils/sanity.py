"""The model-parameter randomisation test (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018).

If an explanation explains the *model*, it must change when the model's learned weights are destroyed. The
cascading test re-initialises the weights of the layers that have weights, one more layer at each step, from the
output towards the input, and measures how similar each explanation stays to the one of the trained model
(Spearman rank correlation, per image). The paper found that Grad-CAM passes (its maps decorrelate as soon as the
top layers are randomised) while Guided Backprop and Guided Grad-CAM largely fail (they keep looking like edge
detectors of the input whatever the weights above).

All of this happens on a COPY of the model (``keras.models.clone_model`` with the weights copied); the model handed
in is never changed. Re-initialisation uses each weight's own initializer (``kernel_initializer``,
``bias_initializer``, BatchNorm's ``gamma_initializer``, ...), seeded, so a run is reproducible; a weight with no
initializer to be found gets Glorot-uniform (2-D and more) or zeros (1-D).

The class explained stays fixed: each image's top class under the trained model (or ``class_index``).
Guided maps are compared as in the paper: absolute value summed over the colour channels. Grad-CAM maps are
compared at the layer's resolution (a map with no positive evidence is all zeros, and its correlation is NaN).
"""

from __future__ import annotations

import numbers
import unicodedata
import warnings
from dataclasses import dataclass

import keras
import numpy as np
from scipy import stats

from . import _graph, engine, guided
from .errors import EmptyHeatmapWarning, GradCAMError, UnsupportedModelError
from .i18n import text
from .images import to_batch
from .layers import check_model, display_name, walk

__all__ = ["SanityResult", "cascading_randomization", "weighted_layers", "randomized_copy"]


@dataclass(frozen=True)
class SanityResult:
    """Rank correlations between the trained model's maps and the maps after each randomisation step."""

    layers: tuple[tuple[str, ...], ...]  # per step: every layer randomised so far, top (output side) first
    gradcam: np.ndarray  # (steps, B) Spearman correlation of the Grad-CAM maps
    guided_gradcam: np.ndarray | None  # (steps, B) of |Guided Grad-CAM| summed over channels; None if not asked
    guided_backprop: np.ndarray | None  # (steps, B) of |Guided Backprop| summed over channels; None if not asked
    empty_gradcam: np.ndarray  # (steps, B) bool: the randomised model's Grad-CAM map was all zeros (NaN correlation)
    class_indices: np.ndarray  # (B,) the class explained at every step
    layer_name: str  # Grad-CAM's layer
    seeds: tuple[int, ...] = (0,)  # one cascade per seed; the (steps, ...) arrays hold seed-major columns
    maps: dict | None = None  # keep_maps=True: "gradcam", "guided_backprop", "guided_gradcam" (steps + 1, B, h, w),
    #                           "logits" (steps + 1, B, classes); index 0 the trained model, of the first seed

    @property
    def images(self) -> int:
        """Number of images per seed (the correlation arrays have ``images * len(seeds)`` columns)."""
        return len(self.class_indices)

    @property
    def steps(self) -> int:
        """Number of randomisation steps (one per entry of ``layers``)."""
        return len(self.layers)

    def rows(self) -> list[dict]:
        """One dict per step (mean correlations over the images, NaN ignored): ready for ``pandas.DataFrame``."""
        out = []
        for step, names in enumerate(self.layers):
            row = {"step": step + 1, "randomised_down_to": names[-1], "gradcam": _nanmean(self.gradcam[step])}
            if self.guided_gradcam is not None and self.guided_backprop is not None:  # both or neither
                row["guided_gradcam"] = _nanmean(self.guided_gradcam[step])
                row["guided_backprop"] = _nanmean(self.guided_backprop[step])
            out.append(row)
        return out

    def summary(self) -> str:
        """A plain-text table of the mean rank correlation per step (1 = unchanged, 0 = unrelated).

        Its title and headings follow ``gc.set_language``; the columns are the methods' keys of :meth:`rows`.
        """
        rows = self.rows()
        columns = [key for key in rows[0] if key not in ("step", "randomised_down_to")]
        step, down_to = text("sanity.step"), text("sanity.randomised_down_to")
        step_width = max(4, _display_width(step))
        width = max(_display_width(down_to), *(_display_width(r["randomised_down_to"]) for r in rows))
        head = f"{_pad(step, step_width, right=True)}  {_pad(down_to, width)}" + "".join(f"  {c:>15}" for c in columns)
        over = text("sanity.over_images", images=self.images)
        if len(self.seeds) > 1:
            over += text("sanity.over_seeds", seeds=len(self.seeds))
        lines = [text("sanity.title", over=over, layer=self.layer_name), head, "-" * _display_width(head)]
        for r in rows:
            lines.append(
                f"{r['step']:>{step_width}}  {_pad(r['randomised_down_to'], width)}"
                + "".join(f"  {r[c]:>15.3f}" for c in columns)
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _display_width(line: str) -> int:
    """Columns a terminal or notebook gives ``line``: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def _pad(cell: str, width: int, right: bool = False) -> str:
    """``cell`` padded with spaces to ``width`` display columns (so Japanese headings line up too)."""
    fill = " " * max(0, width - _display_width(cell))
    return fill + cell if right else cell + fill


def weighted_layers(model: keras.Model) -> list[str]:
    """Names of the layers that have weights, output side first: the order of the cascading randomisation.

    Layers inside nested models are included; a name used in several nested models is given as
    ``"model_name/layer_name"``.
    """
    return [name for name, _ in _weighted(model)]


def randomized_copy(model: keras.Model, layer_names=(), seed: int = 0) -> keras.Model:
    """A copy of ``model`` (same weights) with the weights of ``layer_names`` re-initialised, seeded.

    Names as given by :func:`weighted_layers`. The model handed in is not changed.
    """
    copy = _copy_model(model)
    by_name = dict(_weighted(copy))
    for position, name in enumerate(_check_names(model, layer_names)):
        _reinitialise(by_name[name], seed, position)
    return copy


def cascading_randomization(
    model: keras.Model,
    images,
    layer_name: str | None = None,
    class_index=None,
    max_steps: int | None = None,
    seed=0,
    guided_maps: bool = True,
    layers=None,
    keep_maps: bool = False,
) -> SanityResult:
    """Adebayo et al.'s cascading model-parameter randomisation test for Grad-CAM and the guided maps.

    Args:
        model: the trained model (not changed; a copy is randomised).
        images: preprocessed batch (B, H, W, C), or one image.
        layer_name: Grad-CAM's layer; None picks the last conv layer.
        class_index: None (each image's top class under the trained model), an int or one per image.
        max_steps: randomise at most this many layers (the top ones); None goes all the way to the input.
            Each step costs one Grad-CAM and one guided pass over the batch.
        seed: seeds the re-initialisation; a sequence of ints runs one cascade per seed on the same copy (put back
            to the trained weights before each), and the correlation arrays get one column per (seed, image),
            seed-major: ``result.gradcam.reshape(steps, len(seeds), B)``.
        guided_maps: also test Guided Backprop and Guided Grad-CAM (needs a ReLU network); False tests Grad-CAM only.
        layers: the layers to randomise, in order (names from ``weighted_layers``); default: all of them,
            output side first.
        keep_maps: also return the maps compared (``result.maps``): index 0 the trained model's, index s after
            step s, of the first seed. Grad-CAM at the layer's resolution; the guided maps as |map| summed over
            the colour channels, at the input's; ``"logits"`` (steps + 1, B, classes), each model's scores.

    Returns:
        A SanityResult; ``print(result)`` or ``result.summary()`` shows the table.
    """
    check_model(model)
    seeds = _check_seeds(seed)
    order = weighted_layers(model) if layers is None else _check_names(model, layers)
    if max_steps is not None:
        if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral) or max_steps < 1:
            raise GradCAMError(f"max_steps must be a positive int or None (all layers); got {max_steps!r}.")
        order = order[:max_steps]
    if not order:
        raise UnsupportedModelError(f"Model '{model.name}' has no layers with weights to randomise.")
    copy = _copy_model(model)
    try:
        return _run(copy, images, layer_name, class_index, order, seeds, guided_maps, keep_maps)
    finally:
        _forget(copy)  # the copy's cached plans would keep it (and its weights) alive


def _check_seeds(seed) -> tuple[int, ...]:
    many = not isinstance(seed, numbers.Integral)
    values = list(seed) if many and isinstance(seed, (list, tuple, np.ndarray, range)) else [seed]
    if not values or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values):
        raise GradCAMError(f"seed must be an int or a non-empty sequence of ints; got {seed!r}.")
    if len(set(values)) != len(values):
        raise GradCAMError(f"seeds must be distinct (a repeated seed repeats its cascade); got {seed!r}.")
    return tuple(int(v) for v in values)


def _run(copy, images, layer_name, class_index, order, seeds, guided_maps, keep_maps) -> SanityResult:
    batch = to_batch(images, _graph.model_shapes(copy)[0])
    if guided_maps:
        try:
            guided.get_guided_plan(copy)
        except UnsupportedModelError as err:
            raise UnsupportedModelError(f"{err} Or pass guided_maps=False to test Grad-CAM alone.") from None
    reference = _maps(copy, batch, layer_name, class_index, guided_maps)
    classes, layer = reference["classes"], reference["layer"]
    keys = ("gradcam", "guided_gradcam", "guided_backprop") if guided_maps else ("gradcam",)
    by_name = dict(_weighted(copy))
    trained = {name: by_name[name].get_weights() for name in order}
    scores = {key: np.empty((len(order), len(seeds), len(batch))) for key in keys}
    empty = np.empty((len(order), len(seeds), len(batch)), bool)
    kept = {key: [reference[key]] for key in keys + ("logits",)} if keep_maps else None
    for s, seed in enumerate(seeds):
        for name in order:  # back to the trained weights: every seed starts its cascade from the same model
            by_name[name].set_weights(trained[name])
        for position, name in enumerate(order):
            _reinitialise(by_name[name], seed, position)
            maps = _maps(copy, batch, layer, classes, guided_maps)
            empty[position, s] = maps["empty"]
            for key in keys:
                scores[key][position, s] = _spearman(reference[key], maps[key])
            if kept is not None and s == 0:
                for key in kept:
                    kept[key].append(maps[key])
    flat = {key: value.reshape(len(order), -1) for key, value in scores.items()}
    return SanityResult(
        layers=tuple(tuple(order[: i + 1]) for i in range(len(order))),
        gradcam=flat["gradcam"],
        guided_gradcam=flat.get("guided_gradcam"),
        guided_backprop=flat.get("guided_backprop"),
        empty_gradcam=empty.reshape(len(order), -1),
        class_indices=classes,
        layer_name=layer,
        seeds=seeds,
        maps=None if kept is None else {key: np.stack(value) for key, value in kept.items()},
    )


def _maps(model, batch, layer_name, class_index, guided_maps) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyHeatmapWarning)  # a randomised model often has no evidence: recorded
        result = engine.explain(model, batch, layer_name, class_index)
    maps = {
        "gradcam": result.heatmaps,
        "empty": result.empty,
        "classes": result.class_indices,
        "layer": result.layer_name,
        "logits": result.logits,
    }
    if guided_maps:
        backprop = guided.guided_backprop(model, batch, result.class_indices)
        maps["guided_backprop"] = np.abs(backprop).sum(axis=-1)
        maps["guided_gradcam"] = np.abs(guided.combine(backprop, result.heatmaps)).sum(axis=-1)
    return maps


def _spearman(reference: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """(B,) Spearman rank correlation of each pair of maps; NaN where either map is constant.

    Spearman's rho is Pearson's correlation of the ranks (ties get their average rank, as in scipy.stats.spearmanr);
    computed for the whole batch at once.
    """
    a = stats.rankdata(reference.reshape(len(reference), -1), axis=1)
    b = stats.rankdata(maps.reshape(len(maps), -1), axis=1)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    out = np.full(len(reference), np.nan)
    varied = (np.ptp(reference.reshape(len(reference), -1), axis=1) > 0) & (
        np.ptp(maps.reshape(len(maps), -1), axis=1) > 0
    )
    out[varied] = np.clip((a * b).sum(axis=1)[varied] / norm[varied], -1.0, 1.0)
    return out


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


# ----- copying and re-initialising --------------------------------------------------------------------------------


def _copy_model(model: keras.Model) -> keras.Model:
    """clone_model (nested models cloned too) with every layer's weights copied from the original."""
    check_model(model)
    _graph.graph_of(model)  # a clear error for subclassed models
    try:
        copy = keras.models.clone_model(model, recursive=True)
    except Exception as err:  # custom layers without get_config/from_config, for instance
        raise UnsupportedModelError(
            f"Model '{model.name}' could not be copied with keras.models.clone_model "
            f"({type(err).__name__}: {err}); give its custom layers a get_config()."
        ) from None
    originals, copies = _layers_of(model), _layers_of(copy)
    if [(layer.name, len(layer.weights)) for layer in originals] != [
        (layer.name, len(layer.weights)) for layer in copies
    ]:
        raise UnsupportedModelError(
            f"The copy of model '{model.name}' does not have the same layers as the "
            "model; the sanity check needs a model that keras.models.clone_model reproduces."
        )
    for source, target in zip(originals, copies, strict=True):
        if source.weights:
            target.set_weights(source.get_weights())
    return copy


def _layers_of(model: keras.Model) -> list:
    """Every layer, nested ones included, in the model's order; input layers left out (clones rename them)."""
    return [path[-1] for path in walk(model) if not isinstance(path[-1], keras.layers.InputLayer)]


def _weighted(model: keras.Model) -> list[tuple[str, keras.layers.Layer]]:
    """(name, layer) of the layers with weights, output side first; nested duplicates named by path."""
    paths = [path for path, layer in walk(model) if layer.weights]
    counts: dict[str, int] = {}
    for path in paths:
        counts[path[-1].name] = counts.get(path[-1].name, 0) + 1
    named = [(display_name(p) if counts[p[-1].name] > 1 else p[-1].name, p[-1]) for p in paths]
    return named[::-1]


def _check_names(model: keras.Model, names) -> list[str]:
    if isinstance(names, str):
        names = [names]
    names = list(names)
    known = weighted_layers(model)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise GradCAMError(
            f"No layer with weights named {unknown} in model '{model.name}'; the layers that can be "
            f"randomised are (output side first): {known[:8]}{' ...' if len(known) > 8 else ''}."
        )
    if len(set(names)) != len(names):
        raise GradCAMError(f"Layer names to randomise must be distinct; got {names}.")
    return names


def _reinitialise(layer, seed: int, position: int) -> None:
    """Draw new values for every weight of ``layer`` from its own initializer, seeded by (seed, position, index)."""
    for index, variable in enumerate(layer.weights):
        initializer = _initializer_for(layer, variable)
        config = initializer.get_config()
        if "seed" in config:
            state = np.random.SeedSequence([int(seed), position, index]).generate_state(1)[0]
            initializer = type(initializer).from_config({**config, "seed": int(state % (2**31 - 1))})
        variable.assign(initializer(tuple(variable.shape), dtype=variable.dtype))


def _initializer_for(layer, variable):
    name = variable.name.split("/")[-1].split(":")[0]
    candidates = [f"{name}_initializer", name.replace("_kernel", "") + "_initializer"]
    if name == "kernel":
        candidates.append("depthwise_initializer")  # DepthwiseConv stores its kernel as "kernel"
    for attribute in candidates:
        found = getattr(layer, attribute, None)
        if isinstance(found, keras.initializers.Initializer):
            return found
    return keras.initializers.GlorotUniform() if len(variable.shape) >= 2 else keras.initializers.Zeros()


def _forget(model: keras.Model) -> None:
    """Drop the engine's cached plans (Grad-CAM, logits, guided) for ``model``."""
    engine.forget_plans(model)
