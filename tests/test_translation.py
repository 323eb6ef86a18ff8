"""The Japanese edition (notebooks/ja/) in sync with the English one: same code, every markdown cell translated.

notebooks/ja/NN_name.ipynb is built by `scripts/build_notebooks.py --lang ja NN_name` from the English source and
notebooks/ja/translation/NN_name.md (format: the script's docstring). These tests read the committed notebooks and
check them by routes of their own: the code against the committed *English notebook*, token by token with Python's
tokenize (not the script's text substitution), and each translation's tag against a SHA-256 computed here from the
English notebook's markdown. Each check is a function returning the problems it finds, so the tests below can show it
failing on a deliberately broken copy. strict nbval (`make test` collects notebooks/ recursively) runs the notebooks.
"""

import asyncio
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupytext.config import load_jupytext_config
from test_notebooks_meta import build_notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
JA = NOTEBOOKS / "ja"
TRANSLATIONS = JA / "translation"
SETUP = 'import gradcam_utils as gc\ngc.set_language("ja")'
ENGLISH = sorted(p.stem for p in (NOTEBOOKS / "src").glob("[0-9][0-9]_*.py"))
TRANSLATED = sorted(p.stem for p in TRANSLATIONS.glob("[0-9][0-9]_*.md"))
# The notebooks without a Japanese edition yet: the gap, in one place. Translate one (notebooks/ja/README.md), build
# it, and remove it from this list; a notebook both listed and translated fails test_the_untranslated_list_is_exact.
UNTRANSLATED: list[str] = []
# Share of Japanese characters among Japanese characters and the letters of lowercase Latin words, per markdown cell,
# after removing code, math, quoted titles and URLs. Names and acronyms (Grad-CAM, Selvaraju, ICCV) are capitalised
# and not counted. Notebook 01's cells score 0.80 and more, their English originals 0.00.
JAPANESE_SHARE = 0.6


def tag(markdown: str) -> str:
    """The tag of an English markdown cell, computed here: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(markdown.strip().encode()).hexdigest()[:8]


def cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def tokens(code: str) -> list[tuple[int, str]]:
    """Each token's type and text, an f-string as one STRING token (Python 3.12+ splits it into parts, 3.11 not)."""
    lines, result, depth, start = code.splitlines(keepends=True), [], 0, (0, 0)
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        kind = tokenize.tok_name[token.type]
        if kind == "FSTRING_START":
            depth, start = depth + 1, start if depth else token.start
        elif kind == "FSTRING_END" and depth == 1:
            (first, column), (last, end) = start, token.end
            text = "".join(lines[first - 1 : last])[column : len("".join(lines[first - 1 : last - 1])) + end]
            result.append((tokenize.STRING, text))
            depth = 0
        elif kind == "FSTRING_END":
            depth -= 1
        elif depth == 0:
            result.append((token.type, token.string))
    return result


def code_problems(english: Path, japanese: Path, strings: dict[str, str]) -> list[str]:
    """Where the Japanese notebook's code differs from the English notebook's other than by the setup cell and the
    translated literals (each token compared; a string token may differ only by its pair in ``strings``)."""
    en, ja = cells(english), cells(japanese)
    if not ja or ja[0].cell_type != "code" or ja[0].source != SETUP:
        return [f"{japanese.name}: the first cell is not the setup cell {SETUP!r}: rebuild it"]
    if [c.cell_type for c in en] != [c.cell_type for c in ja[1:]]:
        return [f"{japanese.name}: its cells are not the English notebook's cells after the setup cell: rebuild it"]
    problems = []
    for index, (en_cell, ja_cell) in enumerate(zip(en, ja[1:], strict=True), start=1):
        if en_cell.cell_type != "code":
            continue
        en_tokens, ja_tokens = tokens(en_cell.source), tokens(ja_cell.source)
        same = len(en_tokens) == len(ja_tokens) and all(
            e == j or (e[0] == j[0] == tokenize.STRING and strings.get(e[1]) == j[1])
            for e, j in zip(en_tokens, ja_tokens, strict=True)
        )
        if not same or en_cell.metadata.get("tags") != ja_cell.metadata.get("tags"):
            problems.append(f"{japanese.name}: cell {index} differs from the English one beyond its literals")
    return problems


def markdown_problems(english: Path, japanese: Path, translation: Path) -> list[str]:
    """Markdown cells missing, extra, stale (the English changed since it was translated) or not built."""
    name = english.stem
    en_markdown = [c.source for c in cells(english) if c.cell_type == "markdown"]
    ja_markdown = [c.source for c in cells(japanese) if c.cell_type == "markdown"]
    translated, _ = build_notebooks.read_translation(translation)
    if len(translated) != len(en_markdown):
        return [f"{name}: {len(en_markdown)} English markdown cells, {len(translated)} translated: add or remove one"]
    problems = [
        f"markdown cell {number} of {name} changed in English since it was translated: update its translation"
        for number, (source, (translated_tag, _)) in enumerate(zip(en_markdown, translated, strict=True))
        if tag(source) != translated_tag
    ]
    if ja_markdown != [text for _, text in translated]:
        problems.append(f"{japanese.name}: its markdown is not its translation's: rebuild it")
    return problems


def unused_literals(english: Path, translation: Path) -> list[str]:
    """The English literals of a translation that no longer occur as a string token of the English code."""
    code = {t for c in cells(english) if c.cell_type == "code" for k, t in tokens(c.source) if k == tokenize.STRING}
    _, strings = build_notebooks.read_translation(translation)
    return [
        f"{literal} no longer occurs in the English code of {english.stem}"
        for literal in strings
        if literal not in code
    ]


def japanese_share(markdown: str) -> float:
    text = re.sub(r"```.*?```|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|https?://\S+|\"[^\"]*\"", "", markdown, flags=re.S)
    japanese = len(re.findall(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]", text))
    latin = sum(len(word) for word in re.findall(r"(?<![A-Za-z])[a-z]+(?![A-Za-z])", text))
    return japanese / (japanese + latin) if japanese + latin else 1.0


def english_cells(japanese: Path) -> list[str]:
    """The markdown cells of a Japanese notebook that read as English (too few Japanese characters)."""
    return [
        f"{japanese.name}, cell {index}: {japanese_share(c.source):.0%} Japanese: {c.source[:60]!r}"
        for index, c in enumerate(cells(japanese))
        if c.cell_type == "markdown" and japanese_share(c.source) < JAPANESE_SHARE
    ]


def glossary(path: Path = JA / "glossary.md") -> dict[str, str]:
    """English -> Japanese, from the glossary's table rows (``| English | 日本語 | notes |``)."""
    rows = [line.split("|")[1:3] for line in path.read_text().splitlines() if re.match(r"\| [a-z]", line)]
    return {english.strip(): japanese.strip() for english, japanese in rows}


def glossary_problems(translation: Path, terms: dict[str, str]) -> list[str]:
    """Each "日本語（English）" of a translation whose English is a glossary term must use the glossary's Japanese."""
    text = "\n".join(markdown for _, markdown in build_notebooks.read_translation(translation)[0])
    return [
        f"{translation.stem}: '{found.group(0)}' should read '{terms[found.group(2)]}（{found.group(2)}）' (glossary)"
        for found in re.finditer(r"(\S*)（([A-Za-z][A-Za-z -]*)）", text)
        if found.group(2) in terms and not found.group(1).endswith(terms[found.group(2)])
    ]


def gap_problems(english: list[str], translated: list[str], listed: list[str]) -> list[str]:
    return (
        [f"{n} is listed as untranslated but has a translation" for n in listed if n in translated]
        + [
            f"{n} has neither a translation nor a place in UNTRANSLATED"
            for n in english
            if n not in translated and n not in listed
        ]
        + [f"{n} is listed but is no notebook of the course" for n in listed if n not in english]
    )


def paths(name: str) -> tuple[Path, Path, Path]:
    return NOTEBOOKS / f"{name}.ipynb", JA / f"{name}.ipynb", TRANSLATIONS / f"{name}.md"


def broken_copy(path: Path, tmp_path: Path, edit) -> Path:
    """A copy of a notebook in tmp_path with ``edit(cells)`` applied."""
    notebook = nbformat.read(path, as_version=4)
    edit(notebook.cells)
    copy = tmp_path / path.name
    nbformat.write(notebook, copy)
    return copy


@pytest.mark.parametrize("name", TRANSLATED)
def test_the_japanese_code_is_the_english_code_with_translated_literals(name):
    english, japanese, translation = paths(name)
    assert code_problems(english, japanese, build_notebooks.read_translation(translation)[1]) == []


@pytest.mark.parametrize("name", TRANSLATED)
def test_every_english_markdown_cell_has_its_current_translation(name):
    assert markdown_problems(*paths(name)) == []


@pytest.mark.parametrize("name", TRANSLATED)
def test_every_translated_literal_occurs_in_the_english_code(name):
    english, _, translation = paths(name)
    assert unused_literals(english, translation) == []


@pytest.mark.parametrize("name", TRANSLATED)
def test_the_japanese_markdown_is_japanese(name):
    assert english_cells(paths(name)[1]) == []


@pytest.mark.parametrize("name", TRANSLATED)
def test_the_japanese_notebook_is_committed_executed_and_clean(name):
    """As test_notebooks_meta asks of the English notebooks: one fresh run, no stderr (no missing-glyph warning),
    no error, no path of the machine, only the build's metadata."""
    notebook = nbformat.read(paths(name)[1], as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), f"rebuild {name} (--lang ja)"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    assert not re.search(r"/(root|work|tmp|home|Users)/", json.dumps(outputs)), "an output shows a path"
    assert set(notebook.metadata) == {"kernelspec", "language_info"}
    assert all(set(c.metadata) <= {"tags"} for c in notebook.cells)


def test_the_glossary_has_the_course_terms():
    terms = glossary()
    required = ["gradient", "feature map", "logit", "global average pooling", "counterfactual", "saliency map"]
    required += ["pointing game", "energy", "sanity check", "faithfulness", "occlusion", "token", "class token"]
    required += ["segmentation", "multi-label"]
    assert len(terms) >= 30 and not [term for term in required if term not in terms]


@pytest.mark.parametrize("name", TRANSLATED)
def test_the_translation_uses_the_glossary_terms(name):
    assert glossary_problems(paths(name)[2], glossary()) == []


def test_the_untranslated_list_is_exact():
    assert gap_problems(ENGLISH, TRANSLATED, UNTRANSLATED) == []
    assert TRANSLATED, "no notebook has a Japanese edition"


# The checks above can fail: each is shown a deliberately broken copy.


def test_a_changed_code_cell_or_a_missing_setup_cell_is_named(tmp_path):
    english, japanese, translation = paths("01_why_interpretability")
    strings = build_notebooks.read_translation(translation)[1]

    def change_code(notebook_cells):
        assert "seed=2025" in notebook_cells[4].source
        notebook_cells[4].source = notebook_cells[4].source.replace("seed=2025", "seed=2026")

    assert code_problems(english, broken_copy(japanese, tmp_path, change_code), strings) == [
        "01_why_interpretability.ipynb: cell 4 differs from the English one beyond its literals"
    ]
    assert "setup cell" in code_problems(english, broken_copy(japanese, tmp_path, lambda c: c.pop(0)), strings)[0]
    untranslated = {k: v for k, v in strings.items() if k != '"clean"'}
    assert code_problems(english, japanese, untranslated) == [
        "01_why_interpretability.ipynb: cell 6 differs from the English one beyond its literals"
    ]


def test_a_missing_or_extra_markdown_cell_is_named(tmp_path):
    english, japanese, translation = paths("01_why_interpretability")
    fewer = tmp_path / translation.name
    text = translation.read_text()
    fewer.write_text(re.sub(r"<!-- markdown en=607c02e0 -->\n.*?\n\n", "", text, count=1, flags=re.S))
    assert markdown_problems(english, japanese, fewer) == [
        "01_why_interpretability: 11 English markdown cells, 10 translated: add or remove one"
    ]
    extra = broken_copy(japanese, tmp_path, lambda c: c.append(nbformat.v4.new_markdown_cell("追加のセルです。")))
    assert markdown_problems(english, extra, translation) == [
        "01_why_interpretability.ipynb: its markdown is not its translation's: rebuild it"
    ]


def test_a_translation_whose_english_changed_is_named(tmp_path):
    english, japanese, translation = paths("01_why_interpretability")
    (tmp_path / "en").mkdir()

    def edit_english(notebook_cells):
        markdown = [c for c in notebook_cells if c.cell_type == "markdown"]
        markdown[7].source = markdown[7].source.replace("fallback", "default answer")

    changed = broken_copy(english, tmp_path / "en", edit_english)
    assert markdown_problems(changed, japanese, translation) == [
        "markdown cell 7 of 01_why_interpretability changed in English since it was translated: update its translation"
    ]


def test_the_build_refuses_a_stale_tag_or_an_unused_literal(tmp_path):
    translation = paths("01_why_interpretability")[2]
    text = translation.read_text()
    stale, unused = tmp_path / "stale.md", tmp_path / "unused.md"
    stale.write_text(text.replace("<!-- markdown en=102111eb -->", "<!-- markdown en=00000000 -->"))
    unused.write_text(text + 'en: "no such sentence"\nja: "そんな文はありません"\n')
    with pytest.raises(ValueError, match=r"markdown cell 7 \(English notebook cell 14, tag 102111eb\) changed"):
        build_notebooks.japanese_cells("01_why_interpretability", stale)
    with pytest.raises(ValueError, match=r'"no such sentence"; update or remove'):
        build_notebooks.japanese_cells("01_why_interpretability", unused)


def test_a_literal_the_english_code_no_longer_has_is_named(tmp_path):
    english, _, translation = paths("01_why_interpretability")
    copy = tmp_path / translation.name
    copy.write_text(translation.read_text() + 'en: "no such sentence"\nja: "そんな文はありません"\n')
    assert unused_literals(english, copy) == [
        '"no such sentence" no longer occurs in the English code of ' + english.stem
    ]


def test_english_left_in_the_japanese_markdown_is_named(tmp_path):
    english, japanese = paths("01_why_interpretability")[:2]
    english_markdown = [c.source for c in cells(english) if c.cell_type == "markdown"]
    assert max(japanese_share(source) for source in english_markdown) < 0.2

    def leave_one_in_english(notebook_cells):
        notebook_cells[11].source = english_markdown[5]

    problems = english_cells(broken_copy(japanese, tmp_path, leave_one_in_english))
    assert len(problems) == 1 and problems[0].startswith("01_why_interpretability.ipynb, cell 11: 0% Japanese")


def test_a_term_translated_against_the_glossary_is_named(tmp_path):
    translation = paths("01_why_interpretability")[2]
    assert "ロジット（logit）" in translation.read_text()
    copy = tmp_path / translation.name
    copy.write_text(translation.read_text().replace("ロジット（logit）", "対数オッズ（logit）"))
    assert glossary_problems(copy, glossary()) == [
        "01_why_interpretability: '*対数オッズ（logit）' should read 'ロジット（logit）' (glossary)"
    ]


def test_the_gap_check_names_a_notebook_listed_and_translated_or_neither():
    assert gap_problems(["01_a", "02_b"], ["01_a"], ["01_a", "02_b"]) == [
        "01_a is listed as untranslated but has a translation"
    ]
    assert gap_problems(["01_a", "02_b"], ["01_a"], []) == [
        "02_b has neither a translation nor a place in UNTRANSLATED"
    ]
    assert gap_problems(["01_a"], ["01_a"], ["03_c"]) == ["03_c is listed but is no notebook of the course"]


def test_literals_are_replaced_as_tokens_not_as_text():
    code = 'x = "a"  # "a" in a comment\ny = "ab" + \'a\' + f"a{x}"\nprint("a",\n      "a")\n'
    replaced, found = build_notebooks.substitute_strings(code, {'"a"': '"あ"', '"unused"': '"x"'})
    assert replaced == 'x = "あ"  # "a" in a comment\ny = "ab" + \'a\' + f"a{x}"\nprint("あ",\n      "あ")\n'
    assert found == {'"a"'}


def test_an_f_string_split_into_parts_as_python_3_12_tokenizes_it_is_one_literal(monkeypatch):
    """From Python 3.12 the tokenizer splits f"a{b}c" into FSTRING_START, parts and FSTRING_END (PEP 701); the build
    joins them into one literal. Fed that token stream by hand (this environment runs 3.11), it finds both literals."""
    code = 'x = f"a{b}c" + "d"\n'
    start, middle, end = 1001, 1002, 1003

    def split_like_3_12(readline):
        line = readline()
        for kind, text, first, last in [
            (tokenize.NAME, "x", 0, 1), (tokenize.OP, "=", 2, 3), (start, 'f"', 4, 6), (middle, "a", 6, 7),
            (tokenize.OP, "{", 7, 8), (tokenize.NAME, "b", 8, 9), (tokenize.OP, "}", 9, 10), (middle, "c", 10, 11),
            (end, '"', 11, 12), (tokenize.OP, "+", 13, 14), (tokenize.STRING, '"d"', 15, 18),
        ]:  # fmt: skip
            yield tokenize.TokenInfo(kind, text, (1, first), (1, last), line)

    monkeypatch.setattr(build_notebooks, "FSTRING_START", start)
    monkeypatch.setattr(build_notebooks, "FSTRING_END", end)
    monkeypatch.setattr(build_notebooks.tokenize, "generate_tokens", split_like_3_12)
    assert [t.string for t in build_notebooks.string_tokens(code)] == ['f"a{b}c"', '"d"']
    replaced, _ = build_notebooks.substitute_strings(code, {'f"a{b}c"': 'f"あ{b}"'})
    assert replaced == 'x = f"あ{b}" + "d"\n'


def test_a_translation_line_that_is_not_one_literal_is_refused(tmp_path):
    broken = tmp_path / "broken.md"
    broken.write_text('<!-- markdown en=00000000 -->\nテキスト\n\n<!-- strings -->\nen: "a" + "b"\nja: "c"\n')
    with pytest.raises(ValueError, match="line 5: expected one Python string literal"):
        build_notebooks.read_translation(broken)


def copy_layout(tmp_path: Path, with_ja_config: bool) -> Path:
    """notebooks/jupytext.toml, and notebooks/ja/ with notebook 01 (and its jupytext.toml or not), in tmp_path."""
    shutil.copy(NOTEBOOKS / "jupytext.toml", tmp_path / "jupytext.toml")
    (tmp_path / "ja").mkdir()
    shutil.copy(JA / "01_why_interpretability.ipynb", tmp_path / "ja")
    if with_ja_config:
        shutil.copy(JA / "jupytext.toml", tmp_path / "ja")
    return tmp_path / "ja"


@pytest.mark.parametrize("with_ja_config", [True, False], ids=["as committed", "without notebooks/ja/jupytext.toml"])
def test_saving_a_japanese_notebook_in_jupyterlab_writes_no_code_source(tmp_path, with_ja_config):
    """JupyterLab's jupytext contents manager saves an edited Japanese notebook: with notebooks/ja/jupytext.toml the
    notebook alone is written; without it, notebooks/jupytext.toml would pair it with a full-code src/NN_name.py."""
    folder = copy_layout(tmp_path, with_ja_config)
    manager = jupytext.AsyncTextFileContentsManager(root_dir=str(tmp_path))
    model = asyncio.run(manager.get("ja/01_why_interpretability.ipynb"))
    model["content"].cells[1].source += "\nprint('edited')"
    asyncio.run(manager.save(model, "ja/01_why_interpretability.ipynb"))
    written = sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts
    )
    expected = ["01_why_interpretability.ipynb", "jupytext.toml"]
    assert written == (expected if with_ja_config else [*expected[:1], "src/01_why_interpretability.py"])
    assert "print('edited')" in nbformat.read(folder / "01_why_interpretability.ipynb", as_version=4).cells[1].source
    assert load_jupytext_config(str(JA / "01_why_interpretability.ipynb")).formats == ["ipynb"]


def test_make_test_collects_the_japanese_notebooks_under_nbval():
    """`make test` passes notebooks/ to pytest with --nbval: the Japanese notebooks must be among what it collects."""
    listing = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "notebooks",
            "--nbval",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    for name in TRANSLATED:
        assert f"notebooks/ja/{name}.ipynb::Cell 0" in listing, listing[-2000:]


def test_a_template_carries_the_current_tags_and_refuses_nothing(tmp_path):
    """`--template` starts a translation: the English cells under tags that match (computed here), no literal pair
    active; it builds as is (the English text in place), so a translator replaces text, never a tag."""
    name = "02_the_gradient_math"
    started = tmp_path / f"{name}.md"
    started.write_text(build_notebooks.template(name))
    translated, strings = build_notebooks.read_translation(started)
    english = [c.source for c in cells(NOTEBOOKS / f"{name}.ipynb") if c.cell_type == "markdown"]
    assert [t for t, _ in translated] == [tag(source) for source in english] and strings == {}
    assert [c.source for c in build_notebooks.japanese_cells(name, started) if c.cell_type == "markdown"] == english
    assert english_cells(NOTEBOOKS / f"{name}.ipynb"), "an untranslated template must read as English"


def test_the_build_names_a_notebook_without_translation(capsys, tmp_path, monkeypatch):
    # An empty translations folder: whichever notebooks are translated by now, this one has none here, and the build
    # stops before it runs anything (so the test never rewrites a committed notebook).
    monkeypatch.setattr(build_notebooks, "TRANSLATIONS", tmp_path)
    with pytest.raises(SystemExit):
        build_notebooks.main(["--lang", "ja", "02_the_gradient_math"])
    assert (
        "no translation notebooks/ja/translation/NAME.md for 02_the_gradient_math; start one" in capsys.readouterr().err
    )
