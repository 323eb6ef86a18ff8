"""ipywidgets controls for the Explorer: pick the class, the layer, the colormap and the opacity; see the map.

The widgets only wire controls to ``Explorer``; all logic lives there.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
from PIL import Image

from .explorer import Explorer
from .overlay import COLORMAPS


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


class ExplorerWidget(widgets.VBox):
    """A class picker, a layer picker, a colormap picker and an opacity slider above the overlaid image."""

    def __init__(self, explorer: Explorer, width: int = 320):
        self.explorer = explorer
        self.class_picker = widgets.Dropdown(options=explorer.class_options(), value=explorer.top_class,
                                             description="class")
        self.layer_picker = widgets.Dropdown(options=explorer.layers, value=explorer.bundle.last_conv_layer,
                                             description="layer")
        self.colormap_picker = widgets.Dropdown(options=list(COLORMAPS), value="jet", description="colormap")
        self.alpha_slider = widgets.FloatSlider(value=0.4, min=0.0, max=1.0, step=0.05, description="opacity")
        self.picture = widgets.Image(format="png", width=width)
        for control in (self.class_picker, self.layer_picker, self.colormap_picker, self.alpha_slider):
            control.observe(self._refresh, names="value")
        controls = widgets.VBox([self.class_picker, self.layer_picker, self.colormap_picker, self.alpha_slider])
        super().__init__([widgets.HBox([controls, self.picture])])
        self._refresh()

    def current_overlay(self):
        return self.explorer.overlay(self.class_picker.value, self.layer_picker.value, self.alpha_slider.value,
                                     self.colormap_picker.value)

    def _refresh(self, _change=None) -> None:
        self.picture.value = png_bytes(self.current_overlay())

    def __repr__(self) -> str:  # the default repr dumps the PNG bytes into the notebook's text output
        return (f"ExplorerWidget(class={self.class_picker.value}, layer={self.layer_picker.value!r}, "
                f"colormap={self.colormap_picker.value!r}, opacity={self.alpha_slider.value})")


def explore(bundle, image, top: int = 5, width: int = 320) -> ExplorerWidget:
    """Interactive Grad-CAM for one image: ``explore(gc.load_model(), "cat.png")`` in a notebook cell."""
    return ExplorerWidget(Explorer(bundle, image, top=top), width=width)
