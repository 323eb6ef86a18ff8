"""Read a state dict saved in PyTorch's *legacy* ``torch.save`` format, without torch.

Before torch 1.6, ``torch.save`` wrote a plain stream rather than a zip archive:

1. four pickles in a row: the magic number ``0x1950a86a20f9469cfc6c``, the protocol
   version ``1001``, a dict of system info (``little_endian``, C type sizes) and
   the saved object. In the object pickle every tensor is a call to
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` whose
   ``storage`` is a *persistent id* ``('storage', torch.FloatStorage, key,
   location, numel, view_metadata)``;
2. a fifth pickle: the list of storage keys, in the order their data follow;
3. for each of those keys: an 8-byte little-endian element count, then the
   storage's raw little-endian bytes.

:func:`load_state_dict` reads such a file into ``OrderedDict[str, np.ndarray]``.

The pickles are not given to Python's :mod:`pickle`: a small interpreter here runs only the
protocol-2 opcodes that torch writes for a state dict (``_OPCODE_NAMES``; every other opcode is
refused), so a hostile file can neither run code nor change anything outside the objects it builds:

- a global resolves only to one of ``_ALLOWED_GLOBALS``, inert stand-ins (any other global raises
  :class:`DisallowedGlobalError`); REDUCE calls only ``OrderedDict()`` and ``_rebuild_tensor_v2`` with
  checked arguments; BUILD applies only to an ``OrderedDict`` the pickle made (torch stores the state
  dict's ``_metadata`` that way; it is not needed and is dropped); SETITEM(S) and APPEND(S) change only
  dicts and lists the pickle made. Nothing a rejected file does can affect a later load.
- memory is bounded by the file's size: memo indices must be dense, each pickle may build objects
  of at most ``_COST_PER_BYTE`` bytes per byte read (plus ``_COST_FLOOR``), a storage's element count
  must match the data the file really holds before anything is read, and the tensors together may
  claim at most ``_SHARED_STORAGE_FACTOR`` times the storage bytes, all checked before any array is made.

Zip-format files (torch >= 1.6) are rejected, as is anything that is not a regular file.
"""

from __future__ import annotations

import collections
import math
import os
import pickletools
import re
import stat
import struct
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, NoReturn

import numpy as np

from .errors import DisallowedGlobalError, TorchLegacyFormatError  # defined in errors.py; importable here as before

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# torch storage class name -> numpy dtype of one element (little-endian).
_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}

_EXPECTED = "expected a PyTorch state dict in the legacy (pre-1.6, non-zip) torch.save format"
_CORRUPT = "The file is truncated or corrupt."

# Memory bounds (see the module docstring). A genuine state dict's pickle builds about 11 bytes of objects per byte.
_COST_PER_BYTE = 32
_COST_FLOOR = 1 << 20
_SHARED_STORAGE_FACTOR = 2  # tied weights: two tensors over one storage
_MAX_NDIM = 32
_INT64_END = 1 << 63
_MAX_GLOBAL_NAME = 128
_GLOBAL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


@dataclass(frozen=True, slots=True)
class _StorageType:
    name: str
    dtype: np.dtype


@dataclass(frozen=True, slots=True)
class _Callable:
    """Stand-in for a global the pickle may call with REDUCE; never the real object, and immutable."""

    qualname: str


@dataclass(frozen=True, slots=True)
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True, slots=True)
class _PendingTensor:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


_ORDERED_DICT = _Callable("collections.OrderedDict")
_REBUILD_TENSOR = _Callable("torch._utils._rebuild_tensor_v2")

_ALLOWED_GLOBALS: types.MappingProxyType[tuple[str, str], object] = types.MappingProxyType(
    {
        ("collections", "OrderedDict"): _ORDERED_DICT,
        ("torch._utils", "_rebuild_tensor_v2"): _REBUILD_TENSOR,
        **{("torch", name): _StorageType(name, dtype) for name, dtype in _STORAGE_DTYPES.items()},
    }
)

# Opcodes that import or call something: refused as disallowed globals.
_GLOBAL_OPCODES = {"INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "STACK_GLOBAL", "EXT1", "EXT2", "EXT4"}
_ALL_OPCODE_NAMES = {op.code.encode("latin-1")[0]: op.name for op in pickletools.opcodes}
_OPCODE_BYTES = {name: code for code, name in _ALL_OPCODE_NAMES.items()}

# The opcodes the reader runs (name -> _PickleMachine method): those in the genuine EfficientNet-Lite0 file
# (pickletools.genops), plus TUPLE3 and APPEND, which torch writes for a 3-D tensor and a file with one storage.
_HANDLERS = {
    "PROTO": "op_proto",
    "STOP": "op_stop",
    "MARK": "op_mark",
    "NONE": "op_none",
    "NEWTRUE": "op_newtrue",
    "NEWFALSE": "op_newfalse",
    "BININT": "op_binint",
    "BININT1": "op_binint1",
    "BININT2": "op_binint2",
    "LONG1": "op_long1",
    "BINUNICODE": "op_binunicode",
    "EMPTY_TUPLE": "op_empty_tuple",
    "TUPLE": "op_tuple",
    "TUPLE1": "op_tuple1",
    "TUPLE2": "op_tuple2",
    "TUPLE3": "op_tuple3",
    "EMPTY_LIST": "op_empty_list",
    "APPEND": "op_append",
    "APPENDS": "op_appends",
    "EMPTY_DICT": "op_empty_dict",
    "SETITEM": "op_setitem",
    "SETITEMS": "op_setitems",
    "BINPUT": "op_binput",
    "LONG_BINPUT": "op_long_binput",
    "BINGET": "op_binget",
    "LONG_BINGET": "op_long_binget",
    "GLOBAL": "op_global",
    "REDUCE": "op_reduce",
    "BUILD": "op_build",
    "BINPERSID": "op_binpersid",
}
_OPCODE_NAMES = frozenset(_HANDLERS)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: str, limit: int = 60) -> str:
    """``repr`` of a string from the file, cut to ``limit`` characters, for error messages."""
    text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _PickleMachine:
    """Runs one protocol-2 pickle from ``buf[pos:]`` with only the opcodes a torch state dict needs."""

    def __init__(self, buf: memoryview, pos: int, what: str, storages: dict[str, _StorageRef] | None):
        self.buf, self.start, self.pos, self.end = buf, pos, pos, len(buf)
        self.what = what
        self.storages = storages  # None: persistent ids (storages) are not allowed in this pickle
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: list[Any] = []
        self.cost = 0
        self.result: Any = None
        self.done = False
        self.dispatch: dict[int, Callable[[], None]] = {
            _OPCODE_BYTES[name]: getattr(self, method) for name, method in _HANDLERS.items()
        }

    # --- running -------------------------------------------------------------------------------

    def run(self) -> tuple[Any, int]:
        """The pickled object and the position just after its STOP."""
        try:
            while not self.done:
                if self.pos >= self.end:
                    self.refuse("the file ends before the pickle does")
                code = self.buf[self.pos]
                handler = self.dispatch.get(code)
                if handler is None:
                    self.refuse_opcode(code)
                if self.pos == self.start and code != 0x80:
                    self.refuse("a torch pickle starts with PROTO 2")
                self.pos += 1
                handler()
                if self.cost > _COST_PER_BYTE * (self.pos - self.start) + _COST_FLOOR:
                    self.refuse(
                        f"it builds more than {_COST_PER_BYTE} bytes of objects per byte of pickle, "
                        "which no state dict needs (a memory bomb?)"
                    )
        except UnicodeDecodeError:
            self.refuse("a string is not valid UTF-8")
        return self.result, self.pos

    def refuse(self, reason: str) -> NoReturn:
        raise TorchLegacyFormatError(
            f"{_EXPECTED}; could not read the {self.what}: {reason} (byte {self.pos}). {_CORRUPT}"
        )

    def refuse_opcode(self, code: int) -> NoReturn:
        name = _ALL_OPCODE_NAMES.get(code, f"0x{code:02x} (not a pickle opcode)")
        if name in _GLOBAL_OPCODES:
            raise DisallowedGlobalError(
                f"refusing pickle opcode {name} at byte {self.pos}, which imports or calls a global: a torch state "
                "dict only needs GLOBAL with its few allowed names. The file is not a plain state dict, or it was "
                "tampered with."
            )
        self.refuse(f"opcode {name} is refused: torch never writes it in a state dict")

    def take(self, n: int) -> memoryview:
        if n > self.end - self.pos:
            self.refuse("the file ends inside the pickle")
        chunk = self.buf[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def base(self) -> int:
        return self.marks[-1] if self.marks else 0

    # --- the stack, marks and memo ----------------------------------------------------------------

    def push(self, value: Any, cost: int) -> None:
        self.stack.append(value)
        self.cost += cost

    def push_int(self, value: int) -> None:
        self.push(value, 8 + sys.getsizeof(value))

    def push_tuple(self, items: list[Any]) -> None:
        self.push(tuple(items), 48 + 8 * len(items))

    def pop_n(self, n: int) -> list[Any]:
        if len(self.stack) - n < self.base():
            self.refuse("the stack has too few items")
        items = self.stack[-n:]
        del self.stack[-n:]
        return items

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            self.refuse("an opcode needs a MARK that is missing")
        mark = self.marks.pop()
        items = self.stack[mark:]
        del self.stack[mark:]
        return items

    def top(self) -> Any:
        if len(self.stack) <= self.base():
            self.refuse("the stack is empty")
        return self.stack[-1]

    def op_mark(self) -> None:
        self.marks.append(len(self.stack))
        self.cost += 8

    def put(self, index: int) -> None:
        value = self.top()
        if index > len(self.memo):  # dense: the memo never outgrows the pickle (2**31 would allocate 16 GiB)
            self.refuse(f"memo index {index} skips ahead of the {len(self.memo)} entries so far")
        if index == len(self.memo):
            self.memo.append(value)
        else:
            self.memo[index] = value
        self.cost += 8

    def get(self, index: int) -> None:
        if index >= len(self.memo):
            self.refuse(f"memo index {index} was never stored")
        self.push(self.memo[index], 8)

    # --- values and containers --------------------------------------------------------------------

    def op_none(self) -> None:
        self.push(None, 8)

    def op_newtrue(self) -> None:
        self.push(True, 8)

    def op_newfalse(self) -> None:
        self.push(False, 8)

    def op_binint(self) -> None:
        self.push_int(struct.unpack("<i", self.take(4))[0])

    def op_binint1(self) -> None:
        self.push_int(self.take(1)[0])

    def op_binint2(self) -> None:
        self.push_int(struct.unpack("<H", self.take(2))[0])

    def op_long1(self) -> None:
        self.push_int(int.from_bytes(self.take(self.take(1)[0]), "little", signed=True))

    def op_empty_tuple(self) -> None:
        self.push((), 8)

    def op_tuple(self) -> None:
        self.push_tuple(self.pop_mark())

    def op_tuple1(self) -> None:
        self.push_tuple(self.pop_n(1))

    def op_tuple2(self) -> None:
        self.push_tuple(self.pop_n(2))

    def op_tuple3(self) -> None:
        self.push_tuple(self.pop_n(3))

    def op_empty_list(self) -> None:
        self.push([], 64)

    def op_append(self) -> None:
        self.extend_list(self.pop_n(1))

    def op_appends(self) -> None:
        self.extend_list(self.pop_mark())

    def op_empty_dict(self) -> None:
        self.push({}, 72)

    def op_setitem(self) -> None:
        self.set_items(self.pop_n(2))

    def op_setitems(self) -> None:
        self.set_items(self.pop_mark())

    def op_binput(self) -> None:
        self.put(self.take(1)[0])

    def op_long_binput(self) -> None:
        self.put(struct.unpack("<I", self.take(4))[0])

    def op_binget(self) -> None:
        self.get(self.take(1)[0])

    def op_long_binget(self) -> None:
        self.get(struct.unpack("<I", self.take(4))[0])

    def op_proto(self) -> None:
        version = self.take(1)[0]
        if version != 2 or self.pos != self.start + 2:
            self.refuse(f"pickle protocol {version} (torch's legacy format uses protocol 2, once, first)")

    def op_stop(self) -> None:
        if self.marks or len(self.stack) != 1:
            self.refuse("the pickle stops with a MARK open or not exactly one object")
        self.result = self.stack.pop()
        self.done = True

    def op_binunicode(self) -> None:
        (length,) = struct.unpack("<I", self.take(4))
        text = str(self.take(length), "utf-8", "surrogatepass")
        self.push(text, 8 + sys.getsizeof(text))

    def extend_list(self, items: list[Any]) -> None:
        target = self.top()
        if type(target) is not list:
            self.refuse(f"APPEND(S) onto a {type(target).__name__}, not a list")
        target.extend(items)
        self.cost += 16 * len(items)

    def set_items(self, items: list[Any]) -> None:
        target = self.top()
        if type(target) not in (dict, collections.OrderedDict):
            self.refuse(f"SETITEM(S) onto a {type(target).__name__}, not a dict")
        if len(items) % 2:
            self.refuse("SETITEMS with an odd number of items")
        for key, value in zip(items[::2], items[1::2], strict=True):
            if not isinstance(key, str):
                self.refuse(f"a dict key is a {type(key).__name__}; a state dict's keys are strings")
            target[key] = value
        self.cost += 64 * len(items)

    # --- globals, calls, state and storages ---------------------------------------------------------

    def read_line(self) -> str:
        stop = min(self.end, self.pos + _MAX_GLOBAL_NAME + 1)
        newline = self.buf[self.pos : stop].tobytes().find(b"\n")
        if newline < 0:
            self.refuse(f"a global's name is unterminated or longer than {_MAX_GLOBAL_NAME} bytes")
        line = self.take(newline + 1)[:-1].tobytes().decode("latin-1")
        return line

    def op_global(self) -> None:
        module, name = self.read_line(), self.read_line()
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            shown = f"{module}.{name}"
            if not (_GLOBAL_NAME.fullmatch(module) and _GLOBAL_NAME.fullmatch(name)):
                shown = _show(shown)
            names = ", ".join(f"{m}.{n}" for m, n in _ALLOWED_GLOBALS)
            raise DisallowedGlobalError(
                f"refusing to load global {shown}: a torch state dict only needs {names}. "
                "The file is not a plain state dict, or it was tampered with."
            )
        self.push(allowed, 8)

    def op_reduce(self) -> None:
        func, args = self.pop_n(2)
        if not isinstance(args, tuple):
            self.refuse(f"REDUCE with {type(args).__name__} arguments, not a tuple")
        if func is _ORDERED_DICT and args == ():
            self.push(collections.OrderedDict(), 136)
        elif func is _REBUILD_TENSOR:
            self.push(self.rebuild_tensor(args), 256)
        else:
            called = func.qualname if isinstance(func, _Callable) else type(func).__name__
            self.refuse(
                f"REDUCE calls {called} with {len(args)} arguments; a state dict calls only OrderedDict() and "
                "torch._utils._rebuild_tensor_v2"
            )

    def rebuild_tensor(self, args: tuple) -> _PendingTensor:
        """Stand-in for ``torch._utils._rebuild_tensor_v2``: the arguments checked, the data read later."""
        if not 6 <= len(args) <= 7:
            self.refuse(f"_rebuild_tensor_v2 takes 6 or 7 arguments, not {len(args)}")
        storage, offset, size, stride, requires_grad, hooks, *metadata = args
        if not isinstance(storage, _StorageRef):
            self.refuse(f"a tensor refers to a {type(storage).__name__}, not a storage")
        if not (
            _is_int(offset)
            and all(isinstance(t, tuple) and all(_is_int(n) for n in t) for t in (size, stride))
            and isinstance(requires_grad, bool)
            and isinstance(hooks, dict)
            and all(isinstance(m, dict) for m in metadata)
        ):
            self.refuse("a tensor's offset, size, stride, requires_grad or hooks have the wrong types")
        return _PendingTensor(storage, offset, size, stride)

    def op_build(self) -> None:
        (state,) = self.pop_n(1)
        target = self.top()
        if type(target) is not collections.OrderedDict or not isinstance(state, dict):
            self.refuse(
                f"BUILD sets the state of a {type(target).__name__} from a {type(state).__name__}; a state dict "
                "only stores its _metadata dict on its OrderedDict"
            )
        # torch's _metadata (module versions) is not needed: nothing is set.

    def op_binpersid(self) -> None:
        (pid,) = self.pop_n(1)
        self.push(self.persistent_load(pid), 8)

    def persistent_load(self, pid: Any) -> _StorageRef:
        """The storage reference a tensor points at, checked and recorded in ``self.storages``."""
        if self.storages is None:
            self.refuse("a storage reference outside the state dict")
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            self.refuse("a persistent id is not ('storage', type, key, location, numel, None)")
        _, storage_type, key, location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType):
            self.refuse(f"a storage's type is a {type(storage_type).__name__}, not a torch storage class")
        if view_metadata is not None:
            raise TorchLegacyFormatError("storage views (torch < 0.4 files) are not supported")
        if not (isinstance(key, str) and isinstance(location, str) and _is_int(numel) and 0 <= numel < _INT64_END):
            self.refuse("a storage's key, location or element count has the wrong type or range")
        ref = _StorageRef(key, storage_type.dtype, numel)
        known = self.storages.setdefault(key, ref)
        if known != ref:
            self.refuse(f"storage {_show(key)} is declared twice with different types or sizes")
        return known


class RestrictedUnpickler:
    """Reads one pickle from a binary file, allowing only what a torch state dict needs (see the module docstring).

    The storages met are recorded in ``self.storages`` (key -> reference). Raises
    :class:`TorchLegacyFormatError`, or :class:`DisallowedGlobalError` for a global outside ``_ALLOWED_GLOBALS``.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.storages: dict[str, _StorageRef] = {}

    def load(self) -> Any:
        """The next pickled object; the file is left just after it when it can seek."""
        start = self._file.tell() if self._file.seekable() else 0
        data = self._file.read()
        obj, end = _PickleMachine(memoryview(data), 0, "pickle", self.storages).run()
        if self._file.seekable():
            self._file.seek(start + end)
        return obj


def _load_pickle(buf: memoryview, pos: int, what: str, storages: dict[str, _StorageRef] | None = None):
    """The pickle at ``buf[pos:]`` and the position after it; ``storages`` collects its storage references."""
    return _PickleMachine(buf, pos, what, storages).run()


def _read_header(buf: memoryview) -> int:
    """Check the magic number, protocol version and byte order; the position after them."""
    if buf[:2].tobytes() == b"PK":
        raise TorchLegacyFormatError(
            f"{_EXPECTED}, but this is a zip-format torch file (torch >= 1.6); "
            "this reader handles only the legacy format: load it with torch.load, or re-save it "
            "with torch.save(obj, path, _use_new_zipfile_serialization=False)"
        )
    magic, pos = _load_pickle(buf, 0, "magic number")
    if not _is_int(magic) or magic != MAGIC_NUMBER:
        raise TorchLegacyFormatError(f"{_EXPECTED}; the file does not start with the torch magic number")
    version, pos = _load_pickle(buf, pos, "protocol version")
    if not _is_int(version) or version != PROTOCOL_VERSION:
        raise TorchLegacyFormatError(f"{_EXPECTED}; unsupported protocol version {str(version)[:20]!r}")
    sys_info, pos = _load_pickle(buf, pos, "system info")
    if not (isinstance(sys_info, dict) and sys_info.get("little_endian") is True):
        raise TorchLegacyFormatError(f"{_EXPECTED}; only little-endian files are supported")
    return pos


def _read_storages(buf: memoryview, pos: int, refs: dict[str, _StorageRef], keys: list[str]) -> dict[str, np.ndarray]:
    """The raw data of every storage (read-only views of ``buf``), in the order given by ``keys``."""
    arrays: dict[str, np.ndarray] = {}
    for key in keys:
        ref = refs.get(key)
        if ref is None:
            raise TorchLegacyFormatError(f"{_EXPECTED}; storage {_show(key)} is listed but never used. {_CORRUPT}")
        if key in arrays:
            raise TorchLegacyFormatError(f"{_EXPECTED}; storage {_show(key)} is listed twice. {_CORRUPT}")
        count = int.from_bytes(buf[pos : pos + 8], "little") if len(buf) - pos >= 8 else -1
        nbytes = count * ref.dtype.itemsize
        if count != ref.numel or nbytes > len(buf) - pos - 8:  # checked before anything is read
            raise TorchLegacyFormatError(
                f"{_EXPECTED}; the data of storage {_show(key)} ({ref.numel} elements) are "
                f"missing or cut short. {_CORRUPT}"
            )
        pos += 8
        arrays[key] = np.frombuffer(buf[pos : pos + nbytes], dtype=ref.dtype)
        pos += nbytes
    return arrays


def _check_fits(name: str, tensor: _PendingTensor, numel: int) -> int:
    """Bytes of the array ``tensor`` makes; TorchLegacyFormatError unless it lies inside its storage."""
    size, stride, offset = tensor.size, tensor.stride, tensor.offset
    elements = math.prod(size)
    fits = (
        len(size) == len(stride) <= _MAX_NDIM
        and all(0 <= n < _INT64_END for n in (*size, *stride, offset))
        and math.prod(n for n in size if n) * tensor.storage.dtype.itemsize < _INT64_END // 2
    )
    if fits and elements:  # an empty tensor reads nothing; otherwise its last element must be in the storage
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        fits = last < numel and elements <= numel  # the last test refuses broadcast views, which could claim terabytes
    if not fits:
        raise TorchLegacyFormatError(
            f"{_EXPECTED}; tensor {_show(name)} of size {size}, stride {stride} and offset {offset} "
            f"does not fit its storage of {numel} elements. The file is corrupt."
        )
    return elements * tensor.storage.dtype.itemsize


def _to_array(tensor: _PendingTensor, flat: np.ndarray) -> np.ndarray:
    native = flat.dtype.newbyteorder("=")
    if 0 in tensor.size:
        return np.empty(tensor.size, dtype=native)
    itemsize = flat.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[tensor.offset :],
        shape=tensor.size,
        strides=tuple(s * itemsize if n > 1 else 0 for n, s in zip(tensor.size, tensor.stride, strict=True)),
        writeable=False,
    )
    return np.array(view, dtype=native, order="C")


def _read_source(source: str | os.PathLike | BinaryIO) -> bytes:
    if hasattr(source, "read"):
        data = source.read()
    else:
        if not stat.S_ISREG(os.stat(source).st_mode):  # opening a FIFO blocks; /dev/zero would be read forever
            raise TorchLegacyFormatError(f"{_EXPECTED}; {os.fsdecode(source)!r} is not a regular file")
        with open(source, "rb") as fh:
            data = fh.read()
    if not isinstance(data, bytes | bytearray):
        raise TorchLegacyFormatError(f"{_EXPECTED}; the file gave {type(data).__name__}: open it in binary mode")
    return bytes(data)


def load_state_dict(source: str | os.PathLike | BinaryIO) -> collections.OrderedDict[str, np.ndarray]:
    """Read a legacy-format torch state dict into ``OrderedDict[name, np.ndarray]``.

    ``source`` is a path or a binary file object (read from its current position to its end).
    Memory stays within a few times the file's size, whatever the file says.

    Raises :class:`TorchLegacyFormatError` (a ``GradCAMError``, so a ``ValueError``) for a truncated,
    corrupt, hostile or zip-format file, and :class:`DisallowedGlobalError` for a pickle
    that names anything but tensors, storages and ``OrderedDict``.
    """
    buf = memoryview(_read_source(source))
    pos = _read_header(buf)
    refs: dict[str, _StorageRef] = {}
    obj, pos = _load_pickle(buf, pos, "state dict pickle", refs)
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, _PendingTensor) for k, v in obj.items()
    ):
        raise TorchLegacyFormatError(f"{_EXPECTED}; the saved object is not a dict of name -> tensor")
    keys, pos = _load_pickle(buf, pos, "list of storage keys")
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise TorchLegacyFormatError(f"{_EXPECTED}; the storage key list is missing or malformed. {_CORRUPT}")
    arrays = _read_storages(buf, pos, refs, keys)
    missing = set(refs) - set(arrays)
    if missing:
        raise TorchLegacyFormatError(
            f"{_EXPECTED}; no data for storages {[_show(k) for k in sorted(missing)[:3]]}. {_CORRUPT}"
        )
    claimed = sum(_check_fits(name, t, arrays[t.storage.key].size) for name, t in obj.items())
    held = sum(a.nbytes for a in arrays.values())
    if claimed > _SHARED_STORAGE_FACTOR * held:  # many tensors over one storage: checked before any copy
        raise TorchLegacyFormatError(
            f"{_EXPECTED}; its tensors claim {claimed} bytes, more than {_SHARED_STORAGE_FACTOR} times the "
            f"{held} bytes of data the file holds (storages shared by many tensors). The file is corrupt."
        )
    return collections.OrderedDict((name, _to_array(t, arrays[t.storage.key])) for name, t in obj.items())
