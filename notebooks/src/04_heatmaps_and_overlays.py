# %% [markdown]
# # 04 · From a 7×7 map to a picture you can trust
#
# **Learning goals.** After this notebook you can:
# 1. upsample a coarse map without inventing values (bilinear, not bicubic);
# 2. choose a colormap that does not lie (perceptually uniform `viridis`, `inferno`, `turbo` versus `jet`);
# 3. set the opacity of an overlay and read it;
# 4. see how the choice of **layer** changes the map, and explore class and layer interactively.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import numpy as np
import matplotlib.pyplot as plt
from gradcam_utils.explorer import Explorer
from gradcam_utils.widgets import explore

bundle = gc.load_model("efficientnet_lite0")
explorer = Explorer(bundle, "../data/images/cat.png")
heatmap = explorer.heatmap()      # top class, the bundle's last conv layer
print("top class:", bundle.class_names[explorer.top_class], "| map", heatmap.shape)

# %% [markdown]
# ## 1. Upsampling
# The map has one value per 32×32 pixel cell. Blocky *nearest* upsampling shows the cells; *bicubic* is smooth
# but **overshoots**: near sharp changes it produces values outside the map's range (above 1 here), colours the
# map never had.
# *Bilinear* only ever averages neighbours, so it stays within the map's range; the library uses it.

# %%
from PIL import Image
as_image = Image.fromarray(heatmap)
for name, method in [("nearest", Image.Resampling.NEAREST), ("bilinear", Image.Resampling.BILINEAR),
                     ("bicubic", Image.Resampling.BICUBIC)]:
    up = np.asarray(as_image.resize((224, 224), method))
    print(f"{name:8s} min {up.min():+.3f}  max {up.max():.3f}")

# %% [markdown]
# ## 2. Colormaps
# `jet` is the classic Grad-CAM look, but its lightness goes up and down (cyan and yellow look brighter than red),
# which draws edges that are not in the data. Perceptually uniform maps change lightness steadily with the value.

# %%
for name, why in gc.COLORMAPS.items():
    print(f"{name:8s} {why}")
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for ax, name in zip(axes, gc.COLORMAPS):
    ax.imshow(explorer.overlay(colormap=name, alpha=0.5)); ax.set_title(name); ax.axis("off")
plt.show()

# %% [markdown]
# ## 3. Opacity
# `overlay_heatmap` blends $(1-\alpha)\cdot\text{image} + \alpha\cdot\text{colour}$: at $\alpha=0$ you see the
# photo only, at $\alpha=1$ the map only. Around 0.4 both stay readable.

# %%
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for ax, alpha in zip(axes, [0.0, 0.2, 0.4, 0.8]):
    ax.imshow(explorer.overlay(alpha=alpha, colormap="viridis")); ax.set_title(f"alpha = {alpha}"); ax.axis("off")
plt.show()

# %% [markdown]
# ## 4. Which layer?
# Grad-CAM can use any conv layer. Late layers (few, large cells) carry class meaning; early layers are sharper
# but respond to edges and textures, and their Grad-CAM maps get noisy. `gc.list_conv_layers` lists the
# candidates from input to output; the default is the last one.

# %%
layers = explorer.layers
print(len(layers), "candidate layers, e.g.", layers[:2], "...", layers[-2:])
picks = [layers[-1], layers[-10], layers[-25], layers[-45]]
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for ax, layer in zip(axes, picks):
    ax.imshow(explorer.overlay(layer_name=layer)); ax.set_title(f"{layer}\n{explorer.heatmap(None, layer).shape}")
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 5. Explore
# Pick a class among the top predictions, a layer, a colormap and the opacity; the map follows. (The controls
# need a running kernel: in a static view of this notebook you see only their description.)

# %%
ui = explore(bundle, "../data/images/cat.png")
ui

# %% [markdown]
# ## Summary
# - Upsample bilinearly; bicubic invents values outside the map's range.
# - Prefer perceptually uniform colormaps; `jet` suggests edges that are not there.
# - The last conv layer gives the class-level map; earlier layers answer a different, finer question.
