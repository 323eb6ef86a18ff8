"""What a torch pickle may name and call: the allowed globals, their frozen stand-ins, and the opcodes that use them.

:class:`_PickleMachine` is the reader's whole interpreter: the stack machine of :mod:`gradcam_utils._pickle_machine`
plus GLOBAL, REDUCE, BUILD and BINPERSID, so that it runs exactly the opcodes of ``_OPCODE_NAMES`` (those in the
genuine EfficientNet-Lite0 file, plus TUPLE3 and APPEND, which torch writes for a 3-D tensor and a file with one
storage). A hostile file can neither run code nor change anything outside the objects it builds:

- a global resolves only to one of ``_ALLOWED_GLOBALS``, inert and immutable stand-ins (any other global raises
  :class:`DisallowedGlobalError`); REDUCE calls only ``OrderedDict()`` and ``_rebuild_tensor_v2``, whose arguments
  are checked and kept as a :class:`_PendingTensor` (the data are read later, by :mod:`gradcam_utils.torch_legacy`);
  BUILD applies only to an ``OrderedDict`` the pickle made (torch stores the state dict's ``_metadata`` that way; it
  is not needed and is dropped). Nothing a rejected file does can affect a later load.
- a persistent id (BINPERSID) is a storage reference, checked and recorded with its type and element count.
"""

from __future__ import annotations

import collections
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar

import numpy as np

from ._pickle_machine import _is_int, _PickleValues, _show
from .errors import DisallowedGlobalError, TorchLegacyFormatError

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


class _PickleMachine(_PickleValues):
    """Runs one protocol-2 pickle from ``buf[pos:]`` with only the opcodes a torch state dict needs."""

    HANDLERS: ClassVar[Mapping[str, str]] = {
        **_PickleValues.HANDLERS,
        "GLOBAL": "op_global",
        "REDUCE": "op_reduce",
        "BUILD": "op_build",
        "BINPERSID": "op_binpersid",
    }

    def __init__(self, buf: memoryview, pos: int, what: str, storages: dict[str, _StorageRef] | None) -> None:
        super().__init__(buf, pos, what)
        self.storages = storages  # None: persistent ids (storages) are not allowed in this pickle

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


# The opcodes the reader runs; every other opcode is refused.
_OPCODE_NAMES = frozenset(_PickleMachine.HANDLERS)


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
