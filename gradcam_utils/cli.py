"""The ``gradcam`` command: Grad-CAM overlays, a contact sheet and an index for files and folders of images.

    gradcam explain photos/ more.jpg --out gradcam-out          # embedded EfficientNet-Lite0, offline
    gradcam explain photos/ --model xception --method gradcam++ --class "tabby cat" --top 3
    gradcam explain shapes/ --model my_model.keras --preprocess unit --class-names classes.txt

Folders are searched recursively for image files (by extension, case-insensitive; hidden files and folders and the
output folder are left out), in sorted order. Files are read lazily, ``--batch-size`` at a time, so a large folder
never sits in memory. A file that cannot be read (corrupt, not an image, over the decompression-bomb limit) is
skipped and listed with its reason; the others are still explained.

Output (``--out``, default ``gradcam-out``)::

    overlays/<same relative path>.png   one overlay per image (a .jpg input gets "<name>.jpg.png")
    contact_sheet.png                   thumbnails with labels (contact_sheet_2.png... past 64 images)
    index.html                          self-contained page: overlays, predictions, skipped files
    results.csv, results.json           the same, for programs

Every file is written to a temporary name in its folder and renamed into place, so an interrupted run leaves each
output either complete (new or from the previous run) or absent, never half-written.

Exit status: 0 every image was explained; 1 some files were skipped or failed (outputs are still written for the
others); 2 nothing was done because the command is wrong (bad option, model, layer or class, no images found,
model weights unavailable); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import difflib
import html
import io
import json
import os
import re
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import engine, imagenet, zoo
from . import layers as layer_lookup
from .errors import (ClassIndexError, EmptyHeatmapWarning, GradCAMError, ImageNotFoundError, LayerError,
                     UnsupportedModelError, WeightsUnavailableError)
from .images import MAX_IMAGE_PIXELS, load_image
from .overlay import COLORMAPS, overlay_heatmap

PROG = "gradcam"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
DEFAULT_MODEL = "efficientnet_lite0"
DEFAULT_OUT = "gradcam-out"
EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

OVERLAYS_DIR = "overlays"
SHEET_COLUMNS, SHEET_ROWS = 8, 8  # 64 thumbnails per contact sheet page
THUMB = 160  # thumbnail box, pixels
LABEL_HEIGHT = 30
SHEET_PAD = 6

# How a .keras file's model wants its uint8 RGB pixels.
PREPROCESS = {
    "raw": ("float pixels 0..255, unchanged (the course's teaching models)",
            lambda images: images.astype(np.float32)),
    "unit": ("pixels / 255, in [0, 1]", lambda images: images.astype(np.float32) / 255.0),
    "symmetric": ("pixels / 127.5 - 1, in [-1, 1] (Xception, MobileNet, EfficientNet-Lite)",
                  lambda images: images.astype(np.float32) / 127.5 - 1.0),
}


class UsageError(Exception):
    """The command cannot run as given; main() prints the message on one line and returns 2."""


# ----- entry point ----------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    """Run the ``gradcam`` command with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse exits for --help, --version and bad options; return its status instead
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else EXIT_USAGE)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args)
    except UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; files already written are complete, no partial files were left.",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Grad-CAM heatmaps for image files, from the command line. Runs offline on the "
                               "embedded EfficientNet-Lite0 by default.",
        epilog=f"Run '{PROG} explain --help' for the options of the main command.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    explain = commands.add_parser(
        "explain", help="write Grad-CAM overlays, a contact sheet and an index for images and folders",
        description="Explain each image's prediction with a class activation map. Writes one overlay PNG per "
                    "image, a contact sheet, index.html, results.csv and results.json under --out. Unreadable "
                    "files are skipped and listed with the reason.",
        epilog="Exit status: 0 all images explained; 1 some files skipped or failed (the others are still "
               "written); 2 usage error (bad model, layer, class or option; no images found; weights "
               "unavailable); 130 interrupted. Outputs are written atomically (temporary file, then rename).",
        )
    explain.add_argument("paths", nargs="+", metavar="PATH",
                         help="image files and/or folders (searched recursively for "
                              f"{' '.join(IMAGE_EXTENSIONS)}, any case)")
    explain.add_argument("-m", "--model", default=DEFAULT_MODEL, metavar="MODEL",
                         help=f"a registered model ({', '.join(zoo.available_models())}; see '{PROG} "
                              f"list-models') or a path to a .keras file (default: {DEFAULT_MODEL}, offline)")
    explain.add_argument("--method", default="gradcam", choices=engine.available_methods(), metavar="METHOD",
                         help=f"CAM method: {', '.join(engine.available_methods())} (default: gradcam)")
    explain.add_argument("-c", "--class", dest="class_", default="auto", metavar="CLASS",
                         help="class to explain: 'auto' (each image's top class, the default), an index, or a "
                              "class name (case-insensitive, e.g. 'espresso'; see 'gradcam list-classes')")
    explain.add_argument("--layer", default=None, metavar="NAME",
                         help="feature layer (default: the model's last convolution layer)")
    explain.add_argument("-k", "--top", type=_positive_int, default=5, metavar="K",
                         help="predictions listed per image in the index (default: 5)")
    explain.add_argument("-o", "--out", default=DEFAULT_OUT, metavar="DIR",
                         help=f"output folder, created if needed (default: {DEFAULT_OUT})")
    explain.add_argument("-b", "--batch-size", type=_positive_int, default=16, metavar="N",
                         help="images per forward/backward pass (default: 16)")
    explain.add_argument("--alpha", type=_unit_float, default=0.4,
                         help="heatmap opacity in the overlays, 0..1 (default: 0.4)")
    explain.add_argument("--colormap", default="jet",
                         help=f"matplotlib colormap: {', '.join(COLORMAPS)} or any other (default: jet)")
    explain.add_argument("--max-side", type=_non_negative_int, default=1024, metavar="PIXELS",
                         help="overlays keep the image's size and aspect, shrunk so the longer side is at most "
                              "this; 0 keeps the original size (default: 1024)")
    explain.add_argument("--max-pixels", type=_positive_int, default=MAX_IMAGE_PIXELS, metavar="N",
                         help=f"skip images larger than this, a decompression-bomb guard (default: "
                              f"{MAX_IMAGE_PIXELS:,})")
    keras_file = explain.add_argument_group(
        "for a .keras model file", "Loaded with keras.saving.load_model(safe_mode=True): no code from the file "
        "runs, so Lambda layers are refused. The input size is read from the model (it must take RGB images of a "
        "fixed size); classes are named by index unless --class-names is given.")
    keras_file.add_argument("--preprocess", choices=list(PREPROCESS), default=None,
                            help="how uint8 RGB pixels are fed to it: "
                                 + "; ".join(f"{k}: {v[0]}" for k, v in PREPROCESS.items()) + " (default: raw)")
    keras_file.add_argument("--class-names", default=None, metavar="FILE",
                            help="text file with one class name per line, in index order")
    explain.add_argument("-q", "--quiet", action="store_true",
                         help="no progress bar; print only the one-line summary and the skipped files")
    explain.set_defaults(command="explain", run=run_explain)

    models = commands.add_parser("list-models", help="list the registered models",
                                 description="List the models --model accepts by name.")
    models.set_defaults(command="list-models", run=_run_list_models)
    methods = commands.add_parser("list-methods", help="list the CAM methods",
                                  description="List the methods --method accepts.")
    methods.set_defaults(command="list-methods", run=_run_list_methods)
    classes = commands.add_parser("list-classes", help="list a model's class indices and names",
                                  description="List the class indices and names --class accepts for a model.")
    classes.add_argument("-m", "--model", default=DEFAULT_MODEL, metavar="MODEL",
                         help=f"registered model name or .keras file (default: {DEFAULT_MODEL})")
    classes.add_argument("--preprocess", choices=list(PREPROCESS), default=None, help=argparse.SUPPRESS)
    classes.add_argument("--class-names", default=None, metavar="FILE",
                         help="for a .keras file: one class name per line")
    classes.set_defaults(command="list-classes", run=_run_list_classes)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gradcam-utils")
    except PackageNotFoundError:
        return "unknown"


def _int_at_least(minimum: int, expected: str):
    """An argparse type: an int >= ``minimum``, else an error naming what was expected."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def _run_list_models(args) -> int:
    for name, description in zoo.available_models().items():
        print(f"{name:20s} {description}")
    print(f"{'PATH.keras':20s} a Keras model file, loaded in safe mode (see '{PROG} explain --help')")
    return EXIT_OK


def _run_list_methods(args) -> int:
    from .methods import METHODS

    for name in engine.available_methods():
        doc = (METHODS[name].__doc__ or "").strip().splitlines()
        print(f"{name:15s} {doc[0] if doc else ''}")
    return EXIT_OK


def _run_list_classes(args) -> int:
    bundle = load_bundle(args.model, args.preprocess, args.class_names)
    for index, name in enumerate(bundle.class_names):
        print(f"{index:5d} {name}")
    return EXIT_OK


# ----- models, layers and classes ----------------------------------------------------------------------------------

def load_bundle(spec: str, preprocess: str | None = None, class_names_file: str | None = None) -> zoo.ModelBundle:
    """A registered model by name, or a .keras file as a bundle; UsageError with the reason otherwise."""
    registered = zoo.available_models()
    if spec in registered:
        if preprocess is not None or class_names_file is not None:
            raise UsageError(f"--preprocess and --class-names apply to a .keras model file; {spec!r} is a "
                             "registered model that brings its own.")
        try:
            with contextlib.redirect_stdout(sys.stderr):  # Keras prints download progress; stdout is the summary's
                return zoo.load_model(spec)
        except WeightsUnavailableError as err:
            raise UsageError(f"model {spec!r} cannot be loaded: {err}\nWithout --model, the command uses the "
                             f"embedded {DEFAULT_MODEL}, which needs no download.") from None
    path = Path(spec)
    if path.suffix.lower() == ".keras":
        if not path.is_file():
            raise UsageError(f"no model file at '{spec}'.")
        return _bundle_from_file(path, preprocess or "raw", class_names_file)
    if path.exists():
        raise UsageError(f"'{spec}' is not a .keras file; only the Keras 3 format is loaded (safe mode). Re-save "
                         "the model with model.save('model.keras').")
    close = difflib.get_close_matches(spec, list(registered), n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UsageError(f"unknown model {spec!r}.{hint} Available: {', '.join(registered)}, or a path to a .keras "
                     "file.")


def _bundle_from_file(path: Path, preprocess: str, class_names_file: str | None) -> zoo.ModelBundle:
    import keras

    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)  # safe mode: no code runs from it
    except Exception as err:  # Keras raises ValueError, TypeError, OSError, BadZipFile... for a bad file
        raise UsageError(f"'{path}' could not be loaded as a Keras model ({type(err).__name__}: "
                         f"{_one_line(err)}).") from None
    if not isinstance(model, keras.Model) or len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UsageError(f"'{path}' must hold a model with one image input and one class-score output.")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[3] != 3 or shape[1] is None or shape[2] is None:
        raise UsageError(f"'{path}' takes inputs of shape {shape}; the command feeds RGB images of a fixed size, "
                         "so the model needs an input shape (batch, height, width, 3).")
    out_shape = tuple(model.outputs[0].shape)
    if len(out_shape) != 2:
        raise UsageError(f"'{path}' outputs shape {out_shape}; Grad-CAM explains class scores (batch, classes).")
    num_classes = out_shape[1]
    if class_names_file is not None:
        names = _read_class_names(class_names_file)
        if num_classes is not None and len(names) != num_classes:
            raise UsageError(f"--class-names '{class_names_file}' has {len(names)} names for {num_classes} classes.")
    elif num_classes is None:
        raise UsageError(f"'{path}' does not say how many classes it has; give them with --class-names FILE.")
    else:
        names = tuple(str(i) for i in range(num_classes))
    try:
        default_layer = layer_lookup.default_layer_name(model)
    except (LayerError, UnsupportedModelError) as err:
        raise UsageError(str(err)) from None
    return zoo.ModelBundle(name=path.name, model=model, preprocess_fn=PREPROCESS[preprocess][1],
                           input_size=(int(shape[1]), int(shape[2])), last_conv_layer=default_layer,
                           class_names=names)


def _read_class_names(file: str) -> tuple[str, ...]:
    try:
        lines = Path(file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"--class-names '{file}' cannot be read ({_one_line(err)}).") from None
    names = tuple(line.strip() for line in lines if line.strip())
    if not names:
        raise UsageError(f"--class-names '{file}' holds no names (one per line expected).")
    return names


def check_layer(bundle: zoo.ModelBundle, layer: str | None) -> str:
    name = bundle.last_conv_layer if layer is None else layer
    try:
        layer_lookup.find_layer_path(bundle.model, name)
    except (LayerError, UnsupportedModelError) as err:
        raise UsageError(str(err)) from None
    return name


def resolve_class(spec: str, class_names) -> int | None:
    """``--class``: None for auto (each image's top class), else a class index; UsageError for a bad value."""
    text = spec.strip()
    count = len(class_names)
    if text.lower() in ("auto", "top", ""):
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        index = int(text)
        if not 0 <= index < count:
            raise UsageError(f"class index {index} is out of range: the model has {count} classes (0..{count - 1}).")
        return index
    wanted = text.casefold()
    hits = [i for i, name in enumerate(class_names) if name.casefold() == wanted]
    synonyms = _imagenet_synonyms(class_names)
    if not hits and synonyms:
        hits = [i for i, names in enumerate(synonyms) if wanted in names]
    if len(hits) == 1:
        return hits[0]
    if hits:
        options = ", ".join(f"{i} ({class_names[i]})" for i in hits)
        raise UsageError(f"class name {text!r} matches several classes: {options}; pass the index instead.")
    lookup: dict[str, set[int]] = {}
    for i, name in enumerate(class_names):
        lookup.setdefault(name.casefold(), set()).add(i)
    for i, names in enumerate(synonyms):
        for name in names:
            lookup.setdefault(name, set()).add(i)
    close = difflib.get_close_matches(wanted, list(lookup), n=5, cutoff=0.6)
    suggestions = ", ".join(f"{name!r} ({'/'.join(str(i) for i in sorted(lookup[name]))})" for name in close)
    hint = f" Close matches: {suggestions}." if close else ""
    raise UsageError(f"unknown class name {text!r}.{hint} Use 'auto', an index 0..{count - 1}, or a name from "
                     f"'{PROG} list-classes'.")


def _imagenet_synonyms(class_names) -> list[set[str]]:
    """For the ImageNet names, each class's synonyms ("tabby, tabby cat" -> {"tabby", "tabby cat"}); else []."""
    if len(class_names) != imagenet.NUM_CLASSES or tuple(class_names) != imagenet.class_names_cached():
        return []
    return [{part.strip().casefold() for part in imagenet.class_name(i, full=True).split(",") if part.strip()}
            for i in range(imagenet.NUM_CLASSES)]


# ----- finding the files ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    path: Path  # as found (relative to the working folder when given so)
    overlay: PurePosixPath  # where its overlay goes, relative to --out

    @property
    def source(self) -> str:
        return _printable(str(self.path))


@dataclass
class Skipped:
    source: str
    reason: str


def collect(paths, out_dir: Path) -> tuple[list[Candidate], list[Skipped], int]:
    """(files to try in order, missing paths, number of non-image files ignored in folders).

    Folders are walked recursively (hidden entries and the output folder left out), keeping image extensions only,
    sorted; files named explicitly are always tried. Overlay names mirror the paths relative to the inputs' common
    folder and are made unique (case-insensitively, for macOS and Windows file systems).
    """
    out_abs = os.path.normcase(os.path.abspath(out_dir))
    found: list[tuple[Path, Path]] = []  # (file, the folder its overlay path is relative to)
    missing: list[Skipped] = []
    ignored = 0
    for given in paths:
        root = Path(given)
        if root.is_dir():
            files = []
            for folder, dirs, names in os.walk(root):
                dirs[:] = [d for d in dirs if not d.startswith(".")
                           and os.path.normcase(os.path.abspath(os.path.join(folder, d))) != out_abs]
                for name in names:
                    if name.startswith("."):
                        continue
                    if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                        files.append(Path(folder, name))
                    else:
                        ignored += 1
            files.sort(key=lambda f: f.relative_to(root).parts)
            found.extend((f, root) for f in files)
        elif root.exists() or root.is_symlink():
            found.append((root, root.parent))
        else:
            missing.append(Skipped(_printable(str(root)), "no such file or folder"))
    bases = {os.path.abspath(base) for _, base in found}
    try:
        common = os.path.commonpath(sorted(bases)) if bases else ""
    except ValueError:  # different drives on Windows
        common = None
    candidates, seen_files, taken = [], set(), set()
    for file, _ in found:
        absolute = os.path.abspath(file)
        key = os.path.normcase(os.path.realpath(absolute))
        if key in seen_files:  # named twice (a file and its folder, or a folder twice)
            continue
        seen_files.add(key)
        relative = os.path.relpath(absolute, common) if common is not None else os.path.basename(absolute)
        candidates.append(Candidate(file, _unique_overlay_name(PurePosixPath(*Path(relative).parts), taken)))
    return candidates, missing, ignored


def _unique_overlay_name(relative: PurePosixPath, taken: set) -> PurePosixPath:
    parts = [p for p in relative.parts if p not in ("..", ".", "/")] or ["image"]
    name = parts[-1] if parts[-1].lower().endswith(".png") else parts[-1] + ".png"
    stem = name[:-4]
    candidate = PurePosixPath(OVERLAYS_DIR, *parts[:-1], name)
    number = 2
    while str(candidate).casefold() in taken:
        candidate = PurePosixPath(OVERLAYS_DIR, *parts[:-1], f"{stem}~{number}.png")
        number += 1
    taken.add(str(candidate).casefold())
    return candidate


def _printable(text: str) -> str:
    """A path as text that always encodes (undecodable bytes in file names become \\x.. escapes)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _one_line(err) -> str:
    return " ".join(str(err).split())


# ----- writing files atomically ----------------------------------------------------------------------------------

def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` through ``write(file)`` into a temporary file in the same folder, then rename it into place.

    Readers (and a later run) see the old file or the new one, never a partial one; if ``write`` fails or the run
    is interrupted, the temporary file is removed and the exception propagates.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{PROG}-{uuid.uuid4().hex}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def save_png(image: np.ndarray, file: BinaryIO) -> None:
    """Encode a uint8 RGB array as PNG into an open binary file.

    zlib level 1: on photographs it encodes about 4x faster than Pillow's default level 6, for files ~10% larger;
    at level 6 encoding took more time than the model.
    """
    Image.fromarray(image).save(file, format="PNG", compress_level=1)


def _write_png(path: Path, image: np.ndarray) -> None:
    atomic_write(path, lambda file: save_png(image, file))


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda file: file.write(text.encode("utf-8")))


# ----- the explain command ---------------------------------------------------------------------------------------

@dataclass
class Loaded:
    candidate: Candidate
    model_input: np.ndarray  # uint8 (H, W, 3) at the model's input size
    display: np.ndarray  # uint8 (h, w, 3): the image as the overlay shows it
    original_size: tuple[int, int]  # (height, width) of the file


@dataclass
class Explained:
    source: str
    overlay: str  # posix path relative to --out
    size: tuple[int, int]  # overlay (height, width)
    original_size: tuple[int, int]
    class_index: int
    class_name: str
    probability: float
    score: float
    empty: bool
    top: list = field(default_factory=list)  # [(index, name, probability)]


@dataclass
class Settings:
    bundle: zoo.ModelBundle
    layer: str
    class_index: int | None
    method: str
    top: int
    batch_size: int
    alpha: float
    colormap: str
    max_side: int
    max_pixels: int
    out: Path


def run_explain(args) -> int:
    started = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' exists and is not a folder.")
    import matplotlib

    if args.colormap not in matplotlib.colormaps:
        raise UsageError(f"unknown colormap {args.colormap!r}; try one of {', '.join(COLORMAPS)}.")
    candidates, skipped, ignored = collect(args.paths, out)
    if not candidates:
        where = ", ".join(args.paths)
        also = f" ({len(skipped)} path(s) do not exist)" if skipped else ""
        raise UsageError(f"no images found in {where}{also}; folders are searched for "
                         f"{' '.join(IMAGE_EXTENSIONS)} files.")
    bundle = load_bundle(args.model, args.preprocess, args.class_names)
    settings = Settings(bundle=bundle, layer=check_layer(bundle, args.layer),
                        class_index=resolve_class(args.class_, bundle.class_names), method=args.method,
                        top=min(args.top, len(bundle.class_names)), batch_size=args.batch_size, alpha=args.alpha,
                        colormap=args.colormap, max_side=args.max_side, max_pixels=args.max_pixels, out=out)
    loaded_at = time.perf_counter()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the output folder '{out}' ({_one_line(err)}).") from None

    from tqdm import tqdm

    explained: list[Explained] = []
    sheets = ContactSheets(out)
    with tqdm(total=len(candidates), unit="img", desc=PROG, file=sys.stderr, dynamic_ncols=True,
              disable=True if args.quiet else None) as progress:
        def skip(candidate: Candidate, reason: str) -> None:
            skipped.append(Skipped(candidate.source, reason))
            progress.update(1)

        for batch in load_batches(candidates, settings, skip):
            for item, (outcome, overlay) in zip(batch, explain_batch(batch, settings)):
                if isinstance(outcome, str):
                    skip(item.candidate, outcome)
                    continue
                explained.append(outcome)
                sheets.add(outcome, overlay)
                progress.update(1)
    sheet_files = sheets.finish()
    finished = time.perf_counter()
    try:
        write_indexes(settings, explained, skipped, sheet_files)
    except OSError as err:  # e.g. disk full: the overlays are written, the index is not (the old one stays)
        print(f"{PROG}: error: could not write the index files in '{out}' ({_one_line(err)}).", file=sys.stderr)
        return EXIT_SKIPPED
    _print_summary(settings, args, explained, skipped, ignored, sheet_files, loaded_at - started,
                   finished - loaded_at)
    return EXIT_SKIPPED if skipped else EXIT_OK


def load_batches(candidates: list[Candidate], settings: Settings,
                 skip: Callable[[Candidate, str], None]) -> Iterator[list[Loaded]]:
    """Read the files lazily and yield them ``batch_size`` at a time; unreadable ones go to ``skip`` with a reason."""
    batch: list[Loaded] = []
    for candidate in candidates:
        try:
            full = load_image(candidate.path, max_pixels=settings.max_pixels)
        except Exception as err:  # one bad file must not stop the run; KeyboardInterrupt still does
            skip(candidate, _load_reason(err, candidate))
            continue
        model_input = load_image(full, size=settings.bundle.input_size)  # == bundle.load_images(path)
        batch.append(Loaded(candidate, model_input, _display_image(full, settings.max_side), full.shape[:2]))
        del full
        if len(batch) == settings.batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _load_reason(err: Exception, candidate: Candidate) -> str:
    if isinstance(err, ImageNotFoundError):  # vanished, a broken link, or a folder/device/pipe named explicitly
        return "no such file, or not a regular file"
    if not isinstance(err, GradCAMError):
        return f"could not be read ({type(err).__name__}: {_one_line(err)})"
    message = _one_line(err)
    path = str(candidate.path)
    if message.startswith(path):  # "<path> is not an image..." -> "not an image...", the path is listed anyway
        message = message[len(path):].lstrip()
        message = message[3:] if message.startswith("is ") else message
    return message.replace("pass max_pixels=...", "pass --max-pixels N")


def _display_image(full: np.ndarray, max_side: int) -> np.ndarray:
    height, width = full.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return full
    scale = max_side / max(height, width)
    return load_image(full, size=(max(1, round(height * scale)), max(1, round(width * scale))))


def explain_batch(batch: list[Loaded], settings: Settings) -> list[tuple[Explained | str, np.ndarray | None]]:
    """One Grad-CAM pass for the batch, then each image's overlay written: (result, overlay) per image, where a
    str result is the reason the image failed."""
    bundle = settings.bundle
    inputs = bundle.preprocess(np.stack([item.model_input for item in batch]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyHeatmapWarning)  # reported per image as "empty" instead
            result = engine.explain(bundle.model, inputs, settings.layer, settings.class_index, settings.method,
                                    normalize=True, batch_size=settings.batch_size)
        logits = result.logits  # every class's score from the same forward pass: no second pass for the top-k
    except (LayerError, ClassIndexError, UnsupportedModelError) as err:  # the same for every batch: stop
        raise UsageError(str(err)) from None
    except GradCAMError as err:
        return [(f"Grad-CAM failed ({_one_line(err)})", None)] * len(batch)
    probabilities = engine.softmax(logits)
    top = imagenet.decode(logits, top=settings.top, class_names=bundle.class_names)
    outcomes: list[tuple[Explained | str, np.ndarray | None]] = []
    for i, item in enumerate(batch):
        heatmap = result.heatmaps[i]
        display = item.display
        if display.shape[0] < heatmap.shape[0] or display.shape[1] < heatmap.shape[1]:  # tiny image: heatmaps
            display = load_image(display, size=(max(display.shape[0], heatmap.shape[0]),  # only upsample
                                                max(display.shape[1], heatmap.shape[1])), interpolation="nearest")
        overlay = overlay_heatmap(display, heatmap, alpha=settings.alpha, colormap=settings.colormap)
        target = settings.out / item.candidate.overlay
        try:
            if target.exists() and os.path.samefile(target, item.candidate.path):
                outcomes.append(("its overlay would replace the file itself; choose another --out", None))
                continue
            _write_png(target, overlay)
        except OSError as err:
            outcomes.append((f"the overlay could not be written ({_one_line(err)})", None))
            continue
        index = int(result.class_indices[i])
        outcomes.append((Explained(
            source=item.candidate.source, overlay=str(item.candidate.overlay), size=overlay.shape[:2],
            original_size=tuple(int(v) for v in item.original_size), class_index=index,
            class_name=bundle.class_names[index], probability=float(probabilities[i, index]),
            score=float(result.scores[i]), empty=bool(result.empty[i]),
            top=[(p.index, p.name, p.score) for p in top[i]]), overlay))
    return outcomes


# ----- contact sheet -----------------------------------------------------------------------------------------------

class ContactSheets:
    """Thumbnails with labels in a grid, written a page (64 images) at a time so memory stays bounded."""

    per_page = SHEET_COLUMNS * SHEET_ROWS

    def __init__(self, out: Path):
        self.out = out
        self.pending: list[tuple[Image.Image, str, str]] = []
        self.files: list[str] = []
        self.font = _font()

    def add(self, item: Explained, overlay: np.ndarray) -> None:
        thumb = Image.fromarray(overlay)
        thumb.thumbnail((THUMB, THUMB), Image.Resampling.BILINEAR)
        name = PurePosixPath(item.source.replace("\\", "/")).name
        self.pending.append((thumb, name, f"{item.class_name} {item.probability:.0%}"))
        if len(self.pending) == self.per_page:
            self._flush()

    def finish(self) -> list[str]:
        if self.pending:
            self._flush()
        # Pages a previous, larger run left behind would be stale now.
        for stale in self.out.glob("contact_sheet_*.png"):
            if stale.name not in self.files and re.fullmatch(r"contact_sheet_\d+\.png", stale.name):
                with contextlib.suppress(OSError):
                    stale.unlink()
        if not self.files:
            with contextlib.suppress(OSError):
                (self.out / "contact_sheet.png").unlink()
        return self.files

    def _flush(self) -> None:
        count = len(self.pending)
        columns = min(SHEET_COLUMNS, count)
        rows = -(-count // SHEET_COLUMNS)
        cell_w, cell_h = THUMB + SHEET_PAD, THUMB + LABEL_HEIGHT + SHEET_PAD
        sheet = Image.new("RGB", (columns * cell_w + SHEET_PAD, rows * cell_h + SHEET_PAD), "white")
        draw = ImageDraw.Draw(sheet)
        for k, (thumb, name, label) in enumerate(self.pending):
            x0 = SHEET_PAD + (k % SHEET_COLUMNS) * cell_w
            y0 = SHEET_PAD + (k // SHEET_COLUMNS) * cell_h
            sheet.paste(thumb, (x0 + (THUMB - thumb.width) // 2, y0 + (THUMB - thumb.height) // 2))
            for line, text in enumerate((name, label)):
                draw.text((x0, y0 + THUMB + 2 + 13 * line), _fit(draw, text, self.font, THUMB), fill="black",
                          font=self.font)
        name = "contact_sheet.png" if not self.files else f"contact_sheet_{len(self.files) + 1}.png"
        _write_png(self.out / name, np.asarray(sheet))
        self.files.append(name)
        self.pending = []


def _font():
    try:
        return ImageFont.load_default(size=11)
    except Exception:  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    def length(s: str) -> float:
        try:
            return draw.textlength(s, font=font)
        except UnicodeEncodeError:  # bitmap font: latin-1 only
            return len(s) * 6
    if length(text) <= width:
        return _latin1_if_needed(text, font)
    while text and length(text + "...") > width:
        text = text[:-1]
    return _latin1_if_needed(text + "...", font)


def _latin1_if_needed(text: str, font) -> str:
    if isinstance(font, ImageFont.FreeTypeFont):
        return text
    return text.encode("latin-1", "replace").decode("latin-1")


# ----- index files ------------------------------------------------------------------------------------------------

def write_indexes(settings: Settings, explained: list[Explained], skipped: list[Skipped],
                  sheets: list[str]) -> None:
    """results.json, results.csv and index.html, each written atomically (the HTML page last)."""
    run = {
        "model": settings.bundle.name,
        "method": settings.method,
        "layer": settings.layer,
        "class": "auto" if settings.class_index is None else settings.class_index,
        "input_size": list(settings.bundle.input_size),
        "alpha": settings.alpha,
        "colormap": settings.colormap,
        "top": settings.top,
    }
    data = {
        "tool": f"{PROG} {_version()}",
        "run": run,
        "counts": {"explained": len(explained), "skipped": len(skipped), "empty_maps": sum(e.empty for e in explained)},
        "contact_sheets": sheets,
        "images": [{
            "source": e.source, "overlay": e.overlay, "overlay_size": list(e.size),
            "original_size": list(e.original_size), "class_index": e.class_index, "class_name": e.class_name,
            "probability": e.probability, "score": e.score, "empty_map": e.empty,
            "top": [{"index": i, "name": n, "probability": p} for i, n, p in e.top],
        } for e in explained],
        "skipped": [{"source": s.source, "reason": s.reason} for s in skipped],
    }
    _write_text(settings.out / "results.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["source", "status", "overlay", "class_index", "class_name", "probability", "score",
                     "empty_map", "top", "reason"])
    for e in explained:
        writer.writerow([e.source, "ok", e.overlay, e.class_index, e.class_name, f"{e.probability:.6f}",
                         f"{e.score:.6f}", "yes" if e.empty else "no",
                         "; ".join(f"{i} {n} {p:.6f}" for i, n, p in e.top), ""])
    for s in skipped:
        writer.writerow([s.source, "skipped", "", "", "", "", "", "", "", s.reason])
    _write_text(settings.out / "results.csv", buffer.getvalue())
    _write_text(settings.out / "index.html", render_html(data))


def render_html(data: dict) -> str:
    """The index page: one self-contained HTML file with relative links to the overlays; all text escaped."""
    esc = html.escape
    run, counts = data["run"], data["counts"]
    rows = []
    for number, item in enumerate(data["images"], 1):
        link = esc(quote(item["overlay"]))
        top = "".join(f"<li>{esc(t['name'])} <span class=p>{t['probability']:.1%}</span> "
                      f"<span class=i>#{t['index']}</span></li>" for t in item["top"])
        empty = "<br><em>empty map: no positive evidence</em>" if item["empty_map"] else ""
        rows.append(
            f"<tr><td>{number}</td><td><a href=\"{link}\"><img src=\"{link}\" alt=\"overlay of "
            f"{esc(item['source'])}\" loading=lazy></a></td><td class=src>{esc(item['source'])}</td>"
            f"<td><b>{esc(item['class_name'])}</b> <span class=i>#{item['class_index']}</span><br>"
            f"p = {item['probability']:.1%}, logit {item['score']:.3g}{empty}</td><td><ol>{top}</ol></td></tr>")
    skipped = "".join(f"<li><span class=src>{esc(s['source'])}</span>: {esc(s['reason'])}</li>"
                      for s in data["skipped"])
    sheets = " ".join(f"<a href=\"{esc(quote(s))}\">{esc(s)}</a>" for s in data["contact_sheets"])
    class_text = "each image's top class" if run["class"] == "auto" else f"class {run['class']}"
    return f"""<!DOCTYPE html>
<html lang=en>
<head>
<meta charset=utf-8>
<meta name=viewport content="width=device-width, initial-scale=1">
<title>Grad-CAM: {esc(run['model'])}, {esc(run['method'])}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 6px 10px; text-align: left; vertical-align: top; }}
img {{ max-width: 240px; max-height: 240px; }}
.src {{ font-family: ui-monospace, monospace; word-break: break-all; }}
.i, .p {{ color: #666; }}
ol {{ margin: 0; padding-left: 1.4em; }}
.skipped li {{ margin: 0.3em 0; }}
</style>
</head>
<body>
<h1>Grad-CAM results</h1>
<p>Model <b>{esc(run['model'])}</b>, method <b>{esc(run['method'])}</b> on layer <code>{esc(run['layer'])}</code>,
explaining {esc(class_text)}. {counts['explained']} image(s) explained, {counts['skipped']} skipped,
{counts['empty_maps']} empty map(s). Contact sheet: {sheets or 'none'}.
Also as <a href="results.csv">results.csv</a> and <a href="results.json">results.json</a>.</p>
<table>
<thead><tr><th>#</th><th>overlay</th><th>file</th><th>explained class</th><th>top {run['top']} predictions</th>
</tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<h2>Skipped files ({counts['skipped']})</h2>
{f'<ul class=skipped>{skipped}</ul>' if skipped else '<p>None.</p>'}
</body>
</html>
"""


def _print_summary(settings: Settings, args, explained: list[Explained], skipped: list[Skipped], ignored: int,
                   sheets: list[str], load_seconds: float, run_seconds: float) -> None:
    total = len(explained) + len(skipped)
    rate = len(explained) / run_seconds if run_seconds > 0 else float("inf")
    print(f"{PROG}: explained {len(explained)} of {total} file(s) with {settings.bundle.name} ({settings.method}, "
          f"layer {settings.layer}) in {run_seconds:.1f} s, {rate:.1f} images/s (batch size "
          f"{settings.batch_size}; model loaded in {load_seconds:.1f} s).")
    if skipped:
        print(f"skipped {len(skipped)}:")
        for s in skipped:
            print(f"  {s.source}: {s.reason}")
    if args.quiet:
        return
    empty = [e.source for e in explained if e.empty]
    if empty:
        print(f"{len(empty)} map(s) had no positive evidence for their class and are blank: {', '.join(empty)}")
    if ignored:
        print(f"ignored {ignored} file(s) in the folders without an image extension.")
    out = settings.out
    print(f"wrote {len(explained)} overlay(s) under {out / OVERLAYS_DIR}, "
          f"{', '.join(str(out / s) for s in sheets) or 'no contact sheet'}, {out / 'results.csv'}, "
          f"{out / 'results.json'} and {out / 'index.html'}")


if __name__ == "__main__":
    sys.exit(main())
