"""Turning a low-resolution heatmap into a picture over the original image.

Colormaps: "jet" is the classic Grad-CAM look, but its brightness is not monotonic (cyan and yellow look brighter
than red), so it invents edges and hides the strongest region. Perceptually uniform maps change lightness evenly
with the value, so what looks twice as hot is:
  - "viridis": dark blue -> yellow, uniform, readable in greyscale and by colour-blind viewers (the safe default);
  - "inferno": black -> yellow, uniform, strong contrast for peaks;
  - "turbo": a rainbow like jet but smooth and without jet's false bands, for those used to jet.
"""

from __future__ import annotations

import matplotlib
import numpy as np

from .errors import GradCAMError, ImageInputError
from .images import load_image
from .resize import upsample_heatmap

COLORMAPS = {
    "viridis": "perceptually uniform, colour-blind safe, prints well in greyscale",
    "inferno": "perceptually uniform, black to yellow, makes peaks stand out",
    "turbo": "rainbow without jet's false bands; close to jet for those used to it",
    "jet": "the classic Grad-CAM rainbow; uneven lightness can suggest edges that are not there",
}


def check_heatmap(heatmap) -> np.ndarray:
    """Return a heatmap as a 2-D float32 array in [0, 1], or raise a clear error."""
    array = np.asarray(heatmap, dtype=np.float32)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ImageInputError(f"A heatmap must be 2-D (height, width); got shape {array.shape}. For a batch from "
                              "compute_heatmaps, pass one map: heatmaps[i].")
    if not np.isfinite(array).all():
        raise ImageInputError("The heatmap contains NaN or infinite values; recompute it with compute_heatmaps, "
                              "which never returns NaN.")
    if array.min() < 0 or array.max() > 1 + 1e-6:
        raise ImageInputError(f"The heatmap must lie in [0, 1]; got [{array.min():.3g}, {array.max():.3g}]. Use "
                              "normalize=True in compute_heatmaps, or divide by the map's maximum.")
    return np.clip(array, 0.0, 1.0)


def colorize(heatmap, colormap: str = "jet") -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB colours (..., 3) with a matplotlib colormap."""
    try:
        cmap = matplotlib.colormaps[colormap]
    except KeyError:
        raise GradCAMError(f"Unknown colormap {colormap!r}; try one of {', '.join(COLORMAPS)}.") from None
    levels = np.round(np.asarray(heatmap, dtype=np.float32) * 255).astype(np.uint8)
    table = np.round(cmap(np.arange(256))[:, :3] * 255).astype(np.uint8)
    return table[levels]


def overlay_heatmap(image, heatmap, alpha: float = 0.4, colormap: str = "jet") -> np.ndarray:
    """Blend a coloured heatmap over an image: (1 - alpha) * image + alpha * colour, as uint8 RGB of the image's size.

    ``image`` is anything ``load_image`` accepts (a path, PIL image, uint8 array...); ``heatmap`` is a 2-D map in
    [0, 1] at any resolution, upsampled bilinearly to the image.
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise GradCAMError(f"alpha is the heatmap's opacity and must be in [0, 1]; got {alpha}.")
    rgb = load_image(image)
    colour = colorize(upsample_heatmap(check_heatmap(heatmap), rgb.shape[:2]), colormap)
    blended = (1.0 - alpha) * rgb.astype(np.float32) + alpha * colour.astype(np.float32)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)
