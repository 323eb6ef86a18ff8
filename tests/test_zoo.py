"""The model registry and the embedded ImageNet model on real photographs, offline."""

import io
import re
import struct
import tracemalloc
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from PIL import Image

import gradcam_utils as gc
from gradcam_utils import imagenet, zoo
from gradcam_utils.course import MODELS_DIR
from gradcam_utils.keras_archive import check_keras_archive

IMAGES = Path(__file__).resolve().parents[1] / "gradcam_utils" / "data" / "images"
CAT_CLASSES = {281, 282, 285}  # tabby, tiger cat, Egyptian cat
ESPRESSO = 967


@pytest.fixture(scope="module")
def lite(tmp_path_factory):
    return gc.load_model("efficientnet_lite0", cache_dir=tmp_path_factory.mktemp("cache"))


def test_registry_lists_both_imagenet_models_and_refuses_unknown_names():
    assert {"efficientnet_lite0", "xception"} <= set(gc.available_models())
    with pytest.raises(gc.GradCAMError, match="efficientnet_lite0"):
        gc.load_model("resnet9000")


def test_bundle_fields(lite):
    assert lite.name == "efficientnet_lite0" and lite.input_size == (224, 224)
    assert lite.last_conv_layer == gc.default_layer_name(lite.model) == "top_activation"
    assert len(lite.class_names) == 1000 and lite.class_names[ESPRESSO] == "espresso"


def test_photos_are_recognised(lite):
    images = lite.load_images(IMAGES / "cat.png", IMAGES / "espresso.png")
    cat, cup = lite.decode(lite.predict(images), top=3)
    assert cat[0].index in CAT_CLASSES and cup[0].index == ESPRESSO
    index, name, score = cup[0]  # unpacks like Keras' (id, name, score)
    assert name == "espresso" and 0.5 < score <= 1


def test_preprocess_checks_its_input_and_leaves_it_alone(lite):
    images = lite.load_images(IMAGES / "cat.png")
    before = images.copy()
    x = lite.preprocess(images)
    assert x.dtype == np.float32 and x.shape == (1, 224, 224, 3)
    np.testing.assert_array_equal(images, before)
    with pytest.raises(gc.ImageInputError, match=r"224, 224, 3"):
        lite.preprocess(np.zeros((1, 100, 100, 3), np.uint8))
    with pytest.raises(gc.ImageInputError, match="uint8"):
        lite.preprocess(images.astype(np.float32))


def half_energy(heatmap, width):
    """Share of the upsampled map's energy in the left half of the picture."""
    up = gc.upsample_heatmap(heatmap, (width // 2, width))
    return up[:, : width // 2].sum() / up.sum()


def test_two_object_image_maps_are_class_discriminative(lite):
    """Cat on the left, cup on the right (scripts/make_two_object_image.py). The model sees the 448x224 picture
    squeezed to 224x224; the halves stay halves. Measured: cat classes 0.91-0.95 left, espresso 0.86 right."""
    image = lite.load_images(IMAGES / "cat_and_espresso.png")
    classes = [281, 282, 285, ESPRESSO]
    maps = gc.compute_heatmaps(lite.model, lite.preprocess(np.repeat(image, 4, axis=0)), class_index=classes)
    left = [half_energy(m, 224) for m in maps]
    assert min(left[:3]) > 0.85, left
    assert 1 - left[3] > 0.75, left


def test_decode_matches_hand_softmax_and_names():
    logits = np.full(1000, -5.0)
    logits[[281, 967]] = [2.0, 1.0]
    (preds,) = imagenet.decode(logits, top=2)
    others = 998 * np.exp(-5.0)
    expected = np.exp([2.0, 1.0]) / (np.exp(2.0) + np.exp(1.0) + others)
    assert [p.index for p in preds] == [281, 967] and [p.name for p in preds] == ["tabby", "espresso"]
    np.testing.assert_allclose([p.score for p in preds], expected, rtol=1e-12)
    assert imagenet.class_name(281, full=True) == "tabby, tabby cat"
    assert imagenet.wordnet_id(281) == "n02123045"


@pytest.mark.parametrize(
    "logits, top, match",
    [
        (np.zeros((2, 10)), 5, "1000"),
        (np.full((1, 1000), np.nan), 5, "NaN"),
        (np.zeros((1, 1000)), 0, "top"),
    ],
)
def test_decode_errors(logits, top, match):
    with pytest.raises(gc.GradCAMError, match=match):
        imagenet.decode(logits, top=top)


def test_explaining_a_bundle_model_leaves_it_unchanged(lite):
    from helpers import assert_unchanged, model_fingerprint

    before = model_fingerprint(lite.model)
    gc.explain(lite.model, lite.preprocess(lite.load_images(IMAGES / "cat.png")))
    assert_unchanged(lite.model, before)


# ----- a user's .keras file is a zip archive: what it declares is checked before Keras reads it (issue 15) -----------

GENUINE = MODELS_DIR / "shapes_gap.keras"


def _archive(path, members, compression=zipfile.ZIP_STORED):
    """A zip at ``path``; a member given as an int is that many MiB of zeros, streamed (no large buffer)."""
    with zipfile.ZipFile(
        path, "w", compression, compresslevel=9 if compression == zipfile.ZIP_DEFLATED else None
    ) as zf:
        for name, data in members.items():
            if isinstance(data, int):
                with zf.open(name, "w", force_zip64=True) as out:
                    for _ in range(data):
                        out.write(bytes(1 << 20))
            else:
                zf.writestr(name, data)
    return path


def _central_entries(raw: bytes) -> list[int]:
    """Offsets of the central directory's entries (signature PK\\1\\2) in a small archive's bytes."""
    start, offsets = raw.index(b"PK\x01\x02"), []
    while raw.startswith(b"PK\x01\x02", start):
        offsets.append(start)
        name_len, extra_len, comment_len = struct.unpack_from("<3H", raw, start + 28)
        start += 46 + name_len + extra_len + comment_len
    return offsets


def _declare(path, field_offset: int, value: int, fmt: str = "<L"):
    """Patch one field (offset within each central directory entry) of every member: a forged declaration."""
    raw = bytearray(path.read_bytes())
    for entry in _central_entries(bytes(raw)):
        struct.pack_into(fmt, raw, entry + field_offset, value)
    path.write_bytes(bytes(raw))
    return path


def _overlapping(path, copies=50):
    """One stored 10 KB member listed ``copies`` times in the directory, every copy pointing at the same bytes."""
    _archive(path, {"m000": bytes(range(256)) * 40})
    raw = path.read_bytes()
    (entry_at,) = _central_entries(raw)
    entry = raw[entry_at : raw.index(b"PK\x05\x06")]
    entries = b"".join(entry.replace(b"m000", f"m{i:03d}".encode()) for i in range(copies))
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, copies, copies, len(entries), entry_at, 0)
    path.write_bytes(raw[:entry_at] + entries + end)
    return path


def _h5(datasets: dict) -> bytes:
    """An HDF5 file whose datasets (name -> declared float32 count) are chunked, gzip'd and never written."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as weights:
        for name, count in datasets.items():
            weights.create_dataset(name, (count,), "float32", chunks=(1 << 16,), compression="gzip", fillvalue=0)
    return buffer.getvalue()


def _npz(arrays: dict, compression=zipfile.ZIP_STORED) -> bytes:
    """A zip of .npy members (name -> (declared shape, bytes of data after the header))."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, (shape, data) in arrays.items():
            npy = io.BytesIO()
            np.lib.format.write_array_header_1_0(npy, {"descr": "<f4", "fortran_order": False, "shape": shape})
            zf.writestr(name, npy.getvalue() + data)
    return buffer.getvalue()


def _with_weights(path, name, data):
    members = {k: v for k, v in _genuine_members().items() if k != "model.weights.h5"}
    return _archive(path, {**members, name: data})


def _genuine_members():
    with zipfile.ZipFile(GENUINE) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


HOSTILE_ARCHIVES = {  # name -> (build(path), what the error must say)
    "not a zip": (lambda p: p.write_bytes(b"hello, not a model") and p, "not a .keras model file"),
    "empty file": (lambda p: p.write_bytes(b"") or p, "not a .keras model file"),
    "truncated genuine file": (lambda p: p.write_bytes(GENUINE.read_bytes()[:200_000]) and p, "not a .keras"),
    "deflate bomb (80 MiB of zeros in 80 KB)": (
        lambda p: _archive(p, {**_genuine_members(), "model.weights.h5": 80}, zipfile.ZIP_DEFLATED),
        r"'model.weights.h5' declares 80.0 MiB from \d+.\d KiB stored",
    ),
    "config.json declaring 65 MiB": (
        lambda p: _declare(_archive(p, {"config.json": b"{}" * 1000}), 24, 65 << 20),
        r"'config.json' declares 65.0 MiB, more than the 64.0 MiB allowed",
    ),
    "ten members of 10 MiB each from 20 KB": (
        lambda p: _declare(_archive(p, {f"assets/{i}": bytes(2000) for i in range(10)}), 24, 10 << 20),
        r"its members declare 100.0 MiB in all, from a 2\d.\d KiB file",
    ),
    "overlapping members": (
        _overlapping,
        r"claim 500.0 KiB of stored data, but the file holds 1\d.\d KiB: they overlap",
    ),
    "bzip2 member": (lambda p: _archive(p, {"config.json": b"{}"}, zipfile.ZIP_BZIP2), "compressed with method 12"),
    "lzma member": (lambda p: _archive(p, {"config.json": b"{}"}, zipfile.ZIP_LZMA), "compressed with method 14"),
    "encrypted member": (lambda p: _declare(_archive(p, {"config.json": b"{}"}), 8, 1, "<H"), "is encrypted"),
    "HDF5 dataset declaring 80 MiB, storing nothing": (
        lambda p: _with_weights(p, "model.weights.h5", _h5({"layers/dense/vars/0": 20 << 20})),
        r"'model.weights.h5' holds a dataset '/layers/dense/vars/0' that declares 80.0 MiB but stores 0 bytes",
    ),
    "ten HDF5 datasets of 10 MiB each": (
        lambda p: _with_weights(p, "model.weights.h5", _h5({f"layers/d{i}/vars/0": 10 << 18 for i in range(10)})),
        r"'model.weights.h5' declares 100.0 MiB of arrays in all",
    ),
    "npy header declaring 4 GB": (
        lambda p: _with_weights(p, "model.weights.npz", _npz({"0.npy": ((10**9,), bytes(64))})),
        r"'model.weights.npz' holds an array '0.npy' whose header declares shape \(1000000000,\) \(3.7 GiB\)",
    ),
    "npz with a bzip2 member": (
        lambda p: _with_weights(p, "model.weights.npz", _npz({"0.npy": ((4,), bytes(16))}, zipfile.ZIP_BZIP2)),
        r"'model.weights.npz' \(a zip of arrays\): its member '0.npy' is compressed with method 12",
    ),
    "10001 members": (
        lambda p: _archive(p, {f"assets/{i}": b"" for i in range(10_001)}),
        "has 10001 members, more than the 10000",
    ),
}


@pytest.fixture(scope="module")
def hostile_archives(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archives")
    return {name: build(folder / f"{i}.keras") for i, (name, (build, _)) in enumerate(HOSTILE_ARCHIVES.items())}


@pytest.mark.parametrize("case", list(HOSTILE_ARCHIVES))
def test_hostile_keras_archives_are_refused_before_keras_reads_them(hostile_archives, case, monkeypatch):
    def keras_must_not_read(*args, **kwargs):
        raise AssertionError("Keras was asked to read a refused archive")

    monkeypatch.setattr(keras.saving, "load_model", keras_must_not_read)
    path = hostile_archives[case]
    if "members" in case:  # a long directory: tracing its many small allocations would take seconds
        with pytest.raises(gc.ModelFileError, match=HOSTILE_ARCHIVES[case][1]):
            check_keras_archive(path)
    else:
        tracemalloc.start()
        try:
            with pytest.raises(gc.ModelFileError, match=HOSTILE_ARCHIVES[case][1]):
                check_keras_archive(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 << 20, f"checking took {peak / 2**20:.0f} MiB"  # the directory only: nothing is unpacked
    with pytest.raises(gc.ModelFileError):
        zoo.load_keras_file(path)
    with pytest.raises(gc.ModelFileError):
        gc.load_model("shapes_gap", path=path)  # the registry's own loading is checked too


def test_genuine_keras_files_pass_the_check(tmp_path):
    for file in MODELS_DIR.glob("*.keras"):
        check_keras_archive(file)
    from helpers import tiny_functional

    model = tiny_functional()
    model.save(tmp_path / "tiny.keras")
    recompressed = _archive(tmp_path / "recompressed.keras", _genuine_members(), zipfile.ZIP_DEFLATED)
    loaded = zoo.load_keras_file(tmp_path / "tiny.keras")
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert zoo.load_keras_file(recompressed).name == gc.load_model("shapes_gap").model.name


def test_a_bundle_never_predicts_nan(tmp_path):
    bundle = gc.load_model("shapes_gap")
    images = np.zeros((2, *bundle.input_size, 3), np.uint8)
    assert np.isfinite(bundle.predict(images)).all()
    broken = gc.load_model("shapes_gap")  # a fresh copy: the registry does not share models
    bias = broken.model.layers[-1].bias
    bias.assign(np.full(bias.shape, np.nan, np.float32))
    name = broken.model.layers[-1].name
    with pytest.raises(gc.NonFiniteError, match=rf"scores are NaN for images 0, 1: .*layer '{name}', weight 'bias'"):
        broken.predict(images)


def test_the_command_refuses_a_zip_bomb_model_before_keras_reads_it(tmp_path, monkeypatch, capsys):
    """`gradcam explain --model bomb.keras`: the command loads a user's file through the same archive check (one
    line, exit 2, and Keras' loader never called)."""
    from gradcam_utils import cli

    bomb = tmp_path / "bomb.keras"
    build, message = HOSTILE_ARCHIVES["deflate bomb (80 MiB of zeros in 80 KB)"]
    build(bomb)

    def never(*args, **kwargs):
        raise AssertionError("Keras' loader was called on a refused archive")

    monkeypatch.setattr(keras.saving, "load_model", never)
    image = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(image)
    assert cli.main(["explain", str(image), "--model", str(bomb), "--out", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and len(err.strip().splitlines()) == 1
