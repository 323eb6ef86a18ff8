"""Grad-CAM on token layers (a Vision Transformer's (batch, tokens, channels) activations), issue 16.

The references are independent of the library's token code: a hand-written GradientTape on a Keras sub-model of the
same ViT (the class token dropped and the tokens reshaped by hand), and the CAM closed form of a token model whose
head is a mean over the tokens followed by a Dense layer (the GAP head of the CNN case, on the patch grid).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_unchanged, model_fingerprint

import gradcam_utils as gc
from gradcam_utils import tokens
from gradcam_utils.errors import LayerError

PATCH, SIZE = 4, 16  # a 16x16 image in 4x4 patches: a 4x4 grid of 16 tokens


class ClassToken(keras.layers.Layer):
    """Puts a learned vector in front of the tokens, as ViT's class token."""

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), initializer="random_normal", name="token")

    def call(self, x):
        return keras.ops.concatenate([keras.ops.tile(self.token, (keras.ops.shape(x)[0], 1, 1)), x], axis=1)


class FirstToken(keras.layers.Layer):
    """The class token's features: what a ViT's head reads."""

    def call(self, x):
        return x[:, 0]


def tiny_vit(class_token=True, pool="cls", seed=3):
    """Patch embedding (Conv2D, stride 4) -> tokens -> [class token] -> one pre-norm block -> LayerNorm -> head."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(8, PATCH, strides=PATCH, name="patch_embed")(inputs)
    x = keras.layers.Reshape(((SIZE // PATCH) ** 2, 8), name="to_tokens")(x)
    if class_token:
        x = ClassToken(name="class_token")(x)
    y = keras.layers.LayerNormalization(name="block_ln1")(x)
    y = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="block_attn")(y, y)
    x = keras.layers.Add(name="block_add1")([x, y])
    y = keras.layers.LayerNormalization(name="block_ln2")(x)
    y = keras.layers.Dense(16, activation="gelu", name="block_mlp1")(y)
    y = keras.layers.Dense(8, name="block_mlp2")(y)
    x = keras.layers.Add(name="block_out")([x, y])
    x = keras.layers.LayerNormalization(name="final_ln")(x)
    x = FirstToken(name="take_class_token")(x) if pool == "cls" else keras.layers.GlobalAveragePooling1D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="tiny_vit")


def token_gap_model():
    """Patch embedding -> tokens -> Dense (the explained token layer) -> mean over tokens -> Dense head."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(8, PATCH, strides=PATCH, name="patch_embed")(inputs)
    x = keras.layers.Reshape((16, 8), name="to_tokens")(x)
    x = keras.layers.Dense(6, activation="relu", name="token_features")(x)
    x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name="token_gap")


def token_model(image_shape, name="reshaped"):
    """An image model that makes tokens by reshaping its input (no patch-embedding layer tells the grid)."""
    keras.utils.set_random_seed(6)
    inputs = keras.Input(image_shape)
    x = keras.layers.Reshape((image_shape[0] * image_shape[1], image_shape[2]), name="to_tokens")(inputs)
    x = keras.layers.Dense(4, activation="relu", name="token_features")(x)
    x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x), name=name)


@pytest.fixture(scope="module")
def vit():
    return tiny_vit()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).normal(size=(3, SIZE, SIZE, 3)).astype(np.float32)


def hand_gradcam(model, images, layer_name, grid_tokens):
    """Grad-CAM by hand: a tape on a Keras sub-model, the head's pre-softmax score written out, the tokens in
    ``grid_tokens`` (a slice) reshaped to the 4x4 grid, weights = mean of the gradients over the grid positions."""
    layer = model.get_layer(layer_name)
    head = model.get_layer("head")
    sub = keras.Model(model.inputs, [layer.output, head.input])
    with tf.GradientTape() as tape:
        acts, features = sub(images, training=False)
        tape.watch(acts)
        logits = tf.matmul(features, head.kernel) + head.bias  # the head's pre-softmax scores, written out
        top = tf.argmax(logits, axis=-1)
        score = tf.reduce_sum(tf.gather(logits, top, axis=1, batch_dims=1))
    grads = tape.gradient(score, acts).numpy()[:, grid_tokens]
    acts = acts.numpy()[:, grid_tokens]
    side = SIZE // PATCH
    acts, grads = (a.reshape(len(a), side, side, a.shape[-1]) for a in (acts, grads))
    weights = grads.mean(axis=(1, 2))  # mean over the grid positions
    maps = np.maximum(np.einsum("bhwk,bk->bhw", acts, weights), 0)
    return maps / maps.max(axis=(1, 2), keepdims=True), top.numpy()


def test_grid_is_found_from_the_patch_embedding(vit):
    path = gc.layers.find_layer_path(vit, "block_out")
    assert tokens.resolve_grid(vit, path, 17) == (SIZE // PATCH, SIZE // PATCH, 1)  # class token in front
    plain = tiny_vit(class_token=False, pool="mean")
    assert tokens.resolve_grid(plain, gc.layers.find_layer_path(plain, "block_out"), 16) == (4, 4, 0)


def test_grid_is_found_from_a_square_token_count():
    model = token_model((5, 5, 3))
    path = gc.layers.find_layer_path(model, "token_features")
    assert tokens.resolve_grid(model, path, 25) == (5, 5, 0)
    assert tokens.resolve_grid(model, path, 26) == (5, 5, 1)  # 5*5 + a class token


def test_gradcam_on_the_vit_matches_a_hand_written_tape(vit, images):
    before = model_fingerprint(vit)
    assert gc.default_layer_name(vit) == "block_ln1"  # the last attention's input (timm's blocks[-1].norm1)
    result = gc.explain(vit, images)
    expected, top = hand_gradcam(vit, images, "block_ln1", slice(1, None))  # the class token dropped
    assert result.layer_name == "block_ln1"
    assert result.heatmaps.shape == (3, 4, 4) and not result.empty.any()
    np.testing.assert_array_equal(result.class_indices, top)
    np.testing.assert_allclose(result.heatmaps, expected, atol=1e-5)
    # the test can fail: keeping the class token (the grid shifted by one token) gives another map
    shifted, _ = hand_gradcam(vit, images, "block_ln1", slice(0, 16))
    assert np.abs(result.heatmaps - shifted).max() > 0.05
    assert_unchanged(vit, before)


def test_after_the_last_attention_patch_tokens_do_not_reach_a_class_token_head(vit, images):
    """Why the default is not the last block's output: only the class token reaches the head from there."""
    inputs = gc.gradient_inputs(vit, images, "block_out")
    assert inputs.activations.shape == (3, 4, 4, 8) and np.abs(inputs.activations).max() > 0
    np.testing.assert_array_equal(inputs.gradients, 0)
    mean_pooled = tiny_vit(pool="mean")  # with a mean over the tokens every token reaches the head
    assert np.abs(gc.gradient_inputs(mean_pooled, images, "block_out").gradients).min() > 0


def test_mean_pooled_tokens_give_the_cam_closed_form(images):
    model = token_gap_model()
    maps = gc.compute_heatmaps(model, images, "token_features", class_index=2)
    # CAM: score = sum_k W[k, c] * mean_t A[t, k] + b, so dscore/dA = W[k, c] / T and Grad-CAM = CAM / T
    acts = keras.Model(model.inputs, model.get_layer("token_features").output)(images).numpy().reshape(3, 4, 4, 6)
    cam = np.maximum(np.einsum("bhwk,k->bhw", acts, model.get_layer("head").kernel.numpy()[:, 2]), 0)
    np.testing.assert_allclose(maps, cam / cam.max(axis=(1, 2), keepdims=True), atol=1e-5)


def test_explicit_token_grid_equals_the_found_one(vit, images):
    found = gc.compute_heatmaps(vit, images)
    np.testing.assert_array_equal(gc.compute_heatmaps(vit, images, token_grid=(4, 4)), found)
    np.testing.assert_array_equal(gc.compute_heatmaps(vit, images, token_grid=(4, 4, 1)), found)
    inputs = gc.gradient_inputs(vit, images, token_grid=(4, 4))
    assert inputs.activations.shape == (3, 4, 4, 8)


@pytest.mark.parametrize("method", gc.available_methods())
def test_every_method_runs_on_token_layers(vit, images, method):
    before = model_fingerprint(vit)
    maps = gc.compute_heatmaps(vit, images, method=method)  # AblationCAM's hand-written routes: test_ablationcam.py
    assert maps.shape == (3, 4, 4) and np.isfinite(maps).all()
    assert_unchanged(vit, before)


def test_token_layers_are_listed_and_marked(vit):
    assert gc.list_conv_layers(vit) == ["patch_embed"]
    kinds = dict(gc.list_explainable_layers(vit))
    assert kinds["patch_embed"] == "conv"
    assert kinds["block_out"] == kinds["class_token"] == kinds["final_ln"] == "tokens"
    assert "take_class_token" not in kinds and "head" not in kinds


def test_a_token_count_that_is_no_grid_says_to_pass_token_grid(images):
    model = token_model((4, 6, 3))  # 24 tokens: no square, no patch embedding
    with pytest.raises(LayerError, match=r"24 tokens.*token_grid=\(height, width\)"):
        gc.compute_heatmaps(model, np.ones((1, 4, 6, 3), np.float32), "token_features")
    maps = gc.compute_heatmaps(model, np.ones((1, 4, 6, 3), np.float32), "token_features", token_grid=(4, 6))
    assert maps.shape == (1, 4, 6)


def test_an_ambiguous_token_count_is_refused():
    model = token_model((3, 3, 3))  # 9 tokens: a 3x3 grid, or a 2x2 grid after 5 leading tokens
    with pytest.raises(LayerError, match=r"token_grid=\(3, 3, 0\) or token_grid=\(2, 2, 5\)"):
        gc.compute_heatmaps(model, np.ones((1, 3, 3, 3), np.float32), "token_features")


@pytest.mark.parametrize(
    ("grid", "message"),
    [((3, 6), r"18 cells.*16 tokens"), ((3, 3, 1), r"9 \+ 1 = 10 tokens.*has 17"), ((4,), "token_grid must be")],
)
def test_a_wrong_token_grid_says_what_fits(vit, images, grid, message):
    layer = "to_tokens" if len(grid) == 2 else "block_out"
    with pytest.raises(LayerError, match=message):
        gc.compute_heatmaps(vit, images, layer, token_grid=grid)


def test_token_grid_on_a_conv_layer_is_refused(vit, images):
    with pytest.raises(LayerError, match="leave token_grid out"):
        gc.compute_heatmaps(vit, images, "patch_embed", token_grid=(4, 4))


def test_a_sequence_model_is_refused():
    keras.utils.set_random_seed(7)
    inputs = keras.Input((10, 4))
    x = keras.layers.Dense(5, name="sequence_features")(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    with pytest.raises(LayerError, match="does not take images"):
        gc.layers.find_layer_path(model, "sequence_features")
