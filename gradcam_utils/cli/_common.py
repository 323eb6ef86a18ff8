"""What every part of the command shares: its name, exit statuses, output layout and the usage error."""

from __future__ import annotations

import re
import unicodedata

from ..errors import UsageError as UsageError  # defined with the other errors; still importable from here and cli

PROG = "gradcam"
DEFAULT_MODEL = "efficientnet_lite0"
DEFAULT_OUT = "gradcam-out"
EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

OVERLAYS_DIR = "overlays"
MANIFEST = "gradcam-manifest.json"  # in --out: every file the command wrote there, the only ones it may replace
TEMP_PATTERN = re.compile(r"\.gradcam-[0-9a-f]{32}\.tmp")  # atomic_write's temporary files (full name)

# Bidirectional-text controls: in a file name they can make "gnp.exe" display as "exe.png" (Trojan Source).
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gradcam-utils")
    except PackageNotFoundError:
        return "unknown"


def _printable(text: str) -> str:
    r"""A path as text that always encodes (undecodable bytes in file names become \x.. escapes)."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte (never from a file name)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _visible(text: str) -> str:
    r"""Text for one line of a table, a page or a terminal, shown as it is but never acting on its surroundings.

    Undecodable bytes, control characters (newline, carriage return, tab, escape...) and bidirectional-text controls
    become visible escapes (``\n``, ``\r``, ``\t``, ``\x1b``, ``\u202e``), so a name can never split a row, move
    the cursor or reorder what is shown.
    """
    out = []
    for char in _printable(text):
        if char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif char in _BIDI_CONTROLS:
            out.append(f"\\u{ord(char):04x}")
        elif unicodedata.category(char) == "Cc":  # C0, DEL and C1 controls
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def _one_line(err) -> str:
    return " ".join(_printable(str(err)).split())
