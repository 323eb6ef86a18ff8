"""The course website's builder (scripts/build_site.py), without a browser: which pages it makes, how it rewrites the
notebooks' links and what it refuses as not offline. The rendered pages are checked in Chromium by
tests/browser/test_site_in_browser.py.

Reference values are written out by hand from the repository's layout (the notebooks' file names, the start page's
links), not computed by the builder.
"""

import os
import re
from pathlib import Path, PurePosixPath

from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]

build_site = load_script("build_site")


def test_the_pages_are_home_both_editions_then_guides():
    pages = build_site.find_pages()
    outputs = [page.output for page in pages]
    assert outputs[0] == "index.html" and pages[0].source == "notebooks/start_here.ipynb"
    english = [o for o in outputs if o.startswith("notebooks/0")]
    japanese = [o for o in outputs if o.startswith("notebooks/ja/0")]
    assert [o.split("/")[-1][:2] for o in english] == [f"{n:02d}" for n in range(1, 10)]
    assert [o.removeprefix("notebooks/ja/") for o in japanese] == [o.removeprefix("notebooks/") for o in english]
    assert outputs.index(english[-1]) < outputs.index(japanese[0])
    assert "notebooks/ja/glossary.html" in outputs
    assert {p.language for p in pages if p.output in japanese} == {"ja"}
    assert pages[1].title == "01 · Why look inside a classifier?"


def test_links_to_course_files_point_at_their_pages_from_any_folder():
    pages = build_site.find_pages()
    home = pages[0]  # notebooks/start_here.ipynb, written at the site's root
    text, copies = build_site.rewrite_links(
        '<a href="ja/01_why_interpretability.ipynb#x">a</a> <a href="https://example.org/">b</a> <a href="#top">c</a>',
        home,
        pages,
    )
    assert text == (
        '<a href="notebooks/ja/01_why_interpretability.html#x">a</a> <a href="https://example.org/">b</a>'
        ' <a href="#top">c</a>'
    )
    assert copies == set()
    glossary = next(p for p in pages if p.output == "notebooks/ja/glossary.html")
    text, copies = build_site.rewrite_links(
        '<a href="../../Makefile">m</a> <a href="../../nope.md">n</a>', glossary, pages
    )
    assert text == '<a href="../../Makefile">m</a> <a href="../../nope.md">n</a>'
    assert copies == {"Makefile"}  # a repository file the site carries; the missing one is left for the check


def test_resources_from_outside_the_site_are_found():
    page = (
        '<script src="https://cdn.example/x.js"></script><img src="data:image/png;base64,AAAA"><a href="https://a.b">'
    )
    css = "<style>@font-face { src: url('//fonts.example/f.woff'); } .x { background: url(local.png) }</style>"
    assert build_site.outside_references(page + css) == ["https://cdn.example/x.js", "//fonts.example/f.woff"]


def test_a_link_to_a_missing_file_is_reported_but_a_folder_is_not(tmp_path):
    pages = build_site.find_pages()
    glossary = next(p for p in pages if p.output == "notebooks/ja/glossary.html")
    (tmp_path / "notebooks" / "ja").mkdir(parents=True)
    (tmp_path / "notebooks" / "ja" / "present.html").write_text("")
    text = '<a href="present.html">1</a> <a href="missing.html">2</a> <a href="solutions/">3</a> <a href="#x">4</a>'
    assert build_site.missing_link_targets(text, glossary, tmp_path) == ["missing.html"]


def test_a_japanese_guide_is_a_page_titled_by_its_heading_and_linked_both_ways():
    """docs/ja/offline.md is published as docs/ja/offline.html, in Japanese, after the English guides; its link to the
    English original and the original's link to it lead to each other's pages; the table of contents lists it."""
    pages = build_site.find_pages()
    outputs = [page.output for page in pages]
    english = next(p for p in pages if p.source == "docs/offline.md")
    japanese = next(p for p in pages if p.source == "docs/ja/offline.md")
    assert (japanese.output, japanese.language) == ("docs/ja/offline.html", "ja")
    assert japanese.title == "インターネットのない実習室で"  # the file's '# ' heading, copied by hand
    assert outputs.index(english.output) < outputs.index(japanese.output) < outputs.index("notebooks/references.html")

    text, copies = build_site.rewrite_links(
        '<a href="../offline.md#targets">e</a> <a href="../../Makefile">m</a>', japanese, pages
    )
    assert text == '<a href="../offline.html#targets">e</a> <a href="../../Makefile">m</a>'
    assert copies == {"Makefile"}
    assert build_site.rewrite_links('<a href="ja/offline.md">ja</a>', english, pages)[0] == (
        '<a href="ja/offline.html">ja</a>'
    )
    # The guides' own links, as <a href> the way nbconvert writes them: each lands on a page of the site.
    for page in (english, japanese):
        urls = re.findall(r"\]\(([^)\s]+)\)", (ROOT / page.source).read_text(encoding="utf-8"))
        assert urls, f"{page.source} has no link"
        text, copies = build_site.rewrite_links("".join(f'<a href="{url}">x</a>' for url in urls), page, pages)
        folder = PurePosixPath(page.output).parent
        landed = [os.path.normpath(folder / href) for href in re.findall(r'href="([^"#]+)', text)]
        assert set(landed) <= set(outputs) | copies, (page.source, landed)

    toc = build_site.table_of_contents(pages, japanese)
    assert '<a href="../../docs/ja/offline.html" aria-current="page" lang="ja">インターネットのない実習室で</a>' in toc
    assert '<a href="docs/ja/offline.html" lang="ja">' in build_site.table_of_contents(pages, pages[0])


def test_worked_solutions_are_pages_of_both_editions_folded_in_the_contents():
    pages = build_site.find_pages()
    by_source = {p.source: p for p in pages}
    for number_and_name in ("01_why_interpretability", "09_capstone"):
        english = by_source[f"notebooks/solutions/{number_and_name}.md"]
        japanese = by_source[f"notebooks/ja/solutions/{number_and_name}.md"]
        assert english.output == f"notebooks/solutions/{number_and_name}.html" and english.language == "en"
        assert japanese.output == f"notebooks/ja/solutions/{number_and_name}.html" and japanese.language == "ja"
    assert by_source["notebooks/solutions/01_why_interpretability.md"].title.startswith("Solutions · 01")
    assert by_source["notebooks/ja/solutions/01_why_interpretability.md"].title.startswith("解答例 · 01")
    # The guide's link to a solutions file now lands on its page, not on a raw Markdown copy.
    guide = by_source["docs/instructor.md"]
    text, copies = build_site.rewrite_links(
        '<a href="../notebooks/solutions/05_interactive_explorer.md">s</a>', guide, pages
    )
    assert 'href="../notebooks/solutions/05_interactive_explorer.html"' in text and not copies
    # In the contents: inside a <details> group, closed on a notebook's page, open on a solutions page.
    notebook = by_source["notebooks/01_why_interpretability.ipynb"]
    closed = build_site.table_of_contents(pages, notebook)
    opened = build_site.table_of_contents(pages, by_source["notebooks/solutions/09_capstone.md"])
    group = re.search(r"<details( open)?><summary>Worked solutions / 解答例</summary>(.*?)</details>", closed, re.S)
    assert group is not None and group.group(1) is None
    assert group.group(2).count("<li>") == 18
    assert "<details open><summary>" in opened
