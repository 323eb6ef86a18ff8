# %% [markdown]
# # 06 · Using Grad-CAM: debugging, bias, localisation, transfer learning
#
# **Learning goals.** After this notebook you can:
# 1. use Grad-CAM to read a wrong prediction;
# 2. **measure** a model's reliance on a shortcut, instead of judging pictures by eye, and check that retraining
#    without the shortcut fixes it;
# 3. score how well maps localise objects with the pointing game, its energy version and the paper's
#    weakly-supervised boxes, on data where the true answer is known pixel by pixel;
# 4. explain a transfer-learned model, whose conv layers live inside a nested pretrained base;
# 5. show that maps are class-discriminative when two objects share one picture.

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
# ### Fixing it: retrain without the marker
# The fix for a shortcut is in the data: train again on pictures where the marker does not tell the class. Our
# `scripts/train_teaching_models.py` did exactly that; the two models share the architecture, the seeds and the
# training budget, and differ **only** in the training pictures (`cue="correlated"` or no marker). Training takes
# about three minutes on two cores, longer than a notebook should, so we load its result, `shapes_gap`, and
# compare it with the biased model on the same test pictures, marker removed or misleading.

# %%
for cue in ("correlated", "none", "contradicting"):
    test = make_shapes(300, seed=7, cue=cue, cue_kind="color")
    accuracy = {b.name: float((b.predict(test.images).argmax(1) == test.labels).mean()) for b in (biased, clean)}
    print(f"marker {cue:13s}  biased {accuracy['shapes_biased']:4.0%}   retrained without it {accuracy['shapes_gap']:4.0%}")

# %%
misleading = make_shapes(5, seed=7, cue="contradicting", cue_kind="color")
fig, axes = plt.subplots(2, 5, figsize=(10, 4.4))
for row, bundle in zip(axes, (biased, clean)):
    maps = gc.compute_heatmaps(bundle.model, bundle.preprocess(misleading.images), class_index=misleading.labels)
    for ax, image, heatmap in zip(row, misleading.images, maps):
        ax.imshow(gc.overlay_heatmap(image, heatmap, alpha=0.5)); ax.axis("off")
    row[0].set_title(f"{bundle.name}: map of the true class", loc="left")
plt.show()

# %% [markdown]
# Retrained without the marker, the model's accuracy no longer depends on it, and its maps of the true class sit
# on the shapes. Both were predictable from the heatmaps before any new test set was made.
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
# ## 4. Explaining a transfer-learned model
# The usual way to get a classifier for a new task: take a pretrained network, cut it at its last conv layer, nest
# it as a frozen **base** inside a new head, and train only the head. Here the ImageNet model learns the five
# shapes from 200 pictures (scaled to its 224×224 input) in three short epochs. The layer to explain now lives
# *inside* the nested base, which is where most Grad-CAM code fails with "Graph disconnected"; the library opens
# the nested model, and the layer is named `base/layer`.

# %%
import warnings
from gradcam_utils.transfer import fit_head, resize_batch, transfer_model

shapes_train, shapes_test = make_shapes(200, seed=31), make_shapes(100, seed=32)
model = transfer_model(imagenet, num_classes=5, name="shapes_on_imagenet")
x_train = imagenet.preprocess(resize_batch(shapes_train.images, imagenet.input_size))
print("training accuracy per epoch:", fit_head(model, x_train, shapes_train.labels, epochs=3))
x_test = imagenet.preprocess(resize_batch(shapes_test.images, imagenet.input_size))
print(f"held-out accuracy: {float((model.predict(x_test, verbose=0).argmax(1) == shapes_test.labels).mean()):.0%}")

# %%
layer = f"{imagenet.name}_base/{imagenet.last_conv_layer}"
with warnings.catch_warnings(action="ignore", category=gc.EmptyHeatmapWarning):  # counted below instead
    result = gc.explain(model, x_test, layer, class_index=shapes_test.labels)
print("explained layer:", result.layer_name, "| map", result.heatmaps.shape[1:], "| empty maps:", result.empty.sum())
fig, axes = plt.subplots(1, 5, figsize=(10, 2.2))
for ax, image, heatmap in zip(axes, shapes_test.images, result.heatmaps):
    ax.imshow(gc.overlay_heatmap(image, heatmap, alpha=0.5)); ax.axis("off")
plt.show()
for tolerance in (0, 4):
    print(f"pointing game, {tolerance} px tolerance: "
          f"{metrics.pointing_accuracy(result.heatmaps, shapes_test.masks, tolerance=tolerance):.0%}")

# %% [markdown]
# An empty map means the model found no evidence at all for the true class in that picture (it got it wrong).
# The maps are coarse: 7×7 cells over a 64-pixel picture, so one cell is 9 pixels wide and a peak cell often
# straddles a small shape's border; within half a cell (4 px) of the shape, the peak lands far more often. The
# pretrained features plus a linear head are enough for the task, and Grad-CAM explains the combined model without
# any surgery.
#
# ## 5. Two objects, two answers
# Grad-CAM is *class-discriminative*: in a picture holding two shapes, the map of each shape's class should sit on
# that shape. With exact masks we can count how often it does.

# %%
pairs = make_shapes(200, seed=9, objects_per_image=2)
x = clean.preprocess(pairs.images)
own, other = [], []
for k in (0, 1):
    maps = gc.compute_heatmaps(clean.model, x, class_index=pairs.object_labels[:, k])
    own.append(metrics.energy_pointing_game(maps, pairs.object_masks[:, k]))
    other.append(metrics.energy_pointing_game(maps, pairs.object_masks[:, 1 - k]))
share = np.concatenate(own) > np.concatenate(other)
print(f"map has more energy on its own object than on the other one: {share.mean():.0%} of {share.size} maps")

# %% [markdown]
# ## Summary
# - Explain both the predicted class and the class you expected: the difference is the diagnosis.
# - Turn "it looks at the marker" into a number, and test for it; the fix is in the data, and the same numbers
#   confirm it.
# - Pointing game, energy and box IoU need ground-truth masks; synthetic data gives them exactly.
# - Nested pretrained bases are explained like any other model: name the layer as `base/layer`.
# - In a picture with two objects, each class's map finds its own object.
#
# ## Exercises
# Try first; worked solutions are in `solutions/06_applications.md`.
#
# **1.** By hand: the IoU of the boxes `(0, 0, 10, 10)` and `(5, 5, 15, 15)` (y0, x0, y1, x1, end-exclusive).

# %%
from gradcam_utils.exercises import check_box_iou, check_marker_energy

iou = None   # a fraction
check_box_iou(iou)

# %% [markdown]
# **2.** On `make_shapes(100, seed=12, cue="correlated", cue_kind="color")`, which mean share of the biased
# model's Grad-CAM energy (true class) lies on the marker?

# %%
marker_energy = None   # your code here
check_marker_energy(marker_energy)
