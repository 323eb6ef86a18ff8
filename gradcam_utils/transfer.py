"""Transfer learning the way practitioners do it: a pretrained base nested inside a new head, then a short fit.

This is the layout on which most Keras Grad-CAM code breaks ("Graph disconnected"): the conv layer to explain
lives inside the nested base. The engine opens nested models, so ``explain(model, x, "base_name/layer")`` works.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import _graph
from .errors import GradCAMError
from .images import load_image
from .zoo import ModelBundle


def transfer_model(bundle: ModelBundle, num_classes: int, name: str = "transfer", seed: int = 0) -> keras.Model:
    """A frozen view of ``bundle``'s base (input -> its Grad-CAM layer), nested in a new GAP + Dense head.

    The base shares its layers (and weights) with ``bundle.model`` and is frozen, so fitting the new model trains
    only the head and leaves the pretrained weights as they are. Its name is ``f"{bundle.name}_base"``: explain the
    last conv layer as ``f"{bundle.name}_base/{bundle.last_conv_layer}"``. The head outputs logits.
    """
    if not isinstance(num_classes, int) or num_classes < 2:
        raise GradCAMError(f"num_classes must be an int >= 2; got {num_classes!r}.")
    base = keras.Model(
        bundle.model.inputs, bundle.model.get_layer(bundle.last_conv_layer).output, name=f"{bundle.name}_base"
    )
    base.trainable = False
    inputs = keras.Input(tuple(bundle.model.inputs[0].shape[1:]), name="image")
    features = base(inputs, training=False)  # training=False keeps BatchNorm in inference mode while fitting
    pooled = keras.layers.GlobalAveragePooling2D(name="head_pool")(features)
    initializer = keras.initializers.GlorotUniform(seed=seed)  # the same head on every run
    logits = keras.layers.Dense(num_classes, kernel_initializer=initializer, name="head_logits")(pooled)
    return keras.Model(inputs, logits, name=name)


def fit_head(
    model: keras.Model,
    images: np.ndarray,
    labels,
    epochs: int = 3,
    learning_rate: float = 1e-2,
    batch_size: int = 32,
    seed: int = 0,
    *,
    deterministic: bool = False,
) -> list[float]:
    """Train ``model``'s trainable weights (the head) on preprocessed ``images``; returns the accuracy per epoch.

    For a model laid out as ``transfer_model`` builds it (input -> frozen nested base -> a chain of head layers)
    the frozen base runs once: its features are computed in inference mode, then the head layers, the very layer
    objects inside ``model``, are trained on them. ``model`` ends up with the trained head and is explained as
    before, inside its nested base. Any other model is fitted as a whole. The two routes give the same head (the
    frozen base computes the same features every epoch); caching only saves running it ``epochs`` times.

    Seeded: ``keras.utils.set_random_seed(seed)`` (Python's, NumPy's and TensorFlow's global seeds), so the batches
    are shuffled the same way on every run. ``deterministic=True`` also turns on TensorFlow's op determinism
    (``tf.config.experimental.enable_op_determinism``: the same order of arithmetic, so the same numbers on every
    run, as the notebooks want). It is opt-in because it is a process-wide side effect: it stays on for the rest of
    the Python process (every later TensorFlow op, not just this fit), can slow some ops down, and makes ops that
    have no deterministic implementation raise. Off by default, ``fit_head`` leaves the setting as it finds it.
    """
    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise GradCAMError(f"{len(images)} images but {len(labels)} labels; give one label per image.")
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    trained, inputs = model, images
    split = _frozen_base_and_head(model)
    if split is not None:
        base, head_layers = split
        inputs = base.predict(images, batch_size=batch_size, verbose=0)
        features = keras.Input(tuple(inputs.shape[1:]), name="base_features")
        outputs = features
        for layer in head_layers:
            outputs = layer(outputs)
        trained = keras.Model(features, outputs, name=f"{model.name}_head")
        keras.utils.set_random_seed(seed)  # the same shuffling as fitting the whole model
    trained.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = trained.fit(inputs, labels, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    return [round(float(a), 4) for a in history.history["accuracy"]]


def _frozen_base_and_head(model: keras.Model):
    """(base, head layers) when ``model`` is one input -> a frozen nested model -> a chain of layers, else None."""
    if not isinstance(model, keras.Model) or len(model.inputs) != 1 or len(model.outputs) != 1:
        return None
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(layers) < 2 or not isinstance(layers[0], keras.Model) or layers[0].trainable:
        return None
    tensor = model.inputs[0]
    for layer in layers:  # each layer must take the previous one's output: a plain chain, nothing branching off
        calls = _graph.calls_on(layer, tensor)  # one per call of the layer on this tensor, in any model
        if len(calls) != 1 or len(calls[0][1]) != 1:
            return None
        tensor = calls[0][1][0]
    if tensor is not model.outputs[0]:
        return None
    return layers[0], layers[1:]


def resize_batch(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 RGB images (N, h, w, 3) resized (bilinear) to (N, H, W, 3), e.g. 64x64 shapes to a 224x224 base."""
    return np.stack([load_image(image, size=size) for image in np.asarray(images)])
