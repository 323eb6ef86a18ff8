"""What every part of the command shares: its name, exit statuses, output layout and the usage error."""

from __future__ import annotations

from ..errors import UsageError as UsageError  # defined with the other errors; still importable from here and cli

PROG = "gradcam"
DEFAULT_MODEL = "efficientnet_lite0"
DEFAULT_OUT = "gradcam-out"
EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

OVERLAYS_DIR = "overlays"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gradcam-utils")
    except PackageNotFoundError:
        return "unknown"


def _printable(text: str) -> str:
    r"""A path as text that always encodes (undecodable bytes in file names become \x.. escapes)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _one_line(err) -> str:
    return " ".join(str(err).split())
