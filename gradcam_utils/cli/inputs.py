"""Finding the files: folders walked for images, in sorted order, each given a unique overlay name."""

from __future__ import annotations

import errno
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import manifest
from ._common import OVERLAYS_DIR, PROG, _printable, _visible

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems


@dataclass(frozen=True)
class Candidate:
    """An image file to try, and where its overlay goes."""

    path: Path  # as found (relative to the working folder when given so)
    overlay: PurePosixPath  # where its overlay goes, relative to --out

    @property
    def source(self) -> str:
        """The path as given, as printable text (for the indexes and messages)."""
        return _printable(str(self.path))


@dataclass
class Skipped:
    """An input that was not explained, and why."""

    source: str
    reason: str


def collect(paths, out_dir: Path) -> tuple[list[Candidate], list[Skipped], int]:
    """(files to try in order, paths left out with the reason, number of non-image files ignored in folders).

    Folders are walked recursively, following links to folders (a link loop is listed with its reason); hidden
    entries and the output folder are left out, and so are the files earlier runs wrote (found in the manifests of
    the folders above them; each such output folder is listed once with the reason). Unreadable folders and broken
    links are listed with the reason too. Only image extensions are kept, sorted; files named explicitly are always
    tried. Overlay names mirror the paths
    relative to the inputs' common folder, with control characters and undecodable bytes escaped, at most 255 bytes
    per name, and unique (case-insensitively and in Unicode NFC, for macOS and Windows file systems).
    """
    out_real = os.path.realpath(out_dir)
    found: list[tuple[Path, Path]] = []  # (file, the folder its overlay path is relative to)
    left_out: list[Skipped] = []
    ignored = 0
    for given in paths:
        root = Path(given)
        if root.is_dir():
            files, count = _walk(root, out_real, left_out)
            ignored += count
            files.sort(key=lambda f: f.relative_to(root).parts)
            found.extend((f, root) for f in files)
        elif root.is_symlink() and not root.exists():
            left_out.append(Skipped(_printable(str(root)), _broken_link_reason(root)))
        elif root.exists():
            found.append((root, root.parent))
        else:
            left_out.append(Skipped(_printable(str(root)), "no such file or folder"))
    bases = {os.path.abspath(base) for _, base in found}
    try:
        common = os.path.commonpath(sorted(bases)) if bases else ""
    except ValueError:  # different drives on Windows
        common = None
    candidates: list[Candidate] = []
    seen_files: set[str] = set()
    taken: set[str] = set()  # overlay paths given out so far, casefolded
    manifests: dict[str, set[str]] = {}
    earlier: dict[str, tuple[str | None, int]] = {}  # earlier runs' output folders -> (as named, files left out)
    for file, _ in found:
        absolute = os.path.abspath(file)
        real = os.path.realpath(absolute)
        key = os.path.normcase(real)
        if key in seen_files:  # named twice (a file and its folder, or a folder twice)
            continue
        seen_files.add(key)
        owner = manifest.owner_of(real, manifests)
        if owner is not None:  # never read back in; each such folder is listed once, as the user named it if possible
            folder, inside = owner
            shown, count = earlier.get(folder, (None, 0))
            earlier[folder] = (shown or _given_form(file, inside), count + 1)
            continue
        relative = os.path.relpath(absolute, common) if common is not None else os.path.basename(absolute)
        candidates.append(Candidate(file, _unique_overlay_name(PurePosixPath(*Path(relative).parts), taken)))
    for folder, (shown, count) in earlier.items():
        left_out.append(
            Skipped(
                _printable(shown or folder),
                f"holds the outputs of an earlier {PROG} run: {count} image file(s) it wrote were not read back in",
            )
        )
    return candidates, left_out, ignored


def _walk(root: Path, out_real: str, left_out: list[Skipped]) -> tuple[list[Path], int]:
    """The image files under ``root`` and the number of other files; what cannot be searched goes to ``left_out``."""

    def unreadable(err: OSError) -> None:
        where = err.filename if err.filename is not None else root
        left_out.append(Skipped(_printable(str(Path(where))), f"folder could not be read ({_reason(err)})"))

    files: list[Path] = []
    ignored = 0
    visited = {os.path.realpath(root)}
    for folder, dirs, names in os.walk(root, onerror=unreadable, followlinks=True):
        folder_real = os.path.realpath(folder)
        if folder_real == out_real:  # --out named as the input: nothing in it is read
            dirs[:] = []
            continue
        kept = []
        for name in dirs:
            if name.startswith("."):
                continue
            full = os.path.join(folder, name)
            real = os.path.realpath(full)
            if real == out_real:  # this run's output folder (or a link to it)
                continue
            if real == folder_real or folder_real.startswith(real.rstrip(os.sep) + os.sep):
                left_out.append(Skipped(_printable(str(Path(full))), "a link loop: it leads back to a folder above it"))
                continue
            if real in visited:  # reached twice through links: its files are searched once
                continue
            visited.add(real)
            kept.append(name)
        dirs[:] = kept
        for name in names:
            if name.startswith("."):
                continue
            full = os.path.join(folder, name)
            if os.path.islink(full) and not os.path.exists(full):
                left_out.append(Skipped(_printable(str(Path(full))), _broken_link_reason(Path(full))))
            elif os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                files.append(Path(folder, name))
            else:
                ignored += 1
    return files, ignored


def _given_form(file: Path, inside: str) -> str | None:
    """The folder holding ``file`` at the path ``inside``, as the user named it (None when a link is between)."""
    parts, tail = file.parts, tuple(inside.split("/"))
    if len(parts) < len(tail) or parts[len(parts) - len(tail) :] != tail:
        return None
    return str(Path(*parts[: len(parts) - len(tail)])) if len(parts) > len(tail) else "."


def _broken_link_reason(path: Path) -> str:
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a link loop (a symbolic link that leads back to itself)"
        return f"a broken link (its target does not exist: {_printable(os.readlink(path))})"
    return "a link whose target could not be read"


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def _fit_name(name: str, suffix: str = "") -> str:
    """``name`` + ``suffix`` cut (at a character boundary, before the suffix) to at most NAME_MAX bytes."""
    limit = NAME_MAX - len(suffix.encode("utf-8"))
    encoded = name.encode("utf-8")
    if len(encoded) > limit:
        name = encoded[:limit].decode("utf-8", "ignore")
    return name + suffix


def _unique_overlay_name(relative: PurePosixPath, taken: set[str]) -> PurePosixPath:
    parts = [_visible(p) for p in relative.parts if p not in ("..", ".", "/")] or ["image"]
    folders = [_fit_name(p) for p in parts[:-1]]
    last = parts[-1]
    stem = last[:-4] if last.lower().endswith(".png") else last
    ending = last[-4:] if last.lower().endswith(".png") else ".png"
    candidate = PurePosixPath(OVERLAYS_DIR, *folders, _fit_name(stem, ending))
    number = 2
    while _key(candidate) in taken:
        candidate = PurePosixPath(OVERLAYS_DIR, *folders, _fit_name(stem, f"~{number}.png"))
        number += 1
    taken.add(_key(candidate))
    return candidate


def _key(path: PurePosixPath) -> str:
    return unicodedata.normalize("NFC", str(path)).casefold()
