"""Write notebooks/start_here.ipynb, the page `make course` opens: choose the English or the Japanese edition.

The page is generated, never edited by hand: it lists every notebook of the course with its title as the built
notebooks show it (the first line of each edition's first markdown cell), so a new notebook, a new translation or a
changed title reaches the page by running this script. tests/test_start_page.py fails while the committed page differs
from what this script writes. A notebook without a Japanese translation yet links its English edition in the
Japanese column, marked as such.
Run from the repository root:  .venv/bin/python scripts/build_start_page.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
JAPANESE = NOTEBOOKS / "ja"
START_PAGE = NOTEBOOKS / "start_here.ipynb"

INTRODUCTION = """\
# Grad-CAM course · Grad-CAM 講座

**Choose your edition** and open its first notebook. Both editions run the same code; only the prose and the
text in figures and messages differ. Run a notebook from top to bottom (Shift+Enter runs a cell and moves on);
each one starts by saying what you will learn.

**言語を選んでください。** 英語版と日本語版はまったく同じコードを実行し、文章と、図やメッセージの文字だけが\
異なります。ノートブックは上から順に実行してください（Shift+Enter でセルを実行して次へ進みます）。\
どのノートブックも、最初に学習目標を示しています。"""

FOOTER = """\
- **English edition:** the notebooks in this folder; worked solutions in `solutions/`.
- **日本語版:** `ja/` フォルダーのノートブック。解答例は `ja/solutions/`、用語集（glossary）は\
[ja/glossary.md](ja/glossary.md) にあります。"""


def title(notebook: Path) -> str:
    """The first line of a notebook's first markdown cell, without the heading's '#' marks."""
    cells = nbformat.read(notebook, as_version=4).cells
    first = next(cell for cell in cells if cell.cell_type == "markdown")
    return first.source.splitlines()[0].lstrip("#").strip()


def link(text: str, target: str) -> str:
    """A markdown link whose text cannot end the table cell or the link early."""
    return f"[{text.replace('|', '/').replace(']', ')').replace('[', '(')}]({target})"


def start_page() -> nbformat.NotebookNode:
    """The start page: one table row per notebook of the English edition, with its Japanese edition beside it."""
    rows = ["| English edition | 日本語版 |", "|---|---|"]
    for english in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        japanese = JAPANESE / english.name
        japanese_cell = (
            link(title(japanese), f"ja/{english.name}")
            if japanese.is_file()
            else f"{english.name[:2]} · 未翻訳です。{link('英語版', english.name)}で学んでください。"
        )
        rows.append(f"| {link(title(english), english.name)} | {japanese_cell} |")
    cells = [INTRODUCTION, "\n".join(rows), FOOTER]
    page = nbformat.v4.new_notebook()
    page.cells = [nbformat.v4.new_markdown_cell(source, id=f"start-{i}") for i, source in enumerate(cells)]
    page.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    page.metadata["language_info"] = {"name": "python"}
    return page


def main(argv: list[str]) -> None:
    """Write the start page (no arguments)."""
    if argv:
        sys.exit(f"usage: {Path(__file__).name} (no arguments; it writes {START_PAGE.relative_to(ROOT)})")
    nbformat.write(start_page(), START_PAGE)
    print("built", START_PAGE.relative_to(ROOT))


if __name__ == "__main__":
    main(sys.argv[1:])
