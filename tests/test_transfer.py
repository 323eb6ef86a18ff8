"""A pretrained base nested in a new head: the pretrained weights stay as they are, training is reproducible, and
Grad-CAM inside the nested base equals CAM / Z computed from the base's own features and the head's weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import gradcam_utils as gc
from gradcam_utils.synthetic import make_shapes
from gradcam_utils.transfer import fit_head, resize_batch, transfer_model


@pytest.fixture(scope="module")
def trained():
    bundle = gc.load_model("shapes_gap")
    before = [w.copy() for w in bundle.model.get_weights()]
    batch = make_shapes(64, seed=5)
    model = transfer_model(bundle, num_classes=2)
    labels = (batch.labels >= 2).astype(int)  # a new task: circle/square vs the pointed shapes
    history = fit_head(model, bundle.preprocess(batch.images), labels, epochs=2, seed=3, deterministic=True)
    return bundle, before, batch, model, labels, history


def test_fitting_the_head_leaves_the_pretrained_base_alone(trained):
    bundle, before, *_ = trained
    for a, b in zip(bundle.model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_head_training_is_reproducible(trained):
    bundle, _, batch, model, labels, history = trained
    again = transfer_model(bundle, num_classes=2)
    assert fit_head(again, bundle.preprocess(batch.images), labels, epochs=2, seed=3, deterministic=True) == history
    for a, b in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_head_trained_on_cached_features_is_the_head_fitting_the_whole_model_gives(trained):
    # Independent route: Keras fits the whole nested model (the base runs every epoch), with the same seed.
    bundle, _, batch, model, labels, history = trained
    whole = transfer_model(bundle, num_classes=2)
    keras.utils.set_random_seed(3)
    whole.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    fitted = whole.fit(bundle.preprocess(batch.images), labels, epochs=2, batch_size=32, shuffle=True, verbose=0)
    assert [round(float(a), 4) for a in fitted.history["accuracy"]] == history
    for a, b in zip(whole.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_base_runs_once_and_the_trained_head_is_inside_the_model(trained, monkeypatch):
    bundle, _, batch, model, labels, _ = trained
    base = model.get_layer("shapes_gap_base")
    calls = []
    original = type(base).predict
    monkeypatch.setattr(type(base), "predict", lambda self, *a, **k: calls.append(self.name) or original(self, *a, **k))
    again = transfer_model(bundle, num_classes=2)
    x = bundle.preprocess(batch.images)
    fit_head(again, x, labels, epochs=3, seed=3)
    fit_head(again, x, labels, epochs=1, seed=3)  # training on: the head layers have been called twice by now
    assert calls == ["shapes_gap_base", "shapes_gap_base"]  # once per fit_head, not once per epoch
    # The nested model's own prediction uses the trained head: by hand, pool the base's features and apply it.
    features = base(x[:8]).numpy().mean(axis=(1, 2))
    dense = again.get_layer("head_logits")
    expected = features @ dense.kernel.numpy() + dense.bias.numpy()
    np.testing.assert_allclose(again.predict(x[:8], verbose=0), expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(dense.kernel.numpy(), transfer_model(bundle, 2).get_layer("head_logits").kernel.numpy())


@pytest.mark.parametrize("opt_in", [False, True])
def test_op_determinism_is_turned_on_only_when_asked(opt_in, monkeypatch):
    # A process-wide TensorFlow setting: fit_head must leave it alone unless the caller opts in.
    calls = []
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: calls.append("on"))
    bundle = gc.load_model("shapes_gap")
    batch = make_shapes(8, seed=6)
    kwargs = {"deterministic": True} if opt_in else {}  # the default: no keyword at all
    fit_head(
        transfer_model(bundle, num_classes=2),
        bundle.preprocess(batch.images),
        (batch.labels >= 2).astype(int),
        epochs=1,
        **kwargs,
    )
    assert calls == (["on"] if opt_in else [])


def test_a_model_without_a_frozen_nested_base_is_fitted_whole():
    bundle = gc.load_model("shapes_gap")
    model = keras.models.clone_model(bundle.model)
    model.set_weights(bundle.model.get_weights())
    batch = make_shapes(16, seed=4)
    first_kernel = model.get_weights()[0].copy()
    fit_head(model, bundle.preprocess(batch.images), batch.labels, epochs=1, learning_rate=1e-3)
    assert not np.array_equal(model.get_weights()[0], first_kernel)  # its first conv layer trained too


def test_gradcam_inside_the_nested_base_is_cam_over_z(trained):
    bundle, _, batch, model, _, _ = trained
    x = bundle.preprocess(batch.images[:4])
    result = gc.explain(model, x, "shapes_gap_base/conv5_act", class_index=1, normalize=False)
    features = model.get_layer("shapes_gap_base")(x).numpy()  # the base run on its own, not through the engine
    kernel = model.get_layer("head_logits").kernel.numpy()
    z = features.shape[1] * features.shape[2]
    expected = np.maximum(features @ kernel[:, 1], 0) / z
    np.testing.assert_allclose(result.heatmaps, expected, rtol=1e-4, atol=1e-6 * expected.max())


def test_resize_batch_and_clear_errors():
    images = make_shapes(2, seed=1).images
    assert resize_batch(images, (96, 80)).shape == (2, 96, 80, 3)
    with pytest.raises(gc.GradCAMError, match="num_classes"):
        transfer_model(gc.load_model("shapes_gap"), num_classes=1)
    with pytest.raises(gc.GradCAMError, match="one label per image"):
        fit_head(transfer_model(gc.load_model("shapes_gap"), 2), images.astype(np.float32), [0, 1, 0])
