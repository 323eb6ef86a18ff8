"""The explorer without a browser: widgets driven by setting .value like a user would, checked against what is shown.

Most tests use the 64x64 teaching model (fast); a few use the embedded ImageNet model. Expected pictures come from an
independent route: ``gc.explain`` on the image alone, then ``gc.overlay_heatmap``, not from the explorer's caches.
Engine calls are counted twice: by the explorer's own counters and by spies around the engine's functions.
"""

import datetime
import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gradcam_utils as gc
from gradcam_utils import engine
from gradcam_utils import explorer as explorer_module
from gradcam_utils import widgets as widgets_module
from gradcam_utils.explorer import Explorer
from gradcam_utils.synthetic import DEFAULT_CLASSES, make_shapes
from gradcam_utils.widgets import ExplorerWidget, explore

CAT = Path(__file__).resolve().parents[1] / "gradcam_utils" / "data" / "images" / "cat.png"
PHOTOS = ["cat", "espresso", "cat_and_espresso", "astronaut", "grace_hopper"]


@pytest.fixture(scope="module")
def shapes():
    return gc.load_model("shapes_gap")


@pytest.fixture(scope="module")
def effnet(tmp_path_factory):
    return gc.load_model("efficientnet_lite0", cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def ui(shapes):
    return explore(shapes)


@pytest.fixture
def spy(monkeypatch):
    """Records every engine call that runs the model: ("logits"|"gradients", batch size, classes)."""
    calls = []
    gradient_inputs, class_logits = engine.gradient_inputs, engine.class_logits

    def spy_gradients(model, images, layer_name=None, class_index=None, batch_size=32):
        calls.append(("gradients", len(images), list(np.atleast_1d(class_index)), layer_name))
        return gradient_inputs(model, images, layer_name, class_index, batch_size)

    def spy_logits(model, images, batch_size=64):
        calls.append(("logits", len(np.atleast_1d(images)), None, None))
        return class_logits(model, images, batch_size)

    monkeypatch.setattr(engine, "gradient_inputs", spy_gradients)
    monkeypatch.setattr(engine, "class_logits", spy_logits)
    return calls


def decode_png(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def reference(bundle, image, layer, class_index, method="gradcam", copies=1):
    """The map computed directly with ``gc.explain``, without the explorer, on ``copies`` copies of the image.

    With oneDNN (TensorFlow's default on CPU) the gradients of the embedded model's middle layers depend on the
    batch size at the 1e-3 level, while the rows of one batch agree exactly; so the exact reference uses the batch
    the explorer used: the top-k copies for a top class, one image otherwise.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)  # an empty map is a valid reference too
        batch = np.repeat(bundle.preprocess(image), copies, axis=0)
        result = gc.explain(bundle.model, batch, layer, [class_index] * copies, method=method)
    assert result.class_indices[0] == class_index
    return result.heatmaps[0]


def shown(ui):
    return {name: decode_png(getattr(ui, f"{name}_view").value) for name in ("image", "heatmap", "overlay")}


def assert_overlay_is_reference(ui, bundle):
    state = ui.explorer.state
    image = shown(ui)["image"]
    np.testing.assert_array_equal(image, ui.explorer.image)
    top = [p.index for p in ui.explorer.predictions]
    copies = len(top) if state.class_index in top else 1
    expected_map = reference(bundle, image, state.layer, state.class_index, state.method, copies)
    np.testing.assert_allclose(ui.explorer.heatmap(), expected_map, atol=2e-5)
    alone = reference(bundle, image, state.layer, state.class_index, state.method)  # the image on its own
    np.testing.assert_allclose(ui.explorer.heatmap(), alone, atol=1e-2)
    expected = gc.overlay_heatmap(image, expected_map, alpha=state.alpha, colormap=state.colormap)
    # allow one grey level where the float sums round apart
    difference = np.abs(shown(ui)["overlay"].astype(int) - expected.astype(int))
    assert difference.max() <= 1 and difference.mean() < 0.01


def upload(ui, name, data):
    ui.upload.value = (
        {
            "name": name,
            "type": "",
            "size": len(data),
            "content": memoryview(data),
            "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        },
    )


# ----- the picture follows the controls ----------------------------------------------------------------------------


def test_starts_on_the_top_class_and_shows_the_independent_reference(ui, shapes):
    explorer = ui.explorer
    assert ui.model_picker.value == "shapes_gap" and ui.image_picker.value == "circle"
    assert ui.class_picker.value == explorer.top_class == int(np.argmax(shapes.predict(explorer.image)))
    assert ui.layer_picker.value == "conv5_act" and ui.method_picker.value == "gradcam"
    assert_overlay_is_reference(ui, shapes)
    np.testing.assert_array_equal(
        shown(ui)["heatmap"], gc.colorize(gc.upsample_heatmap(explorer.heatmap(), (64, 64)), "jet")
    )
    assert ui.caption.value.startswith("circle (") and "layer conv5_act (16x16) · gradcam" in ui.caption.value
    assert ui.error_line.value == ""


def test_the_picture_changes_when_the_class_changes(ui, shapes):
    before = ui.overlay_view.value
    other = ui.class_picker.options[1][1]
    ui.class_picker.value = other
    assert ui.overlay_view.value != before and ui.explorer.state.class_index == other
    assert ui.caption.value.startswith(DEFAULT_CLASSES[other])
    assert_overlay_is_reference(ui, shapes)


def test_every_control_updates_the_view_in_place(ui, shapes):
    tree = (ui.children, ui.overlay_view, ui.class_picker, ui.picture)
    ui.layer_picker.value = "conv3_act"
    ui.method_picker.value = "layercam"
    ui.colormap_picker.value = "viridis"
    ui.alpha_slider.value = 0.7
    ui.image_picker.value = "triangle"
    ui.class_picker.value = 0
    assert ui.explorer.state == explorer_module.ExplorerState(
        "shapes_gap", "triangle", 0, "conv3_act", "layercam", 0.7, "viridis"
    )
    assert_overlay_is_reference(ui, shapes)
    assert (ui.children, ui.overlay_view, ui.class_picker, ui.picture) == tree  # nothing rebuilt
    assert ui.picture is ui.overlay_view


def test_alpha_and_colormap_repaint_only_what_they_change(ui):
    before = shown(ui)
    ui.alpha_slider.value = 0.9
    after = shown(ui)
    np.testing.assert_array_equal(after["heatmap"], before["heatmap"])
    assert not np.array_equal(after["overlay"], before["overlay"])
    ui.colormap_picker.value = "inferno"
    assert not np.array_equal(shown(ui)["heatmap"], after["heatmap"])
    np.testing.assert_array_equal(shown(ui)["image"], before["image"])


# ----- what runs the model ----------------------------------------------------------------------------------------


def test_class_alpha_and_colormap_changes_do_no_forward_pass(ui, spy):
    stats = ui.explorer.stats
    passes = stats.forward_passes
    pictures = {ui.overlay_view.value}
    for _, index in ui.class_picker.options[1:]:
        ui.class_picker.value = index
        pictures.add(ui.overlay_view.value)
    for alpha in (0.1, 0.8):
        ui.alpha_slider.value = alpha
        pictures.add(ui.overlay_view.value)
    for colormap in ("viridis", "turbo", "inferno"):
        ui.colormap_picker.value = colormap
        pictures.add(ui.overlay_view.value)
    assert len(pictures) == 1 + (len(ui.class_picker.options) - 1) + 2 + 3  # each change showed a new picture
    assert stats.forward_passes == passes and spy == []


def test_a_layer_change_is_one_batched_engine_call(ui, spy):
    stats = ui.explorer.stats
    top = [p.index for p in ui.explorer.predictions]
    before = (stats.forward_passes, stats.prediction_passes, stats.gradient_calls, stats.gradient_rows)
    ui.layer_picker.value = "conv2_act"
    assert spy == [("gradients", 5, top, "conv2_act")]  # the image five times, one row per top class
    after = (stats.forward_passes, stats.prediction_passes, stats.gradient_calls, stats.gradient_rows)
    assert np.subtract(after, before).tolist() == [1, 0, 1, 5]
    for _, index in ui.class_picker.options:  # every top class of that layer is already there
        ui.class_picker.value = index
    ui.layer_picker.value = "conv5_act"  # back to a layer seen before: cached
    assert len(spy) == 1 and stats.forward_passes == after[0]


def test_a_class_outside_the_top_ones_is_computed_once_on_demand(shapes, spy):
    explorer = Explorer(shapes, top=2)
    spy.clear()
    outside = next(i for i in range(5) if i not in {p.index for p in explorer.predictions})
    assert explorer.select_class(outside)
    assert spy == [("gradients", 1, [outside], "conv5_act")]
    assert outside in [index for _, index in explorer.class_options()]  # shown in the picker too
    assert explorer.select_class(explorer.top_class) and explorer.select_class(outside)
    assert len(spy) == 1
    np.testing.assert_allclose(explorer.heatmap(), reference(shapes, explorer.image, "conv5_act", outside), atol=2e-5)
    assert explorer.view.caption.startswith(DEFAULT_CLASSES[outside])


@pytest.mark.parametrize("method", ["gradcam++", "hirescam", "layercam", "xgradcam", "counterfactual"])
def test_a_gradient_method_change_does_no_forward_pass(ui, shapes, spy, method):
    ui.layer_picker.value = "conv4_act"
    spy.clear()
    passes = ui.explorer.stats.forward_passes
    ui.method_picker.value = method
    assert spy == [] and ui.explorer.stats.forward_passes == passes
    assert ui.caption.value.endswith(f"· {method}") or "empty" in ui.caption.value
    assert_overlay_is_reference(ui, shapes)


def test_scorecam_runs_extra_forward_passes_and_says_it_is_slow(ui, shapes):
    assert "slow" in dict((v, k) for k, v in ui.method_picker.options)["scorecam"]
    passes = ui.explorer.stats.forward_passes
    ui.method_picker.value = "scorecam"
    assert ui.explorer.stats.scorecam_calls == 1 and ui.explorer.stats.forward_passes == passes + 1
    assert_overlay_is_reference(ui, shapes)


# ----- the options ------------------------------------------------------------------------------------------------


def test_the_layer_list_matches_the_model_in_order_with_sizes(ui, shapes):
    names = gc.list_conv_layers(shapes.model)
    assert [value for _, value in ui.layer_picker.options] == names == ui.explorer.layers
    for label, name in ui.layer_picker.options:
        height, width = shapes.model.get_layer(name).output.shape[1:3]
        assert label == f"{name} ({height}x{width})"
    assert ui.layer_picker.options[0][0] == "conv1 (64x64)" and ui.layer_picker.options[-1][0] == "conv5_act (16x16)"


def test_teaching_samples_are_fixed_synthetic_shapes_labelled_by_their_class(ui):
    clean = make_shapes(5, seed=explorer_module.SHAPES_SEED)
    labels = ui.explorer.image_options()
    assert labels[:5] == list(DEFAULT_CLASSES) and len(labels) == 10
    assert all(label.startswith(DEFAULT_CLASSES[i % 5] + ", marker of ") for i, label in enumerate(labels[5:]))
    for name in DEFAULT_CLASSES:
        ui.image_picker.value = name
        expected = clean.images[list(clean.labels).index(DEFAULT_CLASSES.index(name))]
        np.testing.assert_array_equal(shown(ui)["image"], expected)


def test_model_options_offer_xception_only_when_its_weights_are_here(shapes, monkeypatch, tmp_path):
    monkeypatch.delenv("GRADCAM_XCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    assert not explorer_module.xception_weights_available()
    names = [name for _, name in Explorer(shapes).model_options()]
    assert names == ["efficientnet_lite0", "shapes_gap", "shapes_biased", "shapes_flat"]
    weights = tmp_path / "xception.h5"
    weights.write_bytes(b"stand-in")  # found, not loaded: offering it must not need the network
    monkeypatch.setenv("GRADCAM_XCEPTION_WEIGHTS", str(weights))
    assert explorer_module.xception_weights_available()
    names = [name for _, name in Explorer(shapes).model_options()]
    assert names == ["efficientnet_lite0", "xception", "shapes_gap", "shapes_biased", "shapes_flat"]


def test_shapes_flat_is_offered_as_a_teaching_model_where_the_methods_differ(shapes):
    explorer = Explorer(shapes)
    assert dict((name, label) for label, name in explorer.model_options())["shapes_flat"] == "shapes_flat (teaching)"
    assert explorer.select_model("shapes_flat") and explorer.image_options()[:5] == list(DEFAULT_CLASSES)
    flat = gc.load_model("shapes_flat")
    assert explorer.state.layer == flat.last_conv_layer
    # Its maps are Grad-CAM's at its default layer (the engine, called directly), and, with no GAP head,
    # HiResCAM's map is a different one; on the GAP model the two coincide.
    np.testing.assert_allclose(
        explorer.heatmap(),
        gc.explain(flat.model, flat.preprocess(explorer.image[None]), class_index=explorer.top_class).heatmaps[0],
        atol=1e-5,
    )
    assert np.abs(explorer.heatmap(method="hirescam") - explorer.heatmap(method="gradcam")).max() > 0.1
    explorer.select_model("shapes_gap")
    np.testing.assert_allclose(explorer.heatmap(method="hirescam"), explorer.heatmap(method="gradcam"), atol=1e-5)


def test_switching_model_repopulates_images_classes_and_layers(ui, effnet, spy):
    ui.explorer.add_model(effnet)  # the test's copy, so nothing is written to the user's cache
    stats = ui.explorer.stats
    renders, before = stats.renders, stats.forward_passes
    ui.alpha_slider.value = 0.6
    ui.model_picker.value = "efficientnet_lite0"
    explorer = ui.explorer
    assert list(ui.image_picker.options) == PHOTOS and ui.image_picker.value == "cat"
    assert [v for _, v in ui.layer_picker.options] == gc.list_conv_layers(effnet.model)
    assert ui.layer_picker.value == "top_activation" and ui.layer_picker.options[-1][0] == "top_activation (7x7)"
    top = effnet.decode(effnet.predict(explorer.image), top=5)[0]
    assert [v for _, v in ui.class_picker.options] == [p.index for p in top]
    assert ui.class_picker.value == top[0].index in {281, 282, 285}
    assert len(ui.class_search.options) == 1000 and ui.class_search.value == explorer.all_class_names[top[0].index]
    assert ui.alpha_slider.value == 0.6  # kept
    # one prediction and one batched gradient call: repopulating the options triggered nothing else
    assert [kind for kind, *_ in spy] == ["logits", "gradients"] and stats.forward_passes == before + 2
    assert stats.renders == renders + 2
    ui.model_picker.value = "shapes_gap"
    assert ui.image_picker.value == "circle" and ui.layer_picker.value == "conv5_act"
    values = [v for _, v in ui.class_picker.options]
    assert sorted(values) == [0, 1, 2, 3, 4] and values[0] == ui.class_picker.value == ui.explorer.top_class
    assert len(spy) == 2  # back to a model and image seen before: cached


# ----- the class by name ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cat(effnet):
    return Explorer(effnet, CAT)


def test_type_ahead_finds_tabby_from_tab(cat):
    found = cat.search_classes("tab")
    assert found[0] == ("tabby", 281)
    labels = [label for label, _ in found]
    assert set(labels) == {"tabby", "table lamp", "dining table", "pool table"}
    assert labels.index("table lamp") < labels.index("dining table")  # name starts with it before a later word
    assert cat.search_classes("  TAB ") == found and cat.search_classes("") == []
    assert sorted(label for label, _ in cat.search_classes("crane")) == ["crane (134)", "crane (517)"]
    assert len(set(cat.all_class_names)) == 1000


def test_a_class_by_name_in_the_widget(effnet):
    ui = explore(effnet, CAT, top=3)
    before = ui.overlay_view.value
    ui.class_search.value = "pool table"
    assert ui.explorer.state.class_index == 736 and ui.class_picker.value == 736
    assert ui.class_picker.options[-1][1] == 736 and len(ui.class_picker.options) == 4
    assert ui.overlay_view.value != before and ui.caption.value.startswith("pool table (")
    assert_overlay_is_reference(ui, effnet)


def test_an_unknown_or_ambiguous_name_is_explained_and_changes_nothing(cat):
    state = cat.state
    assert not cat.select_class_by_name("tabbby")
    assert "tabby" in cat.error and cat.view.error == cat.error and cat.state == state
    assert not cat.select_class_by_name("crane")
    assert "crane (134)" in cat.error and "crane (517)" in cat.error
    assert cat.select_class_by_name("Crane (517)") and cat.state.class_index == 517 and cat.error is None
    assert cat.select_class(state.class_index)


# ----- bad input keeps the previous state -------------------------------------------------------------------------


def _bad_uploads():
    image = make_shapes(1, seed=1).images[0]
    return {
        "text": (b"name,score\ncat,0.9\n", "not an image"),
        "corrupt": (png(image)[:200], "could not be decoded"),
        "too large": (png(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "over the"),
        "empty": (b"", "empty"),
    }


@pytest.mark.parametrize("kind", list(_bad_uploads()))
def test_a_bad_upload_shows_a_clear_message_and_the_previous_state_survives(ui, kind):
    ui.explorer.max_upload_bytes = 4096
    ui.class_picker.value = 2
    data, words = _bad_uploads()[kind]
    before = {
        "pictures": [v.value for v in (ui.image_view, ui.heatmap_view, ui.overlay_view)],
        "state": ui.explorer.state,
        "images": ui.image_picker.options,
        "class": ui.class_picker.value,
    }
    upload(ui, f"{kind}.png", data)
    assert words in ui.error_line.value and "Could not use the upload" in ui.error_line.value
    assert ui.explorer.error is not None and words in ui.explorer.view.error
    after = {
        "pictures": [v.value for v in (ui.image_view, ui.heatmap_view, ui.overlay_view)],
        "state": ui.explorer.state,
        "images": ui.image_picker.options,
        "class": ui.class_picker.value,
    }
    assert after == before and ui.upload.value == ()
    ui.alpha_slider.value = 0.5  # the next change that works clears the message
    assert ui.error_line.value == "" and ui.explorer.error is None


def test_a_good_upload_is_added_and_shown(ui, shapes):
    picture = make_shapes(1, seed=11, image_size=96).images[0]
    upload(ui, "mine.png", png(picture))
    assert ui.error_line.value == "" and ui.image_picker.value == "upload: mine.png"
    assert "upload: mine.png" in ui.image_picker.options
    np.testing.assert_array_equal(shown(ui)["image"], gc.load_image(png(picture), size=(64, 64)))
    assert ui.explorer.state.class_index == ui.explorer.top_class
    assert_overlay_is_reference(ui, shapes)
    ui.image_picker.value = "square"
    upload(ui, "mine.png", png(picture))  # the same file again: selected, not added twice
    assert ui.image_picker.value == "upload: mine.png"
    assert list(ui.image_picker.options).count("upload: mine.png") == 1


def test_a_bad_layer_class_or_colormap_through_the_api_keeps_the_state(ui):
    explorer, state = ui.explorer, ui.explorer.state
    attempts = [
        lambda: explorer.select_layer("gap"),
        lambda: explorer.select_class(7),
        lambda: explorer.set_colormap("no-such-map"),
        lambda: explorer.set_alpha(1.5),
        lambda: explorer.select_method("magic"),
        lambda: explorer.select_image("nope"),
        lambda: explorer.upload("not bytes"),
        lambda: explorer.select_model("no_such_model"),
    ]
    for attempt in attempts:
        assert attempt() is False and explorer.error and explorer.state == state
    explorer.select_layer("gap")
    assert "explorer.layers" in explorer.error


# ----- the embedded model, and the first version's API (notebook 04) --------------------------------------------


def test_the_embedded_model_matches_the_independent_route(effnet):
    ui = explore(effnet, str(CAT), top=3)
    assert ui.image_picker.value == "cat"  # a path to a sample is that sample
    explorer = ui.explorer
    direct = effnet.decode(effnet.predict(effnet.load_images(CAT)), top=3)[0]
    assert [p.index for p in explorer.predictions] == [p.index for p in direct]
    np.testing.assert_allclose([p.score for p in explorer.predictions], [p.score for p in direct], atol=1e-4)
    assert_overlay_is_reference(ui, effnet)
    ui.class_picker.value = ui.class_picker.options[1][1]
    ui.layer_picker.value = "block6a_project_conv"
    ui.colormap_picker.value = "viridis"
    ui.alpha_slider.value = 0.7
    assert_overlay_is_reference(ui, effnet)
    assert ui.caption.value.startswith(direct[1].name) and "block6a_project_conv (7x7)" in ui.caption.value


def test_the_first_versions_api_still_works(cat, effnet):
    relative = os.path.relpath(CAT)
    explorer = Explorer(effnet, relative)
    assert explorer.state.image == "cat" and explorer.top_class in {281, 282, 285}
    assert explorer.layers == gc.list_conv_layers(effnet.model)
    labels, indices = zip(*explorer.class_options(), strict=True)
    assert indices[0] == explorer.top_class and "%" in labels[0] and len(indices) == 5
    assert explorer.heatmap().shape == (7, 7)
    top = [p.index for p in explorer.predictions]
    assert 282 in top  # so its map comes from the batch of top-k copies (see reference())
    batch = np.repeat(effnet.preprocess(explorer.image), len(top), axis=0)
    direct = gc.compute_heatmaps(effnet.model, batch, "block6a_project_conv", [282] * len(top))[0]
    first = explorer.heatmap(282, "block6a_project_conv")
    np.testing.assert_allclose(first, direct, atol=2e-5)
    assert explorer.heatmap(282, "block6a_project_conv") is first
    np.testing.assert_array_equal(
        explorer.overlay(colormap="viridis", alpha=0.5),
        gc.overlay_heatmap(explorer.image, explorer.heatmap(), 0.5, "viridis"),
    )
    np.testing.assert_array_equal(
        explorer.overlay(282, "block6a_project_conv", 0.7, "viridis"),
        gc.overlay_heatmap(explorer.image, first, 0.7, "viridis"),
    )
    with pytest.raises(gc.GradCAMError, match="explorer.layers"):
        explorer.heatmap(None, "avg_pool")
    assert explorer.state.class_index == explorer.top_class  # asking for maps does not change the selection


def test_the_repr_is_short(ui):
    assert repr(ui) == "ExplorerWidget(class=0, layer='conv5_act', colormap='jet', opacity=0.4)"
    assert "PNG" not in repr(ui) and len(repr(ui.explorer)) < 200
    assert isinstance(ui, ExplorerWidget)


# ----- the snapshot: the view as an ordinary picture -------------------------------------------------------------


def test_a_snapshot_is_a_png_of_the_view_that_names_what_it_explains(ui, shapes, tmp_path):
    """The caption's names and probability come from the bundle and a softmax of its own logits (scipy), not from
    the explorer; the picture changes with the class; taking a snapshot changes nothing."""
    from scipy.special import softmax

    explorer = ui.explorer
    probabilities = softmax(shapes.predict(explorer.image)[0].astype(np.float64))
    top = int(np.argmax(probabilities))
    other = next(index for _, index in ui.class_picker.options if index != top)
    ui.class_picker.value = other
    state = explorer.state
    picture = ui.snapshot()
    assert picture._repr_png_() == picture.png and picture.png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = Image.open(io.BytesIO(picture.png)).size
    assert width > 2 * height > 400  # three panels side by side
    assert picture.caption.startswith(
        f"map of {shapes.class_names[other]} ({explorer_module.percent(probabilities[other])})"
    )
    assert f"predicted {shapes.class_names[top]} ({explorer_module.percent(probabilities[top])})" in picture.caption
    assert "layer conv5_act (16x16) · gradcam" in picture.caption and repr(picture).startswith("explorer snapshot:")
    assert explorer.state == state and ui.class_picker.value == other
    ui.class_picker.value = top
    assert ui.snapshot().png != picture.png
    assert picture.save(tmp_path / "view.png").read_bytes() == picture.png
    with pytest.raises(gc.GradCAMError, match="Explorer"):
        widgets_module.snapshot(ui)  # the widget, not its explorer
