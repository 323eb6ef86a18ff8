"""Outputs: files written atomically, the contact sheets, the index files (JSON, CSV, HTML page) and the summary."""

from __future__ import annotations

import contextlib
import csv
import functools
import html
import io
import json
import os
import re
import uuid
from collections.abc import Callable
from importlib import resources
from pathlib import Path, PurePosixPath
from string import Template
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..images import save_png
from ._common import OVERLAYS_DIR, PROG, _version
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
    atomic_write(path, lambda file: file.write(text.encode("utf-8")))


# ----- contact sheet -----------------------------------------------------------------------------------------------


class ContactSheets:
    """Thumbnails with labels in a grid, written a page (64 images) at a time so memory stays bounded."""

    per_page = SHEET_COLUMNS * SHEET_ROWS

    def __init__(self, out: Path):
        self.out = out
        self.pending: list[tuple[Image.Image, str, str]] = []
        self.files: list[str] = []
        self.font = _font()

    def add(self, item: Explained, overlay: np.ndarray) -> None:
        """Add the overlay's labelled thumbnail; a full page is written at once."""
        thumb = Image.fromarray(overlay)
        thumb.thumbnail((THUMB, THUMB), Image.Resampling.BILINEAR)
        name = PurePosixPath(item.source.replace("\\", "/")).name
        self.pending.append((thumb, name, f"{item.class_name} {item.probability:.0%}"))
        if len(self.pending) == self.per_page:
            self._flush()

    def finish(self) -> list[str]:
        """Write the last page and remove pages a previous, larger run left; the sheets' file names."""
        if self.pending:
            self._flush()
        # Pages a previous, larger run left behind would be stale now.
        for stale in self.out.glob("contact_sheet_*.png"):
            if stale.name not in self.files and re.fullmatch(r"contact_sheet_\d+\.png", stale.name):
                with contextlib.suppress(OSError):
                    stale.unlink()
        if not self.files:
            with contextlib.suppress(OSError):
                (self.out / "contact_sheet.png").unlink()
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
        name = "contact_sheet.png" if not self.files else f"contact_sheet_{len(self.files) + 1}.png"
        _write_png(self.out / name, np.asarray(sheet))
        self.files.append(name)
        self.pending = []


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


# ----- index files ------------------------------------------------------------------------------------------------


def write_indexes(settings: Settings, explained: list[Explained], skipped: list[Skipped], sheets: list[str]) -> None:
    """results.json, results.csv and index.html, each written atomically (the HTML page last)."""
    run = {
        "model": settings.bundle.name,
        "method": settings.method,
        "layer": settings.layer,
        "class": "auto" if settings.class_index is None else settings.class_index,
        "input_size": list(settings.bundle.input_size),
        "alpha": settings.alpha,
        "colormap": settings.colormap,
        "top": settings.top,
    }
    data = {
        "tool": f"{PROG} {_version()}",
        "run": run,
        "counts": {"explained": len(explained), "skipped": len(skipped), "empty_maps": sum(e.empty for e in explained)},
        "contact_sheets": sheets,
        "images": [
            {
                "source": e.source,
                "overlay": e.overlay,
                "overlay_size": list(e.size),
                "original_size": list(e.original_size),
                "class_index": e.class_index,
                "class_name": e.class_name,
                "probability": e.probability,
                "score": e.score,
                "empty_map": e.empty,
                "top": [{"index": i, "name": n, "probability": p} for i, n, p in e.top],
            }
            for e in explained
        ],
        "skipped": [{"source": s.source, "reason": s.reason} for s in skipped],
    }
    _write_text(settings.out / "results.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "source",
            "status",
            "overlay",
            "class_index",
            "class_name",
            "probability",
            "score",
            "empty_map",
            "top",
            "reason",
        ]
    )
    for e in explained:
        writer.writerow(
            [
                e.source,
                "ok",
                e.overlay,
                e.class_index,
                e.class_name,
                f"{e.probability:.6f}",
                f"{e.score:.6f}",
                "yes" if e.empty else "no",
                "; ".join(f"{i} {n} {p:.6f}" for i, n, p in e.top),
                "",
            ]
        )
    for s in skipped:
        writer.writerow([s.source, "skipped", "", "", "", "", "", "", "", s.reason])
    _write_text(settings.out / "results.csv", buffer.getvalue())
    _write_text(settings.out / "index.html", render_html(data))


def render_html(data: dict) -> str:
    """The index page: one self-contained HTML file with relative links to the overlays; all text escaped."""
    esc = html.escape
    run, counts = data["run"], data["counts"]
    rows = []
    for number, item in enumerate(data["images"], 1):
        link = esc(quote(item["overlay"]))
        top = "".join(
            f"<li>{esc(t['name'])} <span class=p>{t['probability']:.1%}</span> <span class=i>#{t['index']}</span></li>"
            for t in item["top"]
        )
        empty = "<br><em>empty map: no positive evidence</em>" if item["empty_map"] else ""
        rows.append(
            f'<tr><td>{number}</td><td><a href="{link}"><img src="{link}" alt="overlay of '
            f'{esc(item["source"])}" loading=lazy></a></td><td class=src>{esc(item["source"])}</td>'
            f"<td><b>{esc(item['class_name'])}</b> <span class=i>#{item['class_index']}</span><br>"
            f"p = {item['probability']:.1%}, logit {item['score']:.3g}{empty}</td><td><ol>{top}</ol></td></tr>"
        )
    skipped = "".join(
        f"<li><span class=src>{esc(s['source'])}</span>: {esc(s['reason'])}</li>" for s in data["skipped"]
    )
    sheets = " ".join(f'<a href="{esc(quote(s))}">{esc(s)}</a>' for s in data["contact_sheets"])
    class_text = "each image's top class" if run["class"] == "auto" else f"class {run['class']}"
    return _page_template().substitute(
        model=esc(run["model"]),
        method=esc(run["method"]),
        layer=esc(run["layer"]),
        class_text=esc(class_text),
        explained=counts["explained"],
        skipped_count=counts["skipped"],
        empty_maps=counts["empty_maps"],
        sheets=sheets or "none",
        top=run["top"],
        rows="\n".join(rows),
        skipped=f"<ul class=skipped>{skipped}</ul>" if skipped else "<p>None.</p>",
    )


@functools.cache
def _page_template() -> Template:
    """index.html beside this module: the page with $-placeholders (string.Template), read once."""
    return Template(resources.files(__package__).joinpath("index.html").read_text(encoding="utf-8"))


def _print_summary(
    settings: Settings,
    args,
    explained: list[Explained],
    skipped: list[Skipped],
    ignored: int,
    sheets: list[str],
    load_seconds: float,
    run_seconds: float,
) -> None:
    total = len(explained) + len(skipped)
    rate = len(explained) / run_seconds if run_seconds > 0 else float("inf")
    print(
        f"{PROG}: explained {len(explained)} of {total} file(s) with {settings.bundle.name} ({settings.method}, "
        f"layer {settings.layer}) in {run_seconds:.1f} s, {rate:.1f} images/s (batch size "
        f"{settings.batch_size}; model loaded in {load_seconds:.1f} s)."
    )
    if skipped:
        print(f"skipped {len(skipped)}:")
        for s in skipped:
            print(f"  {s.source}: {s.reason}")
    if args.quiet:
        return
    empty = [e.source for e in explained if e.empty]
    if empty:
        print(f"{len(empty)} map(s) had no positive evidence for their class and are blank: {', '.join(empty)}")
    if ignored:
        print(f"ignored {ignored} file(s) in the folders without an image extension.")
    out = settings.out
    print(
        f"wrote {len(explained)} overlay(s) under {out / OVERLAYS_DIR}, "
        f"{', '.join(str(out / s) for s in sheets) or 'no contact sheet'}, {out / 'results.csv'}, "
        f"{out / 'results.json'} and {out / 'index.html'}"
    )
