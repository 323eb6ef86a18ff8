"""Figures for the course: heatmap panels that say what they explain, with a colour bar for the map's scale.

A heatmap figure is only readable when each panel names the class it explains (and the score of that class) and
the colours can be read as values. ``show_heatmaps`` draws a grid of overlays, one title per panel, and one shared
colour bar: every map is on the same 0..1 scale (1 = that map's own peak, as ``normalize=True`` returns it).
``explained_title`` writes the titles the same way everywhere. Titles and the colour bar's label follow
``gc.set_language`` (their texts: ``messages_explorer``); class names stay as the model names them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from .errors import GradCAMError
from .i18n import text as tr
from .overlay import overlay_heatmap

__all__ = ["explained_title", "show_heatmaps", "add_colorbar"]

#: What the colour bar of a normalised map measures (in English; ``add_colorbar`` uses the current language).
NORMALISED_LABEL = "map value (1 = the map's peak)"


def explained_title(
    class_name: str,
    score: float | None = None,
    *,
    predicted: str | None = None,
    method: str | None = None,
    score_name: str = "logit",
) -> str:
    """A panel title naming what the map explains: ``"map of 'star' (logit 4.1) | predicted 'star'"``.

    ``score`` is the explained class's score (pre-softmax logit by default; pass ``score_name="p"`` for a
    probability); ``predicted`` adds the model's own answer, which can differ from the class explained. In Japanese
    (``gc.set_language("ja")``): ``"'star' のマップ (ロジット 4.10)"`` and ``"予測: 'star'"``.
    """
    text = tr("fig.map_of", method=method + " " if method else "", class_name=class_name)
    if score is not None:
        if score_name == "p":
            text += f" (p={score:.2f})"
        else:
            text += tr("fig.score", score_name=tr("fig.logit") if score_name == "logit" else score_name, score=score)
    if predicted is not None:
        text += tr("fig.predicted", predicted=predicted)
    return text


def add_colorbar(fig, axes, colormap: str = "jet", label: str | None = None, vmin: float = 0.0, vmax: float = 1.0):
    """One colour bar for all ``axes``, for maps drawn with ``colormap`` on the scale ``vmin..vmax``.

    ``label`` defaults to "map value (1 = the map's peak)" in the current language.
    """
    mappable = ScalarMappable(norm=Normalize(vmin, vmax), cmap=colormap)
    bar = fig.colorbar(mappable, ax=np.ravel(axes).tolist(), fraction=0.025, pad=0.02)
    bar.set_label(tr("fig.colorbar") if label is None else label)
    return bar


def show_heatmaps(
    images,
    heatmaps,
    titles=None,
    *,
    alpha: float = 0.5,
    colormap: str = "jet",
    ncols: int | None = None,
    panel_size: float = 2.4,
    colorbar: bool = True,
    suptitle: str | None = None,
):
    """A grid of heatmap overlays, a title per panel and one shared colour bar; returns ``(fig, axes)``.

    ``images``: uint8 RGB pictures (B, H, W, 3) or one picture for every map; ``heatmaps``: (B, h, w) maps in
    [0, 1] (any resolution; upsampled bilinearly); ``titles``: one string per panel (see ``explained_title``).
    """
    maps = np.asarray(heatmaps)
    if maps.ndim == 2:
        maps = maps[np.newaxis]
    pictures = np.asarray(images)
    if pictures.ndim == 3:
        pictures = np.repeat(pictures[np.newaxis], len(maps), axis=0)
    if maps.ndim != 3 or len(pictures) != len(maps):
        raise GradCAMError(
            f"show_heatmaps needs one picture per map: got {len(pictures)} pictures for maps of "
            f"shape {maps.shape}; pass images (B, H, W, 3) and heatmaps (B, h, w)."
        )
    if titles is not None and len(titles) != len(maps):
        raise GradCAMError(f"show_heatmaps needs one title per map: got {len(titles)} titles for {len(maps)} maps.")
    ncols = ncols or len(maps)
    nrows = -(-len(maps) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(panel_size * ncols + (0.8 if colorbar else 0), panel_size * nrows + 0.4),
        squeeze=False,
        layout="constrained",
    )
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(maps):
            ax.imshow(overlay_heatmap(pictures[index], maps[index], alpha=alpha, colormap=colormap))
            if titles is not None:
                ax.set_title(titles[index], fontsize=9)
    if colorbar:
        add_colorbar(fig, axes, colormap)
    if suptitle:
        fig.suptitle(suptitle)
    return fig, axes
