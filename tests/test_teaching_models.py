"""The course's own trained models: they load safely, keep the Grad-CAM = CAM identity, reach the accuracy and
localisation that data/models/metrics.json reports, and the training script reproduces that file exactly.

Floors are the measured values (metrics.json, from `scripts/train_teaching_models.py`) less a small margin for
the smaller test sets used here; the exact reproduction is checked separately against the full evaluation."""

import importlib.util
import json
from pathlib import Path

import keras
import numpy as np
import pytest

import gradcam_utils as gc
from gradcam_utils import metrics
from gradcam_utils.synthetic import make_shapes
from gradcam_utils.teaching_models import LAST_CONV_LAYER, build_shapes_cnn

ROOT = Path(__file__).resolve().parents[1]
REPORTED = json.loads((ROOT / "data" / "models" / "metrics.json").read_text())
spec = importlib.util.spec_from_file_location("train_teaching_models", ROOT / "scripts" / "train_teaching_models.py")
training = importlib.util.module_from_spec(spec)
spec.loader.exec_module(training)


@pytest.fixture(scope="module")
def clean():
    return gc.load_model("shapes_gap")


@pytest.fixture(scope="module")
def biased():
    return gc.load_model("shapes_biased")


@pytest.fixture(scope="module")
def cue_tests():
    """One seed, three cue settings: the same shapes, only the marker's pixels differ. Not a training seed."""
    return {cue: make_shapes(400, seed=100, cue=cue, cue_kind="color") for cue in ("correlated", "none",
                                                                                   "contradicting")}


def accuracy(bundle, batch):
    return float((bundle.predict(batch.images).argmax(axis=1) == batch.labels).mean())


def test_files_are_small_and_load_in_safe_mode(clean):
    for name in ("shapes_gap", "shapes_biased"):
        path = ROOT / "data" / "models" / f"{name}.keras"
        assert path.stat().st_size < 2_000_000
        keras.saving.load_model(path, safe_mode=True)
    assert clean.last_conv_layer == LAST_CONV_LAYER == gc.default_layer_name(clean.model)
    assert [layer.name for layer in clean.model.layers[-2:]] == ["gap", "logits"]


def test_missing_model_file_says_how_to_get_it(tmp_path):
    with pytest.raises(gc.WeightsUnavailableError, match="train_teaching_models.py"):
        gc.load_model("shapes_gap", path=tmp_path / "gone.keras")


def test_gradcam_equals_cam_on_the_shipped_model(clean):
    """GAP -> Dense head: Grad-CAM at the last conv activation = CAM / Z (closed form, Grad-CAM paper 3.1)."""
    batch = make_shapes(8, seed=101)
    result = gc.explain(clean.model, clean.preprocess(batch.images), class_index=batch.labels, normalize=False)
    acts = keras.Model(clean.model.input, clean.model.get_layer(LAST_CONV_LAYER).output)(
        batch.images.astype(np.float32)).numpy()
    weights = clean.model.get_layer("logits").kernel.numpy()[:, batch.labels].T / (acts.shape[1] * acts.shape[2])
    cam = np.maximum(np.einsum("bhwk,bk->bhw", acts, weights), 0)
    np.testing.assert_allclose(result.heatmaps, cam, rtol=1e-4, atol=1e-6)


def test_clean_model_is_accurate_and_points_at_the_object(clean):
    held_out = make_shapes(600, seed=102)
    assert accuracy(clean, held_out) >= 0.97  # reported 0.997 on 1000 images
    maps = gc.compute_heatmaps(clean.model, clean.preprocess(held_out.images), class_index=held_out.labels)
    assert metrics.pointing_accuracy(maps, held_out.masks) >= 0.90  # reported 0.964, exact (no tolerance)


def test_biased_model_relies_on_the_marker(clean, biased, cue_tests):
    assert accuracy(biased, cue_tests["correlated"]) >= 0.97  # reported 0.999
    assert accuracy(biased, cue_tests["none"]) <= 0.35  # reported 0.20: chance for 5 classes
    assert accuracy(biased, cue_tests["contradicting"]) <= 0.10  # reported 0.0
    assert accuracy(clean, cue_tests["contradicting"]) >= 0.90  # reported 0.956: the clean model ignores it


def test_gradcam_shows_where_each_model_looks(clean, biased, cue_tests):
    batch = cue_tests["correlated"]
    looks = {}
    for bundle in (clean, biased):
        maps = gc.compute_heatmaps(bundle.model, bundle.preprocess(batch.images), class_index=batch.labels)
        looks[bundle.name] = (metrics.pointing_accuracy(maps, batch.cue_masks),
                              metrics.energy_pointing_game(maps, batch.cue_masks).mean(),
                              metrics.pointing_accuracy(maps, batch.masks))
    (clean_at_cue, clean_cue_energy, clean_at_object) = looks["shapes_gap"]
    (biased_at_cue, biased_cue_energy, biased_at_object) = looks["shapes_biased"]
    assert biased_at_cue >= 0.6 and clean_at_cue <= 0.05  # reported 0.745 vs 0.011
    assert biased_cue_energy >= 5 * clean_cue_energy  # reported 0.095 vs 0.008 (the marker is 0.6% of pixels)
    assert clean_at_object >= 0.85 and biased_at_object <= 0.3  # reported 0.91 vs 0.186


def test_training_script_reproduces_the_reported_metrics_from_the_shipped_models(tmp_path):
    """--evaluate-only re-measures the shipped files on the script's own test sets: metrics.json, exactly."""
    for name in ("shapes_gap.keras", "shapes_biased.keras"):
        (tmp_path / name).write_bytes((ROOT / "data" / "models" / name).read_bytes())
    measured = training.main(["--out", str(tmp_path), "--evaluate-only"])
    assert measured["clean_model"] == REPORTED["clean_model"]
    assert measured["biased_model"] == REPORTED["biased_model"]


def test_training_is_deterministic():
    """Two short trainings from the same seeds give identical weights (the full run was checked the same way)."""
    data = make_shapes(128, seed=103)
    runs = []
    for _ in range(2):
        training._configure_determinism(0)
        runs.append(training._train(build_shapes_cnn(), data.images, data.labels, epochs=1, batch_size=64))
    for a, b in zip(runs[0].get_weights(), runs[1].get_weights()):
        np.testing.assert_array_equal(a, b)
