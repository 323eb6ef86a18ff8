"""The course's start page in a real browser: from notebooks/start_here.ipynb (what `make course` opens) a learner
reaches the first notebook of either edition with one click.

Runs in the same JupyterLab + Chromium set-up as the explorer's test (its helpers and fixtures are reused from
test_explorer_in_browser.py, which says how to install and run them). The page's links are clicked like a user
would; the notebook they open is identified by the server (its kernel session's path) and by the heading the page
shows, not by the link's text.
"""

from __future__ import annotations

import shutil

import pytest
from test_explorer_in_browser import (  # noqa: F401  (artifacts_dir, chromium_browser, page: fixtures used by name)
    KERNEL_IDLE_S,
    PAGE_LOAD_S,
    REPO,
    artifacts_dir,
    chromium_browser,
    ms,
    page,
    start_lab,
    stop_lab,
    wait_for,
)

START_PAGE = "notebooks/start_here.ipynb"
# Each edition's first notebook: the link's text on the start page, and a phrase of the heading it opens on.
FIRST_NOTEBOOKS = {
    "en": ("notebooks/01_why_interpretability.ipynb", "Why look inside a classifier?"),
    "ja": ("notebooks/ja/01_why_interpretability.ipynb", "なぜ分類器の中を見るのか"),
}


@pytest.fixture
def course_lab(tmp_path, artifacts_dir):  # noqa: F811  (the fixture imported above, by name)
    """JupyterLab serving a temporary copy of the start page and each edition's first notebook."""
    server = start_lab(START_PAGE, tmp_path)
    try:
        for notebook, _ in FIRST_NOTEBOOKS.values():
            target = server.root / notebook
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / notebook, target)
        yield server
    finally:
        try:
            stop_lab(server)
        finally:
            if server.log_path.exists():
                shutil.copy(server.log_path, artifacts_dir / "jupyter-server-start-page.log")


def sessions(server) -> set[str]:
    """The paths of the notebooks that have a kernel session (JupyterLab starts one when it opens a notebook)."""
    return {session["path"] for session in server.api("/api/sessions")}


@pytest.mark.parametrize("edition", ["ja", "en"])
def test_the_start_page_opens_either_edition(edition, course_lab, page, artifacts_dir):  # noqa: F811
    notebook, heading = FIRST_NOTEBOOKS[edition]
    page.goto(course_lab.url("/lab/tree/" + START_PAGE), timeout=ms(PAGE_LOAD_S))
    table = page.locator(".jp-RenderedMarkdown table").first
    table.wait_for(state="visible", timeout=ms(PAGE_LOAD_S))
    headers = table.locator("th").all_inner_texts()
    assert [text.strip() for text in headers] == ["English edition", "日本語版"], headers
    page.screenshot(path=str(artifacts_dir / f"start-page-{edition}-1-opened.png"))

    # The first row's link in the edition's column, found by its place in the table, then clicked like a user.
    column = 1 if edition == "en" else 2
    table.locator(f"tbody tr:first-child td:nth-child({column}) a").click()
    wait_for(page, lambda: notebook in sessions(course_lab), KERNEL_IDLE_S, f"{notebook} to open from the start page")
    opened = page.locator(".jp-NotebookPanel:visible h1").filter(has_text=heading)
    opened.first.wait_for(state="visible", timeout=ms(PAGE_LOAD_S))
    page.screenshot(path=str(artifacts_dir / f"start-page-{edition}-2-first-notebook.png"))
