"""ipywidgets controls for the Explorer: only wiring, all logic lives in ``gradcam_utils.explorer``.

Each control calls one ``Explorer`` method; then the controls and the view are brought in line with the explorer's
state by setting ``.value``s in place (the widget tree is built once). Pictures are re-encoded only when they changed,
so an opacity change re-encodes the overlay alone.

``snapshot(explorer)`` (or ``ExplorerWidget.snapshot()``) draws the current view as an ordinary PNG picture: a
notebook read without a kernel (a static view, a course website) shows it, where the live controls are missing.

The controls' labels, the panel titles and the snapshot's text follow ``gc.set_language`` at the time the widget or
snapshot is made (their texts: ``messages_explorer``).
"""

from __future__ import annotations

import contextlib
import html
import io
from pathlib import Path

import ipywidgets as widgets
from matplotlib.figure import Figure

from .errors import GradCAMError
from .explorer import DEFAULT_MODEL, Explorer, percent
from .figures import add_colorbar, explained_title
from .i18n import text as tr
from .images import png_bytes


class ExplorerWidget(widgets.VBox):
    """The explorer's controls above the image, its heatmap and the overlay.

    Model, image (or upload), class (top predictions, or any by name), layer, method, opacity and colormap controls,
    then the three pictures, a caption and an error line.
    """

    def __init__(self, explorer: Explorer, width: int = 240):
        self.explorer = explorer
        self._syncing = False  # True while the controls are being set to the explorer's state: no callbacks then
        self._shown: dict[str, object] = {}
        self.model_picker = widgets.Dropdown(description=tr("widget.model"))
        self.image_picker = widgets.Dropdown(description=tr("widget.image"))
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description=tr("widget.upload"))
        self.class_picker = widgets.Dropdown(description=tr("widget.class"))  # the browser test finds it by this label
        self.class_search = widgets.Combobox(
            description=tr("widget.by_name"), placeholder=tr("widget.type_class"), ensure_option=True
        )
        self.layer_picker = widgets.Dropdown(description=tr("widget.layer"))
        self.method_picker = widgets.Dropdown(description=tr("widget.method"), options=explorer.method_options())
        self.alpha_slider = widgets.FloatSlider(min=0.0, max=1.0, step=0.05, description=tr("widget.opacity"))
        self.colormap_picker = widgets.Dropdown(description=tr("widget.colormap"), options=explorer.colormap_options())
        self.image_view, self.heatmap_view, self.overlay_view = (
            widgets.Image(format="png", width=width) for _ in range(3)
        )
        self.caption = widgets.HTML()
        self.error_line = widgets.HTML()

        actions = {
            self.model_picker: explorer.select_model,
            self.image_picker: explorer.select_image,
            self.class_picker: explorer.select_class,
            self.class_search: lambda text: text and explorer.select_class_by_name(text),
            self.layer_picker: explorer.select_layer,
            self.method_picker: explorer.select_method,
            self.alpha_slider: explorer.set_alpha,
            self.colormap_picker: explorer.set_colormap,
        }
        for control, action in actions.items():
            control.observe(self._handler(action), names="value")
        self.upload.observe(self._on_upload, names="value")

        def panel(title, picture):
            return widgets.VBox([widgets.HTML(f"<b>{title}</b>"), picture])

        controls = widgets.HBox(
            [
                widgets.VBox([self.model_picker, self.image_picker, self.upload]),
                widgets.VBox([self.class_picker, self.class_search, self.layer_picker]),
                widgets.VBox([self.method_picker, self.alpha_slider, self.colormap_picker]),
            ]
        )
        pictures = widgets.HBox(
            [
                panel(tr("widget.image"), self.image_view),
                panel(tr("widget.heatmap"), self.heatmap_view),
                panel(tr("widget.overlay"), self.overlay_view),
            ]
        )
        super().__init__([controls, pictures, self.caption, self.error_line])
        self._show()

    def snapshot(self) -> Snapshot:
        """The view as it is now, as a picture that stays in the notebook's saved output (see ``snapshot``)."""
        return snapshot(self.explorer)

    @property
    def picture(self) -> widgets.Image:
        """The overlay (the name the first version of this widget used)."""
        return self.overlay_view

    def _handler(self, action):
        def handle(change):
            if not self._syncing:
                action(change["new"])
                self._show()

        return handle

    def _on_upload(self, change) -> None:
        if self._syncing or not change["new"]:
            return
        file = change["new"][-1]
        self.explorer.upload(bytes(file["content"]), file["name"])
        with self._quietly():
            self.upload.value = ()  # the bytes are the explorer's now; choosing the same file again works
        self._show()

    @contextlib.contextmanager
    def _quietly(self):
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def _show(self) -> None:
        """Bring controls and pictures in line with the explorer, setting only what changed."""
        explorer, view = self.explorer, self.explorer.view
        state = view.state
        with self._quietly():
            _set(self.model_picker, explorer.model_options(), state.model)
            _set(self.image_picker, explorer.image_options(), state.image)
            _set(self.class_picker, explorer.class_options(), state.class_index)
            labels = list(explorer.all_class_names)
            if list(self.class_search.options) != labels:
                self.class_search.options = labels
            self.class_search.value = labels[state.class_index]
            _set(self.layer_picker, explorer.layer_options(), state.layer)
            _set(self.method_picker, explorer.method_options(), state.method)
            self.alpha_slider.value = state.alpha
            _set(self.colormap_picker, explorer.colormap_options(), state.colormap)
        for name, picture in (
            ("image", self.image_view),
            ("heatmap", self.heatmap_view),
            ("overlay", self.overlay_view),
        ):
            array = getattr(view, name)
            if self._shown.get(name) is not array:  # the explorer hands back the same array when nothing changed
                picture.value = png_bytes(array)
                self._shown[name] = array
        self.caption.value = html.escape(view.caption)
        self.error_line.value = (
            ""
            if view.error is None
            else '<span style="color:#b00020">' + html.escape(view.error).replace("\n", "<br>") + "</span>"
        )

    def __repr__(self) -> str:  # the default repr dumps the PNG bytes into the notebook's text output
        state = self.explorer.state
        return (
            f"ExplorerWidget(class={state.class_index}, layer={state.layer!r}, colormap={state.colormap!r}, "
            f"opacity={state.alpha})"
        )


def _set(dropdown, options, value) -> None:
    if list(dropdown.options) != list(options):
        dropdown.options = options
    if dropdown.value != value:
        dropdown.value = value


class Snapshot:
    """A picture of the explorer's view: ``png`` (bytes) and ``caption`` (what it explains, as text).

    A notebook shows it as the PNG (``_repr_png_``), with the caption as its text form; ``save(path)`` writes the
    PNG to a file.
    """

    def __init__(self, png: bytes, caption: str):
        self.png, self.caption = png, caption
        self._repr = tr("snapshot.repr", caption=caption)  # in the language the snapshot was taken in

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        return self._repr

    def save(self, path) -> Path:
        """Write the PNG to ``path``; the path written."""
        path = Path(path)
        path.write_bytes(self.png)
        return path


def snapshot(explorer: Explorer, dpi: int = 100) -> Snapshot:
    """Draw the explorer's current view: the image, the heatmap and the overlay, with a colour bar.

    Each panel is titled, and a caption names the class explained (and its probability), the predicted class, the
    layer (with its size) and the method. The explorer's state does not change.
    """
    if not isinstance(explorer, Explorer):
        raise GradCAMError(
            f"snapshot draws an Explorer's view (ui.explorer, or Explorer(...)); got {type(explorer).__name__}."
        )
    view, state = explorer.view, explorer.view.state
    names = explorer.all_class_names
    top = explorer.predictions[0]
    explained, p = names[state.class_index], float(explorer.probabilities[state.class_index])
    size = dict((name, label) for label, name in explorer.layer_options())[state.layer]
    figure = Figure(figsize=(8.4, 3.3), dpi=dpi, layout="constrained")
    axes = figure.subplots(1, 3)
    titles = (
        tr("snapshot.image", image=state.image),
        explained_title(explained, p, predicted=names[top.index], method=state.method, score_name="p"),
        tr("snapshot.overlay", alpha=state.alpha),
    )
    for ax, picture, title in zip(axes, (view.image, view.heatmap, view.overlay), titles, strict=True):
        ax.imshow(picture)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    add_colorbar(figure, axes[1:], state.colormap)
    heading = tr("snapshot.heading", model=state.model, size=size, method=state.method, colormap=state.colormap)
    if view.empty:
        heading += tr("snapshot.heading_empty")
    figure.suptitle(heading, fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    caption = tr(
        "snapshot.caption",
        explained=explained,
        p=percent(p),
        predicted=names[top.index],
        top=percent(top.score),
        size=size,
        method=state.method,
    ) + (tr("snapshot.caption_empty") if view.empty else "")
    return Snapshot(buffer.getvalue(), caption)


def explore(bundle_or_model_name=DEFAULT_MODEL, image=None, top: int = 5, width: int = 240) -> ExplorerWidget:
    """Interactive Grad-CAM in one line.

    ``explore()``, ``explore("shapes_gap")`` or ``explore(gc.load_model(), "cat.png")`` in a notebook cell.
    """
    return ExplorerWidget(Explorer(bundle_or_model_name, image, top=top), width=width)
