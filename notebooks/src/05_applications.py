# %% [markdown]
# # 05 · Using Grad-CAM: debugging, bias, localisation
#
# **Learning goals.** After this notebook you can:
# 1. use Grad-CAM to read a wrong prediction;
# 2. **measure** a model's reliance on a shortcut, instead of judging pictures by eye;
# 3. score how well maps localise objects with the pointing game, its energy version and the paper's
#    weakly-supervised boxes, on data where the true answer is known pixel by pixel.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import numpy as np
import matplotlib.pyplot as plt
from gradcam_utils import metrics
from gradcam_utils.synthetic import make_shapes

clean, biased = gc.load_model("shapes_gap"), gc.load_model("shapes_biased")

# %% [markdown]
# ## 1. Debugging a wrong answer
# The ImageNet model calls the astronaut a *bobsled*. Asking Grad-CAM about the wrong class and a plausible right
# one shows what each decision rests on.

# %%
imagenet = gc.load_model("efficientnet_lite0")
photo = imagenet.load_images("../data/images/astronaut.png")
print([f"{name} {score:.2f}" for _, name, score in imagenet.decode(imagenet.predict(photo), top=5)[0]])
wanted = [imagenet.class_names.index("bobsled"), imagenet.class_names.index("space shuttle")]
result = gc.explain(imagenet.model, imagenet.preprocess(np.repeat(photo, 2, axis=0)), class_index=wanted)
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for ax, heatmap, c in zip(axes, result.heatmaps, result.class_indices):
    ax.imshow(gc.overlay_heatmap(photo[0], heatmap, alpha=0.5)); ax.set_title(imagenet.class_names[c]); ax.axis("off")
plt.show()

# %% [markdown]
# "bobsled" rests on the helmet and suit, "space shuttle" on the shuttle in the background: the model saw the
# shuttle but weighed the space-suit evidence more. That suggests what data would fix it.
#
# ## 2. Measuring a shortcut
# Notebook 01 showed the biased model looking at the marker. We can put a number on it: the share of each map's
# energy on the marker's pixels versus on the shape's pixels (`metrics.energy_pointing_game`), and how often the
# map's peak is on the marker (`metrics.pointing_game`).

# %%
test = make_shapes(300, seed=7, cue="correlated", cue_kind="color")
for bundle in (clean, biased):
    maps = gc.compute_heatmaps(bundle.model, bundle.preprocess(test.images), class_index=test.labels)
    on_shape = metrics.energy_pointing_game(maps, test.masks).mean()
    on_marker = metrics.energy_pointing_game(maps, test.cue_masks).mean()
    peak_on_marker = metrics.pointing_accuracy(maps, test.cue_masks)
    print(f"{bundle.name:13s} energy on shape {on_shape:.2f}  on marker {on_marker:.2f}  peak on marker {peak_on_marker:.0%}")

# %% [markdown]
# The marker covers about 0.6% of the picture (5×5 of 64×64), so any energy share far above that means the model
# is using it. A check like this can run in a test suite on every retrained model.
#
# ## 3. Localisation
# With exact masks we can score localisation. The **pointing game** asks if the map's peak lies on the object;
# its **energy** version asks which share of the map does; the Grad-CAM paper's **weakly supervised box**
# thresholds the map at 15% of its peak, keeps the largest connected region, and boxes it.

# %%
held_out = make_shapes(300, seed=8)
maps = gc.compute_heatmaps(clean.model, clean.preprocess(held_out.images), class_index=held_out.labels)
print(f"pointing game: {metrics.pointing_accuracy(maps, held_out.masks):.0%}")
print(f"energy on the object: {metrics.energy_pointing_game(maps, held_out.masks).mean():.2f} "
      f"(the object covers {held_out.masks.mean():.2f} of the picture)")
upsampled = metrics.upsample_heatmap(maps, (64, 64))
for threshold in (0.15, 0.5, 0.8):
    boxes = metrics.weakly_supervised_box(upsampled, threshold=threshold)
    print(f"threshold {threshold:.0%} of the peak: box IoU >= 0.5 for {metrics.box_accuracy(boxes, held_out.boxes):.0%}"
          f" of images, mean IoU {metrics.box_iou(boxes, held_out.boxes).mean():.2f}")

# %%
fig, axes = plt.subplots(1, 5, figsize=(10, 2.2))
boxes = metrics.weakly_supervised_box(upsampled, threshold=0.15)
for ax, image, heatmap, box, true in zip(axes, held_out.images, maps, boxes, held_out.boxes):
    ax.imshow(gc.overlay_heatmap(image, heatmap, alpha=0.4)); ax.axis("off")
    for (y0, x0, y1, x1), colour in ((true, "white"), (box, "red")):
        ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color=colour, lw=1.5))
plt.show()

# %% [markdown]
# White: the true box; red: the box read off the Grad-CAM map at the paper's 15% threshold. The peak is on the
# object almost every time, but the boxes are far too large: this network's maps are smooth and wide (its last
# layers see 50 pixels around each cell), and the objects are small, so 15% of the peak reaches well past them.
# The paper chose 15% for ImageNet photos, where objects fill much of the frame; a threshold is a modelling choice
# to tune on data with known boxes, as the table above does.
#
# ## Summary
# - Explain both the predicted class and the class you expected: the difference is the diagnosis.
# - Turn "it looks at the marker" into a number, and test for it.
# - Pointing game, energy and box IoU need ground-truth masks; synthetic data gives them exactly.
