"""The explain command: files read lazily a batch at a time, one Grad-CAM pass per batch, overlays written."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import engine, zoo
from ..errors import (
    ClassIndexError,
    EmptyHeatmapWarning,
    GradCAMError,
    ImageNotFoundError,
    LayerError,
    UnsupportedModelError,
)
from ..images import load_image
from ..overlay import COLORMAPS, overlay_heatmap
from . import manifest, models, outputs
from ._common import (
    EXIT_OK,
    EXIT_SKIPPED,
    MANIFEST,
    OVERLAYS_DIR,
    PROG,
    TEMP_PATTERN,
    UsageError,
    _one_line,
    _visible,
)
from .indexes import write_indexes
from .inputs import IMAGE_EXTENSIONS, Candidate, Skipped, collect
from .outputs import (
    INDEX_FILES,
    ContactSheets,
    OutputFolder,
    _print_summary,
    sheet_name,
)


@dataclass
class Loaded:
    """An image read from its file, at the model's input size and at the size its overlay is drawn."""

    candidate: Candidate
    model_input: np.ndarray  # uint8 (H, W, 3) at the model's input size
    display: np.ndarray  # uint8 (h, w, 3): the image as the overlay shows it
    original_size: tuple[int, int]  # (height, width) of the file


@dataclass
class Explained:
    """One explained image: where its overlay went and what the model predicted (a row of the index files)."""

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
    """The options of one ``explain`` run, checked and resolved (model loaded, layer and class known)."""

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
    folder: OutputFolder | None = None  # where the files go (None: opened from out when needed)


def run_explain(args) -> int:
    """The ``explain`` command: overlays, contact sheets and indexes under ``--out``; the exit code.

    Raises:
        UsageError: a bad option, no image found, an output folder that overlaps the inputs or holds files of the
            user's where the indexes go, or a layer or class the model does not have.
    """
    started = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{_visible(str(out))}' exists and is not a folder.")
    import matplotlib

    if args.colormap not in matplotlib.colormaps:
        raise UsageError(f"unknown colormap {args.colormap!r}; try one of {', '.join(COLORMAPS)}.")
    _check_overlap(out, args.paths)
    folder = OutputFolder(out)  # reads its manifest: the files earlier runs wrote there
    candidates, skipped, ignored = collect(args.paths, out)
    if not candidates:
        where = ", ".join(_visible(p) for p in args.paths)
        reasons = "; ".join(f"{_visible(s.source)}: {_visible(s.reason)}" for s in skipped[:3])
        also = f" ({reasons}{'; ...' if len(skipped) > 3 else ''})" if skipped else ""
        raise UsageError(
            f"no images found in {where}{also}; folders are searched for {' '.join(IMAGE_EXTENSIONS)} files."
        )
    pages = math.ceil(len(candidates) / ContactSheets.per_page)
    fixed = [*INDEX_FILES, *(sheet_name(page) for page in range(1, pages + 1))]
    in_the_way = [name for name in fixed if folder.foreign(name)]
    if in_the_way:
        raise UsageError(
            f"--out '{_visible(str(out))}' holds {', '.join(in_the_way)}, which {PROG} did not write (they are not in "
            f"its manifest, {MANIFEST}); they are left as they are. Choose another --out, or move them away."
        )
    bundle = models.load_bundle(args.model, args.preprocess, args.class_names)
    if bundle.task == "segmentation":  # a class per pixel: no one class per image for the command to explain
        raise UsageError(
            f"{bundle.name} is a segmentation model: it gives a class per pixel, and the command explains one class "
            f"per image. Explain a region from Python: bundle = gc.load_model({bundle.name!r}); "
            "gc.explain(bundle.model, bundle.preprocess(images), target=gc.targets.RegionScore(c, mask))."
        )
    settings = Settings(
        bundle=bundle,
        layer=models.check_layer(bundle, args.layer),
        class_index=models.resolve_class(args.class_, bundle.class_names),
        method=args.method,
        top=min(args.top, len(bundle.class_names)),
        batch_size=args.batch_size,
        alpha=args.alpha,
        colormap=args.colormap,
        max_side=args.max_side,
        max_pixels=args.max_pixels,
        out=out,
        folder=folder,
    )
    loaded_at = time.perf_counter()
    folder.begin([*fixed, *(str(c.overlay) for c in candidates)])

    from tqdm import tqdm

    explained: list[Explained] = []
    sheets = ContactSheets(folder)
    try:
        with tqdm(
            total=len(candidates),
            unit="img",
            desc=PROG,
            file=sys.stderr,
            dynamic_ncols=True,
            disable=True if args.quiet else None,
        ) as progress:

            def skip(candidate: Candidate, reason: str) -> None:
                skipped.append(Skipped(candidate.source, reason))
                progress.update(1)

            for batch in load_batches(candidates, settings, skip):
                for item, (outcome, overlay) in zip(batch, explain_batch(batch, settings), strict=True):
                    if isinstance(outcome, str):
                        skip(item.candidate, outcome)
                        continue
                    assert overlay is not None  # an explained image always comes with its overlay
                    explained.append(outcome)
                    sheets.add(outcome, overlay)
                    progress.update(1)
    except BaseException:  # Ctrl-C, SIGTERM, a usage error found in the first batch: the manifest lists what exists
        with contextlib.suppress(OSError):
            folder.finish()
        raise
    sheet_files = sheets.finish()
    finished = time.perf_counter()
    failed = list(sheets.failures)
    failed += write_indexes(settings, explained, skipped, sheet_files, folder, failed)
    try:
        folder.finish()
    except OSError as err:  # the manifest written at the start stays; it lists every file written since
        failed.append(Skipped(MANIFEST, f"could not be updated ({_one_line(err)})"))
    for problem in failed:
        print(
            f"{PROG}: error: could not write '{_visible(problem.source)}' in '{_visible(str(out))}' "
            f"({_visible(problem.reason)}).",
            file=sys.stderr,
        )
    written = sorted(folder.written, key=lambda name: (name.startswith(OVERLAYS_DIR + "/"), name))
    _print_summary(
        settings, args, explained, skipped, ignored, written, loaded_at - started, finished - loaded_at, failed
    )
    return EXIT_SKIPPED if skipped or failed else EXIT_OK


def _check_overlap(out: Path, paths) -> None:
    """UsageError when ``out`` overlaps an input folder in a way that could cost the user a file or an input.

    Refused: ``out`` is an input folder or holds one (real paths, so links count too), or it lies inside an input
    folder and already holds files the command did not write (they would silently not be explained).
    """
    out_real = os.path.realpath(out)
    for given in paths:
        if not os.path.isdir(given):
            continue
        real = os.path.realpath(given)
        shown, where = _visible(str(given)), _visible(str(out))
        if real == out_real:
            raise UsageError(
                f"--out '{where}' is the input folder '{shown}' (links followed): {PROG} could overwrite your files "
                "there. Choose an --out outside the inputs."
            )
        if real.startswith(out_real.rstrip(os.sep) + os.sep):
            raise UsageError(
                f"--out '{where}' holds the input folder '{shown}': {PROG} could overwrite your files there. Choose an "
                "--out outside the inputs."
            )
        if out_real.startswith(real.rstrip(os.sep) + os.sep) and os.path.isdir(out):
            owned = manifest.read(out)
            theirs = sorted(
                name
                for name in os.listdir(out)
                if name not in owned
                and name != MANIFEST
                and not TEMP_PATTERN.fullmatch(name)
                and not (name == OVERLAYS_DIR and any(o.startswith(OVERLAYS_DIR + "/") for o in owned))
            )
            if theirs:
                raise UsageError(
                    f"--out '{where}' is inside the input folder '{shown}' and holds files {PROG} did not write "
                    f"(e.g. '{_visible(theirs[0])}'): they would not be explained. Choose an --out outside the inputs, "
                    "or an empty or new folder."
                )


def load_batches(
    candidates: list[Candidate], settings: Settings, skip: Callable[[Candidate, str], None]
) -> Iterator[list[Loaded]]:
    """Read the files lazily and yield them ``batch_size`` at a time; unreadable ones go to ``skip`` with a reason."""
    batch: list[Loaded] = []
    for candidate in candidates:
        try:
            full = load_image(candidate.path, max_pixels=settings.max_pixels)
        except Exception as err:  # one bad file must not stop the run; KeyboardInterrupt still does
            skip(candidate, _load_reason(err, candidate))
            continue
        # == bundle.load_images(path), with the user's own pixel bound
        model_input = load_image(full, size=settings.bundle.input_size, max_pixels=settings.max_pixels)
        display = _display_image(full, settings.max_side, settings.max_pixels)
        batch.append(Loaded(candidate, model_input, display, full.shape[:2]))
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
        message = message[len(path) :].lstrip()
        message = message[3:] if message.startswith("is ") else message
    return message.replace("pass max_pixels=...", "pass --max-pixels N")


def _save_png(image: np.ndarray, file) -> None:
    outputs.save_png(image, file)  # looked up at each call, so a test can replace cli.outputs.save_png


def _display_image(full: np.ndarray, max_side: int, max_pixels: int) -> np.ndarray:
    height, width = full.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return full
    scale = max_side / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return load_image(full, size=size, max_pixels=max_pixels)


def explain_batch(batch: list[Loaded], settings: Settings) -> list[tuple[Explained | str, np.ndarray | None]]:
    """One Grad-CAM pass for the batch, then each image's overlay written.

    Returns:
        (result, overlay) per image, in the batch's order; a str result is the reason the image failed (its overlay
        is then None).
    """
    bundle = settings.bundle
    inputs = bundle.preprocess(np.stack([item.model_input for item in batch]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyHeatmapWarning)  # reported per image as "empty" instead
            result = engine.explain(
                bundle.model,
                inputs,
                settings.layer,
                settings.class_index,
                settings.method,
                normalize=True,
                batch_size=settings.batch_size,
            )
        logits = result.logits  # every class's score from the same forward pass: no second pass for the top-k
    except (LayerError, ClassIndexError, UnsupportedModelError) as err:  # the same for every batch: stop
        raise UsageError(str(err)) from None
    except GradCAMError as err:
        return [(f"Grad-CAM failed ({_one_line(err)})", None)] * len(batch)
    probabilities = bundle.probabilities(logits)  # a multi-label model's are each label's sigmoid
    top = bundle.decode(logits, top=settings.top)
    outcomes: list[tuple[Explained | str, np.ndarray | None]] = []
    for i, item in enumerate(batch):
        heatmap = result.heatmaps[i]
        display = item.display
        if display.shape[0] < heatmap.shape[0] or display.shape[1] < heatmap.shape[1]:  # tiny image: heatmaps
            display = load_image(
                display,
                size=(
                    max(display.shape[0], heatmap.shape[0]),  # only upsample
                    max(display.shape[1], heatmap.shape[1]),
                ),
                interpolation="nearest",
                max_pixels=settings.max_pixels,
            )
        overlay = overlay_heatmap(
            display, heatmap, alpha=settings.alpha, colormap=settings.colormap, max_pixels=settings.max_pixels
        )
        if settings.folder is None:
            settings.folder = OutputFolder(settings.out)
        try:
            settings.folder.write(str(item.candidate.overlay), functools.partial(_save_png, overlay))
        except FileExistsError as err:  # a file of the user's is where the overlay would go
            outcomes.append((f"not explained: {err.strerror}", None))
            continue
        except OSError as err:
            outcomes.append((f"the overlay could not be written ({_one_line(err)})", None))
            continue
        index = int(result.class_indices[i])
        outcomes.append(
            (
                Explained(
                    source=item.candidate.source,
                    overlay=str(item.candidate.overlay),
                    size=overlay.shape[:2],
                    original_size=(int(item.original_size[0]), int(item.original_size[1])),
                    class_index=index,
                    class_name=bundle.class_names[index],
                    probability=float(probabilities[i, index]),
                    score=float(result.scores[i]),
                    empty=bool(result.empty[i]),
                    top=[(p.index, p.name, p.score) for p in top[i]],
                ),
                overlay,
            )
        )
    return outcomes
