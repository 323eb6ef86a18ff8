"""How the seed article's Grad-CAM code behaves, reimplemented here for the tests (a second route to the same
numbers, written for this project; it is not the article's text).

The article (a Japanese write-up of the Keras Grad-CAM example) builds the map this way, and these functions do the
same, on purpose including what the library fixes:

- the gradient model wraps ``model.inputs`` and is called without ``training=False``;
- with no class given, the class is the argmax of image 0's scores and is used for every image of the batch;
- the channel weights are gradients averaged over axes (0, 1, 2): over the batch as well as the positions;
- only image 0's map is returned, as a 2-D array;
- normalisation is ``max(map, 0) / max(map)``: the maximum is taken BEFORE the ReLU, so an all-negative map comes
  back as -0 everywhere and a map whose maximum is exactly 0 as 0/0 = NaN;
- pictures are loaded with Keras' ``load_img``, which resizes nearest-neighbour unless told otherwise;
- the overlay colours the small map with jet first, resizes the coloured picture with PIL's default resampler,
  adds ``alpha * colours`` to the photo and lets ``array_to_img`` stretch the sum to 0..255 (min to 0, max to 255).

Do not "fix" anything here: the tests compare the library with exactly this behaviour.
"""

import keras
import matplotlib
import numpy as np
import tensorflow as tf


def make_gradcam_heatmap(img_array, model, last_conv_layer_name, pred_index=None):
    """Image 0's Grad-CAM map at the layer's resolution, computed the way the article does (see the docstring)."""
    features_and_scores = keras.Model(model.inputs, [model.get_layer(last_conv_layer_name).output, model.output])
    with tf.GradientTape() as tape:
        features, scores = features_and_scores(img_array)
        if pred_index is None:
            pred_index = int(np.argmax(scores[0]))  # image 0 picks the class for the whole batch
        score = scores[:, pred_index]
    gradients = tape.gradient(score, features)
    weights = tf.reduce_mean(gradients, axis=(0, 1, 2))  # one weight per channel, mixed over the batch
    raw = tf.reduce_sum(features[0] * weights, axis=-1)  # image 0 only
    return (tf.maximum(raw, 0.0) / tf.reduce_max(raw)).numpy()  # max taken before the ReLU


def get_img_array(img_path, size):
    """A float32 batch of one, values 0..255, resized nearest-neighbour (``load_img``'s default)."""
    picture = keras.utils.load_img(img_path, target_size=size, interpolation="nearest")
    return keras.utils.img_to_array(picture)[np.newaxis]


def overlay(img_path, heatmap, alpha=0.4):
    """The article's ``save_and_display_gradcam`` picture, as a uint8 array (nothing saved, nothing shown)."""
    photo = keras.utils.img_to_array(keras.utils.load_img(img_path))
    palette = matplotlib.colormaps["jet"](np.arange(256))[:, :3]
    coloured = keras.utils.array_to_img(palette[np.uint8(255 * heatmap)])  # colour the small map first
    coloured = coloured.resize((photo.shape[1], photo.shape[0]))  # PIL's default resampler, on colours
    blended = keras.utils.img_to_array(coloured) * alpha + photo
    return np.asarray(keras.utils.array_to_img(blended))  # min -> 0, max -> 255, for the whole picture
