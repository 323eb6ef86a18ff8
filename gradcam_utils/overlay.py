"""Turning a low-resolution heatmap into a picture over the original image.

Colormaps. What the eye reads first in a colour is its lightness, so a map reads honestly when lightness rises
steadily with the value: then what looks brighter is higher, and no edge appears where the data has none.
``colormap_lightness`` measures this (CIELAB L*, 0 = black, 100 = white, along the map):
  - "jet": the classic Grad-CAM rainbow and this library's default (``colorize``, ``overlay_heatmap``, the
    command and the explorer), kept so the pictures match the Grad-CAM article and the Keras example; notebook 04
    shows how to read it. Its lightness rises and falls with sharp bends (cyan and yellow look brighter than the
    red of the peak), which draws edges that are not in the data (Borland & Taylor, "Rainbow Color Map (Still)
    Considered Harmful", IEEE CG&A 2007);
  - "viridis": dark blue -> yellow; perceptually uniform (lightness rises evenly), readable in greyscale and by
    colour-blind viewers: the recommended choice for comparing maps or judging their strength (van der Walt &
    Smith, matplotlib's viridis family, 2015);
  - "inferno": black -> yellow, perceptually uniform from the same family, strong contrast for peaks; also
    recommended for comparisons;
  - "turbo": a smoothed rainbow (Mikhailov, Google AI Blog 2019): no sharp bands like jet's, but NOT perceptually
    uniform: its lightness rises to the middle and falls again, so the lowest and the highest values both look
    dark.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import matplotlib
import numpy as np

from .errors import GradCAMError, ImageInputError
from .i18n import text
from .images import MAX_IMAGE_PIXELS, load_image
from .resize import upsample_heatmap

# The colormaps the course compares, in the order it shows them. jet is the default everywhere (it matches the
# Grad-CAM article and the Keras example; notebook 04 explains how to read it); viridis and inferno are the
# recommended choices for comparing maps. Their one-line notes are learner-facing text ("colormap.<name>" in
# messages_explorer), so they follow gc.set_language like the figures' titles.
_COMPARED_COLORMAPS = ("viridis", "inferno", "turbo", "jet")


class ColormapNotes(Mapping[str, str]):
    """The colormaps the course compares -> a one-line note on how each reads, in the language in use.

    A read-only mapping (``gc.COLORMAPS``): iterate it for the names, index it for the note of one.
    """

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = names

    def __getitem__(self, name: str) -> str:
        if name not in self._names:
            raise KeyError(name)
        return text(f"colormap.{name}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)!r})"


COLORMAPS = ColormapNotes(_COMPARED_COLORMAPS)

# sRGB (IEC 61966-2-1) to CIE relative luminance Y under D65: the middle row of the sRGB -> XYZ matrix.
_SRGB_TO_Y = np.array([0.2126, 0.7152, 0.0722])


def check_heatmaps(heatmap, name: str = "heatmap", error: type[GradCAMError] = GradCAMError) -> tuple[np.ndarray, bool]:
    """(B, h, w) float64 copy of one map ``(h, w)`` or a batch ``(B, h, w)``, and whether a batch was given.

    The checks every consumer of heatmaps shares (the overlay, the localisation metrics, the perturbation curves):
    a real-valued numeric array, 2 or 3 axes, not empty, no NaN or infinity. Each caller adds its own (the range
    [0, 1] for colouring, non-negative for the energy game, one map per image for the curves).
    """
    array = np.asarray(heatmap)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise error(f"{name} must be a real-valued numeric array, got dtype {array.dtype}")
    if array.ndim not in (2, 3):
        raise error(
            f"{name} must be one map (h, w) or a batch (B, h, w), got shape {array.shape}; "
            "drop channel axes first (e.g. heatmap[..., 0])"
        )
    if array.size == 0:
        raise error(f"{name} is empty (shape {array.shape})")
    maps = array.astype(np.float64)  # always a copy: nothing below can touch the caller's array
    if not np.isfinite(maps).all():
        raise error(
            f"{name} contains NaN or infinite values; compute it again (compute_heatmaps and explain never "
            "return NaN) or fix the map first"
        )
    return (maps if array.ndim == 3 else maps[None]), array.ndim == 3


def check_heatmap(heatmap) -> np.ndarray:
    """Return one heatmap as a 2-D float32 array in [0, 1] (what can be coloured), or raise a clear error.

    A boolean mask is taken as a map of 0s and 1s; a batch of one map is unwrapped.
    """
    array = np.asarray(heatmap)
    if array.dtype == bool:
        array = array.astype(np.float32)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ImageInputError(
            f"A heatmap must be 2-D (height, width); got shape {array.shape}. For a batch from "
            "compute_heatmaps, pass one map: heatmaps[i]."
        )
    array = check_heatmaps(array, "heatmap", ImageInputError)[0][0].astype(np.float32)
    if array.min() < 0 or array.max() > 1 + 1e-6:
        raise ImageInputError(
            f"The heatmap must lie in [0, 1]; got [{array.min():.3g}, {array.max():.3g}]. Use "
            "normalize=True in compute_heatmaps, or divide by the map's maximum."
        )
    return np.clip(array, 0.0, 1.0)


def srgb_lightness(rgb) -> np.ndarray:
    """CIELAB lightness L* (0 = black, 100 = white) of sRGB colours: uint8 0..255 or floats in [0, 1], (..., 3).

    The standard route: undo the sRGB transfer curve, take the luminance Y (D65 white, Y = 1 for white), then
    L* = 116 f(Y) - 16 with f(t) = t^(1/3) above (6/29)^3 and linear below. Returns float64 of shape (...).
    """
    array = np.asarray(rgb)
    if array.ndim == 0 or array.shape[-1] != 3:
        raise GradCAMError(
            f"srgb_lightness needs colours with 3 channels in the last axis (..., 3); got shape {array.shape}."
        )
    if array.dtype == np.uint8:
        values = array.astype(np.float64) / 255.0
    else:
        values = array.astype(np.float64)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            raise GradCAMError("srgb_lightness needs uint8 colours (0..255) or floats in [0, 1].")
    linear = np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)
    y = linear @ _SRGB_TO_Y
    delta = 6.0 / 29.0
    f = np.where(y > delta**3, np.cbrt(y), y / (3 * delta**2) + 4.0 / 29.0)
    return 116.0 * f - 16.0


def colormap_lightness(colormap: str, n: int = 256) -> np.ndarray:
    """CIELAB L* of a matplotlib colormap at ``n`` evenly spaced values from 0 to 1 (float64, shape (n,)).

    A perceptually uniform map gives a steadily rising (or falling) curve; a rainbow such as jet or turbo rises
    and falls, so two different values can look equally light.
    """
    try:
        cmap = matplotlib.colormaps[colormap]
    except KeyError:
        raise GradCAMError(f"Unknown colormap {colormap!r}; try one of {', '.join(COLORMAPS)}.") from None
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 2:
        raise GradCAMError(
            f"n is the number of values sampled along the colormap and must be an integer >= 2; got {n!r}."
        )
    return srgb_lightness(cmap(np.linspace(0.0, 1.0, int(n)))[:, :3])


def colorize(heatmap, colormap: str = "jet") -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB colours (..., 3) with a matplotlib colormap."""
    try:
        cmap = matplotlib.colormaps[colormap]
    except KeyError:
        raise GradCAMError(f"Unknown colormap {colormap!r}; try one of {', '.join(COLORMAPS)}.") from None
    levels = np.round(np.asarray(heatmap, dtype=np.float32) * 255).astype(np.uint8)
    table = np.round(cmap(np.arange(256))[:, :3] * 255).astype(np.uint8)
    return table[levels]


def overlay_heatmap(
    image, heatmap, alpha: float = 0.4, colormap: str = "jet", max_pixels: int = MAX_IMAGE_PIXELS
) -> np.ndarray:
    """Blend a coloured heatmap over an image: (1 - alpha) * image + alpha * colour, as uint8 RGB of the image's size.

    ``image`` is anything ``load_image`` accepts (a path, PIL image, uint8 array...); ``heatmap`` is a 2-D map in
    [0, 1] at any resolution, upsampled bilinearly to the image. ``max_pixels`` bounds the image (and so the
    upsampled map), as in ``load_image``: raise it explicitly for a larger picture.
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise GradCAMError(f"alpha is the heatmap's opacity and must be in [0, 1]; got {alpha}.")
    rgb = load_image(image, max_pixels=max_pixels)
    colour = colorize(upsample_heatmap(check_heatmap(heatmap), rgb.shape[:2], max_pixels=max_pixels), colormap)
    blended = (1.0 - alpha) * rgb.astype(np.float32) + alpha * colour.astype(np.float32)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)
