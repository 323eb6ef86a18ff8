"""The ``gradcam`` command's entry point, outside the package on purpose.

Importing ``gradcam_utils`` imports TensorFlow (a few seconds). A Ctrl-C in that time would otherwise end in a long
traceback from deep inside TensorFlow's import, before the command's own handling exists; this module imports the
command inside a ``try`` so that case prints one line too. It must stay outside ``gradcam_utils``: importing any
module of the package runs the package's ``__init__`` (and so TensorFlow's import) first.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130  # as gradcam_utils.cli reports Ctrl-C (128 + SIGINT), which cannot be imported yet here


def main(argv: list[str] | None = None) -> int:
    """Import the command, then run it; a Ctrl-C while importing exits 130 with one line."""
    try:
        from gradcam_utils.cli import main as run
    except KeyboardInterrupt:
        print("\ngradcam: interrupted while starting; nothing was written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
