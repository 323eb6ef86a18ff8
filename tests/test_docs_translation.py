"""The Japanese guides in docs/ja/ in sync with their English originals in docs/.

A guide is prose for an instructor, so it is not compared sentence by sentence. What must not drift is what a reader
types or relies on: every command line of the English's code blocks (its `#` comment may be translated) appears in a
code block of the Japanese, every number of the English's prose appears in the Japanese prose, and the Japanese
prose has no number the English lacks (a typo like 579 MiB for 759 MiB), except the few a translation spells in
digits where English uses a word (EXTRA_NUMBERS). Besides: each paragraph reads as Japanese, a term written
"日本語（English）" uses notebooks/ja/glossary.md's Japanese, every relative link resolves, a link to an English guide
that has a Japanese edition points at that edition, and the two files link each other at the top.

The reference values are the English file itself, read by this file's own parsing (code blocks, numbers, links),
never the translation's. Each check is a function returning the problems it finds, so the tests below show it failing
on a deliberately broken copy.

To add a translated guide: write docs/ja/NAME.md (terms from notebooks/ja/glossary.md; commands, paths, file names
and numbers exactly as in docs/NAME.md), add NAME.md to TRANSLATED, and run this file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_translation import JAPANESE_SHARE, glossary, japanese_share

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
JA = DOCS / "ja"
# The guides whose Japanese edition these tests hold to the English one.
TRANSLATED = ["instructor.md", "offline.md"]
# Numbers the Japanese may add, per guide, and why: Japanese writes counts in digits ("6 つ") where English spells a
# word ("all six", "four runs").
EXTRA_NUMBERS = {"offline.md": {"4": "four runs", "6": "all six (targets, checks)"}}

FENCE = re.compile(r"^ {0,3}(```|~~~)")
NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)*")
LINK = re.compile(r"\]\(([^)\s]+)\)")
TERM_IN_PARENTHESES = re.compile(r"(\S*)（([A-Za-z][A-Za-z -]*)）")


def split(text: str) -> tuple[list[str], str]:
    """The lines of the Markdown's code blocks (fenced, or indented by 4 spaces after a blank line) and the prose.

    A table row or list item continued with indentation is not a code block: an indented block must follow a blank
    line or another code line.
    """
    code: list[str] = []
    prose: list[str] = []
    fenced = False
    previous_blank = True
    in_indented = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            previous_blank = False
            continue
        if fenced:
            code.append(line)
        elif line.startswith("    ") and line.strip() and (previous_blank or in_indented):
            code.append(line[4:])
            in_indented = True
        else:
            in_indented = in_indented and not line.strip()  # a blank line does not end an indented block
            prose.append(line)
        previous_blank = not line.strip()
    return code, "\n".join(prose)


def command(line: str) -> str:
    """A code line without its trailing `#` comment (the part a translation may change), whitespace collapsed."""
    without_comment = re.sub(r"(^|\s)#\s.*$", "", line)
    return " ".join(without_comment.split())


def command_problems(english: str, japanese: str, name: str) -> list[str]:
    """The English's command lines that no code line of the Japanese has."""
    japanese_commands = {command(line) for line in split(japanese)[0]}
    return [
        f"{name}: the command {cmd!r} of docs/{name} is missing from docs/ja/{name}'s code blocks (copy it exactly)"
        for cmd in dict.fromkeys(command(line) for line in split(english)[0])
        if cmd and cmd not in japanese_commands
    ]


def numbers(prose: str) -> set[str]:
    return set(NUMBER.findall(prose))


def number_problems(english: str, japanese: str, name: str, extra: dict[str, str] | None = None) -> list[str]:
    """Numbers of the English prose missing from the Japanese prose, and numbers of the Japanese the English lacks."""
    english_numbers, japanese_numbers = numbers(split(english)[1]), numbers(split(japanese)[1])
    missing = sorted(english_numbers - japanese_numbers)
    added = sorted(japanese_numbers - english_numbers - set(extra or {}))
    problems = [f"{name}: the number {n} of docs/{name} is missing from docs/ja/{name}" for n in missing]
    problems += [
        f"{name}: docs/ja/{name} has the number {n}, which docs/{name} does not (a typo? else add it to "
        "EXTRA_NUMBERS with why)"
        for n in added
    ]
    return problems


def english_paragraphs(japanese: str, name: str) -> list[str]:
    """Paragraphs of the Japanese prose (not its code, links or table rules) that read as English."""
    prose = LINK.sub("]", split(japanese)[1])
    return [
        f"{name}: {japanese_share(p):.0%} Japanese: {p.strip()[:60]!r}"
        for p in re.split(r"\n\s*\n", prose)
        if p.strip() and not p.lstrip().startswith("English:") and japanese_share(p) < JAPANESE_SHARE
    ]


def glossary_problems(japanese: str, name: str, terms: dict[str, str]) -> list[str]:
    """Each "日本語（English）" whose English is a glossary term must use the glossary's Japanese."""
    return [
        f"docs/ja/{name}: '{found.group(0)}' should read '{terms[found.group(2)]}（{found.group(2)}）' (glossary)"
        for found in TERM_IN_PARENTHESES.finditer(split(japanese)[1])
        if found.group(2) in terms and not found.group(1).endswith(terms[found.group(2)])
    ]


def relative_links(text: str) -> list[str]:
    """The relative link targets of the prose, without anchors ('#...' and https:// links left out)."""
    targets = [url.partition("#")[0] for url in LINK.findall(split(text)[1])]
    return [url for url in targets if url and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url)]


def japanese_edition(target: Path, docs: Path = DOCS) -> Path | None:
    """Where the Japanese edition of a linked file would be: docs/ja/X for docs/X, notebooks/ja/X for notebooks/X."""
    docs, notebooks = docs.resolve(), (docs.parent / "notebooks").resolve()
    if target.is_relative_to(docs) and not target.is_relative_to(docs / "ja"):
        return docs / "ja" / target.relative_to(docs)
    if target.is_relative_to(notebooks) and not target.is_relative_to(notebooks / "ja"):
        return notebooks / "ja" / target.relative_to(notebooks)
    return None


def link_problems(english: str, japanese: str, name: str, docs: Path = DOCS) -> list[str]:
    """Broken relative links of the Japanese; English links to a guide with a Japanese edition it does not follow.

    The two guides must link each other (the English to ja/NAME, the Japanese to ../NAME). Where the English links
    another file (docs/X.md, a notebook or its solutions, or any repository file), the Japanese links its Japanese
    edition (docs/ja/X.md, notebooks/ja/...) when that exists, else the same file as the English.
    """
    ja = docs / "ja"
    problems = [
        f"docs/ja/{name}: the link {url} leads to no file"
        for url in relative_links(japanese)
        if not (ja / url).resolve().exists()
    ]
    japanese_targets = {(ja / url).resolve() for url in relative_links(japanese)}
    if (docs / name).resolve() not in japanese_targets:
        problems.append(f"docs/ja/{name}: no link to its English original (add 'English: [docs/{name}](../{name})')")
    for url in relative_links(english):
        target = (docs / url).resolve()
        if target == (ja / name).resolve():
            continue  # the English's own link to this translation
        translated = japanese_edition(target, docs)
        expected = translated.resolve() if translated is not None and translated.is_file() else target
        if expected not in japanese_targets:
            where = (
                expected.relative_to(docs.parent.resolve())
                if expected.is_relative_to(docs.parent.resolve())
                else expected
            )
            problems.append(f"docs/ja/{name}: docs/{name} links {url}; the Japanese should link {where}")
    if (ja / name).resolve() not in {(docs / url).resolve() for url in relative_links(english)}:
        problems.append(f"docs/{name}: no link to its Japanese edition (add '日本語: [docs/ja/{name}](ja/{name})')")
    return problems


def all_problems(english: str, japanese: str, name: str, docs: Path = DOCS) -> list[str]:
    return (
        command_problems(english, japanese, name)
        + number_problems(english, japanese, name, EXTRA_NUMBERS.get(name))
        + english_paragraphs(japanese, name)
        + glossary_problems(japanese, name, glossary())
        + link_problems(english, japanese, name, docs)
    )


def read(name: str) -> tuple[str, str]:
    return (DOCS / name).read_text(encoding="utf-8"), (JA / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------------- the guides
def test_every_translated_guide_is_listed_and_exists():
    assert sorted(p.name for p in JA.glob("*.md") if p.name in TRANSLATED) == sorted(TRANSLATED)
    assert all((DOCS / name).is_file() for name in TRANSLATED)


@pytest.mark.parametrize("name", TRANSLATED)
def test_every_command_of_the_english_is_in_the_japanese(name):
    english, japanese = read(name)
    assert split(english)[0], f"docs/{name} has no code block: the parsing here is wrong"
    assert command_problems(english, japanese, name) == []


@pytest.mark.parametrize("name", TRANSLATED)
def test_the_numbers_agree(name):
    english, japanese = read(name)
    assert number_problems(english, japanese, name, EXTRA_NUMBERS.get(name)) == []


@pytest.mark.parametrize("name", TRANSLATED)
def test_the_japanese_reads_as_japanese_with_the_glossarys_terms(name):
    _, japanese = read(name)
    assert english_paragraphs(japanese, name) == []
    assert glossary_problems(japanese, name, glossary()) == []


@pytest.mark.parametrize("name", TRANSLATED)
def test_the_links_work_and_point_at_the_japanese_editions(name):
    english, japanese = read(name)
    assert link_problems(english, japanese, name) == []


# ---------------------------------------------------------------------------------------------------- the checks fail
def test_the_parsing_finds_the_offline_guides_commands_and_numbers():
    """Reference values written out by hand from docs/offline.md."""
    english, _ = read("offline.md")
    commands = [command(line) for line in split(english)[0]]
    assert commands[0] == "make offline-folder"
    assert "python install.py --check" in commands
    assert "~/gradcam-course/.venv/bin/jupyter lab ~/gradcam-course/notebooks/start_here.ipynb" in commands
    assert {"759", "736", "1393", "2.79", "3.12.1", "2.16.2", "18.04", "01", "170"} <= numbers(split(english)[1])
    assert "86" in numbers(split(english)[1])  # x86-64: numbers inside names count too, on both sides


def test_a_changed_command_or_number_is_named():
    english, japanese = read("offline.md")
    broken = japanese.replace("python install.py --start ", "python install.py --begin ").replace("759 MiB", "579 MiB")
    broken = broken.replace("24-65 秒", "24 秒")
    assert all_problems(english, broken, "offline.md") == [
        "offline.md: the command 'python install.py --start' of docs/offline.md is missing from docs/ja/offline.md's "
        "code blocks (copy it exactly)",
        "offline.md: the number 65 of docs/offline.md is missing from docs/ja/offline.md",
        "offline.md: the number 759 of docs/offline.md is missing from docs/ja/offline.md",
        "offline.md: docs/ja/offline.md has the number 579, which docs/offline.md does not (a typo? else add it to "
        "EXTRA_NUMBERS with why)",
    ]


def test_a_translated_comment_is_allowed_but_not_a_changed_command():
    assert command("make offline-folder   # Linux x86-64、Python 3.11 と 3.12 -> offline/") == "make offline-folder"
    assert command("echo a#b") == "echo a#b"  # a # inside a word is not a comment
    assert command_problems("    make site\n", "    make  site   # サイト\n", "x.md") == []
    assert command_problems("    make site\n", "make site\n", "x.md") == [
        "x.md: the command 'make site' of docs/x.md is missing from docs/ja/x.md's code blocks (copy it exactly)"
    ]


def test_english_prose_and_a_term_against_the_glossary_are_named():
    english, japanese = read("offline.md")
    untranslated = next(p for p in english.split("\n\n") if p.startswith("A lab room"))
    first = next(p for p in japanese.split("\n\n") if p.startswith("実習室には"))
    broken = japanese.replace(first, untranslated).replace("重み（weight）", "ウェイト（weight）")
    problems = all_problems(english, broken, "offline.md")
    assert len(problems) == 2, problems
    assert problems[0].startswith("offline.md: 0% Japanese: 'A lab room often has no internet"), problems[0]
    assert problems[1] == "docs/ja/offline.md: 'のウェイト（weight）' should read '重み（weight）' (glossary)"


def test_links_are_checked_both_ways(tmp_path):
    docs = tmp_path / "docs"
    (docs / "ja").mkdir(parents=True)
    for path in ("guide.md", "other.md", "ja/other.md", "plain.md"):
        (docs / path).write_text("# x\n")
    english = "日本語: [x](ja/guide.md)\n\nSee [other](other.md), [plain](plain.md#part) and [web](https://a.b/).\n"
    good = "English: [x](../guide.md)\n\n[他](other.md)、[plain](../plain.md)。\n"
    assert link_problems(english, good, "guide.md", docs) == []
    bad = "[他](../other.md)、[plain](plain.md)。\n"
    assert link_problems(english.replace("日本語: [x](ja/guide.md)", ""), bad, "guide.md", docs) == [
        "docs/ja/guide.md: the link plain.md leads to no file",
        "docs/ja/guide.md: no link to its English original (add 'English: [docs/guide.md](../guide.md)')",
        f"docs/ja/guide.md: docs/guide.md links other.md; the Japanese should link {Path('docs/ja/other.md')}",
        f"docs/ja/guide.md: docs/guide.md links plain.md; the Japanese should link {Path('docs/plain.md')}",
        "docs/guide.md: no link to its Japanese edition (add '日本語: [docs/ja/guide.md](ja/guide.md)')",
    ]


def test_a_notebook_link_must_go_to_the_japanese_edition_when_there_is_one():
    english = "日本語: [docs/ja/instructor.md](ja/instructor.md)\n\n[01](../notebooks/01_why_interpretability.ipynb)\n"
    to_english = (
        "English: [docs/instructor.md](../instructor.md)\n\n[01](../../notebooks/01_why_interpretability.ipynb)\n"
    )
    to_japanese = to_english.replace("notebooks/01", "notebooks/ja/01")
    problems = link_problems(english, to_english, "instructor.md")
    assert problems == [
        "docs/ja/instructor.md: docs/instructor.md links ../notebooks/01_why_interpretability.ipynb; the Japanese "
        "should link notebooks/ja/01_why_interpretability.ipynb"
    ]
    assert link_problems(english, to_japanese, "instructor.md") == []
