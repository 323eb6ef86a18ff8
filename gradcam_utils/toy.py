"""A hand-built colour detector: a CNN whose every weight is chosen by hand.

Its Grad-CAM can therefore be worked out on paper; the course uses it to teach the math before any trained network
appears.

Architecture (input 32x32 RGB in [0, 1], outputs logits for "red" and "blue"):
  conv1 (1x1):  channel 0 = R - G - B - 0.2 ("redness"), channel 1 = B - R - G - 0.2 ("blueness"); ReLU
  conv2 (4x4, stride 4): averages each channel over 4x4 blocks -> an 8x8 map per channel; ReLU
  gap -> predictions: logit_red = 10 * mean(channel 0), logit_blue = 10 * mean(channel 1)
So Grad-CAM at conv2_act has alpha_k^c = w_k^c / 64 and the map for "red" is (10/64) * the redness map.

A pixel is never red and blue at once (redness and blueness cannot both be positive), but a 4x4 block can hold both
colours: ``solid_and_striped_image`` builds such blocks, where the two classes compete (notebook 02, the softmax).
"""

from __future__ import annotations

import keras
import numpy as np

CLASS_NAMES = ("red", "blue")
INPUT_SIZE = (32, 32)


def build_colour_detector(softmax: bool = False) -> keras.Model:
    """The hand-weighted colour detector; ``softmax=True`` adds a softmax to the last layer (for the logits lesson)."""
    inputs = keras.Input(INPUT_SIZE + (3,), name="image")
    x = keras.layers.Conv2D(2, 1, activation=None, name="conv1")(inputs)
    x = keras.layers.Activation("relu", name="conv1_act")(x)
    x = keras.layers.Conv2D(2, 4, strides=4, name="conv2")(x)
    x = keras.layers.Activation("relu", name="conv2_act")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax" if softmax else None, name="predictions")(x)
    model = keras.Model(inputs, outputs, name="colour_detector")

    detector = np.array([[1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]], np.float32)  # rows R, G, B; columns red, blue
    model.get_layer("conv1").set_weights([detector.reshape(1, 1, 3, 2), np.full(2, -0.2, np.float32)])
    block_mean = np.zeros((4, 4, 2, 2), np.float32)
    block_mean[:, :, 0, 0] = block_mean[:, :, 1, 1] = 1 / 16
    model.get_layer("conv2").set_weights([block_mean, np.zeros(2, np.float32)])
    model.get_layer("predictions").set_weights([10 * np.eye(2, dtype=np.float32), np.zeros(2, np.float32)])
    return model


def two_squares_image(
    red_at=(4, 4), blue_at=(18, 18), red_side: int = 10, blue_side: int = 10, background: float = 0.5
) -> np.ndarray:
    """A grey 32x32 float image in [0, 1] with a red and a blue square; corners are (y, x), None leaves one out."""
    image = np.full(INPUT_SIZE + (3,), background, np.float32)
    for at, side, colour in ((red_at, red_side, (0.9, 0.1, 0.1)), (blue_at, blue_side, (0.1, 0.1, 0.9))):
        if at is not None:
            y, x = at
            image[y : y + side, x : x + side] = colour
    return image


def solid_and_striped_image(solid_at=(4, 4), striped_at=(20, 20), side: int = 8, background: float = 0.5) -> np.ndarray:
    """A grey 32x32 float image with a solid red square and a square of alternating one-pixel red and blue columns.

    Corners are (y, x); at corners and sides that are multiples of 4, every 4x4 block of the striped square is half
    red, half blue, so its redness and blueness averages are equal (0.25 each) and its blocks are evidence for both
    classes alike.
    """
    if side <= 0:
        raise ValueError(f"side must be a positive number of pixels; got {side}.")
    image = np.full(INPUT_SIZE + (3,), background, np.float32)
    y, x = solid_at
    image[y : y + side, x : x + side] = (0.9, 0.1, 0.1)
    y, x = striped_at
    image[y : y + side, x : x + side] = (0.9, 0.1, 0.1)
    image[y : y + side, x + 1 : x + side : 2] = (0.1, 0.1, 0.9)
    return image
