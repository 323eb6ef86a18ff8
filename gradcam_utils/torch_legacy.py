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

The pickles are not given to Python's :mod:`pickle`: a small interpreter runs only the protocol-2 opcodes that
torch writes for a state dict (``_OPCODE_NAMES``; every other opcode is refused), so a hostile file can neither run
code nor change anything outside the objects it builds. Its stack machine (stack, marks, memo, the budget, plain
values and containers) is in :mod:`gradcam_utils._pickle_machine`; the globals it may name (``_ALLOWED_GLOBALS``,
inert stand-ins), the calls and the storage references in :mod:`gradcam_utils._torch_pickle`. This module reads the
file around the pickles: the header, the storages' data and the tensors over them.

Memory is bounded by the file's size: memo indices must be dense, each pickle may build objects of at most
``_COST_PER_BYTE`` bytes per byte read (plus ``_COST_FLOOR``; both in the stack machine), a storage's element count
must match the data the file really holds before anything is read, and the tensors together may claim at most
``_SHARED_STORAGE_FACTOR`` times the storage bytes, all checked before any array is made.

Zip-format files (torch >= 1.6) are rejected, as is anything that is not a regular file.
"""

from __future__ import annotations

import collections
import math
import os
import stat
from typing import BinaryIO

import numpy as np

from ._pickle_machine import _CORRUPT, _EXPECTED, _is_int, _show
from ._torch_pickle import _ALLOWED_GLOBALS as _ALLOWED_GLOBALS  # importable here as before
from ._torch_pickle import _INT64_END, _load_pickle, _PendingTensor, _StorageRef
from ._torch_pickle import _OPCODE_NAMES as _OPCODE_NAMES  # importable here as before
from ._torch_pickle import RestrictedUnpickler as RestrictedUnpickler  # importable here as before
from .errors import DisallowedGlobalError as DisallowedGlobalError  # defined in errors.py; importable here as before
from .errors import TorchLegacyFormatError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

_SHARED_STORAGE_FACTOR = 2  # tied weights: two tensors over one storage
_MAX_NDIM = 32


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
