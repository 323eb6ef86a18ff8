"""Build the course notebooks from their text sources and execute them, so committed outputs are fresh.

Sources live in notebooks/src/NN_name.py in jupytext's "percent" format (reviewable as plain text):
    # %% [markdown]
    # Some *markdown*, each line prefixed with "# ".
    # %%
    python_code()
    # %% tags=["nbval-ignore-output"]
    code_whose_output_nbval_does_not_compare()   (a cell tag, so no test marker sits in the code a learner reads)
jupytext reads them; notebooks/jupytext.toml pairs each source with its notebook, so an edit saved in JupyterLab
flows back to the source. Either way, rebuild the notebook before committing: the committed outputs are those of one
fresh run, and this script writes no jupytext or editor metadata into the notebook.
Run from the repository root:  .venv/bin/python scripts/build_notebooks.py [--normalise | --lang ja] [NN_name ...]
Outputs must be deterministic (nbval compares them): seed everything, round printed floats, print no timings.

The Japanese edition (``--lang ja``; notebooks/ja/README.md for translators) is built from the same source. The code
stays in notebooks/src/NN_name.py only; notebooks/ja/translation/NN_name.md holds only what differs:
    <!-- markdown en=1a2b3c4d -->     one block per English markdown cell, in order: its Japanese text; the tag is
    # 01 · ...                       the first 8 hex digits of the SHA-256 of the English cell it translates
    <!-- strings -->                 then (optional) the user-visible string literals of the code cells:
    en: f"clean model: {x:.1%}"      the English literal exactly as it is written in the code (prefix and quotes)
    ja: f"クリーンなモデル: {x:.1%}"    and its Japanese replacement, each a single Python string token on one line
Markdown in a commented text file rather than YAML or TOML: a translator edits prose as prose (no quoting or escaping)
and sees the cell boundaries; the literals are written as Python writes them, so an f-string's fields and quotes are
visible and checked by the tokenizer. ``--lang ja NN_name`` takes the English cells, replaces each markdown cell by
its translation (refusing, with the cell's number, a translation whose English has changed since: the tag no longer
matches), replaces every string token of the code equal to an ``en:`` literal (Python's tokenize finds the tokens, so
a literal is never replaced inside a comment or a longer string; a key that occurs nowhere in the code is refused),
puts one setup cell ``import gradcam_utils as gc`` / ``gc.set_language("ja")`` in front, and executes the notebook in
notebooks/ja (where nbval runs it) like the English one. ``--template NN_name`` prints a translation file to start
from: the English markdown cells under their tags, and every string literal of the code as a commented pair.
notebooks/ja/jupytext.toml pairs the Japanese notebooks with nothing, so saving one in JupyterLab writes no code source
next to it (the English source stays the only one); tests/test_translation.py checks the sync.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import sys
import tokenize
from pathlib import Path

import jupytext
import nbformat
from jupytext.config import load_jupytext_config
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = NOTEBOOKS / "src"
JAPANESE = NOTEBOOKS / "ja"
TRANSLATIONS = JAPANESE / "translation"
SETUP_CELL = {"ja": 'import gradcam_utils as gc\ngc.set_language("ja")'}
MARKDOWN_MARKER = re.compile(r"^<!-- markdown en=([0-9a-f]{8}) -->$")
STRINGS_MARKER = "<!-- strings -->"
# Python 3.12+ splits an f-string into these tokens (3.11 has neither: -1 matches no token).
FSTRING_START, FSTRING_END = (getattr(tokenize, name, -1) for name in ("FSTRING_START", "FSTRING_END"))


def parse(text: str) -> list:
    """Read percent-format text into nbformat cells with jupytext.

    Args:
        text: A notebook source in jupytext's py:percent format.

    Returns:
        The cells, each with its type, source and tags only: jupytext's own cell metadata (such as
        ``lines_to_next_cell``, the blank lines it found after a cell) describes the text file, not the notebook,
        and kept in the .ipynb it would change every notebook.
    """
    cells = jupytext.reads(text, fmt="py:percent").cells
    for cell in cells:
        tags = cell.metadata.get("tags")
        cell.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})
    return cells


def build(name: str, lang: str = "en") -> Path:
    """Execute a source in a fresh kernel and write its notebook, with normalised metadata, ids and streams.

    Args:
        name: The notebook's name, e.g. ``01_why_interpretability``.
        lang: ``"en"`` for notebooks/NN_name.ipynb, ``"ja"`` for the Japanese edition notebooks/ja/NN_name.ipynb.

    Returns:
        The path of the notebook written.
    """
    folder = NOTEBOOKS if lang == "en" else JAPANESE
    notebook = nbformat.v4.new_notebook()
    notebook.cells = parse((SOURCES / f"{name}.py").read_text()) if lang == "en" else japanese_cells(name)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name[:2]}-{index:02d}" if lang == "en" else f"{name[:2]}-{lang}-{index:02d}"  # stable ids
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    notebook.metadata.pop("widgets", None)  # widget state holds random model ids; nbval skips widget views
    target = folder / f"{name}.ipynb"
    nbformat.write(notebook, target)
    return target


def english_tag(markdown: str) -> str:
    """The tag that ties a translation to the English markdown it translates: 8 hex digits of its SHA-256."""
    return hashlib.sha256(markdown.strip().encode()).hexdigest()[:8]


def string_tokens(code: str) -> list[tokenize.TokenInfo]:
    """The string literal tokens of a code cell, each a whole literal as written (an f-string included).

    Python 3.11's tokenizer reads an f-string as one STRING token; from 3.12 it splits one into FSTRING_START, its
    parts and FSTRING_END, which are joined back here into one token holding the literal's text.
    """
    lines = code.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    found, depth, opened = [], 0, None
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == FSTRING_START:
            depth, opened = depth + 1, opened or token
        elif token.type == FSTRING_END and depth == 1 and opened is not None:
            start, end = offsets[opened.start[0] - 1] + opened.start[1], offsets[token.end[0] - 1] + token.end[1]
            found.append(tokenize.TokenInfo(tokenize.STRING, code[start:end], opened.start, token.end, opened.line))
            depth, opened = 0, None
        elif token.type == FSTRING_END:
            depth -= 1
        elif token.type == tokenize.STRING and depth == 0:
            found.append(token)
    return found


def read_translation(path: Path) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Read a translation file (format in this module's docstring).

    Args:
        path: notebooks/ja/translation/NN_name.md or a copy.

    Returns:
        The markdown cells as ``(English tag, Japanese text)`` in order, and the string literals as
        ``{English literal: Japanese literal}``, both exactly as written in code.

    Raises:
        ValueError: A line of the strings section is not an ``en:``/``ja:`` pair of single string literals, or an
            English literal is given twice.
    """
    cells: list[tuple[str, list[str]]] = []
    strings: dict[str, str] = {}
    in_strings, english = False, None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        where = f"{path.name}, line {number}"
        marker = MARKDOWN_MARKER.match(line)
        if marker and not in_strings:
            cells.append((marker.group(1), []))
        elif line == STRINGS_MARKER:
            in_strings = True
        elif not in_strings:
            if cells:  # text before the first marker is the file's own comment
                cells[-1][1].append(line)
        elif line.strip() == "" or line.startswith("#"):
            continue
        elif line.startswith(("en: ", "ja: ")):
            literal = line[4:].strip()
            if len(string_tokens(literal)) != 1 or string_tokens(literal)[0].string != literal:
                raise ValueError(f"{where}: expected one Python string literal after '{line[:3]}', got {literal!r}")
            if line.startswith("en: "):
                if literal in strings:
                    raise ValueError(f"{where}: {literal} is translated twice; keep one pair")
                english = literal
            elif english is None:
                raise ValueError(f"{where}: a 'ja:' line must follow its 'en:' line")
            else:
                strings[english], english = literal, None
        else:
            raise ValueError(f"{where}: expected 'en: <literal>' or 'ja: <literal>' in the strings section")
    if english is not None:
        raise ValueError(f"{path.name}: the English literal {english} has no 'ja:' line")
    return [(tag, "\n".join(lines).strip()) for tag, lines in cells], strings


def substitute_strings(code: str, strings: dict[str, str]) -> tuple[str, set[str]]:
    """Replace each string token of ``code`` that equals a key of ``strings`` by its value.

    Returns:
        The new code, and the keys that were found.
    """
    lines = code.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    found = set()
    for token in reversed(string_tokens(code)):
        if token.string in strings:
            start = offsets[token.start[0] - 1] + token.start[1]
            end = offsets[token.end[0] - 1] + token.end[1]
            code = code[:start] + strings[token.string] + code[end:]
            found.add(token.string)
    return code, found


def japanese_cells(name: str, translation: Path | None = None) -> list:
    """The cells of the Japanese edition, not executed.

    The English source's cells with their markdown and string literals translated, after the one setup cell.

    Args:
        name: The notebook's name, e.g. ``01_why_interpretability``.
        translation: The translation file (default notebooks/ja/translation/NN_name.md).

    Returns:
        The cells.

    Raises:
        ValueError: The translation does not fit the English source: a different number of markdown cells, a cell
            whose English changed since it was translated, or a literal that the code no longer contains.
    """
    translation = translation or TRANSLATIONS / f"{name}.md"
    cells = parse((SOURCES / f"{name}.py").read_text())
    translated, strings = read_translation(translation)
    english = [cell for cell in cells if cell.cell_type == "markdown"]
    if len(translated) != len(english):
        raise ValueError(
            f"{translation.name} translates {len(translated)} markdown cells, notebooks/src/{name}.py has "
            f"{len(english)}: add or remove '<!-- markdown en=... -->' blocks (`--template {name}` lists them)"
        )
    positions = [index for index, cell in enumerate(cells) if cell.cell_type == "markdown"]
    stale = [
        f"markdown cell {number} (English notebook cell {positions[number]}, tag {english_tag(cell.source)})"
        for number, (cell, (tag, _)) in enumerate(zip(english, translated, strict=True))
        if tag != english_tag(cell.source)
    ]
    if stale:
        raise ValueError(
            f"{name}: the English of {'; '.join(stale)} changed since it was translated: update the translation "
            f"in {translation.name} and its tag"
        )
    found: set[str] = set()
    japanese = iter(text for _, text in translated)
    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = next(japanese)
        else:
            cell.source, in_cell = substitute_strings(cell.source, strings)
            found |= in_cell
    unused = sorted(set(strings) - found)
    if unused:
        raise ValueError(
            f"{translation.name}: these English literals no longer occur in the code of notebooks/src/{name}.py: "
            f"{', '.join(unused)}; update or remove their pairs"
        )
    return [nbformat.v4.new_code_cell(SETUP_CELL["ja"]), *cells]


def template(name: str) -> str:
    """A translation file to start from.

    Each English markdown cell under its tag, and every string literal of the code as a commented ``en:``/``ja:``
    pair: uncomment and translate those a learner sees.
    """
    cells = parse((SOURCES / f"{name}.py").read_text())
    parts = [f"<!-- Japanese edition of notebooks/src/{name}.py (format: scripts/build_notebooks.py) -->"]
    parts += [f"<!-- markdown en={english_tag(c.source)} -->\n{c.source}" for c in cells if c.cell_type == "markdown"]
    literals = dict.fromkeys(t.string for c in cells if c.cell_type == "code" for t in string_tokens(c.source))
    parts.append(STRINGS_MARKER + "".join(f"\n# en: {literal}\n# ja: {literal}" for literal in literals))
    return "\n\n".join(parts) + "\n"


def coalesce_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) chunks.

    How a kernel splits a stream varies from run to run, and would otherwise show up as noise in the notebooks' diffs
    (nbval joins them too before comparing).
    """
    joined: list = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            joined.append(output)
    return joined


def normalise(name: str) -> Path:
    """Rewrite a source the way jupytext writes it back from its notebook (blank lines between cells, cell markers).

    Once normalised, a notebook saved in JupyterLab changes only the lines edited in its source. The cells, and so
    the notebook, stay the same: no rebuild is needed.

    Args:
        name: The notebook's name, e.g. ``01_why_interpretability``.

    Returns:
        The path of the source.
    """
    source = SOURCES / f"{name}.py"
    notebook = nbformat.v4.new_notebook(cells=parse(source.read_text()))
    source.write_text(jupytext.writes(notebook, fmt="py:percent", config=load_jupytext_config(str(source))))
    return source


def main(argv: list[str]) -> None:
    """Build the notebooks named (all by default) in a language, or only rewrite their sources or print a template."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NN_name", help="notebooks to build (default: all)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--normalise",
        action="store_true",
        help="rewrite the sources as jupytext writes them from their notebooks; build nothing",
    )
    action.add_argument(
        "--template",
        action="store_true",
        help="print a Japanese translation file to start from for each notebook named; build nothing",
    )
    parser.add_argument(
        "--lang",
        choices=("en", "ja"),
        default="en",
        help="en: notebooks/NN_name.ipynb; ja: the Japanese edition notebooks/ja/NN_name.ipynb (default: en)",
    )
    args = parser.parse_args(argv)
    translated = sorted(p.stem for p in TRANSLATIONS.glob("[0-9][0-9]_*.md"))
    names = args.names or (translated if args.lang == "ja" else sorted(p.stem for p in SOURCES.glob("[0-9][0-9]_*.py")))
    missing = [name for name in names if not (SOURCES / f"{name}.py").is_file()]
    if missing:
        parser.error(
            f"no source notebooks/src/NAME.py for {', '.join(missing)}; the names are the files' stems, e.g. "
            f"{sorted(p.stem for p in SOURCES.glob('[0-9][0-9]_*.py'))[0]}"
        )
    if args.normalise and args.lang != "en":
        parser.error("--normalise rewrites the English sources; the Japanese edition has none (drop --lang ja)")
    untranslated = [name for name in names if name not in translated]
    if args.lang == "ja" and not args.template and untranslated:
        parser.error(
            f"no translation notebooks/ja/translation/NAME.md for {', '.join(untranslated)}; start one with "
            f"`scripts/build_notebooks.py --template {untranslated[0]} > notebooks/ja/translation/{untranslated[0]}.md`"
        )
    for name in names:
        if args.template:
            print(template(name), end="")
        elif args.normalise:
            print("normalised", normalise(name).relative_to(ROOT))
        else:
            print("built", build(name, args.lang).relative_to(ROOT))


if __name__ == "__main__":
    main(sys.argv[1:])
