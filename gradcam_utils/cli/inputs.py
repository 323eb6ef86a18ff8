"""Finding the files: folders walked for images, in sorted order, each given a unique overlay name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ._common import OVERLAYS_DIR, _printable

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


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
    """(files to try in order, missing paths, number of non-image files ignored in folders).

    Folders are walked recursively (hidden entries and the output folder left out), keeping image extensions only,
    sorted; files named explicitly are always tried. Overlay names mirror the paths relative to the inputs' common
    folder and are made unique (case-insensitively, for macOS and Windows file systems).
    """
    out_abs = os.path.normcase(os.path.abspath(out_dir))
    found: list[tuple[Path, Path]] = []  # (file, the folder its overlay path is relative to)
    missing: list[Skipped] = []
    ignored = 0
    for given in paths:
        root = Path(given)
        if root.is_dir():
            files = []
            for folder, dirs, names in os.walk(root):
                dirs[:] = [
                    d
                    for d in dirs
                    if not d.startswith(".") and os.path.normcase(os.path.abspath(os.path.join(folder, d))) != out_abs
                ]
                for name in names:
                    if name.startswith("."):
                        continue
                    if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                        files.append(Path(folder, name))
                    else:
                        ignored += 1
            files.sort(key=lambda f: f.relative_to(root).parts)
            found.extend((f, root) for f in files)
        elif root.exists() or root.is_symlink():
            found.append((root, root.parent))
        else:
            missing.append(Skipped(_printable(str(root)), "no such file or folder"))
    bases = {os.path.abspath(base) for _, base in found}
    try:
        common = os.path.commonpath(sorted(bases)) if bases else ""
    except ValueError:  # different drives on Windows
        common = None
    candidates: list[Candidate] = []
    seen_files: set[str] = set()
    taken: set[str] = set()  # overlay paths given out so far, casefolded
    for file, _ in found:
        absolute = os.path.abspath(file)
        key = os.path.normcase(os.path.realpath(absolute))
        if key in seen_files:  # named twice (a file and its folder, or a folder twice)
            continue
        seen_files.add(key)
        relative = os.path.relpath(absolute, common) if common is not None else os.path.basename(absolute)
        candidates.append(Candidate(file, _unique_overlay_name(PurePosixPath(*Path(relative).parts), taken)))
    return candidates, missing, ignored


def _unique_overlay_name(relative: PurePosixPath, taken: set[str]) -> PurePosixPath:
    parts = [p for p in relative.parts if p not in ("..", ".", "/")] or ["image"]
    name = parts[-1] if parts[-1].lower().endswith(".png") else parts[-1] + ".png"
    stem = name[:-4]
    candidate = PurePosixPath(OVERLAYS_DIR, *parts[:-1], name)
    number = 2
    while str(candidate).casefold() in taken:
        candidate = PurePosixPath(OVERLAYS_DIR, *parts[:-1], f"{stem}~{number}.png")
        number += 1
    taken.add(str(candidate).casefold())
    return candidate
