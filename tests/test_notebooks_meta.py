"""Course notebooks as teaching material: goals stated, committed outputs clean, sources and notebooks in sync.
(nbval, run by `make test`, re-executes each notebook and compares its outputs with the committed ones.)"""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_notebooks)


def cells(path):
    return json.loads(path.read_text())["cells"]


def cell_summary(notebook_cells):
    """What a source decides about each cell: its type, its source and its tags (nbval's markers)."""
    return [(c["cell_type"], "".join(c["source"]), c["metadata"].get("tags", [])) for c in notebook_cells]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no NN_name.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opens_with_learning_goals(path):
    first = cells(path)[0]
    assert first["cell_type"] == "markdown" and "Learning goals" in "".join(first["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_committed_clean_and_deterministic(path):
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code), "run scripts/build_notebooks.py to execute it"
    text = json.dumps([c["outputs"] for c in code])
    assert not re.search(r"/(root|work|tmp|home|Users)/", text), "an output shows a path of the machine"
    streams = [o for c in code for o in c["outputs"] if o["output_type"] == "stream"]
    assert not [o for o in streams if o["name"] == "stderr"], "stderr output (warnings, logs) in a committed cell"
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    readable = json.dumps(
        [
            {k: v for k, v in o.get("data", {}).items() if k.startswith("text/")} or o.get("text", "")
            for c in code
            for o in c["outputs"]
        ]
    )  # what nbval compares (pictures are not)
    # A learner's run sets nothing: an output naming a test-harness setting is not what they would see.
    assert not re.search(r"GRADCAM_[A-Z_]+|environment variable", readable), "an output names a test-harness setting"
    # Plain `pytest --nbval` (without the sanitize file) must pass too: no memory addresses in outputs.
    assert not re.search(r"0x[0-9a-fA-F]{6,}", readable), "an output shows a memory address"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_test_scaffolding_in_code_a_learner_reads(path):
    """nbval's markers live in cell tags (scripts/build_notebooks.py: `# %% tags=[...]`), not in the code."""
    code = "\n".join("".join(c["source"]) for c in cells(path) if c["cell_type"] == "code")
    assert "NBVAL" not in code.upper().replace("NBVAL-", "")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_one_fresh_run_and_a_standard_kernel(path):
    """Execution counts 1, 2, 3, ... (one top-to-bottom run, nothing stale) and the normalised kernelspec that
    scripts/build_notebooks.py writes, so the notebook opens with any Python 3 kernel."""
    notebook = json.loads(path.read_text())
    counts = [c["execution_count"] for c in notebook["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1))
    assert notebook["metadata"]["kernelspec"] == {"name": "python3", "display_name": "Python 3", "language": "python"}
    assert "widgets" not in notebook["metadata"], "widget state holds random ids; the build script drops it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_its_text_source(path):
    source = ROOT / "notebooks" / "src" / f"{path.stem}.py"
    expected = cell_summary(build_notebooks.parse(source.read_text()))
    actual = cell_summary(cells(path))
    assert actual == expected, f"{path.name} is out of date: run scripts/build_notebooks.py {path.stem}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short_because_the_library_does_the_work(path):
    longest = max(len("".join(c["source"]).splitlines()) for c in cells(path) if c["cell_type"] == "code")
    assert longest <= 15


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cites_its_papers_and_the_bibliography_lists_it(path):
    """Each notebook ends with the papers it relies on; notebooks/references.md names the notebook next to them."""
    markdown = [("".join(c["source"])) for c in cells(path) if c["cell_type"] == "markdown"]
    assert any(text.lstrip().startswith("## References") or "\n## References" in text for text in markdown), (
        "a notebook without its References section"
    )
    bibliography = (ROOT / "notebooks" / "references.md").read_text()
    number = path.stem[:2]
    assert re.search(rf"\|[^|\n]*\b{number}\b[^|\n]*\|\s*$", bibliography, re.M), (
        f"notebooks/references.md lists no paper for notebook {number}"
    )
