"""Xception weights resolution, tested offline on the real loading path: the test writes an Xception weights file
itself, in the legacy HDF5 layout of Keras' published file, and loads it the three ways a user can provide it."""

import hashlib
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

import gradcam_utils as gc
from gradcam_utils import xception
from gradcam_utils.zoo import load_model


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """Xception(weights=None) with seeded random weights, saved like xception_weights_tf_dim_ordering_tf_kernels.h5."""
    keras.utils.set_random_seed(11)
    source = keras.applications.Xception(weights=None)
    path = tmp_path_factory.mktemp("weights") / xception.WEIGHTS_FILE
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    probe = {name: source.get_layer(name).get_weights()[0] for name in ("block1_conv1", "predictions")}
    return path, probe


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No user's environment variable or Keras cache leaks in; downloads go to a temporary cache."""
    monkeypatch.delenv(xception.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))


def assert_weights_arrived(bundle, probe):
    for name, expected in probe.items():
        np.testing.assert_array_equal(bundle.model.get_layer(name).get_weights()[0], expected)
    assert bundle.model.get_layer("predictions").activation is keras.activations.linear  # logits, built so


def test_explicit_path(weights_file):
    path, probe = weights_file
    bundle = load_model("xception", weights_path=path)
    assert_weights_arrived(bundle, probe)
    assert bundle.input_size == (299, 299) and bundle.last_conv_layer == "block14_sepconv2_act"
    assert gc.default_layer_name(bundle.model) == bundle.last_conv_layer


def test_environment_variable(weights_file, monkeypatch):
    path, probe = weights_file
    monkeypatch.setenv(xception.ENV_VAR, str(path))
    assert xception.resolve_weights() == path
    assert_weights_arrived(load_model("xception"), probe)


def test_download_from_a_file_origin_lands_in_the_keras_cache(weights_file, tmp_path):
    path, probe = weights_file
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    bundle = load_model("xception", origin=path.as_uri(), file_hash=md5)
    assert_weights_arrived(bundle, probe)
    cached = tmp_path / "keras_home" / "models" / xception.WEIGHTS_FILE
    assert cached.is_file()
    # Next time the cache answers: even a dead origin is not needed.
    assert xception.resolve_weights(origin="file:///nonexistent/x.h5", file_hash=md5) == cached


def test_cached_file_with_a_wrong_hash_is_not_trusted(weights_file, tmp_path):
    path, _ = weights_file
    cached = tmp_path / "keras_home" / "models" / xception.WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated")
    with pytest.raises(gc.WeightsUnavailableError):
        xception.resolve_weights(download=False)


def test_explicit_path_wins_over_the_environment_variable(weights_file, monkeypatch, tmp_path):
    path, _ = weights_file
    monkeypatch.setenv(xception.ENV_VAR, str(tmp_path / "elsewhere.h5"))
    assert xception.resolve_weights(path) == path


def test_offline_error_names_the_file_and_both_ways(tmp_path):
    with pytest.raises(gc.WeightsUnavailableError) as info:
        load_model("xception", origin=(tmp_path / "no_such_origin.h5").as_uri())
    message = str(info.value)
    assert xception.WEIGHTS_FILE in message and xception.WEIGHTS_MD5 in message
    assert "gradcam-fetch-xception" in message and xception.ENV_VAR in message


def test_missing_file_named_by_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(xception.ENV_VAR, str(tmp_path / "missing.h5"))
    with pytest.raises(gc.WeightsUnavailableError, match="missing.h5"):
        xception.resolve_weights()


def test_not_a_weights_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"this is not HDF5")
    with pytest.raises(gc.GradCAMError, match="could not be loaded as Xception"):
        load_model("xception", weights_path=bad)


def test_fallback_only_when_asked(tmp_path):
    origin = (tmp_path / "no_such_origin.h5").as_uri()
    with pytest.warns(UserWarning, match="Falling back"):
        bundle = load_model("xception", origin=origin, fallback=True)
    assert bundle.name == "efficientnet_lite0"


def test_fetch_command_fills_the_cache(weights_file, tmp_path):
    path, _ = weights_file
    cache = tmp_path / "cli_cache"
    done = subprocess.run(
        [sys.executable, "-m", "gradcam_utils.xception", "--origin", path.as_uri(), "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (cache / "models" / xception.WEIGHTS_FILE).read_bytes() == path.read_bytes()
    failed = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradcam_utils.xception",
            "--origin",
            (tmp_path / "nothing").as_uri(),
            "--cache-dir",
            str(tmp_path / "c2"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode != 0 and xception.ENV_VAR in failed.stderr


def test_notebook_03_explains_with_the_trained_xception_when_its_weights_are_here(weights_file, monkeypatch):
    """Notebook 03's Xception cell (its output is not compared by nbval) runs the real loading path: with a weights
    file on the machine it loads Xception and draws its map; without one it says so. Run here on the test's own
    weights file, since the real one cannot be downloaded."""
    import importlib.util
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("build_notebooks", root / "scripts" / "build_notebooks.py")
    build_notebooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_notebooks)
    cells = build_notebooks.parse((root / "notebooks" / "src" / "03_gradcam_on_a_real_network.py").read_text())
    [cell] = [c for c in cells if c.cell_type == "code" and "weights_available()" in c.source]
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    namespace = {"gc": gc, "plt": plt, "img_path": str(root / "gradcam_utils" / "data" / "images" / "cat.png")}

    exec(compile(cell.source, "03 Xception cell", "exec"), namespace)  # no weights here (autouse fixture)
    assert "trained" not in namespace

    path, _ = weights_file
    monkeypatch.setenv(xception.ENV_VAR, str(path))
    exec(compile(cell.source, "03 Xception cell", "exec"), namespace)
    assert namespace["trained"].name == "xception"
    assert namespace["trained_result"].heatmaps.shape == (1, 10, 10)
    assert plt.gcf().axes[0].get_title().startswith("map of ")
    plt.close("all")


def test_a_keras_cache_that_is_a_file_or_unreadable_is_a_clear_weights_error(tmp_path, monkeypatch):
    """Issue 15: ~/.keras as a file (the folder cannot be made) and a cached weights file that cannot be read each give
    WeightsUnavailableError saying why, not a raw OSError from mkdir or open."""
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the Keras cache folder should be")
    with pytest.raises(gc.WeightsUnavailableError, match="cannot be created"):
        xception.resolve_weights(cache_dir=blocker / "keras", origin="file:///nonexistent/x.h5")
    cached = tmp_path / "cache" / "models" / xception.WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"weights")

    def unreadable(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(xception, "_md5", unreadable)
    with pytest.raises(gc.WeightsUnavailableError, match="cannot be read"):
        xception.resolve_weights(cache_dir=tmp_path / "cache", download=False)
