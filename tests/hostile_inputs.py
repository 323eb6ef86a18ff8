"""A hostile folder for the ``gradcam`` command, built at test time (``from hostile_inputs import ...``).

Names with control characters, formula prefixes, HTML, Unicode (NFC and NFD, right-to-left override), 255-byte names
and bytes that are not UTF-8; decompression bombs; broken links and link loops; an unreadable folder; output folders
of earlier runs (with a manifest, and an older one without); and an output folder that already holds the user's own
files and a temporary file a killed run left. Each entry records what the command must do with it.
"""

import contextlib
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

FORMULA_NAMES = ['=HYPERLINK("x","y").png', "+cmd.png", "-2+3.png", "@SUM(A1).png", "\tTAB.png", "\rCR.png"]
CONTROL_NAMES = ["new\nline.png", "carriage\rreturn.png", "\x1b[31mred.png", "bell\x07.png"]
HTML_NAMES = ['<img src=x onerror="alert(1)">.png', "a&amp;b<b>.png"]
UNICODE_NAMES = ["caf\u00e9.png", "cafe\u0301.png", "evil\u202egnp.png", "\u05e9\u05dc\u05d5\u05dd.png"]
LONG_NAMES = ["b" * 251 + ".jpg", "\u00e9" * 125 + ".jpg", "c" * 251 + ".png"]  # 255 bytes each
UNDECODABLE = os.fsdecode(b"bad\xff\xfe name.png")  # not UTF-8: a surrogate-escaped str
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def tiny_png(path, seed: int = 0, size: int = 12) -> None:
    """A small valid RGB PNG (decoded and explained in milliseconds)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), np.uint8)
    Image.fromarray(pixels).save(os.fspath(path), format="PNG")


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG file whose header declares ``width`` x ``height`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


@dataclass
class HostileTree:
    """The built tree and what the command must do with each entry (paths as str: some are not UTF-8)."""

    root: Path  # holds everything below
    photos: Path  # the input folder
    out: Path  # the output folder (exists already, with the user's own files in it)
    good: list[str] = field(default_factory=list)  # must be explained
    skipped: dict[str, str] = field(default_factory=dict)  # must be listed as skipped: path -> words of the reason
    unreadable: list[str] = field(default_factory=list)  # folders that cannot be listed (see unreadable_folders)
    stale_temporaries: list[str] = field(default_factory=list)  # left by a killed run: must be removed
    users_files_in_out: list[str] = field(default_factory=list)  # the user's: must stay as they are


def build_hostile_tree(root: Path) -> HostileTree:
    """Create the hostile tree under ``root`` (an empty folder)."""
    photos, out, elsewhere = root / "photos", root / "out", root / "elsewhere"
    for folder in (photos / "sub", out / "overlays", elsewhere):
        folder.mkdir(parents=True)
    tree = HostileTree(root, photos, out)
    seed = 0

    def good(path) -> None:
        nonlocal seed
        seed += 1
        tiny_png(path, seed)
        tree.good.append(os.fspath(path))

    for name in FORMULA_NAMES + CONTROL_NAMES + HTML_NAMES + UNICODE_NAMES + LONG_NAMES + [UNDECODABLE]:
        good(photos / name)
    good(photos / "sub" / "inner.png")
    good(elsewhere / "far.png")
    os.symlink(elsewhere, photos / "linked-folder")  # followed: far.png is found through it...
    os.symlink(elsewhere, photos / "sub" / "same-folder-again")  # ...once
    tree.good[-1] = os.fspath(photos / "linked-folder" / "far.png")

    # Decompression bombs: the header declares 30000 x 30000 (900 MP); one is a PNG named .jpg.
    (photos / "bomb.png").write_bytes(png_declaring(30000, 30000))
    (photos / "bomb.jpg").write_bytes(png_declaring(30000, 30000))
    tree.skipped[os.fspath(photos / "bomb.png")] = "pixel"
    tree.skipped[os.fspath(photos / "bomb.jpg")] = "pixel"
    (photos / "=not an image.png").write_text("=cmd|' /C calc'!A0\n")
    tree.skipped[os.fspath(photos / "=not an image.png")] = "not an image"
    (photos / "\x1b]0;pwned\x07\x1b[2J.png").write_text("terminal escapes in a name that is reported\n")
    tree.skipped[os.fspath(photos / "\x1b]0;pwned\x07\x1b[2J.png")] = "not an image"

    # Links: broken (with and without an image extension), a loop of one link, a folder link back up.
    os.symlink(root / "nowhere.png", photos / "broken.png")
    os.symlink(root / "no-folder", photos / "broken-folder")
    os.symlink("self-loop.png", photos / "self-loop.png")
    os.symlink("..", photos / "sub" / "up")
    tree.skipped[os.fspath(photos / "broken.png")] = "broken link"
    tree.skipped[os.fspath(photos / "broken-folder")] = "broken link"
    tree.skipped[os.fspath(photos / "self-loop.png")] = "loop"
    tree.skipped[os.fspath(photos / "sub" / "up")] = "loop"
    os.symlink(out, photos / "link-to-out")  # this run's output folder through a link: never read

    # An unreadable folder (see unreadable_folders: chmod does not stop root).
    (photos / "locked").mkdir()
    tiny_png(photos / "locked" / "secret.png")
    tree.unreadable.append(os.fspath(photos / "locked"))
    tree.skipped[os.fspath(photos / "locked")] = "could not be read"

    # Output folders of earlier runs inside the input: never read back in, listed once each.
    old = photos / "old-run"
    (old / "overlays").mkdir(parents=True)
    tiny_png(old / "overlays" / "cat.png")
    tiny_png(old / "contact_sheet.png")
    (old / "gradcam-manifest.json").write_text(
        '{"tool": "gradcam", "files": ["overlays/cat.png", "contact_sheet.png", "../../escape.png"]}'
    )
    tiny_png(old / "users-own.png")  # in the old output folder but not in its manifest: the user's, explained
    tree.good.append(os.fspath(old / "users-own.png"))
    os.symlink(old / "overlays" / "cat.png", photos / "alias-of-an-old-overlay.png")
    tree.skipped[os.fspath(old)] = "earlier gradcam run"
    legacy = photos / "legacy-run"  # written by a version without a manifest: known by its results.json
    (legacy / "overlays").mkdir(parents=True)
    tiny_png(legacy / "overlays" / "dog.png")
    (legacy / "results.json").write_text(
        '{"tool": "gradcam 0.0.9", "contact_sheets": [], "images": [{"overlay": "overlays/dog.png"}]}'
    )
    (legacy / "index.html").write_text("<html></html>")
    tree.skipped[os.fspath(legacy)] = "earlier gradcam run"

    # The output folder already holds the user's own files, one where an overlay would go, one named like a stale
    # contact sheet page, and the temporary file of a killed run (and a user's file that only looks like one).
    good(photos / "collide.png")
    tree.good.pop()
    tree.skipped[os.fspath(photos / "collide.png")] = "not written by gradcam"
    tiny_png(out / "overlays" / "collide.png", 99)
    tiny_png(out / "contact_sheet_2.png", 98)
    (out / "notes.txt").write_text("mine\n")
    (out / ".gradcam-notes.tmp").write_text("mine too\n")
    tree.users_files_in_out += [
        os.fspath(out / n) for n in ("overlays/collide.png", "contact_sheet_2.png", "notes.txt")
    ]
    tree.users_files_in_out.append(os.fspath(out / ".gradcam-notes.tmp"))
    stale = out / "overlays" / (".gradcam-" + "0123456789abcdef" * 2 + ".tmp")
    stale.write_bytes(b"half a PNG")
    tree.stale_temporaries.append(os.fspath(stale))
    return tree


@contextlib.contextmanager
def unreadable_folders(paths):
    """Make ``paths`` unreadable for os.walk: chmod 000 (when not root), and os.scandir raising PermissionError on
    them (root reads anything, so this stands in for the permission the chmod cannot take away)."""
    real_scandir = os.scandir
    targets = {os.path.realpath(p) for p in paths}

    def scandir(path="."):
        if os.path.realpath(path) in targets:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    modes = {}
    for path in paths:
        modes[path] = os.stat(path).st_mode
        os.chmod(path, 0)
    os.scandir = scandir
    try:
        yield
    finally:
        os.scandir = real_scandir
        for path, mode in modes.items():
            os.chmod(path, mode)


def snapshot(root: Path) -> dict[str, str]:
    """Every file and link under ``root`` (links not followed) -> a digest of its content (or its target)."""
    digests = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                digests[path] = "link:" + os.readlink(path)
            elif os.path.isfile(path):
                with open(path, "rb") as file:
                    digests[path] = hashlib.sha256(file.read()).hexdigest()
    return digests
