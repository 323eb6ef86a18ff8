"""Models, layers and classes: a registered model or a .keras file as a bundle, the layer and the --class value."""

from __future__ import annotations

import contextlib
import difflib
import re
import sys
from pathlib import Path

import numpy as np

from .. import class_labels, zoo
from .. import layers as layer_lookup
from ..errors import LayerError, ModelFileError, UnsupportedModelError, WeightsUnavailableError
from ._common import DEFAULT_MODEL, PROG, UsageError, _one_line

# How a .keras file's model wants its uint8 RGB pixels.
PREPROCESS = {
    "raw": ("float pixels 0..255, unchanged (the course's teaching models)", lambda images: images.astype(np.float32)),
    "unit": ("pixels / 255, in [0, 1]", lambda images: images.astype(np.float32) / 255.0),
    "symmetric": (
        "pixels / 127.5 - 1, in [-1, 1] (Xception, MobileNet, EfficientNet-Lite)",
        lambda images: images.astype(np.float32) / 127.5 - 1.0,
    ),
}


def load_bundle(spec: str, preprocess: str | None = None, class_names_file: str | None = None) -> zoo.ModelBundle:
    """A registered model by name, or a .keras file as a bundle; UsageError with the reason otherwise."""
    registered = zoo.available_models()
    if spec in registered:
        if preprocess is not None or class_names_file is not None:
            raise UsageError(
                f"--preprocess and --class-names apply to a .keras model file; {spec!r} is a "
                "registered model that brings its own."
            )
        try:
            with contextlib.redirect_stdout(sys.stderr):  # Keras prints download progress; stdout is the summary's
                return zoo.load_model(spec)
        except WeightsUnavailableError as err:
            raise UsageError(
                f"model {spec!r} cannot be loaded: {err}\nWithout --model, the command uses the "
                f"embedded {DEFAULT_MODEL}, which needs no download."
            ) from None
    path = Path(spec)
    if path.suffix.lower() == ".keras":
        if not path.is_file():
            raise UsageError(f"no model file at '{spec}'.")
        return _bundle_from_file(path, preprocess or "raw", class_names_file)
    if path.exists():
        raise UsageError(
            f"'{spec}' is not a .keras file; only the Keras 3 format is loaded (safe mode). Re-save "
            "the model with model.save('model.keras')."
        )
    close = difflib.get_close_matches(spec, list(registered), n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UsageError(f"unknown model {spec!r}.{hint} Available: {', '.join(registered)}, or a path to a .keras file.")


def _bundle_from_file(path: Path, preprocess: str, class_names_file: str | None) -> zoo.ModelBundle:
    import keras

    try:
        model = zoo.load_keras_file(path)  # the archive checked for zip bombs first, then safe mode: no code runs
    except ModelFileError as err:  # already says which file and why
        raise UsageError(_one_line(err)) from None
    except Exception as err:  # Keras raises ValueError, TypeError, OSError, BadZipFile... for a bad file
        raise UsageError(
            f"'{path}' could not be loaded as a Keras model ({type(err).__name__}: {_one_line(err)})."
        ) from None
    if not isinstance(model, keras.Model) or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UsageError(f"'{path}' must hold a model with one image input and one class-score output.")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[3] != 3 or shape[1] is None or shape[2] is None:
        raise UsageError(
            f"'{path}' takes inputs of shape {shape}; the command feeds RGB images of a fixed size, "
            "so the model needs an input shape (batch, height, width, 3)."
        )
    out_shape = tuple(model.outputs[0].shape)
    if len(out_shape) != 2:
        raise UsageError(f"'{path}' outputs shape {out_shape}; Grad-CAM explains class scores (batch, classes).")
    num_classes = out_shape[1]
    if class_names_file is not None:
        names = _read_class_names(class_names_file)
        if num_classes is not None and len(names) != num_classes:
            raise UsageError(f"--class-names '{class_names_file}' has {len(names)} names for {num_classes} classes.")
    elif num_classes is None:
        raise UsageError(f"'{path}' does not say how many classes it has; give them with --class-names FILE.")
    else:
        names = tuple(str(i) for i in range(num_classes))
    try:
        default_layer = layer_lookup.default_layer_name(model)
    except (LayerError, UnsupportedModelError) as err:
        raise UsageError(str(err)) from None
    return zoo.ModelBundle(
        name=path.name,
        model=model,
        preprocess_fn=PREPROCESS[preprocess][1],
        input_size=(int(shape[1]), int(shape[2])),
        last_conv_layer=default_layer,
        class_names=names,
    )


def _read_class_names(file: str) -> tuple[str, ...]:
    try:
        lines = Path(file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"--class-names '{file}' cannot be read ({_one_line(err)}).") from None
    names = tuple(line.strip() for line in lines if line.strip())
    if not names:
        raise UsageError(f"--class-names '{file}' holds no names (one per line expected).")
    return names


def check_layer(bundle: zoo.ModelBundle, layer: str | None) -> str:
    """``--layer``: the layer's name (the model's usual one for None); UsageError when the model has no such layer."""
    name = bundle.last_conv_layer if layer is None else layer
    try:
        layer_lookup.find_layer_path(bundle.model, name)
    except (LayerError, UnsupportedModelError) as err:
        raise UsageError(str(err)) from None
    return name


def resolve_class(spec: str, class_names) -> int | None:
    """``--class``: None for auto (each image's top class), else a class index; UsageError for a bad value."""
    text = spec.strip()
    count = len(class_names)
    if text.lower() in ("auto", "top", ""):
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        index = int(text)
        if not 0 <= index < count:
            raise UsageError(f"class index {index} is out of range: the model has {count} classes (0..{count - 1}).")
        return index
    wanted = text.casefold()
    hits = class_labels.indices_named(wanted, (name.casefold() for name in class_names))
    synonyms = class_labels.imagenet_synonyms(class_names)
    if not hits and synonyms:
        hits = [i for i, names in enumerate(synonyms) if wanted in names]
    if len(hits) == 1:
        return hits[0]
    if hits:
        options = ", ".join(f"{i} ({class_names[i]})" for i in hits)
        raise UsageError(f"class name {text!r} matches several classes: {options}; pass the index instead.")
    lookup: dict[str, set[int]] = {}
    for i, name in enumerate(class_names):
        lookup.setdefault(name.casefold(), set()).add(i)
    for i, names in enumerate(synonyms):
        for name in names:
            lookup.setdefault(name, set()).add(i)
    close = class_labels.close_matches(wanted, lookup, n=5)
    suggestions = ", ".join(f"{name!r} ({'/'.join(str(i) for i in sorted(lookup[name]))})" for name in close)
    hint = f" Close matches: {suggestions}." if close else ""
    raise UsageError(
        f"unknown class name {text!r}.{hint} Use 'auto', an index 0..{count - 1}, or a name from '{PROG} list-classes'."
    )
