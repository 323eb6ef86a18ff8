"""Hostile files against the torch-free reader (issue 15): it refuses them, stays within memory, and is not bent.

Each crafted file is written opcode by opcode below (no torch, no pickle.dumps for the payloads) and must raise
TorchLegacyFormatError; after it, a small valid file and, once all of them have run, the genuine EfficientNet-Lite0
weights still load to the same arrays. Files that would allocate gigabytes on a weak reader (memo index 2**31,
/dev/zero, a FIFO) run in a subprocess with a 1 GiB address-space limit; the rest measure their peak with tracemalloc.
The Hypothesis fuzz of the reader is in test_torch_legacy_fuzz.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import pickletools
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gradcam_utils import torch_legacy
from gradcam_utils.efficientnet_lite import bundled_weights_path
from gradcam_utils.errors import DisallowedGlobalError, TorchLegacyFormatError
from gradcam_utils.torch_legacy import load_state_dict

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "efficientnet_lite0_reference.npz"
MiB = 1 << 20

# --- a tiny assembler for torch's legacy format ----------------------------------------------------

PROTO, STOP, MARK, NONE, FALSE = b"\x80\x02", b".", b"(", b"N", b"\x89"


def _u(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _i(n: int) -> bytes:
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)
    if -(2**31) <= n < 2**31:
        return b"J" + struct.pack("<i", n)
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def _g(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _tup(*items: bytes) -> bytes:
    return MARK + b"".join(items) + b"t"


ODICT = _g("collections", "OrderedDict") + b")R"  # OrderedDict()
REBUILD = _g("torch._utils", "_rebuild_tensor_v2")


def _pid(key: str, numel: int, storage: str = "FloatStorage") -> bytes:
    return _tup(_u("storage"), _g("torch", storage), _u(key), _u("cpu"), _i(numel), NONE) + b"Q"


def _tensor(key, numel, size, stride, offset=0, storage="FloatStorage") -> bytes:
    """``_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``, as torch writes it."""
    args = _pid(key, numel, storage) + _i(offset) + _tup(*map(_i, size)) + _tup(*map(_i, stride)) + FALSE + ODICT
    return REBUILD + MARK + args + b"tR"


METADATA = b"}" + _u("_metadata") + ODICT + _u("") + b"}" + _u("version") + _i(1) + b"sss"


def _state(*entries: tuple[str, bytes], build: bytes = METADATA + b"b") -> bytes:
    """The state dict pickle: an OrderedDict of tensors with torch's _metadata set by BUILD."""
    return PROTO + ODICT + b"q\x00" + MARK + b"".join(_u(k) + t for k, t in entries) + b"u" + build + STOP


def _keys(*keys: str) -> bytes:
    return PROTO + b"]q\x00" + MARK + b"".join(_u(k) for k in keys) + b"e" + STOP


def _data(*arrays: np.ndarray) -> bytes:
    return b"".join(a.size.to_bytes(8, "little") + np.ascontiguousarray(a).tobytes() for a in arrays)


SYS_INFO = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
HEADER = b"".join(pickle.dumps(v, protocol=2) for v in (torch_legacy.MAGIC_NUMBER, 1001, SYS_INFO))


def _file(state: bytes, keys: bytes = _keys(), data: bytes = b"", header: bytes = HEADER) -> bytes:
    return header + state + keys + data


# A small valid file in torch's format: shared storage, strides, an offset, a scalar, an empty tensor, five dtypes.
K0 = np.arange(6, dtype="<f4")
K1 = np.array([-3, 0, 2**40, 7], dtype="<i8")
K2 = np.array([0.5, 1.5, -2.0], dtype="<f2")
K3 = np.zeros(0, dtype="<f8")
K4 = np.array([True, False, True])
SMALL = _file(
    _state(
        ("w", _tensor("k0", 6, (2, 3), (3, 1))),
        ("wt", _tensor("k0", 6, (3, 2), (1, 3))),
        ("b", _tensor("k1", 4, (4,), (1,), storage="LongStorage")),
        ("h", _tensor("k2", 3, (), (), offset=2, storage="HalfStorage")),
        ("e", _tensor("k3", 0, (0, 5), (5, 1), storage="DoubleStorage")),
        ("flag", _tensor("k4", 3, (3,), (1,), storage="BoolStorage")),
    ),
    _keys("k0", "k1", "k2", "k3", "k4"),
    _data(K0, K1, K2, K3, K4),
)
SMALL_EXPECTED = {
    "w": K0.reshape(2, 3),
    "wt": K0.reshape(2, 3).T,
    "b": K1,
    "h": np.float16(-2.0),
    "e": np.zeros((0, 5)),
    "flag": K4,
}


def _check_small_file_loads() -> None:
    result = load_state_dict(_io(SMALL))
    assert list(result) == list(SMALL_EXPECTED)
    for name, expected in SMALL_EXPECTED.items():
        np.testing.assert_array_equal(result[name], expected)
        assert result[name].dtype == np.asarray(expected).dtype or name == "e"


def _io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def _allowed_globals_state():
    """What a hostile pickle could have changed on the reader's allowed globals (old or new reader)."""
    state = []
    for key, obj in torch_legacy._ALLOWED_GLOBALS.items():
        attrs = {a: getattr(obj, a, None) for a in ("__defaults__", "__kwdefaults__", "name", "dtype", "qualname")}
        own = vars(obj) if hasattr(obj, "__dict__") and not isinstance(obj, type) else {}
        state.append((key, type(obj), dict(own), attrs))
    return state


ALLOWED_BEFORE = _allowed_globals_state()


# --- the hostile files ---------------------------------------------------------------------------------

BIG = 2**40
ONE_FLOAT = _data(np.zeros(1, "<f4"))


def _one_tensor(tensor: bytes, data: bytes = ONE_FLOAT, key: str = "k0") -> bytes:
    return _file(_state(("t", tensor)), _keys(key), data)


def _nested_tuple(depth: int) -> bytes:
    return NONE + b"\x85" * depth  # (((None,),),)...


# (id, file bytes, expected exception, regex its message must match)
HOSTILE: list[tuple[str, bytes, type[Exception], str]] = [
    # 1. allowed globals must not be mutated: BUILD, SETITEM(S), APPEND(S) onto them, INST/OBJ/NEWOBJ, REDUCE misuse
    (
        "build-sets-dtype-of-FloatStorage",
        _file(PROTO + _g("torch", "FloatStorage") + b"}" + _u("dtype") + _u("x") + b"sb" + STOP),
        TorchLegacyFormatError,
        "BUILD sets the state of a _StorageType",
    ),
    (
        "build-slotstate-on-FloatStorage",
        _file(PROTO + _g("torch", "FloatStorage") + NONE + b"}" + _u("dtype") + _u("x") + b"s\x86b" + STOP),
        TorchLegacyFormatError,
        "BUILD sets the state",
    ),
    (
        "build-on-rebuild-function",
        _file(PROTO + REBUILD + b"}" + _u("injected") + _i(1) + b"sb" + STOP),
        TorchLegacyFormatError,
        "BUILD sets the state",
    ),
    (
        "build-defaults-on-rebuild-function",
        _file(PROTO + REBUILD + NONE + b"}" + _u("__defaults__") + _tup(_i(1)) + b"s\x86b" + STOP),
        TorchLegacyFormatError,
        "BUILD sets the state",
    ),
    (
        "build-on-OrderedDict-class",
        _file(PROTO + _g("collections", "OrderedDict") + b"}" + _u("x") + _i(1) + b"sb" + STOP),
        TorchLegacyFormatError,
        "BUILD sets the state",
    ),
    (
        "build-on-a-tensor",
        _file(
            _state(("t", _tensor("k0", 1, (1,), (1,)) + b"}" + _u("offset") + _i(BIG) + b"sb")),
            _keys("k0"),
            ONE_FLOAT,
        ),
        TorchLegacyFormatError,
        "BUILD sets the state of a _PendingTensor",
    ),
    (
        "setitem-on-global",
        _file(PROTO + _g("torch", "FloatStorage") + _u("dtype") + _u("x") + b"s" + STOP),
        TorchLegacyFormatError,
        "SETITEM.S. onto a _StorageType",
    ),
    (
        "setitems-on-global",
        _file(PROTO + _g("collections", "OrderedDict") + MARK + _u("x") + _i(1) + b"u" + STOP),
        TorchLegacyFormatError,
        "SETITEM.S. onto a",
    ),
    (
        "append-on-global",
        _file(PROTO + REBUILD + _i(1) + b"a" + STOP),
        TorchLegacyFormatError,
        "APPEND.S. onto a",
    ),
    (
        "appends-on-global",
        _file(PROTO + REBUILD + MARK + _i(1) + b"e" + STOP),
        TorchLegacyFormatError,
        "APPEND.S. onto a",
    ),
    (
        "inst-allowed-class",
        _file(PROTO + MARK + b"icollections\nOrderedDict\n" + STOP),
        DisallowedGlobalError,
        "opcode INST",
    ),
    (
        "obj-allowed-class",
        _file(PROTO + MARK + _g("collections", "OrderedDict") + b"o" + STOP),
        DisallowedGlobalError,
        "opcode OBJ",
    ),
    (
        "newobj-allowed-class",
        _file(PROTO + _g("collections", "OrderedDict") + b")\x81" + STOP),
        DisallowedGlobalError,
        "opcode NEWOBJ",
    ),
    (
        "stack-global",
        _file(PROTO + _u("collections") + _u("OrderedDict") + b"\x93" + STOP),
        DisallowedGlobalError,
        "opcode STACK_GLOBAL",
    ),
    (
        "ext-registry",
        _file(PROTO + b"\x82\x01" + STOP),
        DisallowedGlobalError,
        "opcode EXT1",
    ),
    (
        "reduce-OrderedDict-with-items",
        _file(PROTO + _g("collections", "OrderedDict") + _tup(b"]") + b"R" + STOP),
        TorchLegacyFormatError,
        "REDUCE calls collections.OrderedDict with 1 arguments",
    ),
    (
        "reduce-storage-type",
        _file(PROTO + _g("torch", "FloatStorage") + b")R" + STOP),
        TorchLegacyFormatError,
        "REDUCE calls _StorageType",
    ),
    (
        "reduce-non-tuple-args",
        _file(PROTO + REBUILD + b"]R" + STOP),
        TorchLegacyFormatError,
        "REDUCE with list arguments",
    ),
    (
        "rebuild-size-is-a-string",
        _one_tensor(REBUILD + MARK + _pid("k0", 1) + _i(0) + _u("1") + _tup(_i(1)) + FALSE + ODICT + b"tR"),
        TorchLegacyFormatError,
        "wrong types",
    ),
    (
        "rebuild-too-many-arguments",
        _one_tensor(REBUILD + MARK + _pid("k0", 1) + _i(0) + _tup(_i(1)) + _tup(_i(1)) + FALSE + ODICT * 3 + b"tR"),
        TorchLegacyFormatError,
        "6 or 7 arguments",
    ),
    (
        "global-os-system",
        _file(PROTO + _g("os", "system") + _tup(_u("true")) + b"R" + STOP),
        DisallowedGlobalError,
        r"refusing to load global os\.system",
    ),
    (
        "global-name-with-escape-sequence",
        _file(PROTO + b"c\x1b[31mevil\x07\nx\n" + STOP),
        DisallowedGlobalError,
        r"refusing to load global '\\x1b\[31mevil\\x07\.x'",
    ),
    (
        "global-name-unterminated",
        _file(PROTO + b"c" + b"a" * 10_000),
        TorchLegacyFormatError,
        "unterminated or longer than",
    ),
    # opcodes torch never writes in a state dict, one of each kind
    *[
        (f"opcode-{name}", _file(PROTO + NONE + body + STOP), TorchLegacyFormatError, f"opcode {name} is refused")
        for name, body in [
            ("DUP", b"2"),
            ("POP", b"0"),
            ("POP_MARK", MARK + b"1"),
            ("LIST", MARK + b"l"),
            ("DICT", MARK + b"d"),
            ("BINFLOAT", b"G" + struct.pack(">d", float("nan"))),
            ("FLOAT", b"Fnan\n"),
            ("INT", b"I1\n"),
            ("LONG", b"L1L\n"),
            ("LONG4", b"\x8b\xff\xff\xff\x7f"),
            ("STRING", b"S'x'\n"),
            ("BINSTRING", b"T\x01\x00\x00\x00x"),
            ("UNICODE", b"Vx\n"),
            ("SHORT_BINUNICODE", b"\x8c\x01x"),
            ("BINBYTES", b"B\x01\x00\x00\x00x"),
            ("BYTEARRAY8", b"\x96" + (2**60).to_bytes(8, "little")),
            ("FRAME", b"\x95" + (2**60).to_bytes(8, "little")),
            ("MEMOIZE", b"\x94"),
            ("EMPTY_SET", b"\x8f"),
            ("FROZENSET", MARK + b"\x91"),
            ("PERSID", b"Pstorage\n"),
            ("PUT", b"p99999999999\n"),
            ("GET", b"g0\n"),
            ("NEXT_BUFFER", b"\x97"),
        ]
    ],
    (
        "not-an-opcode",
        _file(PROTO + b"\xff" + STOP),
        TorchLegacyFormatError,
        r"opcode 0xff \(not a pickle opcode\)",
    ),
    (
        "protocol-5",
        _file(b"\x80\x05" + NONE + STOP),
        TorchLegacyFormatError,
        "pickle protocol 5",
    ),
    # 2. memory bounded by the file's size
    (
        "memo-index-skips-ahead",
        _file(PROTO + NONE + b"r" + struct.pack("<I", 2**22) + STOP),
        TorchLegacyFormatError,
        "memo index 4194304 skips ahead",
    ),
    (
        "memo-get-never-stored",
        _file(PROTO + b"j" + struct.pack("<I", 2**32 - 1) + STOP),
        TorchLegacyFormatError,
        "memo index 4294967295 was never stored",
    ),
    (
        "empty-dict-bomb",
        _file(PROTO + b"}" * 100_000 + STOP),
        TorchLegacyFormatError,
        "bytes of objects per byte of pickle",
    ),
    (
        "empty-list-bomb",
        _file(PROTO + b"]" * 100_000 + STOP),
        TorchLegacyFormatError,
        "bytes of objects per byte of pickle",
    ),
    (
        "dup-bomb",
        _file(PROTO + NONE + b"2" * 100_000 + STOP),
        TorchLegacyFormatError,
        "opcode DUP is refused",
    ),
    (
        "numel-claims-more-than-the-file",
        _one_tensor(_tensor("k0", BIG, (1,), (1,)), BIG.to_bytes(8, "little") + b"\0" * 4),
        TorchLegacyFormatError,
        "missing or cut short",
    ),
    (
        "count-2**64-1",
        _one_tensor(_tensor("k0", 1, (1,), (1,)), b"\xff" * 8 + b"\0" * 4),
        TorchLegacyFormatError,
        "missing or cut short",
    ),
    (
        "many-tensors-share-one-storage",
        _file(
            _state(*[(f"t{i}", _tensor("k0", 4096, (4096,), (1,))) for i in range(64)]),
            _keys("k0"),
            _data(np.zeros(4096, "<f4")),
        ),
        TorchLegacyFormatError,
        "storages shared by many tensors",
    ),
    (
        "broadcast-view",
        _one_tensor(_tensor("k0", 1, (BIG, BIG), (0, 0))),
        TorchLegacyFormatError,
        "does not fit its storage",
    ),
    (
        "empty-tensor-with-huge-dims",
        _one_tensor(_tensor("k0", 1, (0, 2**62), (1, 1))),
        TorchLegacyFormatError,
        "does not fit its storage",
    ),
    (
        "70-dimensions",
        _one_tensor(_tensor("k0", 1, (1,) * 70, (1,) * 70)),
        TorchLegacyFormatError,
        "does not fit its storage",
    ),
    (
        "deep-nesting-as-the-state-dict",
        _file(PROTO + b"]" + _nested_tuple(15_000) + b"a" + STOP),
        TorchLegacyFormatError,
        "not a dict of name -> tensor",
    ),
    (
        "deep-nesting-over-the-memory-budget",
        _file(PROTO + _nested_tuple(100_000) + STOP),
        TorchLegacyFormatError,
        "bytes of objects per byte of pickle",
    ),
    (
        "deep-nesting-in-key-list",
        _file(_state(), PROTO + b"]" + _nested_tuple(15_000) + b"a" + STOP),
        TorchLegacyFormatError,
        "storage key list is missing or malformed",
    ),
    (
        "deep-nesting-in-persistent-id",
        _one_tensor(
            REBUILD + MARK + _tup(_u("storage"), _g("torch", "FloatStorage"), _nested_tuple(15_000), _u("cpu")) + b"Q"
        ),
        TorchLegacyFormatError,
        "persistent id is not",
    ),
    # 3. siblings: storages, strides, keys, byte order, truncation, zip archives
    (
        "negative-stride",
        _one_tensor(_tensor("k0", 2, (2,), (-1,), offset=1), _data(np.zeros(2, "<f4"))),
        TorchLegacyFormatError,
        "does not fit its storage",
    ),
    (
        "negative-offset",
        _one_tensor(_tensor("k0", 1, (1,), (1,), offset=-1)),
        TorchLegacyFormatError,
        "does not fit its storage",
    ),
    (
        "storage-listed-twice",
        _file(_state(("t", _tensor("k0", 1, (1,), (1,)))), _keys("k0", "k0"), ONE_FLOAT * 2),
        TorchLegacyFormatError,
        "listed twice",
    ),
    (
        "storage-declared-twice-differently",
        _file(_state(("a", _tensor("k0", 1, (1,), (1,))), ("b", _tensor("k0", 9, (9,), (1,)))), _keys("k0"), ONE_FLOAT),
        TorchLegacyFormatError,
        "declared twice with different types or sizes",
    ),
    (
        "storage-type-changes",
        _file(
            _state(("a", _tensor("k0", 1, (1,), (1,))), ("b", _tensor("k0", 1, (1,), (1,), storage="IntStorage"))),
            _keys("k0"),
            ONE_FLOAT,
        ),
        TorchLegacyFormatError,
        "declared twice",
    ),
    (
        "storage-key-is-an-int",
        _file(_state(("t", _tensor("k0", 1, (1,), (1,)))), PROTO + b"]" + _i(0) + b"a" + STOP, ONE_FLOAT),
        TorchLegacyFormatError,
        "storage key list is missing or malformed",
    ),
    (
        "storage-reference-in-key-list",
        _file(_state(), PROTO + b"]" + _pid("k0", 1) + b"a" + STOP),
        TorchLegacyFormatError,
        "a storage reference outside the state dict",
    ),
    (
        "storage-view-metadata",
        _one_tensor(
            REBUILD
            + MARK
            + _tup(_u("storage"), _g("torch", "FloatStorage"), _u("k0"), _u("cpu"), _i(1), _tup(_u("k1"), _i(0)))
            + b"Q"
            + _i(0)
            + _tup(_i(1))
            + _tup(_i(1))
            + FALSE
            + ODICT
            + b"tR"
        ),
        TorchLegacyFormatError,
        "storage views",
    ),
    (
        "dict-key-is-unhashable",
        _file(PROTO + b"}" + b"]" + _i(1) + b"s" + STOP),
        TorchLegacyFormatError,
        "a dict key is a list",
    ),
    (
        "big-endian",
        _file(_state(), header=HEADER.replace(b"\x88", b"\x89")),
        TorchLegacyFormatError,
        "only little-endian",
    ),
    (
        "invalid-utf8",
        _file(PROTO + b"X\x02\x00\x00\x00\xff\xfe" + STOP),
        TorchLegacyFormatError,
        "not valid UTF-8",
    ),
    (
        "string-longer-than-file",
        _file(PROTO + b"X\xff\xff\xff\xff" + STOP),
        TorchLegacyFormatError,
        "ends inside the pickle",
    ),
    (
        "stop-with-open-mark",
        _file(PROTO + MARK + NONE + STOP),
        TorchLegacyFormatError,
        "MARK open",
    ),
    (
        "tuple-below-mark",
        _file(PROTO + NONE + MARK + b"\x85" + STOP),
        TorchLegacyFormatError,
        "too few items",
    ),
    (
        "empty",
        b"",
        TorchLegacyFormatError,
        "ends before the pickle does",
    ),
    (
        "empty-zip",
        b"PK\x05\x06" + b"\0" * 18,
        TorchLegacyFormatError,
        "zip-format",
    ),
]


def _zip_with(tmp_path: Path, kind: str) -> bytes:
    path = tmp_path / f"{kind}.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if kind == "bomb":
            archive.writestr("archive/data/0", bytes(MiB))
        elif kind == "duplicate":
            archive.writestr("archive/data.pkl", b"\x80\x02N.")
            with pytest.warns(UserWarning, match="Duplicate name"):
                archive.writestr("archive/data.pkl", b"\x80\x02N.")
        else:  # path traversal
            archive.writestr("../../../tmp/escaped_from_the_archive", b"x")
    data = bytearray(path.read_bytes())
    if kind == "bomb":  # declare 4 GiB uncompressed, in the local header and in the central directory
        central = data.index(b"PK\x01\x02")
        data[22:26] = data[central + 24 : central + 28] = struct.pack("<I", 2**32 - 1)
    return bytes(data)


# --- tests -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_file_is_refused_within_memory(case):
    """Refused with the library's error, within a few times its size in memory, and the reader is not bent."""
    _, data, error, match = case
    tracemalloc.start()
    try:
        with pytest.raises(error, match=match) as info:
            load_state_dict(_io(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * len(data) + 2 * MiB, f"peak {peak} bytes for a {len(data)}-byte file"
    assert all(ch.isprintable() or ch == "\n" for ch in str(info.value)), "raw control characters in the message"
    assert _allowed_globals_state() == ALLOWED_BEFORE
    _check_small_file_loads()


@pytest.mark.parametrize("kind", ["bomb", "duplicate", "traversal"])
def test_zip_archives_are_refused_before_reading_an_entry(tmp_path, kind, monkeypatch):
    data = _zip_with(tmp_path, kind)
    if kind == "bomb":
        assert zipfile.ZipFile(io.BytesIO(data)).infolist()[0].file_size == 2**32 - 1
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TorchLegacyFormatError, match="zip-format torch file"):
        load_state_dict(_io(data))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{kind}.pt"]
    assert not Path("/tmp/escaped_from_the_archive").exists()


def test_small_valid_file_and_unneeded_stride_on_a_size_1_dimension():
    """The hand-written format loads; a size-1 dimension's stride is irrelevant, however large."""
    _check_small_file_loads()
    data = _one_tensor(_tensor("k0", 1, (1, 1), (2**62, 2**62 + 1)), _data(np.array([7.0], "<f4")))
    np.testing.assert_array_equal(load_state_dict(_io(data))["t"], [[7.0]])


def test_every_truncation_of_a_valid_file_is_refused():
    """Cut anywhere, the small valid file is refused with the library's error (its last storage goes missing)."""
    for keep in range(len(SMALL)):
        with pytest.raises(TorchLegacyFormatError, match="truncated or corrupt|magic number"):
            load_state_dict(_io(SMALL[:keep]))


def test_text_mode_file_and_directory_are_refused(tmp_path):
    with pytest.raises(TorchLegacyFormatError, match="binary mode"):
        load_state_dict(io.StringIO("\x80\x02"))
    with pytest.raises(TorchLegacyFormatError, match="not a regular file"):
        load_state_dict(tmp_path)


def test_allowed_opcodes_are_those_of_the_genuine_file():
    """The reader runs exactly the genuine weights' opcodes, plus TUPLE3 and APPEND (a 3-D tensor, one storage)."""
    data = bundled_weights_path().read_bytes()
    stream = _io(data)
    used = set()
    for _ in range(5):
        used |= {op.name for op, _, _ in pickletools.genops(stream)}
    assert torch_legacy._OPCODE_NAMES == used | {"TUPLE3", "APPEND"}


_SUBPROCESS = textwrap.dedent(
    """
    import json, resource, sys, types
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    package = types.ModuleType("gradcam_utils")  # the reader alone: importing TensorFlow needs more than 1 GiB
    package.__path__ = [sys.argv[1]]
    sys.modules["gradcam_utils"] = package
    from gradcam_utils.torch_legacy import load_state_dict
    results = {}
    for path in sys.argv[2:]:
        try:
            load_state_dict(path)
            results[path] = "loaded"
        except BaseException as exc:
            results[path] = f"{type(exc).__name__}: {str(exc)[:300]}"
    print(json.dumps(results))
    """
)


def test_files_that_would_take_gigabytes_are_refused_under_a_1_gib_limit(tmp_path):
    """A 58-byte file with memo index 2**31, /dev/zero and a FIFO: refused at once, in a 1 GiB address space."""
    memo = tmp_path / "memo.pth"
    header = b"".join(pickle.dumps(v, protocol=2) for v in (torch_legacy.MAGIC_NUMBER, 1001, {"little_endian": True}))
    memo.write_bytes(_file(PROTO + NONE + b"r" + struct.pack("<I", 2**31) + STOP, b"", header=header))
    assert memo.stat().st_size == 58
    fifo = tmp_path / "fifo.pth"
    os.mkfifo(fifo)
    paths = [str(memo), "/dev/zero", str(fifo)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS, str(ROOT / "gradcam_utils"), *paths],
        capture_output=True,
        text=True,
        timeout=20,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results[str(memo)].startswith("TorchLegacyFormatError") and "memo index 2147483648" in results[str(memo)]
    for path in paths[1:]:
        assert results[path].startswith("TorchLegacyFormatError") and "not a regular file" in results[path]


def test_genuine_weights_load_identically_after_every_hostile_file():
    """All hostile files in a row, then the genuine weights in the same process: the same 296 arrays as torch.load."""
    for _, data, error, _ in HOSTILE:
        with pytest.raises(error):
            load_state_dict(_io(data))
    state_dict = load_state_dict(bundled_weights_path())
    with np.load(REFERENCE) as reference:
        names, digests = reference["tensor_names"].tolist(), reference["tensor_sha256"].tolist()
    assert list(state_dict) == names
    assert [hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16] for a in state_dict.values()] == digests
