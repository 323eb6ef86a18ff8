"""The notebook build on jupytext, and the pairing that lets an edit made in JupyterLab flow back to its source.

scripts/build_notebooks.py reads notebooks/src/NN_name.py with jupytext and writes notebooks/NN_name.ipynb;
notebooks/jupytext.toml pairs the two, so jupytext (in JupyterLab or on the command line) writes an edited notebook
back to its source. Both directions must give the committed files: the cells of each notebook are those of its source
(test_notebooks_meta.test_notebook_matches_its_text_source), and the source is what jupytext writes from the notebook.
"""

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupytext.config import load_jupytext_config, load_jupytext_configuration_file
from jupytext.paired_paths import paired_paths
from test_notebooks_meta import build_notebooks, cell_summary, cells

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CONFIG = ROOT / "notebooks" / "jupytext.toml"


def source_of(notebook: Path) -> Path:
    return notebook.parent / "src" / f"{notebook.stem}.py"


def as_percent_text(notebook):
    """The py:percent text that jupytext writes for a notebook with the repository's configuration."""
    return jupytext.writes(notebook, fmt="py:percent", config=load_jupytext_configuration_file(str(CONFIG)))


def copy_pair(notebook: Path, folder: Path) -> tuple[Path, Path]:
    """Copy a notebook, its source and the configuration into folder, laid out as in notebooks/."""
    (folder / "src").mkdir()
    shutil.copy(CONFIG, folder / CONFIG.name)
    copied_notebook, copied_source = folder / notebook.name, folder / "src" / source_of(notebook).name
    shutil.copy(notebook, copied_notebook)
    shutil.copy(source_of(notebook), copied_source)
    # As after a build: the notebook was written after its source.
    os.utime(copied_source, (1_600_000_000, 1_600_000_000))
    os.utime(copied_notebook, (1_700_000_000, 1_700_000_000))
    return copied_notebook, copied_source


def with_line_added_to_first_code_cell(text: str, source: str, added: str) -> str:
    """The source text with one line appended to its first code cell, written by hand (not by jupytext)."""
    head, marker, rest = text.partition("\n# %%\n")
    assert rest.startswith(source), "the first code cell should follow the first plain `# %%` marker"
    return head + marker + source + "\n" + added + rest[len(source) :]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_configuration_pairs_each_notebook_with_its_source(path):
    config = load_jupytext_config(str(path))
    assert config is not None, f"jupytext finds no configuration for {path.name}: notebooks/jupytext.toml is missing"
    paired = {Path(p) for p, _ in paired_paths(str(path), "ipynb", config.default_formats(str(path)))}
    assert source_of(path) in paired, f"{path.name} is not paired with {source_of(path)}: see its `formats`"


@pytest.mark.parametrize(
    "path",
    NOTEBOOKS,
    ids=lambda p: p.stem,
)
def test_jupytext_writes_each_notebook_as_its_committed_source(path):
    """Saving a notebook in JupyterLab rewrites its source: unedited, it must come out byte for byte as committed
    (no YAML header, only the tags of the cells' metadata, the committed blank lines)."""
    written = as_percent_text(nbformat.read(path, as_version=4))
    assert written == source_of(path).read_text(), (
        f"jupytext would rewrite {source_of(path).relative_to(ROOT)}: normalise it with "
        f"`.venv/bin/python scripts/build_notebooks.py --normalise {path.stem}`"
    )


def test_the_source_comparison_detects_a_changed_line_or_tag():
    """The check that a notebook matches its source (test_notebooks_meta) fails on a changed code line, markdown
    line or tag."""
    notebook = ROOT / "notebooks" / "03_gradcam_on_a_real_network.ipynb"
    text = source_of(notebook).read_text()
    committed = cell_summary(cells(notebook))
    assert cell_summary(build_notebooks.parse(text)) == committed
    changed = {
        "code": text.replace("import gradcam_utils as gc", "import gradcam_utils as gradcam", 1),
        "markdown": text.replace("# **Learning goals.**", "# **Goals.**", 1),
        "tag": text.replace('# %% tags=["nbval-ignore-output"]', "# %%", 1),
    }
    for what, edited in changed.items():
        assert edited != text, f"the {what} edit did not apply: choose another line"
        assert cell_summary(build_notebooks.parse(edited)) != committed, f"a changed {what} went unnoticed"


def test_the_written_source_comparison_detects_a_missing_blank_line():
    notebook = ROOT / "notebooks" / "09_capstone.ipynb"
    text = source_of(notebook).read_text()
    one_blank_line_fewer = text.replace("\n\n\n# %% [markdown]", "\n\n# %% [markdown]", 1)
    assert one_blank_line_fewer != text
    assert as_percent_text(nbformat.read(notebook, as_version=4)) != one_blank_line_fewer


def test_the_build_keeps_only_the_tags_of_the_cells_metadata():
    """jupytext records the blank lines it found after a cell (lines_to_next_cell); that describes the text file and
    must not reach the notebook."""
    text = '# %%\ndef f():\n    return 1\n\n# %% tags=["nbval-ignore-output"]\nf()\n'
    assert jupytext.reads(text, fmt="py:percent").cells[0].metadata, "jupytext no longer records blank lines"
    assert [cell.metadata for cell in build_notebooks.parse(text)] == [{}, {"tags": ["nbval-ignore-output"]}]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_hold_no_jupytext_or_editor_metadata(path):
    """The build writes none; a notebook saved from JupyterLab holds jupytext's filters (and maybe cell settings
    such as `scrolled`): rebuild it with scripts/build_notebooks.py before committing."""
    notebook = nbformat.read(path, as_version=4)
    assert set(notebook.metadata) == {"kernelspec", "language_info"}, f"rebuild {path.name}"
    assert all(set(cell.metadata) <= {"tags"} for cell in notebook.cells), f"rebuild {path.name}"


def test_an_edit_saved_in_jupyterlab_reaches_the_source(tmp_path):
    """What JupyterLab does with jupytext installed: open a freshly built notebook (newer than its source, which
    jupytext accepts because their cells agree), edit a cell, save; the paired source gets the edit and nothing else."""
    notebook, source = copy_pair(ROOT / "notebooks" / "03_gradcam_on_a_real_network.ipynb", tmp_path)
    original = source.read_text()
    # JupyterLab 4's server derives jupytext's manager from its default, asynchronous one (jupyterlab_jupytext).
    manager = jupytext.AsyncTextFileContentsManager(root_dir=str(tmp_path))
    model = asyncio.run(manager.get(notebook.name))
    first_code = next(cell for cell in model["content"].cells if cell.cell_type == "code")
    unedited = first_code.source
    first_code.source += "\nprint('edited in JupyterLab')"
    first_code.metadata["slideshow"] = {"slide_type": "slide"}  # cell settings JupyterLab stores; not in the source
    asyncio.run(manager.save(model, notebook.name))
    assert source.read_text() == with_line_added_to_first_code_cell(original, unedited, "print('edited in JupyterLab')")


def test_jupytext_sync_writes_an_edited_notebook_to_its_source(tmp_path):
    """The command-line route: `jupytext --sync` on an edited notebook updates its paired source."""
    notebook, source = copy_pair(ROOT / "notebooks" / "05_interactive_explorer.ipynb", tmp_path)
    original = source.read_text()
    edited = nbformat.read(notebook, as_version=4)
    first_code = next(cell for cell in edited.cells if cell.cell_type == "code")
    unedited = first_code.source
    first_code.source += "\nprint('edited')"
    nbformat.write(edited, notebook)
    os.utime(notebook, (1_800_000_000, 1_800_000_000))
    subprocess.run(
        [sys.executable, "-m", "jupytext", "--sync", notebook.name], cwd=tmp_path, check=True, capture_output=True
    )
    assert source.read_text() == with_line_added_to_first_code_cell(original, unedited, "print('edited')")


def test_normalise_rewrites_a_source_as_jupytext_writes_it_from_its_notebook(tmp_path, monkeypatch):
    notebook = ROOT / "notebooks" / "09_capstone.ipynb"
    _, source = copy_pair(notebook, tmp_path)
    single_blank_lines = source.read_text().replace("\n\n\n# %%", "\n\n# %%")  # as before normalising
    assert single_blank_lines != source.read_text()
    source.write_text(single_blank_lines)
    monkeypatch.setattr(build_notebooks, "SOURCES", source.parent)
    build_notebooks.normalise(notebook.stem)
    normalised = source.read_text()
    assert normalised == as_percent_text(nbformat.read(notebook, as_version=4))
    assert cell_summary(build_notebooks.parse(normalised)) == cell_summary(cells(notebook)), "the cells changed"
