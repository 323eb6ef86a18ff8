"""Heatmap figures: one panel per map with its title, one colour bar on the maps' 0..1 scale, clear errors."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import gradcam_utils as gc  # noqa: E402


def test_panels_carry_their_titles_and_one_shared_colour_bar():
    images = np.zeros((3, 8, 8, 3), np.uint8)
    maps = np.linspace(0, 1, 3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4)
    fig, axes = gc.show_heatmaps(images, maps, ["a", "b", "c"], ncols=2, colormap="viridis")
    assert axes.shape == (2, 2)
    assert [ax.get_title() for ax in axes.flat][:3] == ["a", "b", "c"]
    assert not axes.flat[3].images  # the spare panel stays empty
    bars = [ax for ax in fig.axes if ax not in axes.flat]
    assert len(bars) == 1 and bars[0].get_ylabel() == gc.figures.NORMALISED_LABEL
    assert bars[0].get_ylim() == (0.0, 1.0)
    # the panel shows the overlay the library computes (a second route: overlay_heatmap itself)
    np.testing.assert_array_equal(
        axes[0, 0].images[0].get_array(), gc.overlay_heatmap(images[0], maps[0], alpha=0.5, colormap="viridis")
    )
    plt.close(fig)


def test_one_picture_serves_every_map_and_titles_must_match():
    maps = np.zeros((2, 4, 4), np.float32)
    fig, axes = gc.show_heatmaps(np.zeros((8, 8, 3), np.uint8), maps, colorbar=False)
    assert len(fig.axes) == 2
    plt.close(fig)
    with pytest.raises(gc.GradCAMError, match="one title per map"):
        gc.show_heatmaps(np.zeros((2, 8, 8, 3), np.uint8), maps, ["only one"])
    with pytest.raises(gc.GradCAMError, match="one picture per map"):
        gc.show_heatmaps(np.zeros((3, 8, 8, 3), np.uint8), maps)


def test_titles_name_class_score_and_prediction():
    assert gc.explained_title("star", 4.123) == "map of 'star' (logit 4.12)"
    assert (
        gc.explained_title("star", 0.5, score_name="p", predicted="circle", method="HiResCAM")
        == "HiResCAM map of 'star' (p=0.50)\npredicted 'circle'"
    )
