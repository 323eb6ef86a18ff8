"""The output folder's manifest: every file the command wrote under ``--out``.

With it the command only ever replaces or removes its own files, never one of the user's, and never reads its own
outputs back in as inputs.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath

from ._common import MANIFEST, PROG, UsageError

_MAX_BYTES = 64 * 1024 * 1024  # a manifest of a million overlays is ~60 MB; anything larger is not one of ours
_RESULTS_HEAD = re.compile(rb'\A\s*\{\s*"tool"\s*:\s*"' + PROG.encode() + rb" ")


def safe_relative(entry: object) -> str | None:
    """``entry`` as a relative posix path inside the folder, or None when it is not one (absolute, ``..``, empty)."""
    if not isinstance(entry, str) or not entry or "\\" in entry or "\0" in entry:
        return None
    path = PurePosixPath(entry)
    if path.is_absolute() or any(part in ("..", ".") for part in path.parts) or str(path) != entry:
        return None
    return entry


def read(out: Path) -> set[str]:
    """The files a previous run recorded in ``out`` (relative posix paths); empty when there is no manifest.

    A folder written by a version without a manifest is recognised by its ``results.json``: the files it lists
    (overlays, contact sheets and the index files) are taken as the command's own.

    Raises:
        UsageError: the manifest exists but cannot be read or is not one of the command's.
    """
    path = out / MANIFEST
    try:
        with open(path, "rb") as file:
            raw = file.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        return _from_results(out)
    except OSError as err:
        raise UsageError(f"cannot read '{path}' ({err.strerror}); choose another --out.") from None
    try:
        data = json.loads(raw) if len(raw) <= _MAX_BYTES else None
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or data.get("tool") != PROG or not isinstance(data.get("files"), list):
        raise UsageError(
            f"'{path}' is not a {PROG} manifest (it lists the files {PROG} wrote in the folder, the only ones it "
            "replaces); remove it or choose another --out."
        )
    return {entry for entry in map(safe_relative, data["files"]) if entry is not None}


def _from_results(out: Path) -> set[str]:
    """The files an older run (no manifest) listed in its results.json, if that file is the command's."""
    try:
        with open(out / "results.json", "rb") as file:
            raw = file.read(_MAX_BYTES + 1)
        if not _RESULTS_HEAD.match(raw) or len(raw) > _MAX_BYTES:
            return set()
        data = json.loads(raw)
        listed = ["results.json", "results.csv", "index.html", *data.get("contact_sheets", [])]
        listed += [item.get("overlay") for item in data.get("images", []) if isinstance(item, dict)]
    except (OSError, ValueError, UnicodeDecodeError, AttributeError, TypeError):
        return set()
    return {entry for entry in map(safe_relative, listed) if entry is not None}


def render(files: set[str]) -> str:
    """The manifest's text (JSON)."""
    note = f"Files {PROG} wrote in this folder: the only ones it replaces or removes. Keep this file with them."
    return json.dumps({"tool": PROG, "note": note, "files": sorted(files)}, indent=1, ensure_ascii=False) + "\n"


def owner_of(real: str, cache: dict[str, set[str]]) -> tuple[str, str] | None:
    """Where an earlier run wrote the file at the real path ``real``: (its output folder, the path in it), or None.

    The file is an earlier run's when the manifest of a folder above it lists it.

    ``cache`` keeps each folder's listed files between calls (an empty set for a folder that is not an output folder).
    """
    folder, relative = os.path.dirname(real), [os.path.basename(real)]
    while True:
        if folder not in cache:
            cache[folder] = set()
            if os.path.isfile(os.path.join(folder, MANIFEST)) or os.path.isfile(os.path.join(folder, "results.json")):
                try:
                    cache[folder] = read(Path(folder))
                except UsageError:  # not one of ours
                    pass
        if "/".join(reversed(relative)) in cache[folder]:
            return folder, "/".join(reversed(relative))
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        relative.append(os.path.basename(folder))
        folder = parent
