"""The index files of a run: results.json, results.csv (safe to open in a spreadsheet) and the index.html page."""

from __future__ import annotations

import csv
import functools
import html
import io
import json
from importlib import resources
from string import Template
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

from ._common import PROG, _one_line, _printable, _version, _visible
from .inputs import Skipped
from .outputs import OutputFolder

if TYPE_CHECKING:
    from .explaining import Explained, Settings


def write_indexes(
    settings: Settings,
    explained: list[Explained],
    skipped: list[Skipped],
    sheets: list[str],
    folder: OutputFolder | None = None,
    failed: list[Skipped] | None = None,
) -> list[Skipped]:
    """results.json, results.csv and index.html, each written atomically (the HTML page last).

    Each is written even when another could not be (disk full, a file of the user's in the way).

    Args:
        settings: the run's settings.
        explained: the explained images.
        skipped: the inputs left out, with their reasons.
        sheets: the contact sheet pages written.
        folder: the output folder (default: settings.out, opened with its manifest).
        failed: outputs that could not be written so far (e.g. a contact sheet page), listed in the indexes.

    Returns:
        The index files that could not be written, with the reason (empty when all were).
    """
    folder = folder if folder is not None else OutputFolder(settings.out)
    failed = list(failed or [])
    data = _clean(_index_data(settings, explained, skipped, sheets, failed))
    problems: list[Skipped] = []
    writers = (
        ("results.json", lambda: json.dumps(data, indent=2, ensure_ascii=False) + "\n"),
        ("results.csv", lambda: _csv_text(explained, skipped, failed)),
        ("index.html", lambda: render_html(data)),
    )
    for name, render in writers:
        try:
            text = render().encode("utf-8")
            folder.write(name, functools.partial(_write_bytes, text))
        except OSError as err:
            problems.append(Skipped(name, f"could not be written ({_one_line(err)})"))
    return problems


def _write_bytes(data: bytes, file: BinaryIO) -> None:
    file.write(data)


def _index_data(settings, explained, skipped, sheets, failed) -> dict:
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
    return {
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
        "failed_outputs": [{"file": f.source, "reason": f.reason} for f in failed],
    }


def _clean(value):
    r"""``value`` with every string made encodable (undecodable bytes of file names as \x.. escapes)."""
    if isinstance(value, str):
        return _printable(value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"), and their full-width forms.
_FORMULA_START = tuple("=+-@\t\r") + tuple("\uff1d\uff0b\uff0d\uff20")


def csv_cell(text: object) -> str:
    r"""A text cell for results.csv that no spreadsheet runs or splits.

    Control characters (newline, carriage return, tab...) become visible escapes (``\n``, ``\r``, ``\t``), so
    a name can never split a row in any program; a cell that starts with ``=``, ``+``, ``-``, ``@`` (leading spaces
    aside) gets a single quote in front, as OWASP recommends, so a spreadsheet shows it as text instead of running it.
    Every field is quoted as well (csv.QUOTE_ALL).
    """
    cell = _visible(str(text))
    return "'" + cell if cell.lstrip().startswith(_FORMULA_START) else cell


def _csv_text(explained: list[Explained], skipped: list[Skipped], failed: list[Skipped]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    header = ["source", "status", "overlay", "class_index", "class_name", "probability", "score", "empty_map", "top"]
    writer.writerow([*header, "reason"])
    for e in explained:  # numbers are written as numbers (a negative score is not a formula)
        writer.writerow(
            [
                csv_cell(e.source),
                "ok",
                csv_cell(e.overlay),
                e.class_index,
                csv_cell(e.class_name),
                f"{e.probability:.6f}",
                f"{e.score:.6f}",
                "yes" if e.empty else "no",
                csv_cell("; ".join(f"{i} {n} {p:.6f}" for i, n, p in e.top)),
                "",
            ]
        )
    for s in skipped:
        writer.writerow([csv_cell(s.source), "skipped", "", "", "", "", "", "", "", csv_cell(s.reason)])
    for f in failed:
        writer.writerow([csv_cell(f.source), "not written", "", "", "", "", "", "", "", csv_cell(f.reason)])
    return buffer.getvalue()


def render_html(data: dict) -> str:
    """The index page: one self-contained HTML file with relative links to the overlays; all text escaped."""

    def esc(text) -> str:
        return html.escape(_visible(str(text)))

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
    skipped += "".join(
        f"<li><span class=src>{esc(f['file'])}</span>: {esc(f['reason'])}</li>" for f in data.get("failed_outputs", [])
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
