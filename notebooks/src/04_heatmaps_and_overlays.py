# %% [markdown]
# # 04 · From a 7×7 map to a picture you can trust
#
# **Learning goals.** After this notebook you can:
# 1. upsample a coarse map without inventing values (bilinear, not nearest or bicubic);
# 2. choose a colormap that does not lie: the perceptually uniform `viridis` and `inferno`, whose lightness rises
#    steadily with the value, rather than the rainbows `jet` and `turbo`, whose lightness rises and falls;
# 3. set the opacity of an overlay and read it;
# 4. lay out several maps side by side for comparison, say in each panel what it explains, and save the figure;
# 5. add pixel-level detail with **Guided Grad-CAM**, and say what it adds and what it does not.
#
# We explain the cat photo with the course's ImageNet model (EfficientNet-Lite0, which runs offline), asking about
# the class the model ranks first, at its last conv layer.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import numpy as np
import matplotlib.pyplot as plt

bundle = gc.load_model("efficientnet_lite0")
cat = bundle.load_images(gc.sample_image_path("cat.png"))[0]
result = gc.explain(bundle.model, bundle.preprocess(cat))      # class_index=None: the top class
heatmap, top, score = result.heatmaps[0], int(result.class_indices[0]), float(result.scores[0])
explained = gc.explained_title(bundle.class_names[top], score)
print(f"{explained} | map {heatmap.shape}, values {heatmap.min():.3f} .. {heatmap.max():.3f}")

# %% [markdown]
# ## 1. Upsampling
# The map has one value per 32×32 pixel cell (224 / 7 = 32). Blocky *nearest* upsampling shows the cells, as if the
# model saw the picture in tiles with hard edges. *Bicubic* is smooth but **overshoots**: near sharp changes it produces
# values outside the map's range, colours the map never had. *Bilinear* only ever averages neighbours, so it stays
# within the map's range; the library uses it. Each panel's title gives its lowest and highest value.

# %%
from PIL import Image
as_image = Image.fromarray(heatmap)
ups = {name: np.asarray(as_image.resize((224, 224), getattr(Image.Resampling, name.upper())))
       for name in ("nearest", "bilinear", "bicubic")}
fig, axes = plt.subplots(1, 3, figsize=(10, 3.1), layout="constrained")
for ax, (name, up) in zip(axes, ups.items()):
    ax.imshow(up, cmap="viridis", vmin=0, vmax=1); ax.axis("off")
    ax.set_title(f"{name}: {up.min():.3f} .. {up.max():.3f}", fontsize=10)
gc.figures.add_colorbar(fig, axes, "viridis")
fig.suptitle(f"7×7 {explained}, upsampled to 224×224", fontsize=10)
plt.show()

# %% [markdown]
# The map's own values run from its minimum to exactly 1 (its peak). Checked, not assumed; and the library's
# `gc.upsample_heatmap` (what `overlay_heatmap` uses) gives PIL's bilinear picture:

# %%
low, high = float(heatmap.min()), float(heatmap.max())
outside = {name: float(np.maximum(up.max() - high, low - up.min()).clip(0)) for name, up in ups.items()}
print("largest step outside the map's range:", {name: round(v, 3) for name, v in outside.items()})
library_gap = float(np.abs(gc.upsample_heatmap(heatmap, (224, 224)) - ups["bilinear"]).max())
print(f"gc.upsample_heatmap agrees with PIL's bilinear to within 1e-6: {library_gap < 1e-6}")
assert ups["bicubic"].max() > 1 and outside["bicubic"] > 0.01, "the text says bicubic overshoots above 1 here"
assert outside["bicubic"] < 0.1, "the text says the overshoot is small on this smooth map"
assert outside["bilinear"] < 1e-6 and library_gap < 1e-6, "the text: bilinear stays in range; the library uses it"

# %% [markdown]
# Here bicubic leaves the range by only 0.03, because this map changes smoothly; the colour bar ends at 1, so
# the values above 1 are drawn in the top colour. On screen the overshoot is hidden, yet a threshold or a
# statistic computed on those values would see it.
#
# ## 2. Colormaps
# What the eye reads first in a colour is its **lightness**. A colormap reads honestly when lightness rises
# steadily with the value: brighter then means higher, and no edge appears where the data changes smoothly.
# We can measure it: convert each colour of a map to CIELAB lightness $L^*$ (0 black, 100 white; the standard
# formula from sRGB) and plot it against the value it stands for.

# %%
from gradcam_utils.overlay import colormap_lightness
values = np.linspace(0, 1, 256)
lightness = {name: colormap_lightness(name) for name in gc.COLORMAPS}
fig, ax = plt.subplots(figsize=(6, 3.2))
for name, curve in lightness.items():
    ax.plot(values, curve, label=name)
ax.set_xlabel("map value"); ax.set_ylabel("lightness L*"); ax.legend(); ax.grid(alpha=0.3)
plt.show()
for name, curve in lightness.items():
    print(f"{name:8s} L* at 0: {curve[0]:5.1f}  lightest: {curve.max():5.1f} at value {values[curve.argmax()]:.2f}  "
          f"at 1: {curve[-1]:5.1f}  rises at every step: {bool((np.diff(curve) > 0).all())}")

# %% [markdown]
# `viridis` (dark purple to yellow) and `inferno` (black to yellow) rise at every step (Smith & van der Walt,
# SciPy 2015): the lightest colour is the peak. `jet` is the classic Grad-CAM look, but its
# lightness climbs to a yellow at about two thirds of the scale and then **falls** to a dark red at the peak,
# with sharp bends that show up as bands (Borland & Taylor, IEEE CG&A 2007, on why rainbow maps mislead).
# `turbo` (Mikhailov, Google AI Blog 2019) is a *smoothed* rainbow: no sharp bands, which makes it better than
# `jet`, but it is **not** perceptually uniform: its lightness rises to the middle and falls again, so the peak
# and a low value are both dark.

# %%
rises = {name: bool((np.diff(curve) > 0).all()) for name, curve in lightness.items()}
assert rises["viridis"] and rises["inferno"], "the text says viridis and inferno rise at every step"
for name in ("jet", "turbo"):
    assert not rises[name] and lightness[name][-1] < lightness[name].max() - 50, f"the text: {name} rises and falls"
assert 0.55 < values[lightness["jet"].argmax()] < 0.75 and 0.4 < values[lightness["turbo"].argmax()] < 0.6, \
    "the text: jet is lightest at about two thirds of the scale, turbo in the middle"
for name, why in gc.COLORMAPS.items():
    print(f"{name:8s} {why}")

# %% [markdown]
# The same map in the four colormaps (one colour bar each, since each panel has its own colours). In `jet` and
# `turbo` the lightest colours (yellow, green) mark values around the middle of the scale, and the peak is a dark
# red; in `viridis` and `inferno` the peak is the lightest colour. The library draws `jet` unless told otherwise,
# because it is the look of the Grad-CAM papers and of most maps you will meet (most figures in this course too);
# when you read a `jet` map, look for the dark red, not the yellow. For your own figures, pass
# `colormap="viridis"` or `"inferno"`.

# %%
fig, axes = plt.subplots(1, 4, figsize=(13, 3.3), layout="constrained")
for ax, name in zip(axes, gc.COLORMAPS):
    ax.imshow(gc.overlay_heatmap(cat, heatmap, colormap=name, alpha=0.5)); ax.axis("off")
    ax.set_title(f"{name}", fontsize=10)
    gc.figures.add_colorbar(fig, ax, name, label="map value" if name == "jet" else "")
fig.suptitle(f"{explained}; colour bars from 0 to the map's peak, 1", fontsize=10)
plt.show()

# %% [markdown]
# ## 3. Opacity
# `overlay_heatmap` blends $(1-\alpha)\cdot\text{image} + \alpha\cdot\text{colour}$: at $\alpha=0$ you see the
# photo only, at $\alpha=1$ the map only. Around 0.4 (the library's default) both stay readable.

# %%
fig, axes = plt.subplots(1, 4, figsize=(12, 3.2), layout="constrained")
for ax, alpha in zip(axes, [0.0, 0.2, 0.4, 0.8]):
    ax.imshow(gc.overlay_heatmap(cat, heatmap, alpha=alpha, colormap="viridis"))
    ax.set_title(f"alpha = {alpha}", fontsize=10); ax.axis("off")
gc.figures.add_colorbar(fig, axes, "viridis")
fig.suptitle(explained, fontsize=10)
plt.show()

# %% [markdown]
# ## 4. Side by side, and saved
# Comparisons need the same colormap, the same opacity and the same scale in every panel. One call explains a
# batch; a grid of photos × classes then shows what each class rests on. Each panel names the class it explains,
# that class's logit, and what the model predicts for the photo, which need not be the class explained.
# `fig.savefig` writes the figure for a report (into `outputs/`, which git ignores); `dpi` sets its resolution.

# %%
from pathlib import Path
photos = bundle.load_images(*[gc.sample_image_path(n) for n in ["cat.png", "espresso.png", "cat_and_espresso.png"]])
classes = [bundle.class_names.index(n) for n in ["tabby", "espresso"]]
maps, titles, scores = [], [], {}
for c in classes:
    r = gc.explain(bundle.model, bundle.preprocess(photos), class_index=c)
    maps += list(r.heatmaps)
    scores[bundle.class_names[c]] = r.scores
    titles += [gc.explained_title(bundle.class_names[c], s, predicted=bundle.class_names[p])
               for s, p in zip(r.scores, r.logits.argmax(axis=1))]
fig, axes = gc.show_heatmaps(np.concatenate([photos, photos]), np.stack(maps), titles, ncols=3, alpha=0.45,
                             colormap="inferno", panel_size=3.0)
Path("outputs").mkdir(exist_ok=True)
fig.savefig("outputs/classes_by_photo.png", dpi=100)
plt.show()

# %% [markdown]
# Every map is normalised to its own maximum, so a panel says *where* a class's evidence is, not *how much* there
# is. The "espresso" map on the cat photo (bottom left) has a peak as bright as on the cup photo, though the
# model finds almost no espresso in the cat photo:

# %%
probabilities = gc.class_probabilities(bundle.model, bundle.preprocess(photos))
espresso = classes[1]
for i, photo in enumerate(["cat", "espresso", "cat and espresso"]):
    print(f"'espresso' on the {photo:16s} photo: logit {scores['espresso'][i]:6.2f}, "
          f"p = {probabilities[i, espresso]:.3f}, map peak {maps[3 + i].max():.2f}")
assert maps[3].max() == maps[4].max() == 1.0, "both maps are scaled to a peak of 1"
assert scores["espresso"][1] - scores["espresso"][0] > 5 and probabilities[0, espresso] < 0.01 < 0.5 < \
    probabilities[1, espresso], "the text says the score on the cat photo is far lower"

# %% [markdown]
# ## 5. Guided Grad-CAM: detail at the input's resolution
# Grad-CAM is coarse by construction (one value per cell). **Guided backpropagation** (Springenberg et al., ICLR
# 2015 workshop) is the opposite: the gradient of the score with respect to each input pixel, where each ReLU
# passes a gradient back only if its input was positive (as in ordinary backprop) *and* the gradient itself is
# positive. That gives sharp, edge-like pictures. Selvaraju et al. (ICCV 2017) multiply the two: the upsampled
# Grad-CAM map picks the region, guided backprop draws its detail. (The library does this on your model as it is,
# without changing or copying it.) In the guided pictures, grey means zero gradient, lighter and darker the two
# signs.

# %%
from gradcam_utils.guided import guided_backprop, guided_gradcam, to_display

x = bundle.preprocess(photos[2:3].repeat(2, axis=0))     # the cat-and-espresso photo, once per class
both = gc.explain(bundle.model, x, class_index=classes)
guided, combined = guided_backprop(bundle.model, x, classes), guided_gradcam(bundle.model, x, class_index=classes)
fig, axes = plt.subplots(2, 3, figsize=(10, 6.8), layout="constrained")
for row, c, s, m, g, gg in zip(axes, classes, both.scores, both.heatmaps, guided, combined):
    overlay = gc.overlay_heatmap(photos[2], m, alpha=0.5, colormap="inferno")
    for ax, picture, method in zip(row, [overlay, to_display(g), to_display(gg)],
                                   ["Grad-CAM", "guided backprop", "Guided Grad-CAM"]):
        ax.imshow(picture); ax.axis("off")
        ax.set_title(gc.explained_title(bundle.class_names[c], s, method=method), fontsize=8)
gc.figures.add_colorbar(fig, axes, "inferno", label="Grad-CAM map value (1 = its peak)")
fig.suptitle(f"the model predicts '{bundle.class_names[both.logits[0].argmax()]}' for this photo", fontsize=10)
plt.show()


# %% [markdown]
# How alike are the two rows? The correlation between the "tabby" and the "espresso" picture of each method, and
# the share of each Guided Grad-CAM picture's magnitude on the photo's left half (the cat; the cup is on the
# right):

# %%
def correlation(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])

guided_r, gradcam_r = correlation(*guided), correlation(*both.heatmaps)
magnitude = np.abs(combined).sum(axis=-1)                            # (2, H, W)
left = magnitude[:, :, : magnitude.shape[2] // 2].sum(axis=(1, 2)) / magnitude.sum(axis=(1, 2))
print(f"correlation tabby vs espresso: guided backprop {guided_r:.2f}, Grad-CAM {gradcam_r:.2f}")
print(f"Guided Grad-CAM on the cat's half: 'tabby' {left[0]:.0%}, 'espresso' {left[1]:.0%}")
assert guided_r > 0.8 > 0 > gradcam_r, "the text: guided backprop barely depends on the class, Grad-CAM does"
assert left[0] > 0.9 and left[1] < 0.3, "the text: nearly all of 'tabby' on the cat's half, most of 'espresso' not"

# %% [markdown]
# Guided backprop is almost the same picture for both classes (correlation near 1): it shows the photo's edges,
# whatever we ask. The two Grad-CAM maps are not (they are even anti-correlated: where one class finds evidence,
# the other does not). Guided Grad-CAM keeps the edges only where Grad-CAM found evidence for the class: for
# "tabby" nearly all of its magnitude lies on the cat's half (the edges of the eyes and the nose stand out), for
# "espresso" most lies on the cup's half. Notebook 07 shows why guided backprop alone should not be trusted: it barely
# changes when the network's weights are replaced by random ones (Adebayo et al., NeurIPS 2018).
#
# ## Summary
# - Upsample bilinearly; nearest shows cells that are not there, bicubic invents values outside the map's range.
# - Prefer a map whose lightness rises steadily (`viridis`, `inferno`); `jet` and, more gently, `turbo` rise and
#   fall, so the peak is not the brightest colour and smooth data shows bands.
# - Compare maps with one colormap, one opacity, one layout; each map is scaled to its own maximum, so put the
#   class and its score in every panel's title.
# - Guided Grad-CAM = guided backprop (detail, nearly class-blind) × upsampled Grad-CAM (class and place).
#
# To change class, layer, method, colormap and opacity interactively, open notebook 05, the explorer.
#
# ## Exercises
# Predict first, then check; worked solutions are in `solutions/04_heatmaps_and_overlays.md`.
#
# **1.** Upsample the 2×2 map `[[0, 1], [1, 0]]` to 4×4 bilinearly (pixel centres at half-pixel positions, edges
# held). What is the value at row 0, column 1? Work it out by hand first, then check with `gc.upsample_heatmap`.

# %%
from gradcam_utils.exercises import check_bilinear_value, check_blend

value = None   # a number
check_bilinear_value(value)

# %% [markdown]
# **2.** A grey pixel of value 200 gets a colour whose channel value is 40, at opacity 0.25. Which value does the
# overlay show? Work it out by hand.

# %%
blended = None   # a number
check_blend(blended)

# %% [markdown]
# ## References
# - Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra. "Grad-CAM: Visual Explanations from Deep Networks via
#   Gradient-based Localization." ICCV 2017 (Guided Grad-CAM).
# - Springenberg, Dosovitskiy, Brox, Riedmiller. "Striving for Simplicity: The All Convolutional Net." ICLR 2015
#   workshop (guided backpropagation).
# - Adebayo, Gilmer, Muelly, Goodfellow, Hardt, Kim. "Sanity Checks for Saliency Maps." NeurIPS 2018.
# - Borland, Taylor. "Rainbow Color Map (Still) Considered Harmful." IEEE Computer Graphics and Applications 2007.
# - Mikhailov. "Turbo, An Improved Rainbow Colormap for Visualization." Google AI Blog 2019.
# - Smith, van der Walt. "A Better Default Colormap for Matplotlib." SciPy 2015 (talk; viridis, inferno).
