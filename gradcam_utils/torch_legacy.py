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
Its unpickler resolves only the few globals a state dict needs (see
``_ALLOWED_GLOBALS``); any other global raises :class:`DisallowedGlobalError`, so
a malicious file cannot run code. Zip-format files (torch >= 1.6) are rejected.
"""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
from dataclasses import dataclass
from typing import BinaryIO

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


@dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: np.dtype


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class _PendingTensor:
    storage: _StorageRef
    offset: int
    size: tuple
    stride: tuple


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *_ignored):
    """Stand-in for torch._utils._rebuild_tensor_v2: the data are read later."""
    if not isinstance(storage, _StorageRef):
        raise TorchLegacyFormatError(f"{_EXPECTED}; a tensor refers to {storage!r}, not a storage")
    return _PendingTensor(storage, int(storage_offset), tuple(int(n) for n in size), tuple(int(n) for n in stride))


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    **{("torch", name): _StorageType(name, dtype) for name, dtype in _STORAGE_DTYPES.items()},
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only ``_ALLOWED_GLOBALS`` and torch storage references.

    The storages met so far are recorded in ``self.storages`` (key -> reference).
    """

    def __init__(self, file):
        super().__init__(file)
        self.storages = {}

    def find_class(self, module, name):
        """The allowed global ``module.name``; DisallowedGlobalError for any other."""
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in _ALLOWED_GLOBALS)
            raise DisallowedGlobalError(
                f"refusing to load global {module}.{name}: a torch state dict only needs "
                f"{allowed}. The file is not a plain state dict, or it was tampered with."
            ) from None

    def persistent_load(self, pid):
        """The storage reference a tensor points at, checked and recorded in ``self.storages``."""
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise TorchLegacyFormatError(f"{_EXPECTED}; unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType):
            raise TorchLegacyFormatError(f"{_EXPECTED}; bad storage type {storage_type!r}")
        if view_metadata is not None:
            raise TorchLegacyFormatError("storage views (torch < 0.4 files) are not supported")
        ref = _StorageRef(str(key), storage_type.dtype, int(numel))
        return self.storages.setdefault(ref.key, ref)


def _load_pickle(stream, what, storages=None):
    """Unpickle the next object; ``storages`` (a dict) collects its storage references."""
    unpickler = RestrictedUnpickler(stream)
    try:
        obj = unpickler.load()
    except TorchLegacyFormatError:
        raise
    except Exception as exc:  # pickle reports corrupt data with many exception types
        raise TorchLegacyFormatError(
            f"{_EXPECTED}; could not read the {what} ({type(exc).__name__}: {exc}). The file is truncated or corrupt."
        ) from exc
    if storages is not None:
        storages.update(unpickler.storages)
    return obj


def _read_header(stream):
    if stream.read(4) == b"PK\x03\x04":
        raise TorchLegacyFormatError(
            f"{_EXPECTED}, but this is a zip-format torch file (torch >= 1.6); "
            "this reader handles only the legacy format: load it with torch.load, or re-save it "
            "with torch.save(obj, path, _use_new_zipfile_serialization=False)"
        )
    stream.seek(0)
    magic = _load_pickle(stream, "magic number")
    if magic != MAGIC_NUMBER:
        raise TorchLegacyFormatError(f"{_EXPECTED}; the file does not start with the torch magic number")
    version = _load_pickle(stream, "protocol version")
    if version != PROTOCOL_VERSION:
        raise TorchLegacyFormatError(f"{_EXPECTED}; unsupported protocol version {version!r}")
    sys_info = _load_pickle(stream, "system info")
    if not (isinstance(sys_info, dict) and sys_info.get("little_endian") is True):
        raise TorchLegacyFormatError(f"{_EXPECTED}; only little-endian files are supported")


def _read_storages(stream, refs, keys):
    """Read the raw data of every storage, in the order given by ``keys``."""
    arrays = {}
    for key in keys:
        ref = refs.get(key)
        if ref is None:
            raise TorchLegacyFormatError(f"{_EXPECTED}; storage {key!r} is listed but never used")
        head = stream.read(8)
        count = int.from_bytes(head, "little") if len(head) == 8 else -1
        data = stream.read(count * ref.dtype.itemsize) if count >= 0 else b""
        if count != ref.numel or len(data) != count * ref.dtype.itemsize:
            raise TorchLegacyFormatError(
                f"{_EXPECTED}; the data of storage {key!r} ({ref.numel} elements) are "
                "missing or cut short. The file is truncated or corrupt."
            )
        arrays[key] = np.frombuffer(data, dtype=ref.dtype)
    return arrays


def _last_element(tensor) -> int:
    """Index in its storage of the tensor's last element (size and stride have the same length)."""
    return tensor.offset + sum((n - 1) * s for n, s in zip(tensor.size, tensor.stride, strict=True))


def _to_array(tensor, arrays):
    flat = arrays[tensor.storage.key]
    size, stride = tensor.size, tensor.stride
    if (
        len(size) != len(stride)
        or min(size + stride, default=0) < 0
        or tensor.offset < 0
        or (0 not in size and (_last_element(tensor) >= flat.size or math.prod(size) > flat.size))
    ):  # the last test refuses broadcast views, which could claim terabytes
        raise TorchLegacyFormatError(
            f"{_EXPECTED}; a tensor of size {size}, stride {stride} and offset {tensor.offset} "
            f"does not fit its storage of {flat.size} elements. The file is corrupt."
        )
    itemsize = flat.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[tensor.offset :],
        shape=size,
        strides=tuple(s * itemsize for s in stride),
        writeable=False,
    )
    return np.array(view, dtype=flat.dtype.newbyteorder("="), order="C")


def load_state_dict(source: str | os.PathLike | BinaryIO) -> collections.OrderedDict[str, np.ndarray]:
    """Read a legacy-format torch state dict into ``OrderedDict[name, np.ndarray]``.

    ``source`` is a path or a binary file object (read from its current position).

    Raises :class:`TorchLegacyFormatError` (a ``GradCAMError``, so a ``ValueError``) for a truncated,
    corrupt or zip-format file, and :class:`DisallowedGlobalError` for a pickle
    that names anything but tensors, storages and ``OrderedDict``.
    """
    if hasattr(source, "read"):
        stream = io.BytesIO(source.read())
    else:
        with open(source, "rb") as fh:
            stream = io.BytesIO(fh.read())
    _read_header(stream)
    refs: dict[str, _StorageRef] = {}
    obj = _load_pickle(stream, "state dict pickle", storages=refs)
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, _PendingTensor) for k, v in obj.items()
    ):
        raise TorchLegacyFormatError(f"{_EXPECTED}; the saved object is not a dict of name -> tensor")
    keys = _load_pickle(stream, "list of storage keys")
    if not isinstance(keys, list):
        raise TorchLegacyFormatError(f"{_EXPECTED}; the storage key list is missing")
    arrays = _read_storages(stream, refs, [str(k) for k in keys])
    missing = set(refs) - set(arrays)
    if missing:
        raise TorchLegacyFormatError(f"{_EXPECTED}; no data for storages {sorted(missing)[:3]}")
    return collections.OrderedDict((name, _to_array(t, arrays)) for name, t in obj.items())
