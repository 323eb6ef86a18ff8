"""The lab paths of the instructor's guide (scripts/lab_paths.py): its estimate and checks a) to g).

First on a small fixture built in tmp_path (a notebook, its Japanese edition, both guides and a benchmarks table), where
each check is shown to pass on the good fixture and to fail on a broken copy, and the estimate is computed by hand from
the fixture's words and cells (the test writes the arithmetic out). Then on the real guide, docs/instructor.md, and its
Japanese translation, docs/ja/instructor.md: the fast checks, then check f, which runs partial notebooks (the set-up and
a path's in-class sections) in fresh kernels, each distinct set of cells once.
"""

import re
from pathlib import Path

import nbformat
import pytest
from script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]

lab_paths = load_script("lab_paths")


def words(word: str, count: int) -> str:
    return " ".join([word] * count)


# The fixture notebook, with its words counted by hand (\w+ tokens; "·" is no word character):
#   set-up:     "# 01 · Demo" 2 + 73 = 75 words (0.5 min), 1 code cell (1)       -> 1.5 min
#   1. First:   "## 1. First" 2 + 145 + "End of first." 3 = 150 words (1 min), 1 code cell -> 2.0 min
#               (the second markdown cell holds the end of section 1, then the heading of section 2)
#   2. Second:  "## 2. Second" 2 + 298 = 300 words (2 min), 1 code cell           -> 3.0 min
#   Summary:    "## Summary" 1 + 29 = 30 words                                    -> 0.2 min
#   Exercises:  "## Exercises" 1 + 74 = 75 words (0.5), 1 exercise (10, not 11)   -> 10.5 min
# reading and running = 1.5 + 2 + 3 + 0.2 + 0.5 = 7.2 -> 7 minutes; exercises 10 minutes.
HAND_ESTIMATE = {None: 1.5, "1. First": 2.0, "2. Second": 3.0, "Summary": 0.2, "Exercises": 10.5}
HAND_WORDS = {None: 75, "1. First": 150, "2. Second": 300, "Summary": 30, "Exercises": 75}
HEADINGS = ["1. First", "2. Second", "Summary", "Exercises"]
JAPANESE_HEADINGS = ["1. 最初", "2. 二番目", "まとめ", "演習"]


def fixture_notebook(path: Path, headings: list[str], title: str) -> None:
    first, second, summary, exercises = headings
    cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\n\n{words('setup', 73)}"),
        nbformat.v4.new_code_cell("x = 1\n\n\ndef check_answer(value):\n    print('checked', value)"),
        nbformat.v4.new_markdown_cell(f"## {first}\n\n{words('alpha', 145)}"),
        nbformat.v4.new_code_cell("y = x + 1"),
        nbformat.v4.new_markdown_cell(f"End of first.\n\n## {second}\n\n{words('beta', 298)}"),
        nbformat.v4.new_code_cell("z = y * 2  # needs y from the first section"),
        nbformat.v4.new_markdown_cell(f"## {summary}\n\n{words('gamma', 29)}"),
        nbformat.v4.new_markdown_cell(f"## {exercises}\n\n{words('delta', 74)}"),
        nbformat.v4.new_code_cell("check_answer(z)"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


GLANCE = """## The notebooks at a glance

| notebook | run all: wall s | CPU s | peak RSS, MB | reading and running, min | exercises, min |
|---|---|---|---|---|---|
| [01 · Demo](../notebooks/01_demo.ipynb) | 13 | 17 | 2045 | 7 | 10 |
"""

PATHS = """## Paths through the course

### Short lab (30 minutes)

| minutes | notebook | in class, in this order | homework |
|---|---|---|---|
| 5 | — | Opening: what the lab is for | |
| 10 | [01](../notebooks/01_demo.ipynb) | 1. First; 2. Second | Exercises |
| 15 | 01 | Summary | |

### Long lab (40 minutes)

| minutes | notebook | in class, in this order | homework |
|---|---|---|---|
| 25 | [01](../notebooks/01_demo.ipynb) | 1. First; 2. Second; Summary; Exercises | |
| 15 | — | Closing | |

## Something else
"""

JAPANESE_GUIDE = """# 手引き

## ノートブックの一覧

| ノートブック | 全体の実行: 実時間 s | CPU s | ピーク RSS, MB | 読んで実行, 分 | 演習, 分 |
|---|---|---|---|---|---|
| [01 · デモ](../../notebooks/ja/01_demo.ipynb) | 13 | 17 | 2045 | 7 | 10 |

## コースの道筋

### 短い実習（30 分）

| 分 | ノートブック | 授業で、この順に | 宿題 |
|---|---|---|---|
| 5 | — | はじめに | |
| 10 | [01](../../notebooks/ja/01_demo.ipynb) | 1. 最初; 2. 二番目 | 演習 |
| 15 | 01 | まとめ | |

### 長い実習 (40 minutes)

| 分 | ノートブック | 授業で、この順に | 宿題 |
|---|---|---|---|
| 25 | 01 | 1. 最初; 2. 二番目; まとめ; 演習 | |
| 15 | — | おわりに | |
"""

BENCHMARKS = """# Benchmarks

### Latest figures

| notebook | peak RSS, MB | peak RSS, MB (ja) | CPU s | wall s |
|---|---|---|---|---|
| 01_demo | **2045** (1965 on a rerun) | 1804 | 17 | 13 |
"""


@pytest.fixture
def course(tmp_path):
    """A course of one notebook (both editions), both guides and the benchmarks' table, all consistent."""
    fixture_notebook(tmp_path / "notebooks" / "01_demo.ipynb", HEADINGS, "01 · Demo")
    fixture_notebook(tmp_path / "notebooks" / "ja" / "01_demo.ipynb", JAPANESE_HEADINGS, "01 · デモ")
    (tmp_path / "docs" / "ja").mkdir(parents=True)
    (tmp_path / "docs" / "instructor.md").write_text(f"# Guide\n\n{GLANCE}\n{PATHS}", encoding="utf-8")
    (tmp_path / "docs" / "ja" / "instructor.md").write_text(JAPANESE_GUIDE, encoding="utf-8")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "README.md").write_text(BENCHMARKS, encoding="utf-8")
    return tmp_path


def load(course: Path, english: str | None = None, japanese: str | None = None):
    """The fixture's guides (optionally replaced by other text), notebooks and benchmarks, parsed."""
    if english is not None:
        (course / "docs" / "instructor.md").write_text(english, encoding="utf-8")
    if japanese is not None:
        (course / "docs" / "ja" / "instructor.md").write_text(japanese, encoding="utf-8")
    guide = lab_paths.parse_guide(course / "docs" / "instructor.md")
    ja_guide = lab_paths.parse_guide(course / "docs" / "ja" / "instructor.md", japanese=True)
    notebooks = lab_paths.read_notebooks(course / "notebooks")
    ja_notebooks = lab_paths.read_notebooks(course / "notebooks" / "ja")
    benchmarks = lab_paths.read_benchmarks(course / "benchmarks" / "README.md")
    return guide, ja_guide, notebooks, ja_notebooks, benchmarks


def english_with(old: str, new: str) -> str:
    text = f"# Guide\n\n{GLANCE}\n{PATHS}"
    assert old in text
    return text.replace(old, new)


# --- The estimate ----------------------------------------------------------------------------------------------------


def test_the_estimate_of_the_fixture_is_the_one_computed_by_hand(course):
    notebook = lab_paths.read_notebook(course / "notebooks" / "01_demo.ipynb")
    sections = [notebook.setup, *notebook.sections]
    assert notebook.title == "01 · Demo" and notebook.headings == HEADINGS
    assert {s.title: s.words for s in sections} == HAND_WORDS
    assert {s.title: round(s.minutes, 6) for s in sections} == HAND_ESTIMATE
    assert notebook.section("Exercises").exercises == 1 and notebook.setup.exercises == 0


def test_the_glance_table_quotes_the_hand_computed_reading_and_exercise_minutes(course):
    guide, _, notebooks, _, benchmarks = load(course)
    assert lab_paths.check_glance(guide, notebooks, benchmarks, {"01": "01 · Demo"}) == []
    wrong = english_with("| 2045 | 7 | 10 |", "| 2045 | 8 | 10 |")
    guide = load(course, english=wrong)[0]
    (problem,) = lab_paths.check_glance(guide, notebooks, benchmarks, {"01": "01 · Demo"})
    assert "reading and running is '8'" in problem and "estimate from the notebook is 7" in problem


def test_a_row_counts_the_set_up_once_in_its_notebooks_first_row(course):
    guide, _, notebooks, _, _ = load(course)
    short, long = guide.paths
    # short: activity; 01 with set-up 1.5 + 2.0 + 3.0; 01 again, Summary only (0.2), no set-up
    assert [None if e is None else round(e, 6) for e in lab_paths.row_estimates(short, notebooks)] == [None, 6.5, 0.2]
    assert [None if e is None else round(e, 6) for e in lab_paths.row_estimates(long, notebooks)] == [17.2, None]


@pytest.mark.parametrize(
    ("code", "exercise"),
    [
        ("check_answer(z)", True),
        ("gc.exercises.check_blend(value)", True),
        ("answer = None   # your code here\ncheck_box_iou(answer)", True),
        ("from gradcam_utils.exercises import check_blend", False),
        ("checked = check_list", False),
        ("%time check_answer(1)", True),  # IPython syntax: the text decides
        ("recheck_answer(1)", False),
    ],
)
def test_an_exercise_is_a_cell_that_calls_a_check_function(code, exercise):
    assert lab_paths.is_exercise(code) is exercise


# --- Checks a) to e) and the glance table: pass on the fixture, fail on a broken copy --------------------------------


def test_the_consistent_fixture_has_no_problem(course):
    guide, ja_guide, notebooks, ja_notebooks, benchmarks = load(course)
    assert guide.problems == [] and ja_guide.problems == []
    assert [p.name for p in guide.paths] == ["Short lab", "Long lab"]
    assert [p.name for p in ja_guide.paths] == ["短い実習", "長い実習"]  # both heading forms are read
    assert lab_paths.all_problems(guide, notebooks, benchmarks, ja_guide, ja_notebooks) == []


def test_a_heading_the_notebook_lacks_is_reported(course):
    guide, _, notebooks, _, _ = load(course, english=english_with("1. First; 2. Second |", "1. First; 2. Secnd |"))
    (problem,) = lab_paths.check_headings(guide, notebooks)
    assert "notebook 01 has no heading '## 2. Secnd'" in problem and "2. Second" in problem


def test_a_missing_notebook_and_a_wrong_link_are_reported(course):
    text = english_with("| 15 | 01 | Summary | |", "| 15 | [02](../notebooks/01_demo.ipynb) | Summary | |")
    guide, _, notebooks, _, _ = load(course, english=text)
    assert any("no notebook 02_*.ipynb" in p for p in lab_paths.check_headings(guide, notebooks))
    text = english_with("| 15 | 01 | Summary | |", "| 15 | [01](../notebooks/01_missing.ipynb) | Summary | |")
    guide = load(course, english=text)[0]
    assert any("should point at notebook 01's file" in p for p in lab_paths.check_headings(guide, notebooks))


def test_in_class_headings_out_of_the_notebooks_order_are_reported(course):
    guide, _, notebooks, _, _ = load(course, english=english_with("1. First; 2. Second |", "2. Second; 1. First |"))
    (problem,) = lab_paths.check_order(guide, notebooks)
    assert "Short lab" in problem and "1. First; 2. Second" in problem


def test_a_heading_both_in_class_and_homework_is_reported(course):
    guide = load(course, english=english_with("| Summary | |", "| Summary | Exercises; 1. First |"))[0]
    (problem,) = lab_paths.check_class_or_homework(guide)
    assert "'1. First' is both in class and homework" in problem


def test_minutes_that_do_not_add_up_are_reported(course):
    guide = load(course, english=english_with("### Short lab (30 minutes)", "### Short lab (35 minutes)"))[0]
    (problem,) = lab_paths.check_minutes(guide)
    assert "add up to 30 minutes, the heading says 35" in problem


def test_a_row_shorter_than_its_estimate_is_reported(course):
    # 6.5 minutes estimated (by hand, above): 7 minutes pass (6.5 rounds to 7), 6 do not
    text = english_with("| 5 | — | Opening: what the lab is for | |\n| 10 |", "| 8 | — | Opening | |\n| 7 |")
    guide, _, notebooks, _, _ = load(course, english=text)
    assert lab_paths.check_estimates(guide, notebooks) == []
    guide = load(course, english=text.replace("| 7 | [01]", "| 6 | [01]"))[0]
    (problem,) = lab_paths.check_estimates(guide, notebooks)
    assert "estimated at 6.5 minutes but has 6" in problem


def test_measured_figures_must_be_benchmarks_readmes(course):
    guide, _, notebooks, _, benchmarks = load(course, english=english_with("| 13 | 17 | 2045 |", "| 13 | 17 | 1965 |"))
    assert benchmarks["01_demo"]["peak RSS, MB"] == "2045"  # the bold cell's first number, not the rerun's
    (problem,) = lab_paths.check_glance(guide, notebooks, benchmarks, {})
    assert "RSS is '1965'" in problem and "says 2045" in problem


@pytest.mark.parametrize(
    ("text", "passes"), [("01 · Demo", True), ("01 · De", True), ("02 · Demo", False), ("Demo", False)]
)
def test_the_glance_link_shows_the_notebooks_title_or_its_beginning(course, text, passes):
    guide, _, notebooks, _, benchmarks = load(course, english=english_with("[01 · Demo]", f"[{text}]"))
    problems = lab_paths.check_glance(guide, notebooks, benchmarks, {"01": "01 · Demo"})
    assert problems == [] if passes else "the notebook's title '01 · Demo' or its beginning" in problems[0]


def test_each_notebook_listed_once_in_the_glance_table(course):
    row = "| [01 · Demo](../notebooks/01_demo.ipynb) | 13 | 17 | 2045 | 7 | 10 |\n"
    guide, _, notebooks, _, benchmarks = load(course, english=english_with(row, row + row))
    (problem,) = lab_paths.check_glance(guide, notebooks, benchmarks, {})
    assert "list notebook 01 2 times" in problem
    guide = load(course, english=english_with(row, ""))[0]
    assert any("notebook 01 0 times" in p for p in guide.problems + lab_paths.check_glance(guide, notebooks, {}, {}))


def test_a_notebook_cell_may_be_a_number_a_link_or_a_link_and_text(course):
    text = english_with("| 15 | 01 | Summary | |", "| 15 | [01](../notebooks/01_demo.ipynb) · Demo | Summary | |")
    guide = load(course, english=text)[0]
    assert guide.problems == []
    assert [(row.number, row.target) for row in guide.paths[0].rows] == [
        (None, None),
        ("01", "../notebooks/01_demo.ipynb"),
        ("01", "../notebooks/01_demo.ipynb"),
    ]


def test_a_malformed_table_is_a_problem_not_a_crash(course):
    text = english_with("| minutes | notebook | in class, in this order | homework |", "| min | nb | class | hw |")
    guide = load(course, english=text)[0]
    assert any("a path's table header should be" in p for p in guide.problems)
    guide = load(course, english=english_with("| 15 | 01 | Summary | |", "| 15 | one | Summary | |"))[0]
    assert any("start with the notebook's two-digit number" in p for p in guide.problems)


def test_missing_benchmarks_table_says_where_figures_come_from(tmp_path):
    (tmp_path / "README.md").write_text("# Benchmarks\n", encoding="utf-8")
    with pytest.raises(ValueError, match="notebook_resources.py"):
        lab_paths.read_benchmarks(tmp_path / "README.md")


# --- g) The Japanese guide -----------------------------------------------------------------------------------------


def test_japanese_names_must_be_the_japanese_headings_at_the_english_positions(course):
    text = JAPANESE_GUIDE.replace("| 1. 最初; 2. 二番目 | 演習 |", "| 1. 最初; 2. Second | 演習 |")
    guide, ja_guide, notebooks, ja_notebooks, _ = load(course, japanese=text)
    (problem,) = lab_paths.check_japanese(guide, ja_guide, notebooks, ja_notebooks)
    assert "in class cell should name" in problem and "1. 最初; 2. 二番目" in problem


def test_japanese_paths_need_the_same_minutes_and_notebooks(course):
    text = JAPANESE_GUIDE.replace("### 短い実習（30 分）", "### 短い実習（35 分）").replace("| 5 | — |", "| 10 | — |")
    guide, ja_guide, notebooks, ja_notebooks, _ = load(course, japanese=text)
    problems = lab_paths.check_japanese(guide, ja_guide, notebooks, ja_notebooks)
    assert any("minutes [35, 40] should be the English guide's" in p for p in problems)
    assert any("10 minutes of —, the English row" in p for p in problems)


def test_japanese_links_must_point_at_the_notebook(course):
    text = JAPANESE_GUIDE.replace(
        "| [01](../../notebooks/ja/01_demo.ipynb) |", "| [01](../notebooks/ja/01_demo.ipynb) |"
    )
    guide, ja_guide, notebooks, ja_notebooks, _ = load(course, japanese=text)
    (problem,) = lab_paths.check_japanese(guide, ja_guide, notebooks, ja_notebooks)
    assert "the link ../notebooks/ja/01_demo.ipynb should point at notebook 01's file" in problem


def test_japanese_glance_table_has_the_same_numbers(course):
    guide, ja_guide, notebooks, ja_notebooks, benchmarks = load(
        course, japanese=JAPANESE_GUIDE.replace("| 2045 | 7 | 10 |", "| 2045 | 7 | 20 |")
    )
    problems = lab_paths.all_problems(guide, notebooks, benchmarks, ja_guide, ja_notebooks)
    assert len(problems) == 1 and "exercises is '20' minutes" in problems[0]


def test_japanese_notebooks_with_other_headings_are_reported(course):
    fixture_notebook(course / "notebooks" / "ja" / "01_demo.ipynb", ["1. 最初", "2. 二番目", "まとめ", "演習 1"], "x")
    guide, ja_guide, notebooks, ja_notebooks, _ = load(course)
    homework, in_class = lab_paths.check_japanese(guide, ja_guide, notebooks, ja_notebooks)  # Short lab, Long lab
    assert "homework cell should name the Japanese headings" in homework and homework.endswith(": 演習 1")
    assert "in class cell should name" in in_class and in_class.endswith("まとめ; 演習 1")
    fixture_notebook(course / "notebooks" / "ja" / "01_demo.ipynb", ["2. 最初", "1. 二番目", "まとめ", "演習"], "x")
    problems = lab_paths.check_japanese(guide, ja_guide, notebooks, lab_paths.read_notebooks(course / "notebooks/ja"))
    assert any("heading 1 is '2. 最初', the English notebook's is '1. First'" in p for p in problems)


# --- f) Runnable as written ----------------------------------------------------------------------------------------


def test_the_runs_are_deduplicated_and_whole_notebooks_left_to_nbval(course):
    text = english_with(
        "## Something else",
        "### Again (30 minutes)\n\n| minutes | notebook | in class, in this order "
        "| homework |\n|---|---|---|---|\n| 30 | 01 | 2. Second; Summary; 1. First | |\n",
    )
    guide, _, notebooks, _, _ = load(course, english=text)
    runs, skipped = lab_paths.planned_runs(guide, notebooks)
    # Short lab and Again both run set-up, 1. First, 2. Second (cells 1, 3, 5): once; Long lab runs every cell
    assert [(run.cells, run.paths) for run in runs] == [([1, 3, 5], ["Short lab", "Again"])]
    assert len(skipped) == 1 and skipped[0].startswith("Long lab")


def test_a_section_that_needs_a_skipped_one_fails_check_f(course):
    good = load(course)
    assert lab_paths.check_runnable(good[0], good[2], timeout=120) == []
    text = english_with("| 1. First; 2. Second | Exercises |", "| 2. Second | 1. First; Exercises |")
    guide, _, notebooks, _, _ = load(course, english=text)
    (problem,) = lab_paths.check_runnable(guide, notebooks, timeout=120)
    assert "Short lab: notebook 01: cell 5 (section '2. Second') raises NameError: name 'y' is not defined" in problem


def test_the_command_line_runs_the_same_checks(course, capsys):
    args = [
        "--guide",
        str(course / "docs" / "instructor.md"),
        "--ja-guide",
        str(course / "docs" / "ja" / "instructor.md"),
    ]
    args += ["--notebooks", str(course / "notebooks"), "--benchmarks", str(course / "benchmarks" / "README.md")]
    assert lab_paths.main(args) == 0
    out = capsys.readouterr().out
    assert "0 problems" in out and "Short lab (30 minutes)" in out and "10.5 min" in out
    load(course, english=english_with("### Short lab (30 minutes)", "### Short lab (35 minutes)"))
    assert lab_paths.main(args) == 1
    assert "the heading says 35" in capsys.readouterr().out


# --- The real guide ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real():
    assert lab_paths.GUIDE.is_file(), "docs/instructor.md, the instructor's guide, is missing"
    return lab_paths.parse_guide(lab_paths.GUIDE), lab_paths.read_notebooks(lab_paths.NOTEBOOKS)


def test_the_real_guide_names_existing_sections_in_order_with_fitting_minutes(real):
    guide, notebooks = real
    assert len(guide.paths) >= 3, "the guide should plan a 2-hour, a half-day and a full-day path"
    problems = lab_paths.all_problems(guide, notebooks, lab_paths.read_benchmarks(lab_paths.BENCHMARKS))
    assert problems == [], "\n".join(problems)


def test_the_japanese_guide_matches_the_english_one(real):
    assert lab_paths.JAPANESE_GUIDE.is_file(), "docs/ja/instructor.md, the guide's Japanese edition, is missing"
    guide, notebooks = real
    japanese = lab_paths.parse_guide(lab_paths.JAPANESE_GUIDE, japanese=True)
    problems = lab_paths.all_problems(
        guide,
        notebooks,
        lab_paths.read_benchmarks(lab_paths.BENCHMARKS),
        japanese,
        lab_paths.read_notebooks(lab_paths.JAPANESE_NOTEBOOKS),
    )
    assert problems == [], "\n".join(problems)


def test_every_path_of_the_real_guide_runs_as_written(real):
    guide, notebooks = real
    problems = lab_paths.check_runnable(guide, notebooks)
    assert problems == [], "\n".join(problems)


def test_the_guides_totals_and_cpu_range_are_the_tables(real):
    """The prose's sums and CPU range, recomputed from the at-a-glance table (the table itself is checked above)."""
    guide, _ = real
    columns = list(zip(*[[float(cell) for cell in row.cells] for row in guide.glance], strict=True))
    wall, cpu, rss, reading, exercises = columns
    totals = (
        f"{sum(reading):.0f} minutes of reading and running and {sum(exercises):.0f} minutes of exercises",
        f"読んで実行する時間が {sum(reading):.0f} 分、演習が {sum(exercises):.0f} 分",
    )
    cpu_range = (f"{min(cpu):.0f} to {max(cpu):.0f} s of CPU", f"CPU 時間は {min(cpu):.0f}〜{max(cpu):.0f} 秒")
    for text, total, cpu_words in zip(
        (lab_paths.GUIDE.read_text(encoding="utf-8"), lab_paths.JAPANESE_GUIDE.read_text(encoding="utf-8")),
        totals,
        cpu_range,
        strict=True,
    ):
        assert total in text, f"the guide's totals should read: {total}"
        assert text.count(cpu_words) == 2, f"the CPU range, twice (the table's notes, the server section): {cpu_words}"


# Numbers the notebook blocks quote that no notebook prints: wrong answers a learner would type, worked out by hand in
# the block (04, exercise 1: 0.333 is what corner-aligned resizing gives, 0.125 what an unclamped row -0.25 gives).
HAND_WORKED_NUMBERS = {"04": {"0.333", "0.125"}}
QUOTED_NUMBER = re.compile(r"(?<![\w.])[-−]?\d+\.\d+%?|(?<![\w.])\d+%")


def notebook_text(path: Path) -> str:
    """A notebook's sources and stored text outputs, as a learner sees them."""
    notebook = nbformat.read(path, as_version=4)
    parts = []
    for cell in notebook.cells:
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts += [output.get("data", {}).get(kind, "") for kind in ("text/plain", "text/html", "text/markdown")]
    return "\n".join(parts).replace("−", "-")


def notebook_blocks(guide: Path) -> dict[str, str]:
    """The guide's "### NN · title" blocks under its notebook-by-notebook section, by notebook number."""
    text = guide.read_text(encoding="utf-8")
    start = text.index("\n### 01 · ")
    part = text[start : text.index("\n## ", start)]
    return {m.group(1): m.group(0) for m in re.finditer(r"(?ms)^### (\d\d) · .*?(?=^### \d\d · |\Z)", part)}


@pytest.mark.parametrize("japanese", [False, True], ids=["en", "ja"])
def test_the_numbers_the_notebook_blocks_quote_are_printed_by_the_notebook(japanese):
    """Each decimal or percentage in a notebook's block is in that notebook (sources, outputs), its worked solutions or
    the exercise checks' messages, so a rebuilt notebook whose numbers moved fails here until the guide follows."""
    guide, folder = (
        (lab_paths.JAPANESE_GUIDE, ROOT / "notebooks" / "ja") if japanese else (lab_paths.GUIDE, ROOT / "notebooks")
    )
    messages = (ROOT / "gradcam_utils" / "messages_checks.py").read_text(encoding="utf-8")
    blocks = notebook_blocks(guide)
    assert sorted(blocks) == [f"{n:02d}" for n in range(1, 10)]
    missing = {}
    for number, block in blocks.items():
        [path] = folder.glob(f"{number}_*.ipynb")
        solutions = "".join(p.read_text(encoding="utf-8") for p in (folder / "solutions").glob(f"{number}_*.md"))
        printed = notebook_text(path) + solutions.replace("−", "-") + messages
        quoted = {n.replace("−", "-") for n in QUOTED_NUMBER.findall(block)} - HAND_WORKED_NUMBERS.get(number, set())
        if absent := sorted(n for n in quoted if n not in printed):
            missing[number] = absent
    assert not missing, f"numbers quoted in {guide.name}'s notebook blocks that the notebooks do not print: {missing}"
