"""The converted-weights cache is optional (issue 15): a cache folder that cannot be made or written, or a cached file
that is damaged, hostile or wrong, only warns (WeightsCacheWarning), and EfficientNet-Lite0 still loads with its real
weights, converted in memory.

The conversion itself is tested in test_efficientnet_lite.py; here it is done once per module and reused, so each case
costs one model build.
"""

import io
import os
import time
import warnings
import zipfile

import numpy as np
import pytest

from gradcam_utils import efficientnet_lite
from gradcam_utils.efficientnet_lite import bundled_weights_path, convert_state_dict, load_efficientnet_lite0
from gradcam_utils.errors import WeightsCacheWarning
from gradcam_utils.torch_legacy import load_state_dict


@pytest.fixture(scope="module")
def converted():
    return convert_state_dict(load_state_dict(bundled_weights_path()))


CHECKED = ("stem_conv", "block6a_dwconv", "top_bn", "predictions")


@pytest.fixture(scope="module")
def model():
    return efficientnet_lite.build_efficientnet_lite0()


@pytest.fixture(autouse=True)
def converted_once(monkeypatch, converted, model):
    """Every load here converts from the module's copy into one model: the tests are about the cache, not the
    conversion or the architecture. The layers the tests check are zeroed first, so they prove this load set them.
    """
    monkeypatch.setattr(efficientnet_lite, "_read_source", lambda data, path: None)
    monkeypatch.setattr(efficientnet_lite, "convert_state_dict", lambda state: converted)
    monkeypatch.setattr(efficientnet_lite, "build_efficientnet_lite0", lambda: model)
    for name in CHECKED:
        layer = model.get_layer(name)
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])


def _load(**kwargs):
    """The model and the texts of the WeightsCacheWarnings its loading gave."""
    with warnings.catch_warnings(record=True) as caught:  # not pytest.warns: it re-emits Keras' own warnings
        warnings.simplefilter("always", WeightsCacheWarning)
        model = load_efficientnet_lite0(**kwargs)
    return model, [str(w.message) for w in caught if issubclass(w.category, WeightsCacheWarning)]


def _assert_real_weights(model, converted):
    for name in CHECKED:
        for got, want in zip(model.get_layer(name).get_weights(), converted[name], strict=True):
            np.testing.assert_array_equal(got, want)


def _cache_file(directory):
    digest = efficientnet_lite.hashlib.sha256(bundled_weights_path().read_bytes()).hexdigest()[:16]
    return directory / f"efficientnet_lite0-{efficientnet_lite._CACHE_FORMAT}-{digest}.npz"


def _unwritable_folder():
    folder = "/sys/gradcam_utils_cache_test"  # even root may not create a folder there
    try:
        os.mkdir(folder)
    except OSError:
        return folder
    os.rmdir(folder)
    pytest.skip(
        "/sys accepts new folders on this machine, so there is no uncreatable cache folder to try; "
        "the cache-path-is-a-file cases still run"
    )


@pytest.mark.parametrize("where", ["a file", "inside a file", "a read-only place", "argument: a NUL byte"])
def test_a_cache_folder_that_cannot_be_made_only_warns(where, tmp_path, monkeypatch, converted):
    (tmp_path / "file").write_bytes(b"not a folder")
    if where == "argument: a NUL byte":  # no environment variable can hold one
        model, warned = _load(cache_dir=str(tmp_path / "nul\x00cache"))
    else:
        folder = {
            "a file": lambda: str(tmp_path / "file"),
            "inside a file": lambda: str(tmp_path / "file" / "cache"),
            "a read-only place": _unwritable_folder,
        }[where]()
        monkeypatch.setenv("GRADCAM_UTILS_CACHE", folder)
        model, warned = _load()
    assert len(warned) == 1 and "cannot use the weights cache folder" in warned[0], warned
    assert "GRADCAM_UTILS_CACHE" in warned[0]
    _assert_real_weights(model, converted)
    assert (tmp_path / "file").read_bytes() == b"not a folder"  # nothing the user owns is touched


def _npz(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _cache_with(converted, change) -> dict:
    named = {f"{name}:{i}": a for name, arrays in converted.items() for i, a in enumerate(arrays)}
    change(named)
    return named


def _nan_in_predictions(named):
    named["predictions:1"] = named["predictions:1"].copy()
    named["predictions:1"][3] = np.nan


def _float64_stem(named):
    named["stem_conv:0"] = named["stem_conv:0"].astype(np.float64)


@pytest.mark.parametrize("change", [_nan_in_predictions, _float64_stem], ids=["a NaN weight", "float64 weights"])
def test_a_cached_file_with_wrong_numbers_is_replaced(change, tmp_path, converted):
    cached = _cache_file(tmp_path)
    cached.write_bytes(_npz(_cache_with(converted, change)))
    model, warned = _load(cache_dir=tmp_path)
    assert len(warned) == 1 and "damaged weights cache" in warned[0], warned
    _assert_real_weights(model, converted)
    with np.load(cached) as rewritten:  # the converted weights replaced the damaged file
        np.testing.assert_array_equal(rewritten["predictions:1"], converted["predictions"][1])


def test_a_cached_zip_that_declares_more_than_the_weights_is_not_read(tmp_path, monkeypatch, converted):
    cached = _cache_file(tmp_path)
    with zipfile.ZipFile(cached, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("stem_conv:0.npy", "w") as member:  # 64 MB of zeros: a small bomb, 64 KB on disk
            header = {"descr": "<f4", "fortran_order": False, "shape": (16 * 2**20,)}
            np.lib.format.write_array_header_1_0(member, header)
            chunk = bytes(2**20)
            for _ in range(64):
                member.write(chunk)
    inflated = []
    real_read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = real_read(self, n)
        inflated.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    model, warned = _load(cache_dir=tmp_path)
    assert len(warned) == 1 and "declare" in warned[0], warned
    assert sum(inflated) < 2**20, f"{sum(inflated):,} bytes inflated: the zip was read"
    _assert_real_weights(model, converted)


def test_a_write_that_fails_only_warns_and_leaves_no_temporary_file(tmp_path, monkeypatch, converted):
    def disk_full(path, **arrays):
        with open(path, "wb") as file:
            file.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(efficientnet_lite.np, "savez", disk_full)
    model, warned = _load(cache_dir=tmp_path)
    assert len(warned) == 1 and "No space left" in warned[0], warned
    _assert_real_weights(model, converted)
    assert list(tmp_path.iterdir()) == []


def test_temporary_files_of_killed_writes_are_removed(tmp_path, converted):
    _load(cache_dir=tmp_path)
    stale = tmp_path / "tmp-999999-efficientnet_lite0-v2-0123456789abcdef.npz"  # a write killed an hour ago
    fresh = tmp_path / "tmp-999998-efficientnet_lite0-v2-0123456789abcdef.npz"  # a write going on now
    mine = tmp_path / "tmp-notes.npz"  # not a name the cache writes: never touched
    for path in (stale, fresh, mine):
        path.write_bytes(b"PK half a file")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(mine, (hour_ago, hour_ago))
    model, warned = _load(cache_dir=tmp_path)
    assert warned == []
    _assert_real_weights(model, converted)
    assert not stale.exists() and fresh.exists() and mine.exists()
