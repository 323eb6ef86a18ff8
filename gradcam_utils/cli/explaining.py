"""The explain command: files read lazily a batch at a time, one Grad-CAM pass per batch, overlays written."""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import engine, imagenet, zoo
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
from . import models
from ._common import EXIT_OK, EXIT_SKIPPED, PROG, UsageError, _one_line
from .inputs import IMAGE_EXTENSIONS, Candidate, Skipped, collect
from .outputs import ContactSheets, _print_summary, _write_png, write_indexes


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


def run_explain(args) -> int:
    """The ``explain`` command: overlays, contact sheets and indexes under ``--out``; the exit code.

    Raises:
        UsageError: a bad option, no image found, or a layer or class the model does not have.
    """
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
        raise UsageError(
            f"no images found in {where}{also}; folders are searched for {' '.join(IMAGE_EXTENSIONS)} files."
        )
    bundle = models.load_bundle(args.model, args.preprocess, args.class_names)
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
    )
    loaded_at = time.perf_counter()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the output folder '{out}' ({_one_line(err)}).") from None

    from tqdm import tqdm

    explained: list[Explained] = []
    sheets = ContactSheets(out)
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
    sheet_files = sheets.finish()
    finished = time.perf_counter()
    try:
        write_indexes(settings, explained, skipped, sheet_files)
    except OSError as err:  # e.g. disk full: the overlays are written, the index is not (the old one stays)
        print(f"{PROG}: error: could not write the index files in '{out}' ({_one_line(err)}).", file=sys.stderr)
        return EXIT_SKIPPED
    _print_summary(settings, args, explained, skipped, ignored, sheet_files, loaded_at - started, finished - loaded_at)
    return EXIT_SKIPPED if skipped else EXIT_OK


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
        message = message[len(path) :].lstrip()
        message = message[3:] if message.startswith("is ") else message
    return message.replace("pass max_pixels=...", "pass --max-pixels N")


def _display_image(full: np.ndarray, max_side: int) -> np.ndarray:
    height, width = full.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return full
    scale = max_side / max(height, width)
    return load_image(full, size=(max(1, round(height * scale)), max(1, round(width * scale))))


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
    probabilities = engine.softmax(logits)
    top = imagenet.decode(logits, top=settings.top, class_names=bundle.class_names)
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
            )
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
