r"""The ``gradcam`` command: Grad-CAM overlays, a contact sheet and an index for files and folders of images.

    gradcam explain photos/ more.jpg --out gradcam-out          # embedded EfficientNet-Lite0, offline
    gradcam explain photos/ --model xception --method gradcam++ --class "tabby cat" --top 3
    gradcam explain shapes/ --model my_model.keras --preprocess unit --class-names classes.txt

Folders are searched recursively for image files (by extension, case-insensitive; hidden files and folders and the
output folder are left out), in sorted order, following links to folders once each. Files are read lazily,
``--batch-size`` at a time, so a large folder never sits in memory. A file that cannot be read (corrupt, not an
image, over the decompression-bomb limit), an unreadable folder, a broken link or a link loop is skipped and listed
with its reason; the others are still explained. Files an earlier run wrote (listed in the manifest of an output
folder above them) are never read back in as inputs: each such folder is listed once as skipped.

Output (``--out``, default ``gradcam-out``)::

    overlays/<same relative path>.png   one overlay per image (a .jpg input gets "<name>.jpg.png")
    contact_sheet.png                   thumbnails with labels (contact_sheet_2.png... past 64 images)
    index.html                          self-contained page: overlays, predictions, skipped files
    results.csv, results.json           the same, for programs
    gradcam-manifest.json               every file the command wrote in the folder: the only ones it replaces

Every file is written to a temporary name in its folder and renamed into place, so an interrupted run leaves each
output either complete (new or from the previous run) or absent, never half-written; a later run removes temporary
files a killed run left (only names of its own pattern, ``.gradcam-<32 hex digits>.tmp``).

The command never replaces or removes a file it did not write: an overlay whose place holds a file of the user's is
skipped with the reason, an index file or contact sheet in the way is a usage error, and an ``--out`` that is an
input folder or holds one (links included), or that lies inside one and holds the user's files, is refused.

Names are shown as they are but can never act: in results.csv, index.html, the contact sheet, the overlay file
names and the terminal, control characters (newline, carriage return, tab, escape...), bidirectional-text controls
and bytes that are not UTF-8 become visible escapes (``\n``, ``\u202e``, ``\xff``); results.json keeps the
names exactly (undecodable bytes as ``\xff``). A results.csv cell that starts with ``=``, ``+``, ``-`` or ``@``
gets a leading single quote (OWASP's advice against formula injection), and every field is quoted.

A file that cannot be written (disk full) is a skipped image or a listed failure; every other output is still
written.

Exit status: 0 every image was explained; 1 some files were skipped or failed (outputs are still written for the
others); 2 nothing was done because the command is wrong (bad option, model, layer or class, no images found,
model weights unavailable, an output folder that overlaps the inputs); 130 interrupted (Ctrl-C); 143 terminated
(SIGTERM), cleaned up like Ctrl-C.

The command is a package, one module per step: ``commands`` (entry point, parser, list commands), ``models`` (model,
layer and class resolution), ``inputs`` (finding the files), ``explaining`` (the explain command), ``outputs``
(atomic writes, the output folder's guard, contact sheets, index files; the HTML page is the template
``index.html``) and ``manifest`` (what the command wrote in an output folder). Its public names are
re-exported here. A test that replaces one of them must patch the module that looks it up (e.g.
``cli.outputs.save_png``, ``cli.models.load_bundle``), not this package.
"""

from __future__ import annotations

from . import commands, explaining, inputs, manifest, models, outputs
from ._common import (
    DEFAULT_MODEL,
    DEFAULT_OUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SKIPPED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    MANIFEST,
    OVERLAYS_DIR,
    PROG,
    UsageError,
)
from .commands import build_parser, main
from .explaining import Explained, Loaded, Settings, explain_batch, load_batches, run_explain
from .indexes import csv_cell, render_html, write_indexes
from .inputs import IMAGE_EXTENSIONS, Candidate, Skipped, collect
from .models import PREPROCESS, check_layer, load_bundle, resolve_class
from .outputs import (
    LABEL_HEIGHT,
    SHEET_COLUMNS,
    SHEET_PAD,
    SHEET_ROWS,
    THUMB,
    ContactSheets,
    OutputFolder,
    atomic_write,
    save_png,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_OUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SKIPPED",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "IMAGE_EXTENSIONS",
    "LABEL_HEIGHT",
    "MANIFEST",
    "OVERLAYS_DIR",
    "PREPROCESS",
    "PROG",
    "SHEET_COLUMNS",
    "SHEET_PAD",
    "SHEET_ROWS",
    "THUMB",
    "Candidate",
    "ContactSheets",
    "OutputFolder",
    "Explained",
    "Loaded",
    "Settings",
    "Skipped",
    "UsageError",
    "atomic_write",
    "build_parser",
    "check_layer",
    "collect",
    "commands",
    "csv_cell",
    "explain_batch",
    "explaining",
    "inputs",
    "load_batches",
    "load_bundle",
    "main",
    "manifest",
    "models",
    "outputs",
    "render_html",
    "resolve_class",
    "run_explain",
    "save_png",
    "write_indexes",
]
