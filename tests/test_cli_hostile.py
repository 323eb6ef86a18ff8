"""The `gradcam` command against hostile folders (issue 15): it never loses or changes a file it did not write, never
writes a cell a spreadsheet would run, never loses a report to an odd name or a full disk, and says what it skipped.

One run over the hostile tree (tests/hostile_inputs.py) is shared by the tests of this module; the small teaching
model keeps it fast. Fault injection: a patched writer raising ENOSPC always, and a real size-limited tmpfs where the
machine allows mounting one.
"""

import contextlib
import csv
import errno
import io
import json
import os
import signal
import subprocess
import unicodedata
from pathlib import Path

import pytest
from hostile_inputs import (
    FORMULA_START,
    build_hostile_tree,
    snapshot,
    tiny_png,
    unreadable_folders,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from gradcam_utils import cli
from gradcam_utils.cli._common import _printable

MODEL = ["--model", "shapes_gap", "-q"]  # 64x64, loads in a fraction of a second
FAST = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _run(argv):
    """main(argv) with stdout/stderr captured (works in module-scoped fixtures, where capsys is not available)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(argv)
    return status, stdout.getvalue(), stderr.getvalue()


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _temporaries(folder: Path) -> list[str]:
    return [
        os.path.join(f, n) for f, _, names in os.walk(folder) for n in names if cli._common.TEMP_PATTERN.fullmatch(n)
    ]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The hostile tree, its snapshot before the run, and one run of `gradcam explain` over it."""
    tree = build_hostile_tree(tmp_path_factory.mktemp("hostile"))
    before = snapshot(tree.root)
    # From inside the folder, so the sources are the bare names: a name is a cell's first characters in results.csv.
    with unreadable_folders(tree.unreadable), pytest.MonkeyPatch.context() as patch:
        patch.chdir(tree.photos)
        status, stdout, stderr = _run(["explain", ".", "--out", os.path.join("..", "out"), *MODEL])
    data = json.loads((tree.out / "results.json").read_bytes().decode("utf-8"))  # strict UTF-8
    return tree, before, status, stdout, stderr, data


def test_hostile_folder_exits_skipped_without_a_traceback(hostile):
    tree, before, status, stdout, stderr, data = hostile
    assert status == cli.EXIT_SKIPPED, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert "\x1b" not in stdout + stderr and "\u202e" not in stdout + stderr  # names cannot drive the terminal
    assert data["failed_outputs"] == []


def test_no_file_the_command_did_not_write_is_changed_or_removed(hostile):
    tree, before, *_ = hostile
    after = snapshot(tree.root)
    listed = json.loads((tree.out / cli.MANIFEST).read_text(encoding="utf-8"))["files"]
    ours = {os.path.join(tree.out, *name.split("/")) for name in listed} | {os.fspath(tree.out / cli.MANIFEST)}
    for path, digest in before.items():
        if path in tree.stale_temporaries:
            assert path not in after  # a killed run's temporary file (our own name pattern) is cleaned up
        else:
            assert after.get(path) == digest, f"{path!r} was changed or removed"
    assert set(after) - set(before) <= ours  # every new file is in the manifest...
    assert {p for p in after if p.startswith(os.fspath(tree.out) + os.sep)} - set(before) == ours  # ...and exists
    for path in tree.users_files_in_out:
        assert path not in ours
    assert _temporaries(tree.root) == []


def test_every_input_is_explained_or_skipped_with_its_reason(hostile):
    tree, _, _, stdout, _, data = hostile
    explained = {item["source"] for item in data["images"]}
    assert explained == {_printable(os.path.relpath(p, tree.photos)) for p in tree.good}
    skipped = {os.path.join(tree.photos, item["source"]): item["reason"] for item in data["skipped"]}
    for path, words in tree.skipped.items():
        assert words in skipped[path], (path, skipped.get(path))
    assert set(skipped) == set(tree.skipped)  # nothing else, nothing read twice or from --out
    assert "skipped" in stdout and "locked: folder could not be read (Permission denied)" in stdout


def test_csv_has_no_formula_cells_and_one_line_per_row(hostile):
    tree, *_, data = hostile
    text = (tree.out / "results.csv").read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + len(data["images"]) + len(data["skipped"])
    assert "\r" not in text and text.count("\n") == len(rows)  # a name can never split a row, in any program
    cells = [cell for row in rows for cell in row]
    assert all(_is_number(cell) or not cell.lstrip().startswith(FORMULA_START) for cell in cells)
    assert all(line.startswith('"') for line in text.splitlines())  # every field quoted (OWASP)
    sources = [row[0] for row in rows[1:]]
    for name in ('=HYPERLINK("x","y").png', "+cmd.png", "-2+3.png", "@SUM(A1).png", "=not an image.png"):
        assert "'" + name in sources  # shown as text by a spreadsheet, the quote marks it
    assert {"\\tTAB.png", "\\rCR.png", "new\\nline.png", "\\x1b[31mred.png", "evil\\u202egnp.png"} <= set(sources)


def test_html_escapes_every_name_and_links_resolve(hostile):
    tree, *_, data = hostile
    page = (tree.out / "index.html").read_bytes().decode("utf-8")
    assert "<img src=x" not in page and "<b>.png" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.png" in page
    assert "\u202e" not in page and "\x1b" not in page
    for item in data["images"]:
        overlay = tree.out / item["overlay"]
        assert overlay.is_file() and len(overlay.name.encode("utf-8")) <= 255
        assert all(unicodedata.category(c) != "Cc" for c in item["overlay"])
    with Image.open(tree.out / "contact_sheet.png") as sheet:
        sheet.load()
    names = [item["overlay"] for item in data["images"]]
    assert len({unicodedata.normalize("NFC", n).casefold() for n in names}) == len(names)  # NFC/NFD: two files


def test_second_run_replaces_only_its_own_files(tmp_path):
    """The manifest lets a later run replace what the first wrote, and remove its own stale contact sheet pages."""
    photos, out = tmp_path / "in", tmp_path / "out"
    photos.mkdir()
    for k in range(3):
        tiny_png(photos / f"{k}.png", k)
    assert _run(["explain", str(photos), "--out", str(out), *MODEL])[0] == cli.EXIT_OK
    (out / "contact_sheet_2.png").write_bytes((out / "contact_sheet.png").read_bytes())  # a page of a larger run...
    listed = json.loads((out / cli.MANIFEST).read_text())["files"]
    (out / cli.MANIFEST).write_text(json.dumps({"tool": "gradcam", "files": [*listed, "contact_sheet_2.png"]}))
    (out / "contact_sheet_3.png").write_bytes(b"the user's own")  # ...and the user's file named like one
    assert _run(["explain", str(photos), "--out", str(out), *MODEL])[0] == cli.EXIT_OK
    assert not (out / "contact_sheet_2.png").exists()
    assert (out / "contact_sheet_3.png").read_bytes() == b"the user's own"


@pytest.mark.parametrize("case", ["same", "link", "holds-input", "inside-with-users-files"])
def test_out_overlapping_an_input_folder_is_refused_before_anything_is_written(tmp_path, capsys, case):
    photos = tmp_path / "photos"
    (photos / "album").mkdir(parents=True)
    tiny_png(photos / "album" / "a.png")
    tiny_png(photos / "index.html")  # the user's files, where outputs would go
    (photos / "results.csv").write_text("mine\n")
    out = {
        "same": photos,
        "link": tmp_path / "link-to-photos",
        "holds-input": photos,
        "inside-with-users-files": photos / "album",
    }[case]
    if case == "link":
        os.symlink(photos, out)
    given = photos / "album" if case == "holds-input" else photos
    before = snapshot(tmp_path)
    status = cli.main(["explain", str(given), "--out", str(out), *MODEL])
    err = capsys.readouterr().err
    assert status == cli.EXIT_USAGE
    assert err.startswith("gradcam: error: --out") and "Choose an --out outside the inputs" in err
    assert err.strip().count("\n") == 0
    assert snapshot(tmp_path) == before


def test_out_inside_the_input_folder_is_fine_when_new_or_the_commands_own(tmp_path, monkeypatch):
    """`gradcam explain .` (--out gradcam-out inside the input) still works, run after run: the folder is left out."""
    tiny_png(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert _run(["explain", ".", *MODEL])[0] == cli.EXIT_OK
    data = json.loads((tmp_path / cli.DEFAULT_OUT / "results.json").read_text(encoding="utf-8"))
    assert [item["source"] for item in data["images"]] == ["a.png"] and data["skipped"] == []


def test_a_link_inside_out_never_leads_a_write_outside_it(tmp_path):
    tiny_png(tmp_path / "b.png")
    elsewhere, out = tmp_path / "elsewhere", tmp_path / "out"
    (elsewhere / "deep").mkdir(parents=True)
    out.mkdir()
    os.symlink(elsewhere, out / "overlays")  # e.g. a link the user made in the folder
    status, stdout, _ = _run(["explain", str(tmp_path / "b.png"), "--out", str(out), *MODEL])
    assert status == cli.EXIT_SKIPPED and "would be written outside --out" in stdout
    assert sorted(os.listdir(elsewhere)) == ["deep"] and os.listdir(elsewhere / "deep") == []


def test_out_holding_the_users_index_is_refused_and_left_alone(tmp_path, capsys):
    tiny_png(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("my home page\n")
    assert cli.main(["explain", str(tmp_path / "a.png"), "--out", str(out), *MODEL]) == cli.EXIT_USAGE
    assert "holds index.html, which gradcam did not write" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["index.html"] and (out / "index.html").read_text() == "my home page\n"


def _enospc_for(names):
    """atomic_write that fails with ENOSPC (disk full) for the files named ``names``, after writing half a file."""
    real = cli.outputs.atomic_write

    def atomic_write(path, write):
        if Path(path).name in names:

            def half(file):
                write(io.BytesIO())
                file.write(b"\x89PNG half")
                raise OSError(errno.ENOSPC, "No space left on device")

            return real(path, half)
        return real(path, write)

    return atomic_write


def test_full_disk_on_the_contact_sheet_and_an_index_keeps_every_other_report(tmp_path, monkeypatch, capsys):
    tiny_png(tmp_path / "a.png")
    tiny_png(tmp_path / "b.png", 1)
    out = tmp_path / "out"
    monkeypatch.setattr(cli.outputs, "atomic_write", _enospc_for({"contact_sheet.png", "results.json"}))
    status = cli.main(["explain", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--out", str(out), *MODEL])
    captured = capsys.readouterr()
    assert status == cli.EXIT_SKIPPED and "Traceback" not in captured.err
    assert "contact_sheet.png" in captured.err and "results.json" in captured.err
    assert "No space left on device" in captured.err
    assert sorted(os.listdir(out / "overlays")) == ["a.png", "b.png"]
    assert not (out / "contact_sheet.png").exists() and not (out / "results.json").exists()
    rows = list(csv.DictReader(open(out / "results.csv", encoding="utf-8", newline="")))
    assert [r["status"] for r in rows] == ["ok", "ok", "not written"]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "contact_sheet.png" in page and "No space left" in page
    assert "explained 2 of 2" in captured.out
    assert _temporaries(out) == []


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 256 KiB tmpfs mounted at tmp_path/disk (root only); skipped where mounting is not permitted."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("mount is not available here; the patched-writer ENOSPC test still covers a full disk")
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.decode(errors='replace').strip()}); "
            "the patched-writer ENOSPC test still covers a full disk"
        )
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True, timeout=10)


def test_a_real_full_disk_is_reported_and_leaves_no_partial_files(tmp_path, tiny_tmpfs, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(12):
        tiny_png(photos / f"{k:02d}.png", k, size=64)
    out = tiny_tmpfs / "out"
    stat = os.statvfs(tiny_tmpfs)
    with open(tiny_tmpfs / "filler", "wb") as filler:  # leave ~40 KB: the manifest and a few overlays fit
        filler.write(b"\0" * (stat.f_bavail * stat.f_frsize - 40_000))
    status = cli.main(["explain", str(photos), "--out", str(out), *MODEL])
    captured = capsys.readouterr()
    assert status == cli.EXIT_SKIPPED, captured.err
    assert "Traceback" not in captured.err and "No space left on device" in captured.out + captured.err
    assert _temporaries(out) == []
    for name in os.listdir(out / "overlays"):  # what was written is complete
        with Image.open(out / "overlays" / name) as image:
            image.load()
    if (out / "results.json").exists():
        json.loads((out / "results.json").read_text(encoding="utf-8"))


class _NotHandled(Exception):
    """Raised by the test's own SIGTERM handler: the command did not handle SIGTERM itself."""


def test_sigterm_cleans_up_like_ctrl_c_and_exits_143(tmp_path, monkeypatch, capsys):
    tiny_png(tmp_path / "a.png")
    tiny_png(tmp_path / "b.png", 1)
    out = tmp_path / "out"
    real = cli.outputs.save_png

    def save(image, file):
        real(image, file)  # a temporary file is open and written when the signal arrives
        os.kill(os.getpid(), signal.SIGTERM)

    def not_handled(signum, frame):
        raise _NotHandled()

    previous = signal.signal(signal.SIGTERM, not_handled)  # never let the default action kill the test run
    try:
        monkeypatch.setattr(cli.outputs, "save_png", save)
        status = cli.main(["explain", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--out", str(out), *MODEL])
        assert signal.getsignal(signal.SIGTERM) is not_handled  # the command puts the caller's handler back
    finally:
        signal.signal(signal.SIGTERM, previous)
    err = capsys.readouterr().err
    assert status == cli.EXIT_TERMINATED == 143
    assert "terminated" in err and "Traceback" not in err and err.strip().count("\n") == 0
    assert _temporaries(out) == [] and not (out / "overlays" / "a.png").exists()
    listed = json.loads((out / cli.MANIFEST).read_text(encoding="utf-8"))["files"]
    assert all((out / name).exists() for name in listed)  # it claims only files that exist


def test_ctrl_c_while_loading_the_model_prints_one_line(tmp_path, monkeypatch, capsys):
    tiny_png(tmp_path / "a.png")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt()

    monkeypatch.setattr(cli.models, "load_bundle", interrupted)
    assert cli.main(["explain", str(tmp_path / "a.png"), "--out", str(tmp_path / "out")]) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err and err.strip().count("\n") == 0


_TEXT = st.text(st.characters(max_codepoint=0x2FFF, exclude_categories=["Cs"]) | st.sampled_from("=+-@ \t\r\n\u202e"))


@FAST
@given(_TEXT)
def test_any_text_cell_is_one_inert_csv_field(text):
    cell = cli.csv_cell(text)
    assert "\n" not in cell and "\r" not in cell
    assert not cell.lstrip().startswith(FORMULA_START)
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow([cell, "x"])
    assert buffer.getvalue().count("\n") == 1
    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == [[cell, "x"]]


@FAST
@given(st.lists(st.binary(min_size=1, max_size=300).filter(lambda b: b"/" not in b and b"\0" not in b), max_size=6))
def test_overlay_names_are_short_printable_utf8_and_unique(names):
    taken: set[str] = set()
    overlays = [cli.inputs._unique_overlay_name(cli.inputs.PurePosixPath("sub", os.fsdecode(n)), taken) for n in names]
    for overlay in overlays:
        for part in overlay.parts:
            assert len(part.encode("utf-8")) <= 255  # strict UTF-8: no surrogates left
            assert all(unicodedata.category(c) != "Cc" for c in part)
        assert overlay.suffix.lower() == ".png"
    assert len({unicodedata.normalize("NFC", str(o)).casefold() for o in overlays}) == len(overlays)
