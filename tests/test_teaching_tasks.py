"""The segmenter and the multi-label teaching models (issue 16): their data against the ground truth, their files,
their accuracy and where their maps point on fresh pictures, what their bundles decode, and their training's
determinism.

Independent routes: the data are checked against make_shapes' own masks and labels (and the painted pixels); the
accuracy, IoU and pointing floors against the true masks of pictures no model was trained or measured on (seeds
130 and 140; the training scripts use 30-32 and 40-42), set from the measurement on these very pictures less a
margin (each floor says what was measured); decode's probabilities against a hand-written sigmoid and softmax.
"""

import importlib.util
import json
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import assert_unchanged, model_fingerprint

import gradcam_utils as gc
from gradcam_utils import cli, metrics
from gradcam_utils.errors import EmptyHeatmapWarning
from gradcam_utils.synthetic import DEFAULT_CLASSES, make_shapes
from gradcam_utils.targets import MultiLabel, RegionScore
from gradcam_utils.teaching_tasks import (
    BACKGROUND,
    MULTILABEL_LAYER,
    SCENE_SIZE_RANGE,
    SEGMENTER_CLASSES,
    SEGMENTER_LAYER,
    _scene_seed,
    build_shapes_multilabel,
    build_shapes_segmenter,
    make_scenes,
)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "gradcam_utils" / "data" / "models"
TINY = {"train_images": 24, "epochs": 1, "batch_size": 8}  # a 1-epoch training, for determinism and wiring
TOLERANCE = 4  # one feature cell of the 16x16 maps, in pixels: the finest place such a map can point at

# Floors on fresh pictures: measured on these very pictures (150 each, seeds 130 and 140) with the shipped files,
# then lowered by a margin so that a retrained model of the same quality passes.
SEGMENTER_PIXEL_ACCURACY_FLOOR = 0.96  # measured 0.981 (background is 93% of the pixels: the IoUs below matter more)
SEGMENTER_MEAN_IOU_FLOOR = 0.62  # mean IoU over the five shape classes: measured 0.710 (0.61 star .. 0.80 circle)
SEGMENTER_OWN_POINTING_FLOOR = 0.6  # a region's map on its own shape (within one cell): measured 0.752, other 0.220
MULTILABEL_ACCURACY_FLOOR = 0.93  # mean per-label accuracy: measured 0.961
MULTILABEL_EXACT_MATCH_FLOOR = 0.72  # all five labels right: measured 0.827
MULTILABEL_OWN_POINTING_FLOOR = 0.9  # a label's map on its own shape (within one cell): measured 0.996, other 0.004


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def segmenter():
    return gc.load_model("shapes_segmenter")


@pytest.fixture(scope="module")
def multilabel():
    return gc.load_model("shapes_multilabel")


@pytest.fixture(scope="module")
def seg_scenes():
    return make_scenes(150, seed=130)


@pytest.fixture(scope="module")
def ml_scenes():
    return make_scenes(150, seed=140)


# ---- the data


def test_scenes_match_the_masks_make_shapes_drew():
    """Labels, per-label masks and pixel labels against make_shapes' own object labels and masks (same seeds)."""
    scenes = make_scenes(31, seed=7)
    counts = scenes.labels.sum(axis=1)
    assert sorted(np.bincount(counts, minlength=4).tolist()) == [0, 10, 10, 11]  # a third each of 1, 2, 3 shapes
    # Rebuild each picture's ground truth straight from make_shapes (the route make_scenes is meant to follow).
    for k, count in zip((1, 2, 3), (11, 10, 10), strict=True):
        batch = make_shapes(count, seed=_scene_seed(7, k), objects_per_image=k, size_range=SCENE_SIZE_RANGE)
        for i in range(count):
            j = int(np.flatnonzero((scenes.images == batch.images[i]).all(axis=(1, 2, 3)))[0])
            assert set(np.flatnonzero(scenes.labels[j])) == set(batch.object_labels[i].tolist())
            for m, c in enumerate(batch.object_labels[i]):
                np.testing.assert_array_equal(scenes.label_masks[j, c], batch.object_masks[i, m])
    # Absent labels have empty masks, present ones non-empty masks.
    np.testing.assert_array_equal(scenes.label_masks.any(axis=(2, 3)), scenes.labels)
    # Pixel labels: class c exactly on c's mask, background exactly where no mask is.
    for c in range(len(DEFAULT_CLASSES)):
        np.testing.assert_array_equal(scenes.pixel_labels == c, scenes.label_masks[:, c])
    np.testing.assert_array_equal(scenes.pixel_labels == BACKGROUND, ~scenes.label_masks.any(axis=1))
    # The shapes are painted bright (brightest channel >= 180 before noise), the background below ~150.
    brightest = scenes.images.max(axis=-1).astype(float)
    assert brightest[scenes.label_masks.any(axis=1)].mean() > brightest[~scenes.label_masks.any(axis=1)].mean() + 80


def test_scenes_are_deterministic_and_seeds_differ():
    a, b, c = make_scenes(12, seed=3), make_scenes(12, seed=3), make_scenes(12, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.pixel_labels, b.pixel_labels)
    assert not np.array_equal(a.images, c.images)
    assert len(make_scenes(0, seed=1)) == 0


@pytest.mark.parametrize("n, seed", [(-1, 0), (2.5, 0), (True, 0), (3, -2), (3, None)])
def test_make_scenes_checks_its_arguments(n, seed):
    with pytest.raises(gc.GradCAMError, match="non-negative integer"):
        make_scenes(n, seed=seed)


def test_builders_check_their_arguments():
    for builder in (build_shapes_segmenter, build_shapes_multilabel):
        with pytest.raises(gc.GradCAMError, match="integer >= 2"):
            builder(1)
        with pytest.raises(gc.GradCAMError, match="divisible"):
            builder(image_size=30)
    assert build_shapes_segmenter(image_size=32).output_shape == (None, 32, 32, len(SEGMENTER_CLASSES))
    assert build_shapes_multilabel(3).output_shape == (None, 3)


# ---- the shipped files


def test_files_are_small_and_load_in_safe_mode_with_their_task(segmenter, multilabel):
    for bundle, task, layer, outputs in (
        (segmenter, "segmentation", SEGMENTER_LAYER, (None, 64, 64, 6)),
        (multilabel, "multilabel", MULTILABEL_LAYER, (None, 5)),
    ):
        path = MODELS / f"{bundle.name}.keras"
        assert path.stat().st_size < 5_000_000
        keras.saving.load_model(path, safe_mode=True)
        assert bundle.task == task and bundle.last_conv_layer == layer and bundle.model.output_shape == outputs
        assert bundle.input_size == (64, 64)
    assert segmenter.class_names == SEGMENTER_CLASSES and SEGMENTER_CLASSES[BACKGROUND] == "background"
    assert multilabel.class_names == tuple(DEFAULT_CLASSES)
    assert segmenter.model.get_layer(SEGMENTER_LAYER).output.shape == (None, 16, 16, 64)


# ---- the segmenter: accuracy, and where a region's map points


def _region_maps(bundle, scenes):
    """Grad-CAM of RegionScore(c, predicted == c) at SEGMENTER_LAYER for each present class c, with the true masks."""
    predicted = bundle.predict(scenes.images).argmax(axis=-1)
    maps, own, others = [], [], []
    for c in range(BACKGROUND):
        rows = np.flatnonzero(scenes.labels[:, c] & (predicted == c).any(axis=(1, 2)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyHeatmapWarning)
            result = gc.explain(
                bundle.model,
                bundle.preprocess(scenes.images[rows]),
                layer_name=SEGMENTER_LAYER,
                target=RegionScore(c, predicted[rows] == c),
            )
        maps.append(result.heatmaps)
        own.append(scenes.label_masks[rows, c])
        others.append(scenes.label_masks[rows].any(axis=1) & ~scenes.label_masks[rows, c])
    return np.concatenate(maps), np.concatenate(own), np.concatenate(others)


def test_segmenter_is_accurate_on_fresh_pictures(segmenter, seg_scenes):
    predicted = segmenter.predict(seg_scenes.images).argmax(axis=-1)
    truth = seg_scenes.pixel_labels
    assert np.mean(predicted == truth) >= SEGMENTER_PIXEL_ACCURACY_FLOOR
    ious = [
        np.sum((predicted == c) & (truth == c)) / np.sum((predicted == c) | (truth == c)) for c in range(BACKGROUND)
    ]
    assert np.mean(ious) >= SEGMENTER_MEAN_IOU_FLOOR, ious


def test_a_regions_map_points_at_its_own_shape_not_the_one_beside_it(segmenter, seg_scenes):
    """Pictures with 2 or 3 shapes: each region's map has its maximum on its own shape more often than on another."""
    maps, own, others = _region_maps(segmenter, seg_scenes)
    crowded = others.any(axis=(1, 2))
    at_own = metrics.pointing_game(maps[crowded], own[crowded], tolerance=TOLERANCE)
    at_other = metrics.pointing_game(maps[crowded], others[crowded], tolerance=TOLERANCE)
    assert np.mean(at_own) >= SEGMENTER_OWN_POINTING_FLOOR
    assert np.mean(at_own) > 2 * np.mean(at_other), (np.mean(at_own), np.mean(at_other))


# ---- the multi-label model


def test_multilabel_model_is_accurate_on_fresh_pictures(multilabel, ml_scenes):
    predicted = multilabel.predict(ml_scenes.images) > 0
    assert np.mean(predicted == ml_scenes.labels) >= MULTILABEL_ACCURACY_FLOOR
    assert np.mean((predicted == ml_scenes.labels).all(axis=1)) >= MULTILABEL_EXACT_MATCH_FLOOR


def test_each_labels_map_points_at_its_own_shape(multilabel, ml_scenes):
    """MultiLabel(k)'s map of each present label: on label k's shape more often than on the picture's other shapes."""
    at_own, at_other = [], []
    fingerprint = model_fingerprint(multilabel.model)
    for k in range(len(DEFAULT_CLASSES)):
        rows = np.flatnonzero(ml_scenes.labels[:, k] & (ml_scenes.labels.sum(axis=1) > 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyHeatmapWarning)
            maps = gc.explain(
                multilabel.model,
                multilabel.preprocess(ml_scenes.images[rows]),
                layer_name=MULTILABEL_LAYER,
                target=MultiLabel(k),
            ).heatmaps
        others = ml_scenes.label_masks[rows].any(axis=1) & ~ml_scenes.label_masks[rows, k]
        at_own.append(metrics.pointing_game(maps, ml_scenes.label_masks[rows, k], tolerance=TOLERANCE))
        at_other.append(metrics.pointing_game(maps, others, tolerance=TOLERANCE))
    assert_unchanged(multilabel.model, fingerprint)
    own, other = np.mean(np.concatenate(at_own)), np.mean(np.concatenate(at_other))
    assert own >= MULTILABEL_OWN_POINTING_FLOOR and own > 2 * other, (own, other)


# ---- what the bundles decode


def test_decode_by_task(segmenter, multilabel, ml_scenes):
    logits = multilabel.predict(ml_scenes.images[:4])
    sigmoid = 1 / (1 + np.exp(-logits.astype(np.float64)))  # by hand: each label on its own
    np.testing.assert_allclose(multilabel.probabilities(logits), sigmoid, rtol=1e-12)
    for row, decoded in zip(sigmoid, multilabel.decode(logits), strict=True):
        assert [p.index for p in decoded] == np.argsort(-row, kind="stable").tolist()
        np.testing.assert_allclose([p.score for p in decoded], np.sort(row)[::-1], rtol=1e-12)
    assert not np.allclose(multilabel.probabilities(logits).sum(axis=1), 1)  # not a softmax
    with pytest.raises(gc.GradCAMError, match="one logit per label"):
        multilabel.decode(np.zeros((1, 3)))
    # A classifier keeps its softmax.
    gap = gc.load_model("shapes_gap")
    scores = gap.predict(ml_scenes.images[:2]).astype(np.float64)
    by_hand = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(gap.probabilities(scores), by_hand, rtol=1e-9)
    assert gap.decode(scores, top=1)[0][0].index == by_hand[0].argmax()
    # A segmenter predicts per pixel and refuses to decode, saying what to do instead.
    per_pixel = segmenter.predict(ml_scenes.images[:1])
    assert per_pixel.shape == (1, 64, 64, 6)
    for call in (segmenter.decode, segmenter.probabilities):
        with pytest.raises(gc.GradCAMError, match=r"argmax\(axis=-1\).*RegionScore"):
            call(per_pixel)


# ---- the command


def test_the_command_explains_a_label_and_refuses_a_segmenter_saying_how(tmp_path, ml_scenes, capsys):
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(ml_scenes.images[0]).save(folder / "shapes.png")
    label = DEFAULT_CLASSES[int(np.flatnonzero(ml_scenes.labels[0])[0])]
    out = tmp_path / "out"
    argv = ["explain", str(folder), "--out", str(out), "--model", "shapes_multilabel", "--class", label, "-q"]
    assert cli.main(argv) == 0
    (item,) = json.loads((out / "results.json").read_text())["images"]
    logit = gc.load_model("shapes_multilabel").predict(ml_scenes.images[:1])[0, DEFAULT_CLASSES.index(label)]
    assert item["class_name"] == label and len(item["top"]) == len(DEFAULT_CLASSES)
    np.testing.assert_allclose(item["probability"], 1 / (1 + np.exp(-float(logit))), rtol=1e-5)  # a sigmoid
    code = cli.main(["explain", str(folder), "--out", str(tmp_path / "seg"), "--model", "shapes_segmenter", "-q"])
    assert code != 0
    assert "RegionScore" in capsys.readouterr().err


# ---- training


@pytest.mark.parametrize("script", ["train_segmenter", "train_multilabel"])
def test_a_tiny_training_is_deterministic(tmp_path, script):
    """Two 1-epoch trainings on 24 pictures from the script's seeds give identical weights (the full runs were
    checked the same way), and the saved file is a fresh uncompiled copy that loads in safe mode."""
    module = _script(script)
    tiny = dict(module.TRAINING, **TINY)
    weights = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "shapes_gap.keras").write_bytes((MODELS / "shapes_gap.keras").read_bytes())
        module.train(tmp_path / run, tiny)
        model = keras.saving.load_model(tmp_path / run / module.FILE, safe_mode=True)
        assert getattr(model, "optimizer", None) is None  # a fresh, uncompiled copy
        weights.append(model.get_weights())
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_multilabel_model_without_the_gap_models_body_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="train shapes_gap first"):
        module = _script("train_multilabel")
        module.train(tmp_path, dict(module.TRAINING, **TINY))
    assert not (tmp_path / "shapes_multilabel.keras").exists()


def test_the_multilabel_model_starts_from_the_gap_models_body(tmp_path):
    """After a tiny run with a learning rate of 0, every body weight is shapes_gap's and the head's are not."""
    (tmp_path / "shapes_gap.keras").write_bytes((MODELS / "shapes_gap.keras").read_bytes())
    module = _script("train_multilabel")
    module.train(tmp_path, dict(module.TRAINING, **TINY, learning_rate=0.0))
    gap = keras.saving.load_model(tmp_path / "shapes_gap.keras", safe_mode=True)
    trained = keras.saving.load_model(tmp_path / "shapes_multilabel.keras", safe_mode=True)
    for layer in gap.layers:
        for a, b in zip(layer.get_weights(), trained.get_layer(layer.name).get_weights(), strict=True):
            assert np.array_equal(a, b) == (layer.name != "logits"), layer.name


@pytest.mark.parametrize("name", ["shapes_vit", "shapes_segmenter", "shapes_multilabel"])
def test_the_training_script_says_what_to_do_when_a_task_models_start_is_missing(name, tmp_path, capsys):
    """Every task model starts from shapes_gap's conv body: without that file, one line saying so, not a traceback."""
    with pytest.raises(SystemExit):
        _script("train_teaching_models").main(["--out", str(tmp_path), "--only", name, "--test-images", "5"])
    assert "train shapes_gap first" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.keras"))
