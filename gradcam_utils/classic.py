"""The article's three functions, with the same names and arguments, running on the batched engine.

Learners arrive with ``get_img_array``, ``make_gradcam_heatmap`` and ``save_and_display_gradcam`` from the Keras
Grad-CAM example; this code runs as written. Where the original misbehaves, these versions are correct instead:

- the map is ReLU'd and then divided by the maximum of what is left. The original divides the ReLU'd map by the
  maximum of the map *before* the ReLU: an all-negative map (no evidence for the class) then comes back as -0
  everywhere, silently, and a map whose maximum is exactly 0 (all activations or all gradients zero) as 0/0 = NaN.
  Here both come back as zeros with an ``EmptyHeatmapWarning``;
- gradients are averaged over each image's own spatial positions (axes 1, 2), where the original's
  ``reduce_mean(axis=(0, 1, 2))`` mixes the whole batch into image 0's map;
- a model ending in softmax is explained with its pre-softmax score without ``model.layers[-1].activation = None``
  (that line still works, but is no longer needed, and it changes the user's model);
- the model runs with ``training=False``, and a pretrained base nested in a classifier head works.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .engine import compute_heatmaps
from .images import load_image
from .overlay import overlay_heatmap


def get_img_array(img_path, size) -> np.ndarray:
    """Load an image as a float32 batch of one, (1, height, width, 3), with values 0..255 (not preprocessed yet).

    Differs from the article's version: the EXIF orientation is applied, transparency is composited onto white, and
    resizing is bilinear (Keras' ``load_img`` defaults to nearest-neighbour, which aliases).
    """
    return load_image(img_path, size=size).astype(np.float32)[np.newaxis]


def make_gradcam_heatmap(img_array, model, last_conv_layer_name, pred_index=None) -> np.ndarray:
    """Grad-CAM heatmap at the layer's resolution, in [0, 1].

    One image in: a 2-D (h, w) map, as in the article. A batch in: (B, h, w), each image with its own gradients
    (``pred_index`` may then be one int per image). See the module docstring for what was fixed.
    """
    heatmaps = compute_heatmaps(model, img_array, layer_name=last_conv_layer_name, class_index=pred_index)
    return heatmaps[0] if len(heatmaps) == 1 else heatmaps


def save_and_display_gradcam(img_path, heatmap, cam_path="save_cam_image.jpg", alpha=0.4) -> str:
    """Overlay the heatmap on the image at ``img_path``, save it to ``cam_path``, show it in a notebook.

    Differs from the article: the heatmap itself is upsampled bilinearly before colouring (not the coloured JPEG
    with PIL's default resampler), and the blend is ``(1 - alpha) * image + alpha * colour`` clipped to 0..255,
    instead of adding the colours and rescaling the whole picture by its maximum. Returns ``cam_path``.
    """
    overlay = overlay_heatmap(img_path, heatmap, alpha=alpha)
    Path(cam_path).parent.mkdir(parents=True, exist_ok=True)  # the article's flat name still works
    Image.fromarray(overlay).save(cam_path)
    try:
        from IPython import get_ipython
        from IPython.display import Image as IPythonImage
        from IPython.display import display

        if get_ipython() is not None:
            display(IPythonImage(filename=str(cam_path)))
    except ImportError:  # plain Python without IPython: saving is the job
        pass
    return str(cam_path)
