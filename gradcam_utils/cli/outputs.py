"""Outputs: files written atomically into the output folder (with its manifest), the contact sheets and the summary.

The index files (JSON, CSV, HTML page) are in ``indexes.py``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..images import save_png
from . import manifest
from ._common import MANIFEST, OVERLAYS_DIR, PROG, TEMP_PATTERN, UsageError, _one_line, _visible
from .inputs import Skipped

if TYPE_CHECKING:
    from .explaining import Explained, Settings

SHEET_COLUMNS, SHEET_ROWS = 8, 8  # 64 thumbnails per contact sheet page
THUMB = 160  # thumbnail box, pixels
LABEL_HEIGHT = 30
SHEET_PAD = 6


# ----- writing files atomically ----------------------------------------------------------------------------------


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` through ``write(file)`` into a temporary file in the same folder, then rename it into place.

    ``write``'s return value is ignored. Readers (and a later run) see the old file or the new one, never a partial
    one; if ``write`` fails or the run is interrupted, the temporary file is removed and the exception propagates.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{PROG}-{uuid.uuid4().hex}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _write_png(path: Path, image: np.ndarray) -> None:
    atomic_write(path, lambda file: save_png(image, file))


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda file: file.write(text.encode("utf-8", "backslashreplace")))


INDEX_FILES = ("results.json", "results.csv", "index.html")


def sheet_name(page: int) -> str:
    """The file name of contact sheet page ``page`` (1-based)."""
    return "contact_sheet.png" if page == 1 else f"contact_sheet_{page}.png"


class OutputFolder:
    """``--out``: writes files there only where the folder's manifest allows, and keeps the manifest.

    A file may be written when it does not exist yet, or when the manifest (``gradcam-manifest.json``) lists it as
    written by an earlier run; anything else there belongs to the user and is never replaced or removed. Files are
    written inside the folder only: a subfolder that is a link leading elsewhere is refused.

    Args:
        out: the output folder (created by ``begin``).
    """

    def __init__(self, out: Path):
        self.out = out
        self.owned = manifest.read(out)  # UsageError for a manifest that is not one of ours
        self.written: set[str] = set()

    def foreign(self, relative: str) -> bool:
        """Whether ``relative`` exists and is not the command's (it must not be replaced)."""
        return relative not in self.owned and os.path.lexists(self.out / relative)

    def begin(self, planned: list[str]) -> None:
        """Create the folder, remove stale temporary files, and record ``planned`` (where they are free) first.

        Recording before writing means that a run stopped half-way (Ctrl-C, SIGTERM, a crash, a power cut) never
        leaves a file of its own that a later run would take for the user's.

        Raises:
            UsageError: the folder cannot be created or the manifest cannot be written (e.g. disk full).
        """
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            where = _visible(str(self.out))
            raise UsageError(f"cannot create the output folder '{where}' ({_one_line(err)}).") from None
        self.remove_stale_temporaries()
        self.owned |= {relative for relative in planned if not self.foreign(relative)}
        try:
            self._save(self.owned)
        except OSError as err:
            where = _visible(str(self.out))
            raise UsageError(f"cannot write in the output folder '{where}' ({_one_line(err)}).") from None

    def remove_stale_temporaries(self) -> list[Path]:
        """Remove temporary files an interrupted or killed run left (only names of atomic_write's own pattern)."""
        folders = [str(self.out)]  # the folder itself, and the overlays tree: nowhere else does the command write
        overlays = self.out / OVERLAYS_DIR
        if overlays.is_dir() and not overlays.is_symlink():
            folders += [folder for folder, _, _ in os.walk(overlays)]
        removed = []
        for folder in folders:
            with contextlib.suppress(OSError):
                for entry in os.scandir(folder):
                    if TEMP_PATTERN.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                        with contextlib.suppress(OSError):
                            os.unlink(entry.path)
                            removed.append(Path(entry.path))
        return removed

    def write(self, relative: str, write: Callable[[BinaryIO], object]) -> None:
        """Write ``out/relative`` atomically through ``write(file)`` unless a file of the user's is there.

        Raises:
            FileExistsError: the file exists and is not the command's, or its folder leads outside --out (its
                ``strerror`` says which).
            OSError: the write failed (disk full, permission...); no temporary file is left.
        """
        if self.foreign(relative):
            raise FileExistsError(
                errno.EEXIST,
                f"'{relative}' already exists in --out and was not written by {PROG}; it is left as it is "
                "(choose another --out)",
            )
        target = self.out / relative
        inside = os.path.realpath(self.out)
        parent = os.path.realpath(target.parent)  # checked before any folder is created on the way
        if parent != inside and not parent.startswith(inside.rstrip(os.sep) + os.sep):
            raise FileExistsError(
                errno.EEXIST, f"'{relative}' would be written outside --out (a folder on its path is a link)"
            )
        atomic_write(target, write)  # creates the missing folders
        self.written.add(relative)
        self.owned.add(relative)

    def remove(self, relative: str) -> None:
        """Remove one of the command's own files (one the manifest lists); others are never touched."""
        if relative in self.owned and not os.path.isdir(self.out / relative):
            with contextlib.suppress(FileNotFoundError):
                (self.out / relative).unlink()
            self.owned.discard(relative)

    def finish(self) -> None:
        """Rewrite the manifest: the command's files that exist now.

        Raises:
            OSError: the manifest could not be written (the one written by ``begin`` stays: it lists more).
        """
        self.owned = {relative for relative in self.owned if os.path.lexists(self.out / relative)}
        self._save(self.owned)

    def _save(self, files: set[str]) -> None:
        _write_text(self.out / MANIFEST, manifest.render(files))


# ----- contact sheet -----------------------------------------------------------------------------------------------


class ContactSheets:
    """Thumbnails with labels in a grid, written a page (64 images) at a time so memory stays bounded.

    Args:
        folder: the output folder (a Path is opened as an OutputFolder).
    """

    per_page = SHEET_COLUMNS * SHEET_ROWS

    def __init__(self, folder: OutputFolder | Path):
        self.folder = folder if isinstance(folder, OutputFolder) else OutputFolder(Path(folder))
        self.out = self.folder.out
        self.pending: list[tuple[Image.Image, str, str]] = []
        self.files: list[str] = []
        self.failures: list[Skipped] = []  # pages that could not be written, with the reason
        self.pages = 0
        self.font = _font()

    def add(self, item: Explained, overlay: np.ndarray) -> None:
        """Add the overlay's labelled thumbnail; a full page is written at once."""
        thumb = Image.fromarray(overlay)
        thumb.thumbnail((THUMB, THUMB), Image.Resampling.BILINEAR)
        name = PurePosixPath(item.source.replace("\\", "/")).name
        self.pending.append((thumb, _visible(name), _visible(f"{item.class_name} {item.probability:.0%}")))
        if len(self.pending) == self.per_page:
            self._flush()

    def finish(self) -> list[str]:
        """Write the last page and remove pages a previous, larger run left; the sheets' file names.

        Only pages the manifest lists as the command's are removed; a page that could not be written is in
        ``failures`` (the run goes on without it).
        """
        if self.pending:
            self._flush()
        # Pages a previous, larger run left behind would be stale now.
        for stale in sorted(self.folder.owned):
            if re.fullmatch(r"contact_sheet(_\d+)?\.png", stale) and stale not in self.files:
                with contextlib.suppress(OSError):
                    self.folder.remove(stale)
        return self.files

    def _flush(self) -> None:
        count = len(self.pending)
        columns = min(SHEET_COLUMNS, count)
        rows = -(-count // SHEET_COLUMNS)
        cell_w, cell_h = THUMB + SHEET_PAD, THUMB + LABEL_HEIGHT + SHEET_PAD
        sheet = Image.new("RGB", (columns * cell_w + SHEET_PAD, rows * cell_h + SHEET_PAD), "white")
        draw = ImageDraw.Draw(sheet)
        for k, (thumb, name, label) in enumerate(self.pending):
            x0 = SHEET_PAD + (k % SHEET_COLUMNS) * cell_w
            y0 = SHEET_PAD + (k // SHEET_COLUMNS) * cell_h
            sheet.paste(thumb, (x0 + (THUMB - thumb.width) // 2, y0 + (THUMB - thumb.height) // 2))
            for line, text in enumerate((name, label)):
                draw.text(
                    (x0, y0 + THUMB + 2 + 13 * line), _fit(draw, text, self.font, THUMB), fill="black", font=self.font
                )
        self.pages += 1
        name = sheet_name(self.pages)
        pixels = np.asarray(sheet)
        self.pending = []
        try:
            self.folder.write(name, lambda file: save_png(pixels, file))
        except OSError as err:  # disk full, a file of the user's in the way...: the run goes on without this page
            self.failures.append(Skipped(name, f"contact sheet page could not be written ({_one_line(err)})"))
            return
        self.files.append(name)


def _font():
    try:
        return ImageFont.load_default(size=11)
    except Exception:  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    def length(s: str) -> float:
        try:
            return draw.textlength(s, font=font)
        except UnicodeEncodeError:  # bitmap font: latin-1 only
            return len(s) * 6

    if length(text) <= width:
        return _latin1_if_needed(text, font)
    while text and length(text + "...") > width:
        text = text[:-1]
    return _latin1_if_needed(text + "...", font)


def _latin1_if_needed(text: str, font) -> str:
    if isinstance(font, ImageFont.FreeTypeFont):
        return text
    return text.encode("latin-1", "replace").decode("latin-1")


def _print_summary(
    settings: Settings,
    args,
    explained: list[Explained],
    skipped: list[Skipped],
    ignored: int,
    written: list[str],
    load_seconds: float,
    run_seconds: float,
    failed: list[Skipped] | None = None,
) -> None:
    failed = failed or []
    total = len(explained) + len(skipped)
    rate = len(explained) / run_seconds if run_seconds > 0 else float("inf")
    print(
        f"{PROG}: explained {len(explained)} of {total} file(s) with {_visible(settings.bundle.name)} "
        f"({settings.method}, layer {_visible(settings.layer)}) in {run_seconds:.1f} s, {rate:.1f} images/s (batch "
        f"size {settings.batch_size}; model loaded in {load_seconds:.1f} s)."
    )
    if skipped:
        print(f"skipped {len(skipped)}:")
        for s in skipped:
            print(f"  {_visible(s.source)}: {_visible(s.reason)}")
    if failed:
        print(f"could not write {len(failed)} output file(s):")
        for f in failed:
            print(f"  {_visible(f.source)}: {_visible(f.reason)}")
    if args.quiet:
        return
    empty = [_visible(e.source) for e in explained if e.empty]
    if empty:
        print(f"{len(empty)} map(s) had no positive evidence for their class and are blank: {', '.join(empty)}")
    if ignored:
        print(f"ignored {ignored} file(s) in the folders without an image extension.")
    out = _visible(str(settings.out))
    others = [name for name in written if not name.startswith(OVERLAYS_DIR + "/")]
    print(
        f"wrote {len(explained)} overlay(s) under {os.path.join(out, OVERLAYS_DIR)}"
        + "".join(f", {os.path.join(out, name)}" for name in others)
    )
