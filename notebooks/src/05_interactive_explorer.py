# %% [markdown]
# # 05 · The interactive explorer: ask your own questions
#
# **Learning goals.** After this notebook you can:
# 1. use the explorer to pick a picture (or upload your own), a model, a class, a layer and a method, and read
#    what changes in the map;
# 2. say why changing the class, the opacity or the colormap is instant while a new layer or picture costs a
#    model run (what is computed once and cached);
# 3. script the same questions with the `Explorer` controller, so an answer you found by clicking can be
#    reproduced and shared.
#
# The controls need a running kernel: in a static view of this notebook (or on GitHub) you only see their
# description. Run the cells in JupyterLab (`make course`).

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import matplotlib.pyplot as plt
from gradcam_utils.explorer import Explorer
from gradcam_utils.widgets import explore

# %% [markdown]
# ## 1. The explorer
# - **model**: the embedded ImageNet model (Xception too when its weights are on this machine) and the course's
#   two teaching models;
# - **image**: the course's pictures for the model, or **upload** your own (it is resized to the model's input);
# - **class**: the model's top five, with probabilities; **by name** finds any class as you type;
# - **layer**: every conv layer from input to output, with its map size; **method**: the CAM family;
# - **opacity** and **colormap**: how the map is drawn over the picture.
#
# Things to try: on `cat_and_espresso`, switch the class from the cat to "espresso"; pick a layer from the
# middle of the network; switch the model to `shapes_biased` and choose "circle, marker of star".

# %%
# NBVAL_IGNORE_OUTPUT  (a live widget: its view exists only in a running kernel)
ui = explore("efficientnet_lite0", "cat_and_espresso")
ui

# %% [markdown]
# ## 2. What the explorer computes, and when
# A map needs the layer's activations $A$ and the gradients $\partial y^c/\partial A$ for the class. For a new
# picture or a new layer the explorer runs the model **once for the top five classes together** (the picture
# repeated five times in one batch) and keeps $A$ and the five gradients. Changing the class then only re-weights
# what is stored; opacity and colormap only redraw. The controller counts its model runs, so we can watch:

# %%
explorer = Explorer("efficientnet_lite0", "cat_and_espresso")
print("after opening:          ", explorer.stats.gradient_calls, "gradient run(s)")
explorer.select_class(explorer.class_options()[2][1]); explorer.set_alpha(0.6); explorer.set_colormap("viridis")
print("after class/opacity/map:", explorer.stats.gradient_calls, "gradient run(s)")
explorer.select_layer(explorer.layers[-12])
print("after a new layer:      ", explorer.stats.gradient_calls, "gradient run(s)")
print(explorer.view.caption)

# %% [markdown]
# Only the new layer ran the model. Grad-CAM++, HiResCAM, LayerCAM, XGrad-CAM and the counterfactual map are
# also re-weightings of the same $A$ and gradients, so switching among them is instant too; Score-CAM is the
# exception (one extra forward pass per channel: it says "slow" in the list).
#
# ## 3. From clicks to code
# Whatever you found with the controls, the controller reproduces from code, and the view holds the three
# pictures. Here: the espresso cup's map, at the last layer and at a middle one.

# %%
explorer = Explorer("efficientnet_lite0", "cat_and_espresso")
explorer.select_class_by_name("espresso")
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for pair, layer in zip([axes[:2], axes[2:]], [explorer.layers[-1], explorer.layers[-30]]):
    explorer.select_layer(layer)
    pair[0].imshow(explorer.view.heatmap); pair[0].set_title(layer)
    pair[1].imshow(explorer.view.overlay); pair[1].set_title("overlay")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# The last layer's map covers the cup; the middle layer's map is finer but noisier, and answers a different
# question ("which *parts* raised the espresso score through this layer?"). Notebook 07 looks at where maps
# from early layers stop being trustworthy.
#
# ## 4. A bad upload
# An upload that is not a picture gets a message in the view, and the explorer keeps what it showed before:

# %%
before = explorer.view.state
print(explorer.upload(b"this is not a picture", name="notes.txt"))
print(explorer.error)
print("state kept:", explorer.view.state == before)

# %% [markdown]
# ## Summary
# - The explorer asks Grad-CAM the questions of notebooks 02-04 interactively: which class, which layer, which
#   method, drawn how.
# - One model run per picture and layer serves every class among the top five and every gradient-based method;
#   redrawing is free.
# - Anything found by clicking can be scripted with `Explorer` and its `select_*` methods.
#
# ## Exercises
# Try first (with the explorer above, or in code); worked solutions are in `solutions/05_interactive_explorer.md`.
#
# **1.** How large (rows × columns) is the map of `efficientnet_lite0` at layer `block3a_expand_activation`?

# %%
from gradcam_utils.exercises import check_layer_size, check_marker_sample_prediction

layer_size = None   # e.g. (7, 7)
check_layer_size("efficientnet_lite0", "block3a_expand_activation", layer_size)

# %% [markdown]
# **2.** Switch to `shapes_biased` and pick the picture "circle, marker of star". Which class does the model
# predict, and where does its map sit?

# %%
predicted_class = None   # a class name, e.g. "square"
check_marker_sample_prediction(predicted_class)
