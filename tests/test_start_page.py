"""The start page `make course` opens (notebooks/start_here.ipynb): it is current, and it links every notebook of
both editions. The links are read back from the committed page with a regular expression and compared with the
notebooks found on disk (an independent route from the script that writes the page)."""

import importlib.util
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
START_PAGE = NOTEBOOKS / "start_here.ipynb"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _builder():
    spec = importlib.util.spec_from_file_location("build_start_page", ROOT / "scripts" / "build_start_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page_text(page) -> str:
    return "\n\n".join(cell.source for cell in page.cells)


def link_problems(page_text: str) -> list[str]:
    """What is wrong with the page's links: a notebook of either edition it does not link, a link to nothing."""
    targets = LINK.findall(page_text)
    notebooks = [p.relative_to(NOTEBOOKS).as_posix() for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]
    notebooks += [f"ja/{p.name}" for p in sorted((NOTEBOOKS / "ja").glob("[0-9][0-9]_*.ipynb"))]
    return [f"{n} is not linked" for n in notebooks if n not in targets] + [
        f"{t} links to nothing" for t in targets if not (NOTEBOOKS / t).is_file()
    ]


def test_the_committed_start_page_is_what_the_script_writes():
    committed = nbformat.read(START_PAGE, as_version=4)
    assert [cell.cell_type for cell in committed.cells] == ["markdown"] * len(committed.cells)
    assert _page_text(committed) == _page_text(_builder().start_page()), (
        "notebooks/start_here.ipynb is out of date: run .venv/bin/python scripts/build_start_page.py"
    )


def test_the_start_page_links_every_notebook_of_both_editions():
    text = _page_text(nbformat.read(START_PAGE, as_version=4))
    assert link_problems(text) == []
    assert "English edition" in text and "日本語版" in text


def test_the_link_check_can_fail():
    text = _page_text(nbformat.read(START_PAGE, as_version=4))
    unlinked = text.replace("(ja/03_gradcam_on_a_real_network.ipynb)", "")
    assert link_problems(unlinked) == ["ja/03_gradcam_on_a_real_network.ipynb is not linked"]
    broken = text.replace("(ja/01_why_interpretability.ipynb)", "(ja/01_why.ipynb)")
    assert "ja/01_why.ipynb links to nothing" in link_problems(broken)


def test_make_course_opens_the_start_page():
    recipe = re.search(r"^course:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe and "jupyter lab notebooks/start_here.ipynb" in recipe.group(1)
