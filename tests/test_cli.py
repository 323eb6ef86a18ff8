"""The `gradcam` command: a folder mixing good images, a corrupt file, a text file and a huge image; outputs checked
against the library called directly; atomic writes under failure; exit statuses; the installed entry point."""

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image

import gradcam_utils as gc
from gradcam_utils import cli, synthetic

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "gradcam_utils" / "data" / "images"
ODD_NAME = 'odd <name> & "co".png'  # must be escaped in the HTML and quoted in links
GOOD = ["cat.png", "espresso.png", ODD_NAME, "small.jpg", "sub/cat.png", "sub/deeper/grace_hopper.JPG", "sub/wide.png"]
BAD = {  # relative path -> words its reason must contain
    "corrupt.png": "truncated",
    "notes.jpg": "not an image",
    "sub/huge.png": "40,000,000-pixel limit",
}

_BUNDLES = {}


@pytest.fixture(scope="module", autouse=True)
def reuse_models():
    """Load each registered model once (the real loader, memoised), so its traced Grad-CAM plan is reused too."""
    real = cli.load_bundle

    def cached(spec, preprocess=None, class_names_file=None):
        if spec not in gc.available_models():
            return real(spec, preprocess, class_names_file)
        key = (spec, preprocess, class_names_file)
        if key not in _BUNDLES:
            _BUNDLES[key] = real(spec, preprocess, class_names_file)
        return _BUNDLES[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli.models, "load_bundle", cached)
        yield


def make_mixed_folder(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    shutil.copy(IMAGES / "cat.png", root / "cat.png")
    shutil.copy(IMAGES / "espresso.png", root / "espresso.png")
    shutil.copy(IMAGES / "espresso.png", root / ODD_NAME)
    shutil.copy(IMAGES / "cat.png", root / "sub" / "cat.png")  # same name, other folder: must not collide
    shutil.copy(IMAGES / "grace_hopper.jpg", root / "sub" / "deeper" / "grace_hopper.JPG")  # upper-case extension
    shutil.copy(IMAGES / "cat.png", root / ".hidden" / "cat.png")  # hidden folders are left out
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 40), np.uint8), "L").save(root / "small.jpg")
    ramp = np.linspace(0, 255, 1600, dtype=np.float32)
    wide = np.stack([np.tile(ramp, (400, 1)), np.tile(ramp[::-1], (400, 1)), np.full((400, 1600), 90)], -1)
    Image.fromarray(wide.astype(np.uint8)).save(root / "sub" / "wide.png")  # shrunk to --max-side 1024
    (root / "corrupt.png").write_bytes((IMAGES / "espresso.png").read_bytes()[:4000])  # truncated PNG
    (root / "notes.jpg").write_text("this is not a picture\n")  # text file with an image extension
    (root / "readme.txt").write_text("ignored when the folder is searched; tried when named\n")
    Image.new("1", (7000, 7000)).save(root / "sub" / "huge.png")  # 49 MP, but a 6 KB file: trips the guard
    return root


def overlay_files(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in (out / "overlays").rglob("*") if p.is_file()}


def temp_files(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def expected_overlay(relative: str) -> str:
    return "overlays/" + (relative if relative.endswith(".png") else relative + ".png")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("href", "src")]


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """One run over the mixed folder (batches of 3, so batches fill up across skipped files), shared by tests."""
    photos = make_mixed_folder(tmp_path_factory.mktemp("photos"))
    out = tmp_path_factory.mktemp("out") / "gradcam-out"
    status, stdout, stderr = _run(
        ["explain", str(photos), str(photos / "readme.txt"), "--out", str(out), "--top", "3", "--batch-size", "3"]
    )
    return photos, out, status, stdout, stderr


def _run(argv):
    """main(argv) with stdout/stderr captured (works in module-scoped fixtures, where capsys is not available)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(argv)
    return status, stdout.getvalue(), stderr.getvalue()


def test_mixed_folder_skips_bad_files_with_reasons_and_exits_1(mixed_run):
    photos, out, status, stdout, stderr = mixed_run
    assert status == 1
    assert "Traceback" not in stdout + stderr
    summary = stdout + stderr
    assert f"explained {len(GOOD)} of {len(GOOD) + len(BAD) + 1} file(s)" in summary
    for relative, words in BAD.items():
        line = next(line for line in summary.splitlines() if str(photos / relative) in line)
        assert words in line
    assert "readme.txt: not an image" in summary  # named explicitly: tried, then skipped

    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    skipped = {Path(s["source"]).relative_to(photos).as_posix(): s["reason"] for s in data["skipped"]}
    assert set(skipped) == set(BAD) | {"readme.txt"}
    for relative, words in BAD.items():
        assert words in skipped[relative]
    assert "--max-pixels" in skipped["sub/huge.png"]  # the CLI's option, not the library's argument
    assert data["counts"] == {"explained": len(GOOD), "skipped": len(BAD) + 1, "empty_maps": 0}

    page = (out / "index.html").read_text(encoding="utf-8")
    for relative, words in BAD.items():
        assert str(photos / relative) in page and words in page


def test_overlays_only_for_good_images_mirroring_folders_at_the_right_size(mixed_run):
    photos, out, *_ = mixed_run
    assert overlay_files(out) == {expected_overlay(g) for g in GOOD}
    assert temp_files(out) == []
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    # Deterministic order: sorted relative paths, folder by folder.
    assert [Path(i["source"]).relative_to(photos).as_posix() for i in data["images"]] == sorted(
        GOOD, key=lambda g: Path(g).parts
    )
    for item in data["images"]:
        with Image.open(out / item["overlay"]) as overlay:
            assert overlay.format == "PNG" and overlay.mode == "RGB"
            overlay.load()
            with Image.open(item["source"]) as original:
                width, height = original.size
            if max(width, height) > 1024:  # --max-side: shrunk, aspect kept
                assert max(overlay.size) == 1024 and abs(overlay.width / overlay.height - width / height) < 0.01
            else:
                assert overlay.size == (width, height)
            assert list(item["overlay_size"]) == [overlay.height, overlay.width]
            assert list(item["original_size"]) == [height, width]
    with Image.open(out / "contact_sheet.png") as sheet:
        sheet.load()
        columns = min(len(GOOD), cli.SHEET_COLUMNS)
        assert sheet.size == (
            columns * (cli.THUMB + cli.SHEET_PAD) + cli.SHEET_PAD,
            cli.THUMB + cli.LABEL_HEIGHT + 2 * cli.SHEET_PAD,
        )


def test_results_match_the_library_called_directly(mixed_run):
    """Independent route: bundle.load_images + gc.explain + overlay_heatmap give the same classes and pictures."""
    photos, out, *_ = mixed_run
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    bundle = gc.load_model("efficientnet_lite0")
    sources = [item["source"] for item in data["images"]]
    images = bundle.load_images(*sources)
    # The same batches as the run (--batch-size 3 over the readable files), so the numbers are the same to the bit.
    parts = [
        gc.explain(bundle.model, bundle.preprocess(images[k : k + 3]), bundle.last_conv_layer)
        for k in range(0, len(images), 3)
    ]
    heatmaps = np.concatenate([r.heatmaps for r in parts])
    class_indices = np.concatenate([r.class_indices for r in parts])
    scores = np.concatenate([r.scores for r in parts])
    top = bundle.decode(bundle.predict(images), top=3)
    assert data["run"]["layer"] == bundle.last_conv_layer == "top_activation"
    np.testing.assert_array_equal([i["class_index"] for i in data["images"]], class_indices)
    for i, item in enumerate(data["images"]):
        assert item["class_name"] == bundle.class_names[item["class_index"]]
        assert [t["index"] for t in item["top"]] == [p.index for p in top[i]]
        np.testing.assert_allclose([t["probability"] for t in item["top"]], [p.score for p in top[i]], atol=1e-4)
        assert item["probability"] == pytest.approx(top[i][0].score, abs=1e-4)  # auto: the top class
        assert item["score"] == pytest.approx(float(scores[i]), rel=1e-5)
        height, width = item["overlay_size"]
        shown = gc.load_image(item["source"], size=(height, width))
        expected = gc.overlay_heatmap(shown, heatmaps[i], alpha=0.4, colormap="jet")
        written = np.asarray(Image.open(out / item["overlay"]).convert("RGB"))
        np.testing.assert_array_equal(written, expected)
    assert {item["class_index"] for item in data["images"] if "cat" in item["source"]} <= {281, 282, 285}
    assert {
        item["class_index"] for item in data["images"] if "espresso" in item["source"] or "odd" in item["source"]
    } == {967}


def test_csv_and_html_index_agree_with_json(mixed_run):
    photos, out, *_ = mixed_run
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    with open(out / "results.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ok = [r for r in rows if r["status"] == "ok"]
    assert [(r["source"], r["overlay"], int(r["class_index"]), r["class_name"]) for r in ok] == [
        (i["source"], i["overlay"], i["class_index"], i["class_name"]) for i in data["images"]
    ]
    assert {r["source"]: r["reason"] for r in rows if r["status"] == "skipped"} == {
        s["source"]: s["reason"] for s in data["skipped"]
    }
    for row, item in zip(ok, data["images"], strict=True):
        assert float(row["probability"]) == pytest.approx(item["probability"], abs=1e-6)
        assert row["top"].split("; ")[0].startswith(f"{item['class_index']} {item['class_name']} ")

    page = (out / "index.html").read_text(encoding="utf-8")
    assert "odd &lt;name&gt; &amp; &quot;co&quot;.png" in page and "<name>" not in page
    parser = _Links()
    parser.feed(page)
    targets = {unquote(link) for link in parser.links}
    assert {i["overlay"] for i in data["images"]} | {"contact_sheet.png", "results.csv", "results.json"} <= targets
    for target in targets:  # relative links, every one resolves inside the output folder
        assert not target.startswith(("/", "http")) and (out / target).is_file()


def test_all_good_folder_exits_0(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    for name in ("cat.png", "espresso.png"):
        shutil.copy(IMAGES / name, tmp_path / "in" / name)
    out = tmp_path / "out"
    assert cli.main(["explain", str(tmp_path / "in"), "--out", str(out), "--method", "gradcam++"]) == 0
    captured = capsys.readouterr()
    assert "explained 2 of 2" in captured.out and "skipped" not in captured.out
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["skipped"] == [] and data["run"]["method"] == "gradcam++"
    assert overlay_files(out) == {"overlays/cat.png", "overlays/espresso.png"}


def test_class_by_name_is_case_insensitive_and_accepts_imagenet_synonyms(tmp_path):
    out = tmp_path / "out"
    assert cli.main(["explain", str(IMAGES / "cat.png"), "--out", str(out), "--class", "Espresso", "-q"]) == 0
    item = json.loads((out / "results.json").read_text(encoding="utf-8"))["images"][0]
    assert item["class_index"] == 967 and item["class_name"] == "espresso"
    names = gc.load_model().class_names
    assert cli.resolve_class("tabby cat", names) == 281  # a synonym from "tabby, tabby cat"
    assert cli.resolve_class("auto", names) is None and cli.resolve_class(" 285 ", names) == 285
    with pytest.raises(cli.UsageError, match=r"134 \(crane\), 517 \(crane\)"):
        cli.resolve_class("crane", names)


def _failing_encoder(fail_on: int, error: BaseException):
    """save_png that writes half of a real PNG, then raises ``error``, on its ``fail_on``-th call."""
    real = cli.save_png
    calls = {"n": 0}

    def save(image, file):
        calls["n"] += 1
        if calls["n"] == fail_on:
            buffer = io.BytesIO()
            real(image, buffer)
            file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            file.flush()
            raise error
        real(image, file)

    return save


def test_interrupted_run_leaves_no_partial_files_and_previous_outputs_intact(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    for name in ("astronaut.png", "cat.png", "espresso.png"):
        shutil.copy(IMAGES / name, tmp_path / "in" / name)
    out = tmp_path / "out"
    assert cli.main(["explain", str(tmp_path / "in"), "--out", str(out), "-q"]) == 0
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    # Interrupt (Ctrl-C) in the middle of encoding the second overlay.
    monkeypatch.setattr(cli.outputs, "save_png", _failing_encoder(2, KeyboardInterrupt()))
    assert cli.main(["explain", str(tmp_path / "in"), "--out", str(out), "-q"]) == cli.EXIT_INTERRUPTED
    assert temp_files(out) == []
    after = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert set(after) == set(before)
    assert after["overlays/cat.png"] == before["overlays/cat.png"]  # the file being written was not touched
    for name in ("results.json", "results.csv", "index.html", "contact_sheet.png"):
        assert after[name] == before[name]  # the previous run's complete index stays
    for name in after:
        if name.endswith(".png"):
            with Image.open(out / name) as image:
                image.load()  # every PNG decodes completely


def test_write_error_skips_that_image_only_and_leaves_no_temp_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "in").mkdir()
    for name in ("astronaut.png", "cat.png", "espresso.png"):
        shutil.copy(IMAGES / name, tmp_path / "in" / name)
    out = tmp_path / "out"
    monkeypatch.setattr(cli.outputs, "save_png", _failing_encoder(2, OSError(28, "No space left on device")))
    assert cli.main(["explain", str(tmp_path / "in"), "--out", str(out), "-q"]) == 1
    assert temp_files(out) == []
    assert overlay_files(out) == {"overlays/astronaut.png", "overlays/espresso.png"}
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [Path(s["source"]).name for s in data["skipped"]] == ["cat.png"]
    assert "could not be written" in data["skipped"][0]["reason"] and "No space left" in data["skipped"][0]["reason"]
    assert "No space left on device" in capsys.readouterr().out


def test_files_are_loaded_lazily_one_batch_at_a_time(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    for k in range(7):
        shutil.copy(IMAGES / "cat.png", tmp_path / "in" / f"{k}.png")
    loads, seen = [], []
    real_load = cli.explaining.load_image

    def counting_load(source, *args, **kwargs):
        if isinstance(source, Path):
            loads.append(source)
        return real_load(source, *args, **kwargs)

    def fake_explain_batch(batch, settings):
        seen.append((len(batch), len(loads)))
        return [("not explained in this test", None)] * len(batch)

    monkeypatch.setattr(cli.explaining, "load_image", counting_load)
    monkeypatch.setattr(cli.explaining, "explain_batch", fake_explain_batch)
    assert cli.main(["explain", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "-b", "3", "-q"]) == 1
    assert seen == [(3, 3), (3, 6), (1, 7)]  # no file is read before its batch is needed


def test_collect_orders_files_names_overlays_uniquely_and_skips_the_output_folder(tmp_path):
    root = tmp_path / "in"
    (root / "b").mkdir(parents=True)
    (root / "gradcam-out" / "overlays").mkdir(parents=True)
    for name in ("x.jpg", "x.jpg.png", "A.png", "b/z.PNG", "b/a.tif", "gradcam-out/overlays/x.jpg.png", "n.txt"):
        (root / name).write_bytes(b"")
    candidates, missing, ignored = cli.collect([str(root), str(tmp_path / "nope.png")], root / "gradcam-out")
    assert [c.path.relative_to(root).as_posix() for c in candidates] == [
        "A.png",
        "b/a.tif",
        "b/z.PNG",
        "x.jpg",
        "x.jpg.png",
    ]
    assert [str(c.overlay) for c in candidates] == [
        "overlays/A.png",
        "overlays/b/a.tif.png",
        "overlays/b/z.PNG",
        "overlays/x.jpg.png",
        "overlays/x.jpg~2.png",
    ]
    assert [(Path(m.source).name, m.reason) for m in missing] == [("nope.png", "no such file or folder")]
    assert ignored == 1
    # Two folders holding the same relative path: the overlays keep them apart.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "A.png").write_bytes(b"")
    candidates, _, _ = cli.collect([str(root / "A.png"), str(tmp_path / "other")], tmp_path / "out")
    assert [str(c.overlay) for c in candidates] == ["overlays/in/A.png", "overlays/other/A.png"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "resnet9000"], "unknown model 'resnet9000'"),
        (["--model", "xceptoin"], "Did you mean 'xception'"),
        (["--class", "espreso"], "'espresso' (967)"),
        (["--class", "1000"], "out of range: the model has 1000 classes"),
        (["--layer", "top_conv2"], "'top_activation'"),
        (["--model", "missing.keras"], "no model file at 'missing.keras'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    status = cli.main(["explain", str(IMAGES / "cat.png"), "--out", str(tmp_path / "out"), *argv])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("gradcam: error: ") and message in err
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written


def test_no_images_and_bad_options_exit_2(tmp_path, capsys):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "notes.txt").write_text("x")
    assert cli.main(["explain", str(tmp_path / "empty")]) == 2
    assert "no images found" in capsys.readouterr().err
    assert cli.main(["explain", str(tmp_path / "nothing-here")]) == 2
    assert "no images found" in capsys.readouterr().err
    assert cli.main(["explain", str(IMAGES), "--method", "magic"]) == 2
    assert "invalid choice: 'magic'" in capsys.readouterr().err
    assert cli.main(["explain", str(IMAGES), "--alpha", "2"]) == 2
    assert cli.main(["explain", str(IMAGES), "--batch-size", "0"]) == 2
    assert cli.main([]) == 2


def test_xception_without_weights_says_how_to_get_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRADCAM_XCEPTION_WEIGHTS", str(tmp_path / "absent.h5"))  # no download attempt
    assert cli.main(["explain", str(IMAGES / "cat.png"), "--model", "xception", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradcam: error: model 'xception' cannot be loaded")
    assert "xception_weights_tf_dim_ordering_tf_kernels.h5" in err and "efficientnet_lite0" in err
    assert "Traceback" not in err


def test_keras_file_model_with_class_names(tmp_path, capsys):
    """A .keras path: safe-mode load, input size from the model, raw pixels, names from --class-names."""
    names = tmp_path / "classes.txt"
    names.write_text("circle\nsquare\ntriangle\ncross\nstar\n")
    out = tmp_path / "out"
    model_file = ROOT / "gradcam_utils" / "data" / "models" / "shapes_gap.keras"
    shapes = synthetic.make_shapes(1, seed=3, classes=synthetic.DEFAULT_CLASSES)
    source = tmp_path / "shape.png"
    Image.fromarray(shapes.images[0]).save(source)
    assert (
        cli.main(
            ["explain", str(source), "--model", str(model_file), "--class-names", str(names), "--out", str(out), "-q"]
        )
        == 0
    )
    item = json.loads((out / "results.json").read_text(encoding="utf-8"))["images"][0]
    teaching = gc.load_model("shapes_gap")  # the registry's route to the same file
    logits = teaching.predict(teaching.load_images(source))
    assert item["class_index"] == int(np.argmax(logits[0]))
    assert item["class_name"] == teaching.class_names[item["class_index"]]
    with Image.open(out / item["overlay"]) as overlay:
        assert overlay.size == (64, 64)


def test_help_lists_the_options(capsys):
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "explain" in text and "list-models" in text and "--version" in text
    assert cli.main(["explain", "--help"]) == 0
    text = capsys.readouterr().out
    for option in (
        "--model",
        "--method",
        "--class",
        "--layer",
        "--top",
        "--out",
        "--batch-size",
        "--alpha",
        "--colormap",
        "--preprocess",
        "--class-names",
        "--quiet",
        "efficientnet_lite0",
        "Exit status",
    ):
        assert option in text
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == "gradcam 0.1.0"


def test_installed_console_script_runs_offline(tmp_path):
    script = Path(sys.executable).parent / "gradcam"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "gradcam_utils.cli"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = tmp_path / "out"
    done = subprocess.run(
        [*command, "explain", str(IMAGES / "espresso.png"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "explained 1 of 1" in done.stdout
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["images"][0]["class_index"] == 967
    assert (out / "overlays" / "espresso.png").is_file() and (out / "index.html").is_file()


def test_list_methods_gives_each_method_a_whole_sentence(capsys):
    # one line per method, from the first line of its docstring: a summary cut mid-sentence would end without a stop
    assert cli.main(["list-methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == gc.available_methods()
    for line in lines:
        assert line.endswith("."), line


def test_max_pixels_raised_above_the_library_default_explains_a_larger_image(tmp_path, capsys):
    """--max-pixels reaches every step (loading, resizing, the overlay), not only the file's first read: a 41.6 MP
    picture, over the library's 40 MP default, is explained when the user allows 50 MP, and skipped by default."""
    from gradcam_utils.images import MAX_IMAGE_PIXELS

    height, width = 6500, 6400
    assert height * width > MAX_IMAGE_PIXELS
    picture = tmp_path / "in" / "large.png"
    picture.parent.mkdir()
    Image.new("RGB", (width, height), (200, 120, 40)).save(picture, compress_level=1)
    allowed = ["explain", str(picture.parent), "--out", str(tmp_path / "out"), "--max-pixels", "50000000", "-q"]
    assert cli.main(allowed) == 0
    item = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["images"][0]
    assert item["original_size"] == [height, width]
    assert cli.main(["explain", str(picture.parent), "--out", str(tmp_path / "default"), "-q"]) == 1
    assert "max-pixels" in capsys.readouterr().out.lower()


def test_ctrl_c_while_the_command_starts_prints_one_line_not_a_traceback(tmp_path):
    """Issue 15: SIGINT while TensorFlow is still being imported (the command's first seconds) ends with exit 130 and
    one line. The installed script's entry point is gradcam_launcher.main, which imports the command itself."""
    import signal
    import time

    script = Path(sys.executable).parent / "gradcam"
    assert script.is_file() and "gradcam_launcher" in script.read_text(), "reinstall: `make install`"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        [str(script), "list-models"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    time.sleep(0.5)  # the interpreter is up and importing TensorFlow, which takes seconds
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.strip() == "gradcam: interrupted while starting; nothing was written."
