"""Entry point, argument parser and the list commands (list-models, list-methods, list-classes)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys

from .. import engine, zoo
from ..images import MAX_IMAGE_PIXELS
from ..overlay import COLORMAPS
from . import models
from ._common import (
    DEFAULT_MODEL,
    DEFAULT_OUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    PROG,
    UsageError,
    _printable,
    _version,
)
from .explaining import run_explain
from .inputs import IMAGE_EXTENSIONS
from .models import PREPROCESS

_signals: list[int] = []  # SIGTERM's number once it arrived during main()


def _terminate(signum, frame) -> None:
    """SIGTERM (``kill``, a job scheduler's time limit) is handled like Ctrl-C, so temporary files are removed."""
    _signals.append(signum)
    raise KeyboardInterrupt()


def main(argv=None) -> int:
    """Run the ``gradcam`` command with ``argv`` (default: sys.argv[1:]); returns the exit status.

    Ctrl-C returns 130 and SIGTERM 143 (128 + the signal's number, as a shell reports a killed command), each after
    one line on stderr: temporary files are removed on the way out and every output is either complete or absent.
    """
    previous = None
    _signals.clear()
    with contextlib.suppress(ValueError):  # only the main thread can handle signals (tests may call from others)
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        if _signals:
            print(f"\n{PROG}: terminated; {_CLEAN}", file=sys.stderr)
            return EXIT_TERMINATED
        print(f"\n{PROG}: interrupted; {_CLEAN}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


_CLEAN = "files already written are complete, no partial files were left."


def _main(argv) -> int:
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
        print(f"{PROG}: error: {_printable(str(err))}", file=sys.stderr)
        return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    """The ``gradcam`` argument parser: ``explain`` and the ``list-*`` commands, with their help texts."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Grad-CAM heatmaps for image files, from the command line. Runs offline on the "
        "embedded EfficientNet-Lite0 by default.",
        epilog=f"Run '{PROG} explain --help' for the options of the main command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    explain = commands.add_parser(
        "explain",
        help="write Grad-CAM overlays, a contact sheet and an index for images and folders",
        description="Explain each image's prediction with a class activation map. Writes one overlay PNG per "
        "image, a contact sheet, index.html, results.csv and results.json under --out. Unreadable "
        "files are skipped and listed with the reason.",
        epilog="Exit status: 0 all images explained; 1 some files skipped or failed (the others are still "
        "written); 2 usage error (bad model, layer, class or option; no images found; weights "
        "unavailable); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM). Outputs are written atomically "
        "(temporary file, then rename); in --out, only files this command wrote (listed in its manifest, "
        "gradcam-manifest.json) are ever replaced or removed.",
    )
    explain.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=f"image files and/or folders (searched recursively for {' '.join(IMAGE_EXTENSIONS)}, any case)",
    )
    explain.add_argument(
        "-m",
        "--model",
        default=DEFAULT_MODEL,
        metavar="MODEL",
        help=f"a registered model ({', '.join(zoo.available_models())}; see '{PROG} "
        f"list-models') or a path to a .keras file (default: {DEFAULT_MODEL}, offline)",
    )
    explain.add_argument(
        "--method",
        default="gradcam",
        choices=engine.available_methods(),
        metavar="METHOD",
        help=f"CAM method: {', '.join(engine.available_methods())} (default: gradcam)",
    )
    explain.add_argument(
        "-c",
        "--class",
        dest="class_",
        default="auto",
        metavar="CLASS",
        help="class to explain: 'auto' (each image's top class, the default), an index, or a "
        "class name (case-insensitive, e.g. 'espresso'; see 'gradcam list-classes')",
    )
    explain.add_argument(
        "--layer", default=None, metavar="NAME", help="feature layer (default: the model's last convolution layer)"
    )
    explain.add_argument(
        "-k",
        "--top",
        type=_positive_int,
        default=5,
        metavar="K",
        help="predictions listed per image in the index (default: 5)",
    )
    explain.add_argument(
        "-o",
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"output folder, created if needed (default: {DEFAULT_OUT})",
    )
    explain.add_argument(
        "-b",
        "--batch-size",
        type=_positive_int,
        default=16,
        metavar="N",
        help="images per forward/backward pass (default: 16)",
    )
    explain.add_argument(
        "--alpha", type=_unit_float, default=0.4, help="heatmap opacity in the overlays, 0..1 (default: 0.4)"
    )
    explain.add_argument(
        "--colormap", default="jet", help=f"matplotlib colormap: {', '.join(COLORMAPS)} or any other (default: jet)"
    )
    explain.add_argument(
        "--max-side",
        type=_non_negative_int,
        default=1024,
        metavar="PIXELS",
        help="overlays keep the image's size and aspect, shrunk so the longer side is at most "
        "this; 0 keeps the original size (default: 1024)",
    )
    explain.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=MAX_IMAGE_PIXELS,
        metavar="N",
        help=f"skip images larger than this, a decompression-bomb guard (default: {MAX_IMAGE_PIXELS:,})",
    )
    keras_file = explain.add_argument_group(
        "for a .keras model file",
        "Loaded with keras.saving.load_model(safe_mode=True): no code from the file "
        "runs, so Lambda layers are refused. The input size is read from the model (it must take RGB images of a "
        "fixed size); classes are named by index unless --class-names is given.",
    )
    keras_file.add_argument(
        "--preprocess",
        choices=list(PREPROCESS),
        default=None,
        help="how uint8 RGB pixels are fed to it: "
        + "; ".join(f"{k}: {v[0]}" for k, v in PREPROCESS.items())
        + " (default: raw)",
    )
    keras_file.add_argument(
        "--class-names", default=None, metavar="FILE", help="text file with one class name per line, in index order"
    )
    explain.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar; print only the one-line summary and the skipped files",
    )
    explain.set_defaults(command="explain", run=run_explain)

    _add_list_commands(commands)
    return parser


def _add_list_commands(commands) -> None:
    """The ``list-models``, ``list-methods`` and ``list-classes`` commands, added to ``commands`` (the subparsers)."""
    models = commands.add_parser(
        "list-models", help="list the registered models", description="List the models --model accepts by name."
    )
    models.set_defaults(command="list-models", run=_run_list_models)
    methods = commands.add_parser(
        "list-methods", help="list the CAM methods", description="List the methods --method accepts."
    )
    methods.set_defaults(command="list-methods", run=_run_list_methods)
    classes = commands.add_parser(
        "list-classes",
        help="list a model's class indices and names",
        description="List the class indices and names --class accepts for a model.",
    )
    classes.add_argument(
        "-m",
        "--model",
        default=DEFAULT_MODEL,
        metavar="MODEL",
        help=f"registered model name or .keras file (default: {DEFAULT_MODEL})",
    )
    classes.add_argument("--preprocess", choices=list(PREPROCESS), default=None, help=argparse.SUPPRESS)
    classes.add_argument(
        "--class-names", default=None, metavar="FILE", help="for a .keras file: one class name per line"
    )
    classes.set_defaults(command="list-classes", run=_run_list_classes)


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
    from ..methods import METHODS

    for name in engine.available_methods():
        doc = (METHODS[name].__doc__ or "").strip().splitlines()
        print(f"{name:15s} {doc[0] if doc else ''}")
    return EXIT_OK


def _run_list_classes(args) -> int:
    bundle = models.load_bundle(args.model, args.preprocess, args.class_names)
    for index, name in enumerate(bundle.class_names):
        print(f"{index:5d} {name}")
    return EXIT_OK
