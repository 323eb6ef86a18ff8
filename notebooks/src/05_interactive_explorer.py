# %% [markdown]
# # 05 · The interactive explorer: ask your own questions
#
# **Learning goals.** After this notebook you can:
# 1. use the explorer to pick a picture (or upload your own), a model, a class, a layer and a method, and read
#    what changes in the map;
# 2. read what a map explains from its caption (the class explained and its probability, the class the model
#    predicted, the layer and its size, the method) and keep a picture of it;
# 3. script the same questions with the `Explorer` controller, so an answer you found by clicking can be
#    reproduced, measured and shared.
#
# The controls need a running kernel (run the cells in JupyterLab: `make course`). In a static view of this
# notebook (GitHub, a course website) the controls are missing, so below them the explorer's current view is
# also saved as an ordinary picture.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import matplotlib.pyplot as plt
from scipy import ndimage
from gradcam_utils.explorer import Explorer
from gradcam_utils.widgets import explore

# %% [markdown]
# ## 1. The explorer
# - **model**: the embedded ImageNet model, EfficientNet-Lite0 (Tan & Le, ICML 2019), Xception too when its
#   weights are on this machine, and the course's teaching models (`shapes_gap`, `shapes_biased`, and
#   `shapes_flat`, the one without a global-average-pooling head);
# - **image**: the course's pictures for the model, or **upload** your own (it is resized to the model's input);
# - **class**: the model's top five, with probabilities; **by name** finds any class as you type;
# - **layer**: every conv layer from input to output, with its map size; **method**: the CAM family, Grad-CAM
#   (Selvaraju et al., ICCV 2017) by default (notebook 07 compares the others);
# - **opacity** and **colormap**: how the map is drawn over the picture.
#
# The caption under the pictures says what the map explains: the class, its probability, the layer with its size,
# and the method. Things to try: on `cat_and_espresso`, switch the class from the cat to "espresso"; pick a layer
# from the middle of the network; switch the model to `shapes_flat` and change the method from `gradcam` to
# `hirescam` (notebook 02 showed why the two differ on this model and coincide on the others).

# %%
ui = explore("efficientnet_lite0", "cat_and_espresso")
ui

# %% [markdown]
# `ui.snapshot()` draws what the explorer shows right now as a picture, with the class explained, the class
# predicted, the layer and the method in its titles. Run the cell again after changing the controls to keep what
# you found; `ui.snapshot().save("my_view.png")` writes it to a file.

# %%
ui.snapshot()

# %% [markdown]
# **A note on speed.** For a new picture or layer the explorer runs the model once, for its top five classes
# together; switching among those classes, the method (except Score-CAM, marked "slow": it runs the model once per
# channel), the opacity or the colormap only redraws. An upload that is not a picture gets a message, and the
# previous view stays.
#
# ## 2. From clicks to code
# Whatever you found with the controls, the `Explorer` controller reproduces from code, so it can be measured.
# Here: the espresso cup's map, at the last layer and at a layer from the middle of the network. The picture is
# the cat photo on the left half and the espresso photo on the right half, so the share of the map on the right
# half says how much of it is on the cup's photo.

# %%
explorer = Explorer("efficientnet_lite0", "cat_and_espresso")
explorer.select_class_by_name("espresso")
espresso, predicted = explorer.state.class_index, explorer.predictions[0].name
sizes = {name: label.split()[-1] for label, name in explorer.layer_options()}
layers = [explorer.layers[-1], "block5a_activation"]
maps = [gc.upsample_heatmap(explorer.heatmap(layer_name=layer), explorer.image.shape[:2]) for layer in layers]
p = explorer.probabilities[espresso]
titles = [gc.explained_title("espresso", p, predicted=predicted, score_name="p") + f"\n{layer} {sizes[layer]}"
          for layer in layers]
fig, axes = gc.show_heatmaps(explorer.image, maps, titles, panel_size=3.2)
plt.show()

# %% [markdown]
# Two numbers for each map: the share of its mass on the right half (the cup's photo), and into how many separate
# patches it falls when we keep only the places at or above half its peak.

# %%
half = explorer.image.shape[1] // 2
right = [float(m[:, half:].sum() / m.sum()) for m in maps]
patches = [ndimage.label(m >= 0.5)[1] for m in maps]
for layer, share, count in zip(layers, right, patches):
    print(f"{layer:19s} map {sizes[layer]:6s} on the cup's half {share:.0%}   patches at >= half the peak: {count}")
assert right[0] > 0.75 and right[0] > right[1] + 0.1, "the text says the last layer's map is mostly on the cup"
assert patches == [1, 5], "the text says: one patch at the last layer, five at the middle layer"

# %% [markdown]
# The last layer's map (7×7 cells) sits mostly on the cup's half (86%), in one patch. The middle layer's map has four
# times as many cells (14×14), so it can draw finer detail, but it is noisier: it falls apart into five patches and puts
# a clearly smaller share on the cup (63%), some of it on the cat's eye and nose. It also answers a different question
# ("which *parts* raised the espresso score through this layer?"). LayerCAM (Jiang et al., IEEE TIP 2021), `layercam` in
# the method list, weights each position by its own gradient and was proposed for maps from such earlier layers: try it
# there. Notebook 07 looks at where maps from early layers stop being trustworthy.
#
# ## Summary
# - The explorer asks Grad-CAM the questions of notebooks 02-04 interactively: which class, which layer, which
#   method, drawn how; its caption and `snapshot()` say what each map explains.
# - A map from a middle layer is finer but noisier than the last layer's, and answers a different question; on
#   `cat_and_espresso` the share on the cup and the number of patches measure the difference.
# - Anything found by clicking can be scripted with `Explorer` and its `select_*` methods, and then measured.
#
# ## Exercises
# Predict the answer first, then check it with the explorer above or in code; worked solutions are in
# `solutions/05_interactive_explorer.md`.
#
# **1.** How large (rows × columns) is the map of `efficientnet_lite0` at layer `block3a_expand_activation`?
# Predict from the layer's name (block 3 of 7) before you look it up.

# %%
from gradcam_utils.exercises import check_layer_size, check_marker_sample_prediction

layer_size = None   # e.g. (7, 7)
check_layer_size("efficientnet_lite0", "block3a_expand_activation", layer_size)

# %% [markdown]
# **2.** Predict first: switch to `shapes_biased` and pick the picture "circle, marker of star". Which class does
# the model predict, and where does its map sit? Then check in the explorer.

# %%
predicted_class = None   # a class name, e.g. "square"
check_marker_sample_prediction(predicted_class)

# %% [markdown]
# ## References
# - Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra. "Grad-CAM: Visual Explanations from Deep Networks via
#   Gradient-based Localization." ICCV 2017 (extended in IJCV 2020): the map the explorer draws by default.
# - Tan & Le. "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks." ICML 2019: the
#   embedded ImageNet model's family.
# - Jiang, Zhang, Hou, Cheng, Wei. "LayerCAM: Exploring Hierarchical Class Activation Maps for Localization."
#   IEEE Transactions on Image Processing 2021.
# - The other methods in the list are introduced, with their papers, in notebook 07.
