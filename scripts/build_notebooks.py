"""Build the course notebooks from their text sources and execute them, so committed outputs are fresh.

Sources live in notebooks/src/NN_name.py in the "percent" format (reviewable as plain text):
    # %% [markdown]
    # Some *markdown*, each line prefixed with "# ".
    # %%
    python_code()
    # %% tags=["nbval-ignore-output"]
    code_whose_output_nbval_does_not_compare()   (a cell tag, so no test marker sits in the code a learner reads)
Run from the repository root:  .venv/bin/python scripts/build_notebooks.py [NN_name ...]
Outputs must be deterministic (nbval compares them): seed everything, round printed floats, print no timings.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = NOTEBOOKS / "src"


def parse(text: str) -> list:
    """Split percent-format text into nbformat cells."""
    cells, kind, lines, tags = [], None, [], []

    def flush():
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif kind == "code" and body:
            cell = nbformat.v4.new_code_cell(body)
            if tags:
                cell.metadata["tags"] = tags
            cells.append(cell)

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
            tags = json.loads(line.split("tags=", 1)[1]) if "tags=" in line else []
        else:
            lines.append(line)
    flush()
    return cells


def build(name: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = parse((SOURCES / f"{name}.py").read_text())
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    NotebookClient(notebook, timeout=300, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name[:2]}-{index:02d}"  # stable ids keep diffs small
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    notebook.metadata.pop("widgets", None)  # widget state holds random model ids; nbval skips widget views
    target = NOTEBOOKS / f"{name}.ipynb"
    nbformat.write(notebook, target)
    return target


def coalesce_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) chunks: how a kernel splits a stream varies from run to run, and would
    otherwise show up as noise in the notebooks' diffs (nbval joins them too before comparing)."""
    joined = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (output.output_type == "stream" and previous is not None and previous.output_type == "stream"
                and previous.name == output.name):
            previous.text += output.text
        else:
            joined.append(output)
    return joined


def main(argv: list[str]) -> None:
    names = argv or sorted(p.stem for p in SOURCES.glob("[0-9][0-9]_*.py"))
    for name in names:
        print("built", build(name).relative_to(ROOT))


if __name__ == "__main__":
    main(sys.argv[1:])
