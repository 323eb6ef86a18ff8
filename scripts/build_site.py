"""Build the course website: static HTML pages from the committed notebooks, readable offline.

    python scripts/build_site.py [OUT]          (default OUT: _site; `make site` runs this)

Every page is the notebook as committed, with its stored outputs (figures, printouts, the explorer's saved picture):
nothing is executed. The pages are made by nbconvert's HTMLExporter (the ``lab`` template, extended in
site/templates/gradcam_site with a table of contents) and laid out like the repository, so the notebooks' own links
keep working once ``.ipynb``/``.md`` become ``.html``:

    OUT/index.html                       notebooks/start_here.ipynb, the home page
    OUT/notebooks/NN_*.html              the English edition
    OUT/notebooks/ja/NN_*.html           the Japanese edition
    OUT/docs/*.html                      docs/*.md (the instructor's guide, the offline lab), when there are any
    OUT/docs/ja/*.html                   docs/ja/*.md, their Japanese editions, when there are any
    OUT/notebooks/references.html, OUT/notebooks/ja/glossary.html
    OUT/_static/mathjax/                 MathJax 2.7, copied from the `jupyter-server-mathjax` package
    OUT/_static/site.css                 the table of contents' style (site/site.css)

Nothing is loaded from the internet when the site is built or read: the math is typeset by the copied MathJax, the
pictures are embedded in the pages (data: URIs) and the template loads no CDN script (require.js, mermaid, widget
manager). The build fails, saying what to do, when a page would still point outside the site.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "site" / "templates"
TEMPLATE = "gradcam_site"
SITE_CSS = REPO / "site" / "site.css"
STATIC = "_static"
# The MathJax configuration shipped by jupyter-server-mathjax (its only one), plus MathJax's Safe extension as
# nbconvert's default URL has it.
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"

HOW_TO_INSTALL = 'Install the site\'s tools with: .venv/bin/python -m pip install -e ".[site]"   (or: make site)'

# A URL that leaves the site: anything with a scheme or starting with //, except data: URIs and in-page anchors.
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")
# src=/href= attributes and CSS url(...) in the pages nbconvert writes.
REFERENCE = re.compile(r"""(?P<attr>\b(?:src|href)=)(?P<quote>["'])(?P<url>.*?)(?P=quote)""")
# <script src=...>, <link href=...>, <img src=...>, <iframe src=...>: what the browser loads by itself. Links
# (<a href>) may point outside (a learner clicks them); loaded resources may not.
LOADED = re.compile(r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*?\b(?:src|href)=["']([^"']*)["']""", re.I)
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)""")
HEADING = re.compile(r"^#\s+(.+?)\s*$", re.M)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# What a page shows in place of a live widget (the explorer): its controls need a running kernel.
WIDGET_NOTE = (
    '<p class="site-widget-note"><em>An interactive widget is shown here when the notebook runs in JupyterLab. '
    "On this website it cannot run; a saved picture of it follows where the notebook has one "
    "(ui.snapshot()).</em></p>"
)


@dataclass(frozen=True)
class Page:
    """One page of the site: its source in the repository and where it goes in the site (both repo-relative)."""

    source: str
    output: str
    language: str
    title: str = ""

    def depth_prefix(self) -> str:
        """The relative path from this page's folder to the site's root ("" or "../" repeated)."""
        return "../" * (len(PurePosixPath(self.output).parts) - 1)


def find_pages(repo: Path = REPO) -> list[Page]:
    """The site's pages, in table-of-contents order: home, English notebooks, Japanese notebooks, then the guides.

    The guides are docs/*.md, then their Japanese editions docs/ja/*.md, the worked solutions of both editions (the
    repository publishes them anyway, and a self-paced reader of the site needs them as much as one with a clone),
    the references and the glossary.
    """
    pages = [Page("notebooks/start_here.ipynb", "index.html", "en")]
    for folder, language in (("notebooks", "en"), ("notebooks/ja", "ja")):
        for path in sorted((repo / folder).glob("[0-9][0-9]_*.ipynb")):
            source = path.relative_to(repo).as_posix()
            pages.append(Page(source, source.removesuffix(".ipynb") + ".html", language))
    folders = ("docs", "docs/ja", "notebooks/solutions", "notebooks/ja/solutions")
    markdown = [p.relative_to(repo).as_posix() for d in folders for p in sorted((repo / d).glob("*.md"))]
    markdown += [m for m in ("notebooks/references.md", "notebooks/ja/glossary.md") if (repo / m).is_file()]
    for source in markdown:
        language = "ja" if "/ja/" in source else "en"
        pages.append(Page(source, source.removesuffix(".md") + ".html", language))
    return [Page(p.source, p.output, p.language, page_title(repo / p.source)) for p in pages]


def read_notebook(path: Path):
    """The notebook as committed (nbformat node); a Markdown file becomes a notebook of one Markdown cell."""
    import nbformat

    if path.suffix == ".ipynb":
        return nbformat.read(path, as_version=4)
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell(path.read_text(encoding="utf-8")))
    return notebook


def page_title(path: Path) -> str:
    """The page's first level-1 heading (a notebook's first Markdown cell), without Markdown emphasis."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    match = HEADING.search(text)
    if match is None:  # a page without a '# Title' is still built, titled by its file name
        print(f"build_site: {path} has no level-1 heading ('# Title'); its file name is its title", file=sys.stderr)
        return path.stem
    return re.sub(r"[*_`]", "", match.group(1)).strip()


def replace_widgets(notebook) -> int:
    """Replace each live widget's output (it renders as nothing without a kernel) by a note; return how many."""
    replaced = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                output["data"] = {"text/html": WIDGET_NOTE}
                replaced += 1
    return replaced


def table_of_contents(pages: list[Page], current: Page) -> str:
    """The table of contents as HTML, with links relative to ``current`` and the current page marked."""
    prefix = current.depth_prefix()

    def item(page: Page, label: str | None = None) -> str:
        mark = ' aria-current="page"' if page == current else ""
        text = html.escape(label or page.title)
        return f'<li><a href="{prefix}{page.output}"{mark} lang="{page.language}">{text}</a></li>'

    home = pages[0]
    english = [p for p in pages if p.source.endswith(".ipynb") and p.source.startswith("notebooks/0")]
    japanese = [p for p in pages if p.source.startswith("notebooks/ja/") and p.source.endswith(".ipynb")]
    guides = [p for p in pages if p.source.endswith(".md") and "/solutions/" not in p.source]
    solutions = [p for p in pages if "/solutions/" in p.source]
    parts = [f'<p class="site-home"><strong><a href="{prefix}{home.output}">Grad-CAM course</a></strong></p>']
    parts.append("<ul>" + item(home, "Start here / はじめに") + "</ul>")
    for heading, group, tag in (
        ("English edition", english, "ol"),
        ("日本語版", japanese, "ol"),
        ("Guides", guides, "ul"),
    ):
        if group:
            parts.append(f"<h2>{heading}</h2><{tag}>" + "".join(item(p) for p in group) + f"</{tag}>")
    if solutions:  # folded: eighteen entries would bury the course; open on a solutions page
        opened = " open" if "/solutions/" in current.source else ""
        items = "".join(item(p) for p in solutions)
        parts.append(f"<details{opened}><summary>Worked solutions / 解答例</summary><ul>{items}</ul></details>")
    return "\n".join(parts)


def rewrite_links(text: str, page: Page, pages: list[Page], repo: Path = REPO) -> tuple[str, set[str]]:
    """Point the page's relative links at the site: course pages at their ``.html``, other repository files at a copy.

    Returns the new text and the repository files (repo-relative) the site must carry for the links to work, e.g. a
    guide's link to the Makefile or to a solutions file. Links to folders and to missing files are left as they are
    (missing_link_targets() reports them).
    """
    outputs = {p.source: p.output for p in pages}
    source_dir = PurePosixPath(page.source).parent
    output_dir = PurePosixPath(page.output).parent
    copies: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        url = match.group("url")
        if not url or url.startswith(("#", "data:")) or EXTERNAL.match(url):
            return match.group(0)
        path, hash_, anchor = url.partition("#")
        if not path:
            return match.group(0)
        target = os.path.normpath((source_dir / html.unescape(path)).as_posix())
        if target in outputs:
            target_output = outputs[target]
        elif not target.startswith("..") and (repo / target).is_file():
            copies.add(target)
            target_output = target
        else:
            return match.group(0)
        new = os.path.relpath(target_output, output_dir if str(output_dir) != "." else os.curdir)
        return f"{match.group('attr')}{match.group('quote')}{new}{hash_}{anchor}{match.group('quote')}"

    return REFERENCE.sub(replace, text), copies


def outside_references(text: str) -> list[str]:
    """The resources (scripts, styles, pictures, CSS url()) a page would load from outside the site."""
    found = [url for url in LOADED.findall(text) if EXTERNAL.match(url) and not url.startswith("data:")]
    found += [url for url in CSS_URL.findall(text) if EXTERNAL.match(url) and not url.startswith("data:")]
    return found


def missing_link_targets(text: str, page: Page, out: Path, repo: Path = REPO) -> list[str]:
    """Relative links and resources of a written page whose file is not in the site.

    A link to a folder of the repository (e.g. ``solutions/``) is not an error: the site has no folder listings, so
    it is reported on stderr and left as it is.
    """
    missing = []
    for match in REFERENCE.finditer(text):
        url = match.group("url")
        if not url or url.startswith(("#", "data:")) or EXTERNAL.match(url):
            continue
        path = html.unescape(url.partition("#")[0].partition("?")[0])
        if not path or (out / PurePosixPath(page.output).parent / path).exists():
            continue
        if (repo / PurePosixPath(page.source).parent / path).is_dir():
            print(f"build_site: {page.source} links to the folder {url}, which the site does not list", file=sys.stderr)
        else:
            missing.append(url)
    return missing


def mathjax_folder() -> Path:
    """MathJax's folder in the installed `jupyter-server-mathjax` package."""
    spec = importlib.util.find_spec("jupyter_server_mathjax")  # found, not imported: only its files are needed
    if spec is None or spec.origin is None:
        raise SystemExit(f"build_site: the package `jupyter-server-mathjax` is missing.\n{HOW_TO_INSTALL}")
    folder = Path(spec.origin).parent / "static"
    if not (folder / "MathJax.js").is_file():
        raise SystemExit(f"build_site: {folder / 'MathJax.js'} is missing; reinstall it: {HOW_TO_INSTALL}")
    return folder


def build(out: Path, repo: Path = REPO, quiet: bool = False) -> list[Page]:
    """Build the site into ``out`` (emptied first) and return its pages."""
    try:
        from nbconvert import HTMLExporter
    except ImportError as error:
        raise SystemExit(f"build_site: nbconvert is missing ({error}).\n{HOW_TO_INSTALL}") from None

    mathjax = mathjax_folder()
    pages = find_pages(repo)
    if out.exists():
        if out.resolve() in (repo.resolve(), *repo.resolve().parents):
            raise SystemExit(f"build_site: refusing to empty {out}: it holds the repository. Choose another folder.")
        shutil.rmtree(out)
    (out / STATIC).mkdir(parents=True)
    shutil.copytree(mathjax, out / STATIC / "mathjax")
    shutil.copy2(SITE_CSS, out / STATIC / "site.css")

    exporter = HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATES)])
    problems: list[str] = []
    for page in pages:
        started = time.monotonic()
        notebook = read_notebook(repo / page.source)
        notebook.metadata["title"] = page.title
        notebook.metadata.pop("widgets", None)  # the live widgets' state: their manager would come from a CDN
        replace_widgets(notebook)
        prefix = page.depth_prefix()
        exporter.mathjax_url = f"{prefix}{STATIC}/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
        exporter.language_code = page.language
        resources = {"site": {"static": prefix + STATIC, "toc": table_of_contents(pages, page)}}
        body, _ = exporter.from_notebook_node(notebook, resources=resources)
        body, copies = rewrite_links(body, page, pages, repo)
        for copy in sorted(copies):  # a linked repository file (not a page): the site carries it as it is
            (out / copy).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / copy, out / copy)
        problems += [f"{page.source}: loads {url}" for url in outside_references(body)]
        target = out / page.output
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
        if not quiet:
            size = target.stat().st_size / 1e6
            print(f"build_site: {page.output} ({size:.1f} MB, {time.monotonic() - started:.1f} s)", file=sys.stderr)
    for page in pages:
        text = (out / page.output).read_text(encoding="utf-8")
        problems += [
            f"{page.source}: links to {url}, which is not in the site"
            for url in missing_link_targets(text, page, out, repo)
        ]
    if problems:
        raise SystemExit(
            "build_site: the site would not work offline or has broken links:\n  "
            + "\n  ".join(problems)
            + "\nPoint these links at a course page or an https:// address, or add the target to find_pages()."
        )
    return pages


def main(argv: list[str] | None = None) -> int:
    """Command line: build the site into OUT (default _site)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(REPO / "_site"), help="output folder (emptied first)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    out = Path(args.out)
    pages = build(out)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
    print(f"build_site: {len(pages)} pages in {out} ({size:.1f} MB) in {time.monotonic() - started:.1f} s")
    print(f"build_site: open {out / 'index.html'}, or serve it: python -m http.server -d {out} -b 127.0.0.1 8000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
