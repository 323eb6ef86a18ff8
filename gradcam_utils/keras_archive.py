"""A ``.keras`` file is a zip archive: check what it declares before Keras unpacks it.

Keras reads a ``.keras`` file's ``config.json`` into memory and unpacks ``model.weights.h5`` (into memory or a
temporary folder) and any assets (onto disk). A small archive can *declare* gigabytes: a member compressed a
thousandfold, members that overlap in the file (the same bytes counted many times), bzip2 or LZMA members that expand
in one step, or hundreds of thousands of tiny members. Keras itself only refuses a single member above 4 GiB (256 MiB
for assets), so a 40 MB file can still make it allocate or write gigabytes.

:func:`check_keras_archive` reads only the archive's directory (nothing is decompressed) and refuses, with a
:class:`~gradcam_utils.errors.ModelFileError` that says what was found and what is allowed:

- a file that is not a zip archive, or that is encrypted;
- more than ``MAX_ENTRIES`` members (Keras writes three, plus the model's assets);
- a member compressed with anything but ``stored`` or ``deflate`` (Keras writes ``stored``);
- members whose stored bytes add up to more than the file holds (they overlap);
- ``config.json`` or ``metadata.json`` declaring more than ``MAX_CONFIG_BYTES`` (they are read and parsed in memory);
- a member, or the whole archive, declaring more than ``MAX_EXPANSION`` times its stored size, once above
  ``EXPANSION_FLOOR`` bytes (a genuine ``.keras`` file stores its members uncompressed, about 1:1);
- inside the weights, the same two limits on what Keras reads into memory: each HDF5 dataset of
  ``model.weights.h5`` (a chunked, compressed dataset can declare gigabytes and store a few bytes; Keras only refuses
  one above 4 GiB), and each array of ``model.weights.npz`` (a zip inside the zip: its own directory is checked as
  above, and each ``.npy`` header's shape must fit the bytes its member holds).

Python's zipfile never returns more than a member's declared size, so bounding the declared sizes bounds what reading
the archive can produce. :func:`gradcam_utils.zoo.load_keras_file` runs the check, then Keras' safe-mode loader.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from .errors import ModelFileError

MAX_ENTRIES = 10_000
MAX_CONFIG_BYTES = 64 << 20  # config.json / metadata.json: a large real model's config is a few MB
MAX_EXPANSION = 100  # declared / stored bytes; deflate's own maximum is about 1032
EXPANSION_FLOOR = 64 << 20  # below this many declared bytes, any ratio is harmless
_READ_IN_MEMORY = ("config.json", "metadata.json")
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


def check_keras_archive(path: str | os.PathLike) -> None:
    """Raise :class:`ModelFileError` unless ``path``'s zip directory declares a safe, ordinary ``.keras`` archive.

    Only the directory is read (what each member declares); nothing is decompressed. See the module's docstring for
    the limits and why. The weights member is opened (its HDF5 metadata, or its inner zip's directory and ``.npy``
    headers) when it is stored uncompressed, as Keras writes it, or declares at most ``EXPANSION_FLOOR`` bytes.

    Args:
        path: the ``.keras`` file.

    Raises:
        ModelFileError: the file is not a zip archive, or declares more than is safe to unpack.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        with zipfile.ZipFile(file) as archive:
            _check_entries(f"'{file}' is refused before Keras opens it:", size, archive.infolist())
            _check_weights(file, archive)
    except zipfile.BadZipFile as err:
        raise ModelFileError(
            f"'{file}' is not a .keras model file: a .keras file is a zip archive, and this one cannot be read as "
            f"one ({err}). Save the model with model.save('model.keras')."
        ) from None
    except OSError as err:
        raise ModelFileError(f"'{file}' cannot be read ({err.strerror or err}).") from None


def _check_entries(refuse: str, size: int, entries: list[zipfile.ZipInfo]) -> None:
    """The limits on a zip's directory; messages start with ``refuse`` (who is refused)."""
    if len(entries) > MAX_ENTRIES:
        raise ModelFileError(
            f"{refuse} its archive has {len(entries)} members, more than the {MAX_ENTRIES} a .keras file may have "
            "(Keras writes three, plus the model's assets)."
        )
    for info in entries:
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{refuse} its member '{info.filename}' is encrypted, which Keras cannot read.")
        if info.compress_type not in _METHODS:
            raise ModelFileError(
                f"{refuse} its member '{info.filename}' is compressed with method {info.compress_type}; a .keras "
                f"file's members are {' or '.join(_METHODS.values())} (Keras writes them stored). Save the model "
                "again with model.save('model.keras')."
            )
        if info.filename in _READ_IN_MEMORY and info.file_size > MAX_CONFIG_BYTES:
            raise ModelFileError(
                f"{refuse} its '{info.filename}' declares {_size(info.file_size)}, more than the "
                f"{_size(MAX_CONFIG_BYTES)} allowed: Keras reads it into memory, and a real model's is a few MB."
            )
        if _expands_too_much(info.file_size, info.compress_size):
            raise ModelFileError(
                f"{refuse} its member '{info.filename}' declares {_size(info.file_size)} from "
                f"{_size(info.compress_size)} stored, more than {MAX_EXPANSION} times as much (a decompression "
                "bomb?). A genuine .keras file stores its members uncompressed."
            )
    stored = sum(info.compress_size for info in entries)
    if stored > size:
        raise ModelFileError(
            f"{refuse} its members claim {_size(stored)} of stored data, but the file holds {_size(size)}: they "
            "overlap (the same bytes unpacked many times, a decompression bomb?)."
        )
    declared = sum(info.file_size for info in entries)
    if _expands_too_much(declared, size):
        raise ModelFileError(
            f"{refuse} its members declare {_size(declared)} in all, from a {_size(size)} file: more than "
            f"{MAX_EXPANSION} times its size (a decompression bomb?). A genuine .keras file stores its members "
            "uncompressed."
        )


def _check_weights(file: Path, archive: zipfile.ZipFile) -> None:
    """The arrays ``model.weights.h5`` or ``model.weights.npz`` declare, against the bytes they store."""
    names = set(archive.namelist())
    for name, check in (("model.weights.h5", _check_h5), ("model.weights.npz", _check_npz)):
        if name not in names:
            continue
        info = archive.getinfo(name)
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > EXPANSION_FLOOR:
            continue  # seeking in a large deflated member is slow; its declared size was checked above
        with archive.open(info) as member:
            try:
                check(member, info.file_size)
            except ModelFileError as err:
                raise ModelFileError(f"'{file}' is refused before Keras opens it: its '{name}' {err}") from None
            except MemoryError:
                raise
            except Exception:  # not what it claims to be: Keras will say so in its own words
                return


def _check_h5(member, member_size: int) -> None:
    import h5py  # type: ignore[import-untyped]  # Keras' own dependency for this format; it ships no types

    declared_total = 0
    with h5py.File(member, "r") as weights:
        datasets: list = []
        weights.visititems(lambda _, item: datasets.append(item) if isinstance(item, h5py.Dataset) else None)
        for dataset in datasets:
            declared = int(dataset.size) * dataset.dtype.itemsize
            stored = dataset.id.get_storage_size()
            if _expands_too_much(declared, stored):
                raise ModelFileError(
                    f"holds a dataset '{dataset.name}' that declares {_size(declared)} but stores {_size(stored)} "
                    f"(a compressed or never-written array, more than {MAX_EXPANSION} times as much)."
                )
            declared_total += declared
    if _expands_too_much(declared_total, member_size):
        raise ModelFileError(
            f"declares {_size(declared_total)} of arrays in all, from {_size(member_size)}: more than "
            f"{MAX_EXPANSION} times its size."
        )


def _check_npz(member, member_size: int) -> None:
    import numpy as np

    with zipfile.ZipFile(member) as arrays:
        entries = arrays.infolist()
        _check_entries("(a zip of arrays):", member_size, entries)
        for info in entries:
            with arrays.open(info) as array:
                version = np.lib.format.read_magic(array)
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read_header(array)
            declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            if declared > info.file_size:
                raise ModelFileError(
                    f"holds an array '{info.filename}' whose header declares shape {shape} ({_size(declared)}), "
                    f"more than the {_size(info.file_size)} its member holds."
                )


def _expands_too_much(declared: int, stored: int) -> bool:
    return declared > EXPANSION_FLOOR and declared > MAX_EXPANSION * stored


def _size(nbytes: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} bytes"
