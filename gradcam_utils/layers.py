"""Finding the layer whose feature maps Grad-CAM explains.

Layers are addressed by name, also when they sit inside a nested model (a pretrained base wrapped in a classifier
head). A name that exists in several nested models can be made unique as ``"base_name/layer_name"``.
"""

from __future__ import annotations

import difflib

import keras

from . import _graph
from .errors import LayerError, UnsupportedModelError

# A Grad-CAM layer is a convolution or the activation that follows one: their outputs are the spatial features.
_CONV_TYPES = (
    keras.layers.Conv2D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Conv2DTranspose,
)
_ACTIVATION_TYPES = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
)


def walk(model: keras.Model, parents: tuple = ()):
    """Yield (path, layer) for every layer, depth first, in the model's own (input-to-output) order."""
    for layer in model.layers:
        path = parents + (layer,)
        if isinstance(layer, keras.Model):
            yield from walk(layer, path)
        else:
            yield path, layer


def _output_rank(layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # never called, or called on several inputs
        return None


def _is_candidate(layer) -> bool:
    if _output_rank(layer) != 4:
        return False
    if isinstance(layer, _CONV_TYPES):
        return True
    return isinstance(layer, _ACTIVATION_TYPES) and not _is_softmax(layer)


def _is_softmax(layer) -> bool:
    return getattr(layer, "activation", None) is keras.activations.softmax


def check_model(model) -> None:
    """Raise UnsupportedModelError unless ``model`` is a built ``keras.Model`` with layers and a layer graph."""
    if not isinstance(model, keras.Model):
        raise UnsupportedModelError(f"Expected a keras.Model, got {type(model).__name__}.")
    if not model.built:
        raise UnsupportedModelError(
            f"Model '{model.name}' has not been built yet, so its layers have no shapes. Give it a keras.Input "
            "or call it once on a batch (model(images)) before asking for a heatmap."
        )
    if not model.layers:
        raise UnsupportedModelError(f"Model '{model.name}' has no layers to explain.")
    _graph.layer_graph(model)  # a subclassed model: say so, rather than "no convolution layer"


def list_conv_layers(model: keras.Model) -> list[str]:
    """Names of the layers Grad-CAM can use, from the input side to the output side.

    These are convolutions and the activations that follow them, with a 4-D (batch, height, width, channels)
    output, including those inside nested models. The last one is the default layer. Names that occur in more
    than one nested model are given as ``"model_name/layer_name"``.
    """
    check_model(model)
    paths = [path for path, layer in walk(model) if _is_candidate(layer)]
    counts: dict[str, int] = {}
    for path in paths:
        counts[path[-1].name] = counts.get(path[-1].name, 0) + 1
    return [display_name(p) if counts[p[-1].name] > 1 else p[-1].name for p in paths]


def list_explainable_layers(model: keras.Model) -> list[tuple[str, str]]:
    """Every layer Grad-CAM can use, input side first, as (name, kind) with kind ``"conv"`` or ``"tokens"``.

    ``"conv"`` layers are those of ``list_conv_layers``; ``"tokens"`` layers output (batch, tokens, channels) after
    a 4-D layer of an image model (a Vision Transformer's blocks after its patch embedding): their maps are drawn on
    the patch grid (see ``gradcam_utils.tokens``). The default layer is ``default_layer_name(model)``.
    """
    from . import tokens

    conv = set(list_conv_layers(model))
    token = set(tokens.token_layer_names(model))
    kinds = []
    for path, _ in walk(model):
        for name in (path[-1].name, display_name(path)):
            if name in conv or name in token:
                kinds.append((name, "conv" if name in conv else "tokens"))
                break
    return kinds


def display_name(path: tuple) -> str:
    """A nested layer's name with its models', e.g. "efficientnet/top_conv" for (efficientnet, top_conv)."""
    return "/".join(layer.name for layer in path)


def default_layer_name(model: keras.Model) -> str:
    """The last convolution (or its activation) with a spatial output: Grad-CAM's usual choice.

    When token layers (``list_explainable_layers``) come after the last convolution, as in a Vision Transformer,
    the default is the input of the last attention layer (pytorch-grad-cam's ``blocks[-1].norm1``): after it, no
    patch token reaches a class-token head. Without attention, the last token layer that is not a LayerNormalization
    (``gradcam_utils.tokens.default_token_layer``).
    """
    from . import tokens

    names = list_conv_layers(model)
    kinds = list_explainable_layers(model)
    if kinds and kinds[-1][1] == "tokens":
        token_default = tokens.default_token_layer(model)
        if token_default is not None:
            return token_default
    if not names:
        raise LayerError(
            f"Model '{model.name}' has no convolution or activation layer with a 4-D (batch, height, width, "
            "channels) output, so there are no spatial feature maps for Grad-CAM to weight."
        )
    return names[-1]


def find_layer_path(model: keras.Model, layer_name: str) -> tuple:
    """The chain of layers from the top model to ``layer_name``: (nested_model, ..., layer).

    Raises LayerError listing the closest convolution layer names when the name is unknown or ambiguous, and
    when the layer has no spatial dimensions.
    """
    check_model(model)
    if isinstance(layer_name, keras.layers.Layer):
        raise LayerError(_layer_object_message(model, layer_name))
    if not isinstance(layer_name, str):
        raise LayerError(f"layer_name must be a string such as {default_layer_name(model)!r}, got {layer_name!r}.")
    # "name" matches at any depth; "base/name" pins the nested model.
    matches = [
        path
        for path, _ in walk(model)
        if display_name(path) == layer_name or display_name(path).endswith("/" + layer_name)
    ]
    if not matches:
        nested = [p for p in _nested_models(model) if p[-1].name == layer_name]
        if nested:
            raise LayerError(
                f"'{layer_name}' is a nested model, not a layer. Name a layer inside it, e.g. "
                f"{_suggest(model, layer_name)}."
            )
        raise LayerError(
            f"No layer named '{layer_name}' in model '{model.name}'. Closest conv layers: "
            f"{_suggest(model, layer_name)}."
        )
    if len(matches) > 1:
        options = ", ".join(repr(display_name(p)) for p in matches)
        raise LayerError(f"Layer name '{layer_name}' is ambiguous in model '{model.name}'; use one of {options}.")
    path = matches[0]
    for nested in path[:-1]:
        _graph.graph_of(nested)  # a nested subclassed (or multi-output) model cannot be opened up to reach the layer
    if isinstance(path[-1], keras.layers.InputLayer):
        raise LayerError(
            f"'{layer_name}' is the model's input layer: its output is the image itself, not a feature map. Pick a "
            f"convolution layer, e.g. {_suggest(model, layer_name)}."
        )
    rank = _output_rank(path[-1])
    if rank == 3:
        if all(len(x.shape) == 4 for x in model.inputs):
            return path  # a token layer: its grid is resolved from its activations (gradcam_utils.tokens)
        raise LayerError(
            f"Layer '{layer_name}' outputs {tuple(path[-1].output.shape)}, a sequence, but model '{model.name}' does "
            "not take images (batch, height, width, channels), so its positions have no place in a picture and "
            "Grad-CAM has no map to draw. Token layers are explained for image models such as a Vision Transformer."
        )
    if rank != 4:
        shape = tuple(path[-1].output.shape) if rank is not None else "unknown"
        raise LayerError(
            f"Layer '{layer_name}' outputs shape {shape}; Grad-CAM needs a 4-D (batch, height, width, channels) "
            f"feature map. Pick a layer before the pooling/flatten step, e.g. {_suggest(model, layer_name)}."
        )
    return path


def _layer_object_message(model: keras.Model, layer) -> str:
    """Why a layer object is refused as ``layer_name``, and the string to pass instead."""
    paths = [path for path, candidate in walk(model) if candidate is layer]
    paths += [path for path in _nested_models(model) if path[-1] is layer]
    if paths:
        return f"layer_name takes the layer's name, a string: pass layer_name={display_name(paths[0])!r}."
    return (
        f"Layer '{layer.name}' ({type(layer).__name__}) is not part of model '{model.name}': it belongs to another "
        f"model. Pass the name (a string) of one of this model's layers, e.g. {_suggest(model, layer.name)}."
    )


def _nested_models(model: keras.Model, parents: tuple = ()):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield parents + (layer,)
            yield from _nested_models(layer, parents + (layer,))


def _suggest(model: keras.Model, layer_name: str, n: int = 3) -> str:
    names = list_conv_layers(model)
    close = difflib.get_close_matches(layer_name, names, n=n, cutoff=0.0) if names else []
    if not close:
        return "(the model has no convolution layers)"
    # Always show the default (last) conv layer: it is the usual answer.
    if names[-1] not in close:
        close = close[: n - 1] + [names[-1]]
    return ", ".join(repr(c) for c in close)
