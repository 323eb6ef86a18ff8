"""The Japanese worked solutions (notebooks/ja/solutions/) in sync with the English ones (notebooks/solutions/).

tests/test_exercises.py runs the English solutions' code blocks against the exercise checks; it never runs the
Japanese files. These tests make that run cover them: each Japanese code block must equal its English block token by
token (Python's tokenize), comments excepted, since a Japanese file may translate the comments a learner reads. Around
the code, the same exercises in the same order, and prose that reads as Japanese (the share of notebook translations,
tests/test_translation.py) with the glossary's terms. Each check is a function returning the problems it finds, so the
tests at the end can show it failing on a deliberately broken copy.
"""

import io
import re
import shutil
import tokenize
from pathlib import Path

import pytest
from test_translation import JAPANESE_SHARE, glossary, japanese_share

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = ROOT / "notebooks" / "solutions"
JAPANESE = ROOT / "notebooks" / "ja" / "solutions"
TRANSLATIONS = ROOT / "notebooks" / "ja" / "translation"
NAMES = sorted(p.name for p in ENGLISH.glob("[0-9][0-9]_*.md"))
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)  # as tests/test_exercises.py finds the blocks it runs
FENCED = re.compile(r"```.*?```", re.S)
EXERCISE = {"en": re.compile(r"^## Exercise (\d+)\b", re.M), "ja": re.compile(r"^## 演習 (\d+)(?!\d)", re.M)}
TERM_IN_PARENTHESES = re.compile(r"(\S*)（([A-Za-z][A-Za-z -]*)）")


def missing_files(english: Path, japanese: Path) -> list[str]:
    en = {p.name for p in english.glob("[0-9][0-9]_*.md")}
    ja = {p.name for p in japanese.glob("[0-9][0-9]_*.md")}
    return [f"{name}: no Japanese solutions" for name in sorted(en - ja)] + [
        f"{name}: Japanese solutions without an English original" for name in sorted(ja - en)
    ]


def heading_problems(english: Path, japanese: Path) -> list[str]:
    """The title ("# 解答例 · " + the Japanese notebook's title) and the exercises ("## 演習 N" for each
    "## Exercise N", in order)."""
    problems, text = [], japanese.read_text()
    translation = TRANSLATIONS / japanese.name
    if translation.is_file():  # the Japanese notebook's own title, from its translation's first markdown block
        title = "# 解答例 · " + re.search(r"^# (.*)$", translation.read_text(), re.M).group(1)
        if text.splitlines()[0] != title:
            problems.append(f"{japanese.name}: the first line should be {title!r}")
    elif not text.startswith(prefix := f"# 解答例 · {japanese.name[:2]} · "):
        problems.append(f"{japanese.name}: the first line should start with {prefix!r}")
    en = EXERCISE["en"].findall(english.read_text())
    ja = EXERCISE["ja"].findall(japanese.read_text())
    if en != ja:
        problems.append(f"{japanese.name}: exercises {ja} where the English has {en}")
    return problems


def code_tokens(block: str) -> list[tuple[int, str]]:
    """The tokens that make the code: comments and non-logical line breaks dropped."""
    drop = {tokenize.COMMENT, tokenize.NL}
    return [(t.type, t.string) for t in tokenize.generate_tokens(io.StringIO(block).readline) if t.type not in drop]


def code_problems(english: Path, japanese: Path) -> list[str]:
    en = PYTHON_BLOCK.findall(english.read_text())
    ja = PYTHON_BLOCK.findall(japanese.read_text())
    if len(en) != len(ja):
        return [f"{japanese.name}: {len(ja)} code blocks, the English has {len(en)}"]
    return [
        f"{japanese.name}: code block {number} differs from the English one (comments aside)"
        for number, (e, j) in enumerate(zip(en, ja, strict=True), start=1)
        if code_tokens(e) != code_tokens(j)
    ]


def paragraphs(path: Path) -> list[str]:
    """The prose: each paragraph outside the fenced code blocks (inline code and math go in japanese_share)."""
    text = FENCED.sub("\n\n", path.read_text())
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def english_paragraphs(japanese: Path) -> list[str]:
    return [
        f"{japanese.name}: {japanese_share(p):.0%} Japanese: {p[:60]!r}"
        for p in paragraphs(japanese)
        if japanese_share(p) < JAPANESE_SHARE
    ]


def glossary_problems(japanese: Path, terms: dict[str, str]) -> list[str]:
    """Each "日本語（English）" whose English is a glossary term must use the glossary's Japanese."""
    prose = "\n\n".join(paragraphs(japanese))
    return [
        f"{japanese.name}: '{found.group(0)}' should read '{terms[found.group(2)]}（{found.group(2)}）' (glossary)"
        for found in TERM_IN_PARENTHESES.finditer(prose)
        if found.group(2) in terms and not found.group(1).endswith(terms[found.group(2)])
    ]


def test_every_english_solutions_file_has_a_japanese_one_and_no_more():
    assert NAMES and missing_files(ENGLISH, JAPANESE) == []


@pytest.mark.parametrize("name", NAMES)
def test_the_same_exercises_in_the_same_order(name):
    assert heading_problems(ENGLISH / name, JAPANESE / name) == []


@pytest.mark.parametrize("name", NAMES)
def test_the_code_is_the_english_code_comments_aside(name):
    assert code_problems(ENGLISH / name, JAPANESE / name) == []


@pytest.mark.parametrize("name", NAMES)
def test_the_prose_is_japanese(name):
    assert english_paragraphs(JAPANESE / name) == []


@pytest.mark.parametrize("name", NAMES)
def test_the_prose_uses_the_glossary_terms(name):
    assert glossary_problems(JAPANESE / name, glossary()) == []


# The checks above can fail: each is shown a deliberately broken copy.


def broken_copy(name: str, tmp_path: Path, edit) -> Path:
    """A copy of a Japanese solutions file in tmp_path with ``edit(text)`` applied (the edit must change it)."""
    text = (JAPANESE / name).read_text()
    changed = edit(text)
    assert changed != text, "the edit found nothing to break"
    copy = tmp_path / name
    copy.write_text(changed)
    return copy


def test_a_missing_or_extra_file_is_named(tmp_path):
    english, japanese = tmp_path / "en", tmp_path / "ja"
    english.mkdir()
    japanese.mkdir()
    for name in NAMES[:2]:
        shutil.copy(ENGLISH / name, english)
    shutil.copy(JAPANESE / NAMES[0], japanese)
    (japanese / "99_extra.md").write_text("# 解答例 · 99 · 余分なファイル\n")
    assert missing_files(english, japanese) == [
        f"{NAMES[1]}: no Japanese solutions",
        "99_extra.md: Japanese solutions without an English original",
    ]


def test_a_missing_or_moved_exercise_heading_is_named(tmp_path):
    name = "03_gradcam_on_a_real_network.md"
    missing = broken_copy(name, tmp_path, lambda t: t.replace("## 演習 2\n", ""))
    assert heading_problems(ENGLISH / name, missing) == [
        f"{name}: exercises ['1', '3'] where the English has ['1', '2', '3']"
    ]
    swapped = broken_copy(
        name, tmp_path, lambda t: t.replace("## 演習 2", "## 演習 X").replace("## 演習 3", "## 演習 2")
    )
    swapped.write_text(swapped.read_text().replace("## 演習 X", "## 演習 3"))
    assert heading_problems(ENGLISH / name, swapped) == [
        f"{name}: exercises ['1', '3', '2'] where the English has ['1', '2', '3']"
    ]
    untitled = broken_copy(name, tmp_path, lambda t: t.replace("# 解答例 · 03 · ", "# Solutions · 03 · ", 1))
    assert heading_problems(ENGLISH / name, untitled) == [
        f"{name}: the first line should be '# 解答例 · 03 · 実際の ImageNet ネットワークで Grad-CAM: 記事のレシピ'"
    ]


def test_a_changed_token_or_a_missing_block_is_named_but_a_translated_comment_is_not(tmp_path):
    name = "01_why_interpretability.md"
    changed = broken_copy(name, tmp_path, lambda t: t.replace("seed=11", "seed=12"))
    assert code_problems(ENGLISH / name, changed) == [
        f"{name}: code block 2 differs from the English one (comments aside)"
    ]
    fewer = broken_copy(name, tmp_path, lambda t: PYTHON_BLOCK.sub("", t, count=1))
    assert code_problems(ENGLISH / name, fewer) == [f"{name}: 1 code blocks, the English has 2"]
    # A translated comment is allowed: 03's comment reads "# 第 5 節から" where the English reads "# from section 5".
    name = "03_gradcam_on_a_real_network.md"
    assert "# from section 5" in (ENGLISH / name).read_text() and "# 第 5 節から" in (JAPANESE / name).read_text()
    assert code_problems(ENGLISH / name, JAPANESE / name) == []
    # ... but a comment's marker is no licence to change what it follows.
    moved = broken_copy(name, tmp_path, lambda t: t.replace("photos[2:3]  # 第 5 節から", "photos[1:2]  # 第 5 節から"))
    assert code_problems(ENGLISH / name, moved) == [
        f"{name}: code block 2 differs from the English one (comments aside)"
    ]


def test_an_untranslated_english_paragraph_is_named(tmp_path):
    name = "06_applications.md"
    english = paragraphs(ENGLISH / name)
    japanese = paragraphs(JAPANESE / name)
    assert japanese_share(english[3]) < 0.2 and japanese_share(japanese[3]) > 0.8
    one_left = broken_copy(name, tmp_path, lambda t: t.replace(japanese[3], english[3]))
    problems = english_paragraphs(one_left)
    assert len(problems) == 1 and problems[0].startswith(f"{name}: 0% Japanese: '## Exercise 2\\nThe marker now")


def test_a_term_translated_against_the_glossary_is_named(tmp_path):
    name = "03_gradcam_on_a_real_network.md"
    copy = broken_copy(name, tmp_path, lambda t: t.replace("ロジット（logit）", "対数オッズ（logit）"))
    assert glossary_problems(copy, glossary()) == [
        f"{name}: 'は対数オッズ（logit）' should read 'ロジット（logit）' (glossary)"
    ]
