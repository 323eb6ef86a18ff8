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
Run from the repository root:  .venv/bin/python scripts/build_notebooks.py [--normalise] [NN_name ...]
Outputs must be deterministic (nbval compares them): seed everything, round printed floats, print no timings.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.config import load_jupytext_config
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = NOTEBOOKS / "src"


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


def build(name: str) -> Path:
    """Execute a source in a fresh kernel and write its notebook, with normalised metadata, ids and streams.

    Args:
        name: The notebook's name, e.g. ``01_why_interpretability``.

    Returns:
        The path of the notebook written.
    """
    notebook = nbformat.v4.new_notebook()
    notebook.cells = parse((SOURCES / f"{name}.py").read_text())
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name[:2]}-{index:02d}"  # stable ids keep diffs small
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    notebook.metadata.pop("widgets", None)  # widget state holds random model ids; nbval skips widget views
    target = NOTEBOOKS / f"{name}.ipynb"
    nbformat.write(notebook, target)
    return target


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
    """Build the notebooks named (all by default), or with ``--normalise`` only rewrite their sources."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NN_name", help="notebooks to build (default: all)")
    parser.add_argument(
        "--normalise",
        action="store_true",
        help="rewrite the sources as jupytext writes them from their notebooks; build nothing",
    )
    args = parser.parse_args(argv)
    names = args.names or sorted(p.stem for p in SOURCES.glob("[0-9][0-9]_*.py"))
    missing = [name for name in names if not (SOURCES / f"{name}.py").is_file()]
    if missing:
        parser.error(
            f"no source notebooks/src/NAME.py for {', '.join(missing)}; the names are the files' stems, e.g. "
            f"{sorted(p.stem for p in SOURCES.glob('[0-9][0-9]_*.py'))[0]}"
        )
    for name in names:
        if args.normalise:
            print("normalised", normalise(name).relative_to(ROOT))
        else:
            print("built", build(name).relative_to(ROOT))


if __name__ == "__main__":
    main(sys.argv[1:])
