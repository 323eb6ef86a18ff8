"""Where gradcam_utils keeps files it derives once and reuses (e.g. converted model weights)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV_VAR = "GRADCAM_UTILS_CACHE"


def cache_dir() -> Path:
    """Return the user's gradcam_utils cache directory, creating it if needed.

    In order of precedence: ``$GRADCAM_UTILS_CACHE``; ``$XDG_CACHE_HOME/gradcam_utils``;
    ``~/.cache/gradcam_utils``. Deleting the directory is always safe: its
    contents are rebuilt on demand.

    Raises:
        OSError: the directory cannot be created (a file in the way, a read-only parent, a name with a NUL byte);
            the message names it and the variable to set. Callers treat this as a warning: the cache is optional
            (``load_efficientnet_lite0`` then converts the weights in memory).
    """
    explicit = os.environ.get(CACHE_ENV_VAR)
    if explicit:
        path = Path(explicit).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
        path = base / "gradcam_utils"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise OSError(
            f"cannot create the gradcam_utils cache directory {path} ({exc}); "
            f"point ${CACHE_ENV_VAR} at a writable directory"
        ) from exc
    return path
