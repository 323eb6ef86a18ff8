"""The course website (scripts/build_site.py) in a real browser: every page renders its title, math and pictures.

The site is built by this test into a temporary folder (the same build as `make site`, so what is tested is the
committed notebooks, never a stale _site/), served by `python -m http.server` on 127.0.0.1 and opened in the same
headless Chromium as the explorer's test (its helpers and fixtures are reused from test_explorer_in_browser.py, which
says how to install and run them). Chromium there resolves no host but loopback, and every request a page makes is
checked to go to the local server: the site must work offline.

Reference values come from the notebooks' JSON, not from the built HTML: the page titles are the sources' first
headings, the number of pictures is the number of image outputs stored in the notebook, the explorer's saved
picture's size is read from its PNG header, and which pages must show typeset math is decided by the `$` in their
Markdown. Screenshots: site-*.png in the artifacts folder.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_explorer_in_browser import (  # noqa: F401  (artifacts_dir, chromium_browser: fixtures used by name)
    PAGE_LOAD_S,
    REPO,
    SERVER_START_S,
    artifacts_dir,
    chromium_browser,
    free_port,
    ms,
)


def load_build_site():
    spec = importlib.util.spec_from_file_location("build_site", REPO / "scripts" / "build_site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_site"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


build_site = load_build_site()
PAGES = build_site.find_pages()
MATH_WAIT_S = 120  # MathJax typesets the longest notebook in a few seconds; the CPU may be shared
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# Inline or display math left as source text after typesetting (a `$` pair on one line with something between).
RAW_MATH = re.compile(r"\$\$?[^$\n]+\$\$?")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")


def notebook_json(page) -> dict:
    return json.loads((REPO / page.source).read_text(encoding="utf-8"))


def markdown_text(page) -> str:
    """The page's Markdown: a notebook's Markdown cells, or the Markdown file."""
    if page.source.endswith(".md"):
        return (REPO / page.source).read_text(encoding="utf-8")
    cells = notebook_json(page)["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")


def has_math(markdown: str) -> bool:
    """Whether the Markdown has TeX math (outside code spans and fenced code)."""
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    return bool(re.search(r"\$[^$\n]+\$", prose))


def stored_pictures(page) -> list[dict]:
    """The image outputs stored in a notebook (one <img> each on its page), with their source cell's text."""
    if page.source.endswith(".md"):
        return []
    pictures = []
    for cell in notebook_json(page)["cells"]:
        for output in cell.get("outputs", []):
            kinds = [kind for kind in IMAGE_TYPES if kind in output.get("data", {})]
            if kinds:
                pictures.append({"cell": "".join(cell["source"]), "type": kinds[0], "data": output["data"][kinds[0]]})
    return pictures


def png_size(data: str | list[str]) -> tuple[int, int]:
    """Width and height from a base64 PNG's IHDR chunk (an independent reading of the stored picture)."""
    raw = base64.b64decode("".join(data) if isinstance(data, list) else data)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", raw[16:24])


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def built_site(tmp_path_factory, artifacts_dir) -> Path:  # noqa: F811
    """The site, built by the command `make site` runs (scripts/build_site.py OUT); its log is site-build.log."""
    out = tmp_path_factory.mktemp("site") / "_site"
    build = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_site.py"), str(out)], capture_output=True, text=True
    )
    (artifacts_dir / "site-build.log").write_text(build.stdout + build.stderr)
    if build.returncode != 0:  # the build's own message says what is missing and how to install it
        pytest.fail(f"the site did not build (exit {build.returncode}):\n{build.stderr[-3000:]}", pytrace=False)
    return out


@pytest.fixture(scope="module")
def site_url(built_site, artifacts_dir):  # noqa: F811  (the fixture imported above, by name)
    """The built site served on loopback by `python -m http.server` (a child process, stopped at the end)."""
    for old in artifacts_dir.glob("site-*.png"):  # only this test's files: the folder is shared
        old.unlink()
    (artifacts_dir / "site-console.log").unlink(missing_ok=True)
    port = free_port()
    log = (artifacts_dir / "site-http-server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(built_site)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    assert response.status == 200
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the site's HTTP server did not answer at {url}; see site-http-server.log")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def site_page(chromium_browser, artifacts_dir):  # noqa: F811
    """A fresh page recording every request; its console goes to site-console.log (appended, one block a page)."""
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console: list[str] = []
    requests: list[str] = []
    page.on("console", lambda message: console.append(f"[{message.type}] {message.text}"))
    page.on("pageerror", lambda error: console.append(f"[pageerror] {error}"))
    page.on("requestfailed", lambda request: console.append(f"[request failed] {request.url}: {request.failure}"))
    page.on("request", lambda request: requests.append(request.url))
    page.requests = requests  # type: ignore[attr-defined]
    page.console = console  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        with (artifacts_dir / "site-console.log").open("a") as log:
            log.write(f"--- {page.url}\n" + "".join(line + "\n" for line in console))
        context.close()


def open_typeset(page, url: str) -> None:
    """Open a page and wait until MathJax has finished typesetting it (its queue has run past our callback)."""
    page.goto(url, timeout=ms(PAGE_LOAD_S), wait_until="load")
    page.wait_for_function("() => window.MathJax && window.MathJax.Hub", timeout=ms(PAGE_LOAD_S))
    page.evaluate("() => new Promise(done => MathJax.Hub.Queue(done))")
    page.wait_for_function(
        "() => !document.querySelector('#MathJax_Message') || !document.querySelector('#MathJax_Message').offsetParent",
        timeout=ms(MATH_WAIT_S),
    )


def screenshot_name(page_output: str) -> str:
    return "site-" + page_output.removesuffix(".html").replace("/", "_") + ".png"


# ---------------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("page_info", PAGES, ids=[p.output for p in PAGES])
def test_each_page_renders_its_title_math_and_pictures(page_info, site_url, site_page, artifacts_dir):  # noqa: F811
    page = site_page
    open_typeset(page, site_url + page_info.output)
    page.screenshot(path=str(artifacts_dir / screenshot_name(page_info.output)))

    # Title: the source's first heading is the window title and the page's first <h1>.
    assert page.title() == page_info.title
    if build_site.HEADING.search(markdown_text(page_info)):
        first_h1 = page.locator("main h1").first.inner_text()
        assert page_info.title in first_h1.replace("¶", "").strip(), (first_h1, page_info.title)
    assert page.locator("html").get_attribute("lang") == page_info.language

    # Math: typeset by MathJax (its elements present, no TeX errors) and no `$...$` left in the prose.
    prose = "\n".join(page.locator(".jp-RenderedMarkdown").all_inner_texts())
    assert not RAW_MATH.findall(prose), f"raw TeX left in {page_info.output}: {RAW_MATH.findall(prose)[:5]}"
    typeset = page.locator(".MathJax, .MathJax_Display, .MathJax_SVG").count()
    if has_math(markdown_text(page_info)):
        assert typeset > 0, f"{page_info.source} has $...$ math but its page shows no typeset math"
    errors = page.locator(".MathJax .merror, .MathJax_Error").count()
    assert errors == 0 and "Math Processing Error" not in prose, f"MathJax errors on {page_info.output}"

    # Pictures: one loaded <img> (naturalWidth > 0) per image output stored in the notebook.
    images = page.evaluate(
        "() => [...document.querySelectorAll('img')].map(i => ({src: i.src.slice(0, 60), ok: i.complete,"
        " width: i.naturalWidth, output: !!i.closest('.jp-OutputArea')}))"
    )
    broken = [image["src"] for image in images if not image["ok"] or image["width"] == 0]
    assert not broken, f"pictures that did not load on {page_info.output}: {broken}"
    assert sum(image["output"] for image in images) == len(stored_pictures(page_info))

    # The Japanese edition's text is Japanese (not the English fallback): over 200 Japanese characters, or for a short
    # page (a worked solution) at least 80% of those in its source.
    if page_info.language == "ja":
        expected = min(200, 0.8 * len(JAPANESE.findall(markdown_text(page_info))))
        assert len(JAPANESE.findall(prose)) >= expected, f"{page_info.output}: little Japanese text in its Markdown"

    # Offline: every request went to the local server (or was a data: URI, or the about:blank frame MathJax makes on
    # pages with display math); the table of contents lists every page.
    outside = [url for url in page.requests if not url.startswith((site_url, "data:")) and url != "about:blank"]
    assert not outside, f"{page_info.output} requested outside the site: {outside}"
    # (MathJax's HTML-CSS output probes web-font loading with an about:blank font, which Chromium refuses: harmless.)
    failed = [line for line in page.console if line.startswith("[request failed]") and "about:blank" not in line]
    assert not failed, failed
    toc = page.locator("nav.site-toc a[href]").evaluate_all("links => links.map(a => a.href)")
    assert {site_url + p.output for p in PAGES} <= set(toc)


def test_the_explorers_saved_picture_is_shown(site_url, site_page, artifacts_dir):  # noqa: F811
    """Notebook 05's `ui.snapshot()` output appears as a loaded picture of the stored PNG's size."""
    notebook = next(p for p in PAGES if p.source == "notebooks/05_interactive_explorer.ipynb")
    stored = [p for p in stored_pictures(notebook) if "ui.snapshot()" in p["cell"] and p["type"] == "image/png"]
    assert stored, "notebooks/05_interactive_explorer.ipynb has no stored ui.snapshot() picture"
    width, height = png_size(stored[0]["data"])

    page = site_page
    open_typeset(page, site_url + notebook.output)
    cell = page.locator(".jp-CodeCell").filter(has=page.locator(".jp-InputArea", has_text="ui.snapshot()")).first
    picture = cell.locator(".jp-OutputArea img").first
    picture.scroll_into_view_if_needed()
    natural = picture.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert natural == [width, height], (natural, (width, height))
    picture.screenshot(path=str(artifacts_dir / "site-explorer-snapshot.png"))
    # The live widget's output is replaced by a note that says why it is not interactive here.
    assert page.locator(".site-widget-note").count() >= 1


@pytest.mark.parametrize("edition", ["en", "ja"])
def test_the_home_page_links_each_edition(edition, site_url, site_page, artifacts_dir):  # noqa: F811
    """The start page's table (its own links, rewritten from .ipynb) leads to each edition's first notebook."""
    page = site_page
    open_typeset(page, site_url)
    table = page.locator("main .jp-RenderedMarkdown table").first
    column = 1 if edition == "en" else 2
    table.locator(f"tbody tr:first-child td:nth-child({column}) a").click()
    expected = PAGES[1 if edition == "en" else 1 + len([p for p in PAGES if p.source.startswith("notebooks/0")])]
    page.wait_for_url(site_url + expected.output, timeout=ms(PAGE_LOAD_S))
    assert expected.source.startswith("notebooks/ja/" if edition == "ja" else "notebooks/0")
    assert page.title() == expected.title
