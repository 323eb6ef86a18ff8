r"""Check the lab paths of the instructor's guide (docs/instructor.md) against the notebooks, and estimate their time.

Run from the repository root::

    .venv/bin/python scripts/lab_paths.py          # estimates, each path's rows, and every problem found
    .venv/bin/python scripts/lab_paths.py --run    # also run each path's cells in a fresh kernel (check f, minutes)

It exits with status 1 if any problem is found. tests/test_lab_paths.py runs the same checks.

The estimate (what the guide quotes)
------------------------------------
A notebook is cut into its set-up and its sections. The set-up is every cell before the notebook's first ``## ``
heading: it is always run, and a path counts it once, in that notebook's first row. A section runs from its ``## ``
heading to the next one; a markdown cell that holds the end of one section and the start of the next is split at the
heading. A section's minutes are

    (words of its markdown) / 150  +  1 per code cell  +  10 per exercise

where words are ``\w+`` tokens of the markdown source, the heading included, and an exercise is a code cell that
calls a function whose name starts with ``check_`` (such a cell counts 10 minutes, not 11). 150 words a minute is
slower than the 238 words a minute Brysbaert (2019, Journal of Memory and Language 109:104047) measured for silent
reading of English non-fiction, because the text is technical and has formulas; a code cell's minute is running it
and looking at its output; an exercise's ten are reading, trying and checking an answer. The estimate is computed
from the English notebooks; the Japanese edition quotes the same figures.

The guide's table "The notebooks at a glance" quotes, per notebook, "reading and running" (the set-up and every
section without the exercises' minutes, i.e. the words and the code cells that are not exercises) and "exercises"
(10 per exercise), each rounded to the nearest whole minute (halves up). A path's row passes check e) when its
estimate (its in-class sections, plus the set-up in that notebook's first row of the path), rounded the same way,
is at most the row's minutes.

The guide's formats
-------------------
Under ``## The notebooks at a glance``, one row per notebook::

    | notebook | run all: wall s | CPU s | peak RSS, MB | reading and running, min | exercises, min |
    | [01 · Title](../notebooks/01_name.ipynb) | 13 | 17 | 2045 | 25 | 20 |

wall s, CPU s and peak RSS are copied from benchmarks/README.md (the table under "### Latest figures" of the
notebook-resources section; its RSS cell's first number). Under ``## Paths through the course``, each path is a
heading ``### <name> (<N> minutes)`` followed by::

    | minutes | notebook | in class, in this order | homework |
    | 10 | — | Opening: ... | |
    | 30 | [01](../notebooks/01_name.ipynb) | Both models score well ...; Summary | Exercises |

A row whose notebook cell is ``—`` is an activity (only its minutes count); otherwise the cell starts with the
notebook's two-digit number, and the two last cells list ``## `` headings of that notebook, exactly as written,
separated by ``; ``. The Japanese guide (docs/ja/instructor.md) has the same tables, its headings in Japanese (a path
heading may read ``### <name>（<N> 分）``), naming the Japanese notebooks' headings.

The checks
----------
a) every heading a row names exists in that notebook; b) a row's in-class headings are in the notebook's order;
c) no heading of a notebook is both in class and homework in one path; d) a path's minutes add up to its heading's;
e) each notebook row's estimate fits its minutes; f) runnable as written: for each path and notebook, the set-up and
the code cells of the in-class sections, in notebook order, run without error in a fresh kernel of this environment
(working directory notebooks/, as scripts/build_notebooks.py runs them; runs that would execute the whole notebook
are left to nbval, and each distinct set of cells runs once); g) the Japanese guide matches the English one; and the
at-a-glance table matches benchmarks/README.md and the estimate, with every notebook listed once.
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
JAPANESE_NOTEBOOKS = NOTEBOOKS / "ja"
GUIDE = ROOT / "docs" / "instructor.md"
JAPANESE_GUIDE = ROOT / "docs" / "ja" / "instructor.md"
BENCHMARKS = ROOT / "benchmarks" / "README.md"

# The estimate (module docstring).
WORDS_PER_MINUTE = 150
MINUTES_PER_CODE_CELL = 1
MINUTES_PER_EXERCISE = 10
EXERCISE_PREFIX = "check_"

# The guide's formats.
GLANCE_HEADING = "## The notebooks at a glance"
PATHS_HEADING = "## Paths through the course"
GLANCE_HEADER = [
    "notebook",
    "run all: wall s",
    "CPU s",
    "peak RSS, MB",
    "reading and running, min",
    "exercises, min",
]
PATH_HEADER = ["minutes", "notebook", "in class, in this order", "homework"]
ACTIVITY = "—"
HEADING_SEPARATOR = "; "
PATH_TITLE = re.compile(r"^### (?P<name>.+?) \((?P<minutes>\d+) minutes\)\s*$")
JAPANESE_PATH_TITLE = re.compile(r"^### (?P<name>.+?)\s*[（(]\s*(?P<minutes>\d+)\s*(?:分|minutes)\s*[）)]\s*$")
# benchmarks/README.md: the notebook-resources table under "### Latest figures".
BENCHMARK_HEADING = "### Latest figures"
BENCHMARK_HEADER = ["notebook", "peak RSS, MB", "peak RSS, MB (ja)", "CPU s", "wall s"]
NUMBER = re.compile(r"\d+(?:\.\d+)?")
WORD = re.compile(r"\w+")
LINK = re.compile(r"^\[(?P<text>[^\]]*)\]\((?P<target>[^)]*)\)$")
LEADING_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<target>[^)]*)\)")
EXERCISE_CALL = re.compile(rf"\b{EXERCISE_PREFIX}\w*\s*\(")


def whole_minutes(minutes: float) -> int:
    """Round minutes to the nearest whole minute, halves up (the guide's figures)."""
    return math.floor(minutes + 0.5)


# --- Notebooks --------------------------------------------------------------------------------------------------------


@dataclass
class Section:
    r"""A notebook's set-up (title None) or one of its ``## `` sections.

    Attributes:
        title: The heading's text without ``## ``, or None for the set-up (the cells before the first heading).
        words: ``\w+`` tokens of the section's markdown, its heading included.
        code_cells: Indices (in the notebook) of its code cells.
        exercises: How many of those call a ``check_`` function.
    """

    title: str | None
    words: int = 0
    code_cells: list[int] = field(default_factory=list)
    exercises: int = 0

    @property
    def reading(self) -> float:
        """Minutes of reading and running: the words, and the code cells that are not exercises."""
        return self.words / WORDS_PER_MINUTE + MINUTES_PER_CODE_CELL * (len(self.code_cells) - self.exercises)

    @property
    def minutes(self) -> float:
        """The section's estimate: reading and running plus the exercises."""
        return self.reading + MINUTES_PER_EXERCISE * self.exercises


@dataclass
class Notebook:
    """A notebook cut into its set-up and sections."""

    path: Path
    title: str
    setup: Section
    sections: list[Section]

    @property
    def number(self) -> str:
        """The two-digit number its file name starts with."""
        return self.path.name[:2]

    @property
    def headings(self) -> list[str]:
        """Its ``## `` headings in order."""
        return [section.title for section in self.sections if section.title is not None]

    @property
    def code_cells(self) -> list[int]:
        """Indices of all its code cells."""
        return sorted(index for section in [self.setup, *self.sections] for index in section.code_cells)

    def section(self, title: str) -> Section | None:
        """The first section with this heading, or None."""
        return next((section for section in self.sections if section.title == title), None)

    def section_of(self, cell: int) -> Section:
        """The set-up or section a cell belongs to."""
        return next(s for s in [self.setup, *self.sections] if cell in s.code_cells)


def is_exercise(code: str) -> bool:
    """Does this code cell call a function whose name starts with ``check_``?

    Args:
        code: The cell's source.

    Returns:
        True if it calls ``check_...(...)`` or ``something.check_...(...)``; an import of such a function is no call.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython syntax (%magic, !shell): fall back to the text
        return bool(EXERCISE_CALL.search(code))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name.startswith(EXERCISE_PREFIX):
                return True
    return False


def read_notebook(path: Path) -> Notebook:
    """Cut a notebook into its set-up and ``## `` sections and count their words, code cells and exercises.

    Args:
        path: An .ipynb file.

    Returns:
        The notebook, its title the first ``# `` heading (empty if none).
    """
    notebook = nbformat.read(path, as_version=4)
    setup = Section(None)
    sections: list[Section] = []
    title = ""
    for index, cell in enumerate(notebook.cells):
        current = sections[-1] if sections else setup
        if cell.cell_type == "markdown":
            part: list[str] = []
            fenced = False
            for line in cell.source.splitlines():
                if line.lstrip().startswith("```"):
                    fenced = not fenced
                if not fenced and line.startswith("## "):
                    current.words += len(WORD.findall("\n".join(part)))
                    part = []
                    current = Section(line[3:].strip())
                    sections.append(current)
                elif not fenced and line.startswith("# ") and not title:
                    title = line[2:].strip()
                part.append(line)
            current.words += len(WORD.findall("\n".join(part)))
        elif cell.cell_type == "code":
            current.code_cells.append(index)
            current.exercises += is_exercise(cell.source)
    return Notebook(path, title, setup, sections)


def find_notebook(folder: Path, number: str) -> Path | None:
    """The notebook ``NN_*.ipynb`` in a folder, or None if there is none (or more than one)."""
    found = sorted(folder.glob(f"{number}_*.ipynb"))
    return found[0] if len(found) == 1 else None


def read_notebooks(folder: Path) -> dict[str, Notebook]:
    """Every ``NN_*.ipynb`` of a folder, by its number."""
    return {path.name[:2]: read_notebook(path) for path in sorted(folder.glob("[0-9][0-9]_*.ipynb"))}


# --- The guide --------------------------------------------------------------------------------------------------------


@dataclass
class GlanceRow:
    """A row of "The notebooks at a glance": the cells as written, and where."""

    line: int
    text: str
    target: str
    cells: list[str]


@dataclass
class Row:
    """A row of a path's table.

    Attributes:
        line: Its line number in the guide (from 1).
        minutes: The minutes cell.
        number: The notebook's two-digit number, or None for an activity (opening, break, closing).
        target: The notebook cell's link target, if it is a link.
        in_class: The in-class headings, in the row's order.
        homework: The homework headings.
    """

    line: int
    minutes: int
    number: str | None
    target: str | None
    in_class: list[str]
    homework: list[str]


@dataclass
class LabPath:
    """A path through the course: its heading's name and minutes, and its rows."""

    name: str
    minutes: int
    line: int
    rows: list[Row]


@dataclass
class Guide:
    """The parts of an instructor's guide that the checks read, and the problems found while parsing it."""

    path: Path
    glance: list[GlanceRow]
    paths: list[LabPath]
    problems: list[str]


def split_row(line: str) -> list[str]:
    r"""The cells of a Markdown table row (``\|`` is a literal bar)."""
    body = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]


def tables(lines: list[tuple[int, str]]) -> list[tuple[int, list[str], list[tuple[int, list[str]]]]]:
    """The Markdown tables among numbered lines: (line of the header, header cells, [(line, cells) of each row])."""
    found: list[tuple[int, list[str], list[tuple[int, list[str]]]]] = []
    block: list[tuple[int, str]] = []
    for number, line in [*lines, (0, "")]:
        if line.strip().startswith("|"):
            block.append((number, line))
            continue
        if len(block) >= 2 and re.fullmatch(r"[|\s:\-]+", block[1][1].strip()):
            found.append((block[0][0], split_row(block[0][1]), [(n, split_row(text)) for n, text in block[2:]]))
        block = []
    return found


def split_headings(cell: str) -> list[str]:
    """The headings a cell names, separated by ``; `` (an empty cell names none)."""
    return [name.strip() for name in cell.split(HEADING_SEPARATOR) if name.strip()] if cell.strip() else []


def h2_part(lines: list[tuple[int, str]], heading: str) -> list[tuple[int, str]] | None:
    """The numbered lines under a ``## `` heading, up to the next ``## `` or ``# `` heading; None if it is absent."""
    start = next((i for i, (_, line) in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        return None
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][1].startswith(("## ", "# "))),
        len(lines),
    )
    return lines[start + 1 : end]


def parse_guide(path: Path, japanese: bool = False) -> Guide:
    """Read a guide's at-a-glance table and its paths.

    Args:
        path: docs/instructor.md or its Japanese translation.
        japanese: Accept the Japanese guide's headers (any text, the same number of columns) and path headings
            (``### name（N 分）`` as well as ``### name (N minutes)``).

    Returns:
        The guide; what could not be read is in its ``problems``, each saying what was expected.
    """
    lines = list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))
    problems: list[str] = []
    source = path.name if not japanese else f"ja/{path.name}"
    glance: list[GlanceRow] = []
    part = h2_part(lines, GLANCE_HEADING) if not japanese else None
    if japanese:  # the Japanese heading's text is Japanese: the first table whose rows link notebooks
        candidates = [
            t
            for t in tables(lines)
            if len(t[1]) == len(GLANCE_HEADER) and any(cells and cells[0].endswith(".ipynb)") for _, cells in t[2])
        ]
        part_tables = candidates[:1]
        if not part_tables:
            problems.append(f"{source}: no table of {len(GLANCE_HEADER)} columns (the notebooks at a glance) found")
    elif part is None:
        part_tables = []
        problems.append(f"{source}: no heading '{GLANCE_HEADING}' (the table of the notebooks at a glance)")
    else:
        part_tables = tables(part)[:1]
        if not part_tables:
            problems.append(f"{source}: no table under '{GLANCE_HEADING}'")
    for header_at, header, rows in part_tables:
        if len(header) != len(GLANCE_HEADER) or (not japanese and header != GLANCE_HEADER):
            problems.append(
                f"{source}:{header_at}: the at-a-glance table's header should be | {' | '.join(GLANCE_HEADER)} |"
            )
            continue
        for number, cells in rows:
            link = LINK.match(cells[0]) if cells else None
            if len(cells) != len(GLANCE_HEADER) or link is None:
                problems.append(
                    f"{source}:{number}: expected | [NN · Title](../notebooks/NN_name.ipynb) | wall | CPU | RSS | "
                    f"reading | exercises |, got {len(cells)} cells"
                )
                continue
            glance.append(GlanceRow(number, link["text"], link["target"], cells[1:]))

    paths: list[LabPath] = []
    pattern = JAPANESE_PATH_TITLE if japanese else PATH_TITLE
    part = h2_part(lines, PATHS_HEADING) if not japanese else None
    if japanese:  # from the first path heading to the next ## heading
        start = next((i for i, (_, line) in enumerate(lines) if pattern.match(line)), None)
        if start is None:
            part = None
        else:
            end = next((i for i in range(start, len(lines)) if lines[i][1].startswith(("## ", "# "))), len(lines))
            part = lines[start:end]
    if part is None:
        problems.append(
            f"{source}: no paths found (expected '{PATHS_HEADING}' with headings '### <name> (<N> minutes)')"
            if not japanese
            else f"{source}: no path heading '### <name>（<N> 分）' found"
        )
        part = []
    headings = [i for i, (_, line) in enumerate(part) if line.startswith("### ")]
    for k, i in enumerate(headings):
        number, line = part[i]
        body = part[i + 1 : headings[k + 1] if k + 1 < len(headings) else len(part)]
        body_tables = tables(body)
        match = pattern.match(line)
        if match is None:
            if any(len(header) == len(PATH_HEADER) for _, header, _ in body_tables):
                problems.append(f"{source}:{number}: a path's heading should read '### <name> (<N> minutes)': {line}")
            continue
        lab_path = LabPath(match["name"], int(match["minutes"]), number, [])
        paths.append(lab_path)
        if not body_tables:
            problems.append(f"{source}:{number}: path '{lab_path.name}' has no table | {' | '.join(PATH_HEADER)} |")
            continue
        header_line, header, rows = body_tables[0]
        if len(header) != len(PATH_HEADER) or (not japanese and header != PATH_HEADER):
            problems.append(f"{source}:{header_line}: a path's table header should be | {' | '.join(PATH_HEADER)} |")
            continue
        for row_line, cells in rows:
            cells = cells + [""] * (len(PATH_HEADER) - len(cells))
            if len(cells) != len(PATH_HEADER) or not cells[0].isdigit():
                problems.append(
                    f"{source}:{row_line}: expected | minutes (a whole number) | notebook | in class | homework |"
                )
                continue
            notebook_cell = cells[1]
            if notebook_cell == ACTIVITY:
                lab_path.rows.append(Row(row_line, int(cells[0]), None, None, [], []))
                continue
            link = LEADING_LINK.match(notebook_cell)  # "[01](../notebooks/01_name.ipynb)", perhaps text after it
            text = link["text"] if link else notebook_cell
            found = re.match(r"\d{2}(?!\d)", text)
            if found is None:
                problems.append(
                    f"{source}:{row_line}: the notebook cell should be '{ACTIVITY}' or start with the notebook's "
                    f"two-digit number (e.g. [01](../notebooks/01_why_interpretability.ipynb)), got '{notebook_cell}'"
                )
                continue
            lab_path.rows.append(
                Row(
                    row_line,
                    int(cells[0]),
                    found.group(),
                    link["target"] if link else None,
                    split_headings(cells[2]),
                    split_headings(cells[3]),
                )
            )
    return Guide(path, glance, paths, problems)


# --- Checks a) to e) --------------------------------------------------------------------------------------------------


def where(guide: Guide, row: Row | LabPath) -> str:
    """``file:line`` of a row or a path."""
    return f"{guide.path.name}:{row.line}"


def check_headings(guide: Guide, notebooks: dict[str, Notebook]) -> list[str]:
    """a) Every heading a row names exists in that notebook (and the notebook, and the file its link points at).

    Args:
        guide: The parsed guide.
        notebooks: The notebooks its rows name, by number.

    Returns:
        One line per problem.
    """
    problems = []
    for lab_path in guide.paths:
        for row in lab_path.rows:
            if row.number is None:
                continue
            notebook = notebooks.get(row.number)
            if notebook is None:
                problems.append(f"{where(guide, row)}: {lab_path.name}: no notebook {row.number}_*.ipynb")
                continue
            if row.target is not None:
                linked = (guide.path.parent / row.target).resolve()
                if not linked.is_file() or not linked.name.startswith(row.number):
                    problems.append(
                        f"{where(guide, row)}: {lab_path.name}: the link {row.target} should point at notebook "
                        f"{row.number}'s file"
                    )
            for name in row.in_class + row.homework:
                if notebook.section(name) is None:
                    problems.append(
                        f"{where(guide, row)}: {lab_path.name}: notebook {row.number} has no heading '## {name}' "
                        f"(its headings: {'; '.join(notebook.headings)})"
                    )
    return problems


def check_order(guide: Guide, notebooks: dict[str, Notebook]) -> list[str]:
    """b) A row's in-class headings are in the notebook's order, each once."""
    problems = []
    for lab_path in guide.paths:
        for row in lab_path.rows:
            notebook = notebooks.get(row.number or "")
            if notebook is None:
                continue
            positions = [notebook.headings.index(name) for name in row.in_class if name in notebook.headings]
            if positions != sorted(set(positions)):
                in_order = [notebook.headings[i] for i in sorted(set(positions))]
                problems.append(
                    f"{where(guide, row)}: {lab_path.name}: notebook {row.number}'s in-class sections should be in "
                    f"the notebook's order, each once: {HEADING_SEPARATOR.join(in_order)}"
                )
    return problems


def check_class_or_homework(guide: Guide) -> list[str]:
    """c) In one path, no heading of a notebook is both in class and homework."""
    problems = []
    for lab_path in guide.paths:
        in_class = {(row.number, name) for row in lab_path.rows for name in row.in_class}
        for row in lab_path.rows:
            for name in row.homework:
                if (row.number, name) in in_class:
                    problems.append(
                        f"{where(guide, row)}: {lab_path.name}: notebook {row.number}'s '{name}' is both in class "
                        "and homework; keep it in one of the two"
                    )
    return problems


def check_minutes(guide: Guide) -> list[str]:
    """d) A path's rows add up to the minutes its heading gives."""
    problems = []
    for lab_path in guide.paths:
        total = sum(row.minutes for row in lab_path.rows)
        if total != lab_path.minutes:
            problems.append(
                f"{where(guide, lab_path)}: {lab_path.name}: the rows add up to {total} minutes, the heading says "
                f"{lab_path.minutes}; make them agree"
            )
    return problems


def row_estimates(lab_path: LabPath, notebooks: dict[str, Notebook]) -> list[float | None]:
    """Each row's estimate in minutes: its in-class sections, plus the set-up in its notebook's first row of the path.

    Returns:
        One per row: None for an activity or a row whose notebook is missing; unknown headings count nothing.
    """
    seen: set[str] = set()
    estimates: list[float | None] = []
    for row in lab_path.rows:
        notebook = notebooks.get(row.number or "")
        if notebook is None:
            estimates.append(None)
            continue
        sections = [s for s in (notebook.section(name) for name in row.in_class) if s is not None]
        minutes = sum(section.minutes for section in sections)
        if notebook.number not in seen:
            minutes += notebook.setup.minutes
            seen.add(notebook.number)
        estimates.append(minutes)
    return estimates


def check_estimates(guide: Guide, notebooks: dict[str, Notebook]) -> list[str]:
    """e) Each notebook row's estimate, rounded to whole minutes, is at most its minutes."""
    problems = []
    for lab_path in guide.paths:
        for row, estimate in zip(lab_path.rows, row_estimates(lab_path, notebooks), strict=True):
            if estimate is not None and whole_minutes(estimate) > row.minutes:
                problems.append(
                    f"{where(guide, row)}: {lab_path.name}: notebook {row.number}'s row is estimated at "
                    f"{estimate:.1f} minutes but has {row.minutes}; give it more minutes or fewer sections"
                )
    return problems


# --- The notebooks at a glance ----------------------------------------------------------------------------------------


def read_benchmarks(path: Path) -> dict[str, dict[str, str]]:
    """benchmarks/README.md's notebook-resources figures: {notebook stem: {column: first number of the cell}}.

    Raises:
        ValueError: No table with the expected header under a "### Latest figures" heading.
    """
    lines = list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))
    for i, (_, line) in enumerate(lines):
        if line.strip() != BENCHMARK_HEADING:
            continue
        for _, header, rows in tables(lines[i + 1 :])[:1]:
            if header == BENCHMARK_HEADER:
                figures = {}
                for _, cells in rows:
                    numbers = [NUMBER.search(cell.replace("*", "")) for cell in cells[1:]]
                    figures[cells[0]] = {
                        column: found.group() if found else ""
                        for column, found in zip(header[1:], numbers, strict=False)
                    }
                return figures
    raise ValueError(
        f"{path}: no table | {' | '.join(BENCHMARK_HEADER)} | under a '{BENCHMARK_HEADING}' heading; the guide's "
        "measured figures are copied from it (benchmarks/notebook_resources.py writes them)"
    )


def same_number(a: str, b: str) -> bool:
    """Do two cells hold the same number (their first numbers compared as values)?"""
    x, y = NUMBER.search(a.replace("*", "")), NUMBER.search(b.replace("*", ""))
    return x is not None and y is not None and float(x.group()) == float(y.group())


def check_glance(
    guide: Guide, notebooks: dict[str, Notebook], benchmarks: dict[str, dict[str, str]], titles: dict[str, str]
) -> list[str]:
    """The at-a-glance table: every notebook once, measured figures as benchmarks/README.md, estimates as computed.

    Args:
        guide: The parsed guide (English or Japanese).
        notebooks: The English notebooks, by number: the estimate is theirs for both guides.
        benchmarks: read_benchmarks' figures.
        titles: The title each row shows, by number (the ``# `` heading of the guide's edition's notebook): a row's
            link text is the title or its beginning (e.g. "07 · Is the map right?"), the number included.

    Returns:
        One line per problem.
    """
    problems = []
    listed: dict[str, int] = {}
    for row in guide.glance:
        stem = Path(row.target).stem
        number = stem[:2]
        place = f"{guide.path.name}:{row.line}"
        listed[number] = listed.get(number, 0) + 1
        notebook = notebooks.get(number)
        if notebook is None or notebook.path.stem != stem:
            problems.append(f"{place}: the link {row.target} names no notebook of the course")
            continue
        if not (guide.path.parent / row.target).is_file():
            problems.append(f"{place}: the link {row.target} points at no file (relative to the guide)")
        if number in titles and not (titles[number].startswith(row.text) and row.text.startswith(f"{number} ")):
            problems.append(
                f"{place}: the link's text should be the notebook's title '{titles[number]}' or its beginning"
            )
        measured = benchmarks.get(stem)
        wall, cpu, rss, reading, exercises = row.cells
        if measured is None:
            problems.append(f"{place}: benchmarks/README.md has no figures for {stem}")
        else:
            for label, cell, column in (
                ("wall s", wall, "wall s"),
                ("CPU s", cpu, "CPU s"),
                ("RSS", rss, "peak RSS, MB"),
            ):
                if not same_number(cell, measured[column]):
                    problems.append(
                        f"{place}: {stem}'s {label} is {cell!r}, benchmarks/README.md says {measured[column]}; "
                        "copy the measured figure (re-measuring means updating both)"
                    )
        estimate_reading = notebook.setup.reading + sum(s.reading for s in notebook.sections)
        estimate_exercises = MINUTES_PER_EXERCISE * (
            notebook.setup.exercises + sum(s.exercises for s in notebook.sections)
        )
        for label, cell, value in (
            ("reading and running", reading, whole_minutes(estimate_reading)),
            ("exercises", exercises, whole_minutes(estimate_exercises)),
        ):
            if not same_number(cell, str(value)):
                problems.append(
                    f"{place}: {stem}'s {label} is {cell!r} minutes, the estimate from the notebook is {value}"
                )
    for number in sorted(set(notebooks) | set(listed)):
        if listed.get(number, 0) != 1 and number in notebooks:
            problems.append(
                f"{guide.path.name}: the notebooks at a glance list notebook {number} {listed.get(number, 0)} times; "
                "list each once"
            )
    return problems


# --- g) The Japanese guide --------------------------------------------------------------------------------------------


def check_japanese(
    english: Guide, japanese: Guide, notebooks: dict[str, Notebook], japanese_notebooks: dict[str, Notebook]
) -> list[str]:
    """g) The Japanese guide's paths: same order, minutes and notebooks, each heading the Japanese one at its position.

    The English and Japanese notebooks must have their ``## `` headings at the same positions (same count); a
    Japanese row must name, for each English heading of the English row, the Japanese notebook's heading at the
    English one's position.

    Returns:
        One line per problem.
    """
    problems = []
    for number, english_notebook in notebooks.items():
        translated = japanese_notebooks.get(number)
        if translated is None:
            problems.append(f"notebooks/ja: no Japanese notebook {number}_*.ipynb")
        elif len(translated.headings) != len(english_notebook.headings):
            problems.append(
                f"notebooks/ja/{translated.path.name} has {len(translated.headings)} '## ' headings, the English "
                f"notebook {len(english_notebook.headings)}; they must match position for position"
            )
        else:
            for position, (en, ja) in enumerate(zip(english_notebook.headings, translated.headings, strict=True)):
                en_number, ja_number = re.match(r"\d+\.", en), re.match(r"\d+\.", ja)
                if (en_number and en_number.group()) != (ja_number and ja_number.group()):
                    problems.append(
                        f"notebooks/ja/{translated.path.name}: heading {position + 1} is '{ja}', the English "
                        f"notebook's is '{en}'; they must match position for position"
                    )
    name = f"ja/{japanese.path.name}"
    if [p.minutes for p in japanese.paths] != [p.minutes for p in english.paths]:
        problems.append(
            f"{name}: its paths' minutes {[p.minutes for p in japanese.paths]} should be the English guide's, in its "
            f"order: {[p.minutes for p in english.paths]}"
        )
    for en_path, ja_path in zip(english.paths, japanese.paths, strict=False):
        here = f"{name}:{ja_path.line}: {ja_path.name}"
        if len(en_path.rows) != len(ja_path.rows):
            problems.append(
                f"{here}: {len(ja_path.rows)} rows, the English path '{en_path.name}' has {len(en_path.rows)}"
            )
        for en_row, ja_row in zip(en_path.rows, ja_path.rows, strict=False):
            row_here = f"{name}:{ja_row.line}: {ja_path.name}"
            if (en_row.minutes, en_row.number) != (ja_row.minutes, ja_row.number):
                problems.append(
                    f"{row_here}: {ja_row.minutes} minutes of {ja_row.number or ACTIVITY}, the English row "
                    f"(line {en_row.line}) has {en_row.minutes} minutes of {en_row.number or ACTIVITY}"
                )
                continue
            if ja_row.target is not None:
                linked = (japanese.path.parent / ja_row.target).resolve()
                if not linked.is_file() or not linked.name.startswith(ja_row.number or ""):
                    problems.append(
                        f"{row_here}: the link {ja_row.target} should point at notebook {ja_row.number}'s file "
                        "(relative to the guide)"
                    )
            notebook, translated = notebooks.get(en_row.number or ""), japanese_notebooks.get(en_row.number or "")
            if notebook is None or translated is None or len(translated.headings) != len(notebook.headings):
                continue
            for column, en_names, ja_names in (
                ("in class", en_row.in_class, ja_row.in_class),
                ("homework", en_row.homework, ja_row.homework),
            ):
                expected = [
                    translated.headings[notebook.headings.index(n)] if n in notebook.headings else f"? ({n})"
                    for n in en_names
                ]
                if ja_names != expected:
                    problems.append(
                        f"{row_here}: the {column} cell should name the Japanese headings at the English row's "
                        f"positions: {HEADING_SEPARATOR.join(expected) or '(empty)'}"
                    )
    return problems


# --- f) Runnable as written -------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One execution for check f: a notebook, the cells to run, and the paths that need it."""

    notebook: Notebook
    cells: list[int]
    paths: list[str]


def planned_runs(guide: Guide, notebooks: dict[str, Notebook]) -> tuple[list[Run], list[str]]:
    """The distinct runs check f needs, and the (path, notebook) pairs left to nbval (they run every code cell).

    Returns:
        (runs, skipped) where skipped holds one line per pair that would run the whole notebook.
    """
    runs: dict[tuple[str, tuple[int, ...]], Run] = {}
    skipped = []
    for lab_path in guide.paths:
        names: dict[str, set[str]] = {}
        for row in lab_path.rows:
            if row.number in notebooks:
                names.setdefault(row.number, set()).update(row.in_class)
        for number, in_class in names.items():
            notebook = notebooks[number]
            cells = sorted(
                set(notebook.setup.code_cells)
                | {i for s in notebook.sections if s.title in in_class for i in s.code_cells}
            )
            if cells == notebook.code_cells:
                skipped.append(f"{lab_path.name}: notebook {number} runs all its code cells (nbval runs those)")
                continue
            key = (str(notebook.path), tuple(cells))
            runs.setdefault(key, Run(notebook, cells, [])).paths.append(lab_path.name)
    return list(runs.values()), skipped


def execute(run: Run, timeout: int = 600) -> list[str]:
    """Run a notebook's chosen code cells, in order, in a fresh kernel; one line per cell that raises.

    The kernel is this environment's ``python3`` in the notebook's folder (as scripts/build_notebooks.py runs
    it), with TF_CPP_MIN_LOG_LEVEL=3; an English notebook runs without GRADCAM_LANG, as ``make test`` runs them.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    source = nbformat.read(run.notebook.path, as_version=4)
    partial = nbformat.v4.new_notebook()
    partial.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    partial.cells = [nbformat.v4.new_code_cell(source.cells[i].source) for i in run.cells]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if run.notebook.path.parent.name != "ja":
        env.pop("GRADCAM_LANG", None)
    client = NotebookClient(
        partial,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": str(run.notebook.path.parent)}},
    )
    label = f"{', '.join(run.paths)}: notebook {run.notebook.number}"
    try:
        client.execute(env=env)
    except (CellTimeoutError, DeadKernelError) as error:
        return [f"{label}: the run stopped: {str(error).strip().splitlines()[-1] if str(error).strip() else error!r}"]
    problems = []
    for index, cell in zip(run.cells, partial.cells, strict=True):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                section = run.notebook.section_of(index).title or "set-up"
                lines = str(output.get("evalue", "")).strip().splitlines() or [""]
                message = f"{output.get('ename', 'error')}: {lines[-1]}"
                problems.append(f"{label}: cell {index} (section '{section}') raises {message}")
    return problems


def check_runnable(guide: Guide, notebooks: dict[str, Notebook], timeout: int = 600) -> list[str]:
    """f) Each path's cells of each notebook run without error, each distinct set of cells once.

    Returns:
        One line per cell that raised (or run that stopped).
    """
    runs, _ = planned_runs(guide, notebooks)
    return [problem for run in runs for problem in execute(run, timeout)]


# --- Command line -----------------------------------------------------------------------------------------------------


def all_problems(
    guide: Guide,
    notebooks: dict[str, Notebook],
    benchmarks: dict[str, dict[str, str]],
    japanese: Guide | None = None,
    japanese_notebooks: dict[str, Notebook] | None = None,
) -> list[str]:
    """Checks a) to e), the at-a-glance table and, given a Japanese guide, g) (everything but f)."""
    problems = guide.problems + check_headings(guide, notebooks) + check_order(guide, notebooks)
    problems += check_class_or_homework(guide) + check_minutes(guide) + check_estimates(guide, notebooks)
    problems += check_glance(guide, notebooks, benchmarks, {n: nb.title for n, nb in notebooks.items()})
    if japanese is not None and japanese_notebooks is not None:
        problems += japanese.problems
        problems += check_glance(japanese, notebooks, benchmarks, {n: nb.title for n, nb in japanese_notebooks.items()})
        problems += check_japanese(guide, japanese, notebooks, japanese_notebooks)
    return problems


def report(guide: Guide, notebooks: dict[str, Notebook]) -> str:
    """Each notebook's estimate per section, and each path's rows (estimate vs minutes)."""
    out = [
        f"Estimate: words / {WORDS_PER_MINUTE} + {MINUTES_PER_CODE_CELL} per code cell + "
        f"{MINUTES_PER_EXERCISE} per exercise"
    ]
    for notebook in notebooks.values():
        out.append(f"\n{notebook.path.name}")
        for section in [notebook.setup, *notebook.sections]:
            out.append(
                f"  {section.minutes:6.1f} min  {section.words:5d} words {len(section.code_cells):3d} code "
                f"{section.exercises:2d} exercises  {section.title or '(set-up)'}"
            )
        total = notebook.setup.minutes + sum(s.minutes for s in notebook.sections)
        out.append(f"  {total:6.1f} min  in all")
    for lab_path in guide.paths:
        out.append(f"\n{lab_path.name} ({lab_path.minutes} minutes)")
        for row, estimate in zip(lab_path.rows, row_estimates(lab_path, notebooks), strict=True):
            shown = "     -" if estimate is None else f"{estimate:6.1f}"
            sections = HEADING_SEPARATOR.join(row.in_class)
            out.append(f"  {row.minutes:4d} min, estimate {shown}  {row.number or ACTIVITY}  {sections}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Print the estimates and the paths, then every problem; return 1 if there is any."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guide", type=Path, default=GUIDE, help="the English guide (default: docs/instructor.md)")
    parser.add_argument(
        "--ja-guide", type=Path, default=JAPANESE_GUIDE, help="the Japanese guide, checked if present (g)"
    )
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="the English notebooks' folder")
    parser.add_argument("--benchmarks", type=Path, default=BENCHMARKS, help="benchmarks/README.md")
    parser.add_argument("--run", action="store_true", help="also run each path's cells in a fresh kernel (f)")
    args = parser.parse_args(argv)
    if not args.guide.is_file():
        print(f"no guide at {args.guide}; give one with --guide", file=sys.stderr)
        return 1
    notebooks = read_notebooks(args.notebooks)
    guide = parse_guide(args.guide)
    japanese = parse_guide(args.ja_guide, japanese=True) if args.ja_guide.is_file() else None
    japanese_notebooks = read_notebooks(args.notebooks / "ja") if japanese is not None else None
    print(report(guide, notebooks))
    problems = all_problems(guide, notebooks, read_benchmarks(args.benchmarks), japanese, japanese_notebooks)
    if japanese is None:
        print(f"\n(no Japanese guide at {args.ja_guide}: check g skipped)")
    if args.run:
        runs, skipped = planned_runs(guide, notebooks)
        print(f"\nRunning {len(runs)} partial notebooks (check f); left to nbval: {len(skipped)}")
        for line in skipped:
            print(f"  {line}")
        for run in runs:
            found = execute(run)
            print(
                f"  notebook {run.notebook.number}, {len(run.cells)} code cells ({', '.join(run.paths)}): "
                f"{'ok' if not found else f'{len(found)} cells raise'}"
            )
            problems += found
    print(f"\n{len(problems)} problems" + "".join(f"\n  {p}" for p in problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
