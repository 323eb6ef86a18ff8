# %% [markdown]
# # 04 · From a 7×7 map to a picture you can trust
#
# **Learning goals.** After this notebook you can:
# 1. upsample a coarse map without inventing values (bilinear, not nearest or bicubic);
# 2. choose a colormap that does not lie (perceptually uniform `viridis`, `inferno`, `turbo` versus `jet`);
# 3. set the opacity of an overlay and read it;
# 4. lay out several maps side by side for comparison, and save a figure for a report;
# 5. add pixel-level detail with **Guided Grad-CAM**, and say what it adds and what it does not.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import numpy as np
import matplotlib.pyplot as plt
from gradcam_utils.explorer import Explorer

bundle = gc.load_model("efficientnet_lite0")
explorer = Explorer(bundle, "../data/images/cat.png")
heatmap = explorer.heatmap()      # top class, the bundle's last conv layer
print("top class:", bundle.class_names[explorer.top_class], "| map", heatmap.shape)

# %% [markdown]
# ## 1. Upsampling
# The map has one value per 32×32 pixel cell. Blocky *nearest* upsampling shows the cells, as if the model saw the
# picture in tiles with hard edges; *bicubic* is smooth but **overshoots**: near sharp changes it produces values
# outside the map's range (above 1 here), colours the map never had. *Bilinear* only ever averages neighbours, so
# it stays within the map's range; the library uses it.

# %%
from PIL import Image
as_image = Image.fromarray(heatmap)
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, (name, method) in zip(axes, [("nearest", Image.Resampling.NEAREST), ("bilinear", Image.Resampling.BILINEAR),
                                     ("bicubic", Image.Resampling.BICUBIC)]):
    up = np.asarray(as_image.resize((224, 224), method))
    ax.imshow(up, cmap="viridis", vmin=0, vmax=1); ax.axis("off")
    ax.set_title(f"{name}: {up.min():+.3f} .. {up.max():.3f}")
plt.show()

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
# ## 4. Side by side, and saved
# Comparisons need the same colormap, the same opacity and the same scale in every panel. One call explains a
# batch; a grid of photos × classes then shows what each class rests on. `fig.savefig` writes the figure for a
# report (into `outputs/`, which git ignores); `dpi` sets its resolution.

# %%
from pathlib import Path
photos = bundle.load_images(*[f"../data/images/{n}" for n in ["cat.png", "espresso.png", "cat_and_espresso.png"]])
classes = [bundle.class_names.index(n) for n in ["tabby", "espresso"]]
fig, axes = plt.subplots(2, 3, figsize=(9, 6))
for row, c in zip(axes, classes):
    maps = gc.compute_heatmaps(bundle.model, bundle.preprocess(photos), class_index=c)
    for ax, photo, heatmap in zip(row, photos, maps):
        ax.imshow(gc.overlay_heatmap(photo, heatmap, alpha=0.45, colormap="inferno")); ax.axis("off")
    row[0].set_title(f"class: {bundle.class_names[c]}", loc="left")
fig.tight_layout()
Path("outputs").mkdir(exist_ok=True)
fig.savefig("outputs/classes_by_photo.png", dpi=100)
plt.show()

# %% [markdown]
# Every map is normalised to its own maximum, so a panel says *where* a class's evidence is, not *how much*
# there is: the "espresso" map on the cat photo is as bright as on the cup photo, though the score is far lower.
#
# ## 5. Guided Grad-CAM: detail at the input's resolution
# Grad-CAM is coarse by construction (one value per cell). **Guided backpropagation** is the opposite: the
# gradient of the score with respect to each input pixel, with every ReLU letting only positive gradients
# through, which gives sharp, edge-like pictures that are *not* class-discriminative. The paper multiplies the
# two: the upsampled Grad-CAM map picks the region, guided backprop draws its detail. (The library computes
# guided backprop on a copy of your model; the model itself is not changed.)

# %%
from gradcam_utils.guided import guided_backprop, guided_gradcam, to_display

x = bundle.preprocess(photos[2:3].repeat(2, axis=0))
guided = guided_backprop(bundle.model, x, class_index=classes)
combined = guided_gradcam(bundle.model, x, class_index=classes)
fig, axes = plt.subplots(2, 3, figsize=(9, 6))
for row, c, g, gg in zip(axes, classes, guided, combined):
    heatmap = gc.compute_heatmaps(bundle.model, x[:1], class_index=c)[0]
    for ax, picture, title in zip(row, [gc.overlay_heatmap(photos[2], heatmap), to_display(g), to_display(gg)],
                                  ["Grad-CAM", "guided backprop", "Guided Grad-CAM"]):
        ax.imshow(picture); ax.set_title(f"{title}: {bundle.class_names[c]}"); ax.axis("off")
plt.show()

# %% [markdown]
# Guided backprop looks almost the same for both classes: it shows the picture's edges, whatever we ask.
# Guided Grad-CAM keeps those edges only where Grad-CAM found evidence for the class: the cat's fur for "tabby",
# the cup's rim for "espresso". Notebook 07 shows why guided backprop alone should not be trusted: it barely
# changes when the network's weights are replaced by random ones.
#
# ## Summary
# - Upsample bilinearly; nearest shows cells that are not there, bicubic invents values outside the map's range.
# - Prefer perceptually uniform colormaps; `jet` suggests edges that are not there.
# - Compare maps with one colormap, one opacity, one layout; each map is scaled to its own maximum.
# - Guided Grad-CAM = guided backprop (detail) × upsampled Grad-CAM (class and place).
#
# To change class, layer, method, colormap and opacity interactively, open notebook 05, the explorer.
#
# ## Exercises
# Try first; worked solutions are in `solutions/04_heatmaps_and_overlays.md`.
#
# **1.** Upsample the 2×2 map `[[0, 1], [1, 0]]` to 4×4 bilinearly (pixel centres at half-pixel positions, edges
# held). What is the value at row 0, column 1? Work it out by hand, then check with `gc.upsample_heatmap`.

# %%
from gradcam_utils.exercises import check_bilinear_value, check_blend

value = None   # a number
check_bilinear_value(value)

# %% [markdown]
# **2.** A grey pixel of value 200 gets a colour whose channel value is 40, at opacity 0.25. Which value does the
# overlay show?

# %%
blended = None   # a number
check_blend(blended)
