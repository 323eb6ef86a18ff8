# %% [markdown]
# # 07 · Is the map right? Comparing methods, measuring faithfulness, knowing the limits
#
# **Learning goals.** After this notebook you can:
# 1. compare the CAM family (Grad-CAM, Grad-CAM++, HiResCAM, LayerCAM, XGrad-CAM, Score-CAM) on the same images;
# 2. score maps two ways: against ground truth (pointing game, energy) and against the model itself
#    (deletion/insertion, Average Drop);
# 3. run the model-randomisation **sanity check** and explain why Grad-CAM passes and Guided Grad-CAM fails;
# 4. count what each method costs in forward and backward passes;
# 5. recognise where Grad-CAM breaks: early layers, small objects, several instances, models without a spatial
#    layer.
#
# Most of the measuring happens on the course's shapes classifier, where the true object pixels are known.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import numpy as np
import matplotlib.pyplot as plt
from gradcam_utils import faithfulness, metrics
from gradcam_utils.synthetic import make_shapes

clean = gc.load_model("shapes_gap")
test = make_shapes(100, seed=70)
x = clean.preprocess(test.images)
METHODS = ["gradcam", "gradcam++", "hirescam", "layercam", "xgradcam", "scorecam"]
maps = {m: gc.compute_heatmaps(clean.model, x, class_index=test.labels, method=m) for m in METHODS}

# %% [markdown]
# ## 1. The family side by side
# All of them weight the same feature maps $A^k$ of the last conv layer; they differ in the weights (notebook 02
# and `gradcam_utils/methods.py` give the formulas). On this network's head (global average pooling, then one
# dense layer) the gradient is the same at every position, so Grad-CAM, HiResCAM and XGrad-CAM coincide exactly:
# a closed-form fact the tests check. Grad-CAM++, LayerCAM and Score-CAM weight differently.

# %%
fig, axes = plt.subplots(3, len(METHODS), figsize=(12, 6.3))
for col, method in enumerate(METHODS):
    axes[0, col].set_title(method)
    for row in range(3):
        axes[row, col].imshow(gc.overlay_heatmap(test.images[row], maps[method][row], alpha=0.5))
        axes[row, col].axis("off")
plt.show()
print("Grad-CAM == HiResCAM == XGrad-CAM here:",
      np.allclose(maps["gradcam"], maps["hirescam"], atol=1e-5) and np.allclose(maps["gradcam"], maps["xgradcam"], atol=1e-5))

# %% [markdown]
# ## 2. Two kinds of score
# **Against ground truth**: does the map point at the object (pointing game), and which share of its energy is on
# it? **Against the model**: if we delete the pixels the map ranks highest, does the class probability collapse
# quickly (deletion AUC, lower is better)? If we reveal them first on a blurred picture, does it come back quickly
# (insertion AUC, higher is better)? Average Drop asks how much probability is lost when the picture is multiplied
# by the map (lower is better). A random map is the baseline every method must beat.

# %%
rng = np.random.default_rng(0)
maps["random"] = rng.uniform(size=maps["gradcam"].shape).astype(np.float32)
print(f"{'method':10s} {'pointing':>8s} {'energy':>7s} {'deletion':>9s} {'insertion':>9s} {'avg drop':>8s}")
for method, m in maps.items():
    deletion = faithfulness.deletion_curve(clean.model, x, m, test.labels, steps=16).mean_auc
    insertion = faithfulness.insertion_curve(clean.model, x, m, test.labels, steps=16).mean_auc
    drop = faithfulness.average_drop(clean.model, x, m, test.labels)
    print(f"{method:10s} {metrics.pointing_accuracy(m, test.masks):8.0%} "
          f"{metrics.energy_pointing_game(m, test.masks).mean():7.2f} {deletion:9.2f} {insertion:9.2f} {drop:7.0f}%")

# %% [markdown]
# Every method beats the random map on every score. Their ranking is not the same on every score, which is the
# practical lesson: decide what "right" means (on the object? what the model uses?) before choosing a method,
# and report the score you chose. The object covers about 5% of each picture, so an energy share of 0.05 would be
# no better than chance.
#
# ## 3. The sanity check: does the map depend on the model?
# An explanation of a model must change when the model's learned weights are destroyed. Adebayo et al. re-
# initialise the layers one by one from the top (a *copy*; the model is untouched) and measure how similar the
# maps stay (Spearman rank correlation with the trained model's maps: 1 = unchanged, 0 = unrelated).

# %%
from gradcam_utils.sanity import cascading_randomization

sanity = cascading_randomization(clean.model, x[:8], class_index=test.labels[:8], seed=0)
print(sanity.summary())

# %% [markdown]
# Grad-CAM's maps lose most of their resemblance to the trained model's as soon as the top layers are random: it
# **passes**. Guided Backprop stays close to its trained maps (about 0.85 and more) until the first conv layers
# themselves are re-initialised: it shows the input's edges as the lowest layers see them, not what the rest of
# the network learned, so it **fails**. Guided Grad-CAM follows Grad-CAM, because its Grad-CAM factor changes.
# That is why notebook 04 used guided backprop only for detail, inside the region Grad-CAM chose.

# %%
steps = np.arange(1, sanity.steps + 1)
for name, values in [("Grad-CAM", sanity.gradcam), ("Guided Grad-CAM", sanity.guided_gradcam),
                     ("Guided Backprop", sanity.guided_backprop)]:
    plt.plot(steps, np.nanmean(values, axis=1), marker="o", label=name)
plt.xticks(steps, [names[-1] for names in sanity.layers]); plt.ylim(-0.1, 1.05)
plt.xlabel("randomised from the top down to"); plt.ylabel("rank correlation with trained"); plt.legend()
plt.show()

# %% [markdown]
# ## 4. What each method costs
# Every method in the family starts from **one forward and one backward pass** for the whole batch; the backward
# pass only runs from the score down to the chosen layer. Score-CAM then runs the model **once more per channel**
# of the layer, on the picture masked by that channel's map. The counts below are per image; the library batches
# Score-CAM's passes (`batch_size`), which makes it faster but not cheaper.

# %%
from gradcam_utils.methods import passes_per_image

imagenet = gc.load_model("efficientnet_lite0")
for bundle, layer in [(clean, "conv5_act"), (imagenet, "top_activation")]:
    channels = bundle.model.get_layer(layer).output.shape[-1]
    costs = ", ".join(f"{m} {passes_per_image(m, channels)}" for m in ["gradcam", "layercam", "scorecam"])
    print(f"{bundle.name:18s} {layer} ({channels} channels): {costs}  (forward, backward)")

# %% [markdown]
# ## 5. Where Grad-CAM breaks
# ### Early layers
# Grad-CAM averages the gradient over the map. At the last layer that average is meaningful; at early layers the
# gradient changes sign from one position to the next, the average washes out, and the map turns noisy. LayerCAM
# weighs each position by its own positive gradient and holds up better one layer down; at the earliest layers both
# fail, because those layers respond to edges and texture, not to whole shapes.

# %%
import warnings
warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)   # from here on, an empty map simply counts as a miss
for layer in ["conv5_act", "conv4_act", "conv3_act", "conv2_act"]:
    scores = {m: metrics.pointing_accuracy(gc.compute_heatmaps(clean.model, x, layer, test.labels, m), test.masks)
              for m in ("gradcam", "layercam")}
    print(f"{layer:10s} pointing game: Grad-CAM {scores['gradcam']:4.0%}   LayerCAM {scores['layercam']:4.0%}")

# %% [markdown]
# ### Small objects
# One cell of the last layer covers 4×4 pixels, and the map is smoothed over the receptive field. For objects of
# a few pixels the map is much larger than the object: the share of the energy on it drops.

# %%
for size in [(6, 8), (12, 16), (20, 24)]:
    batch = make_shapes(100, seed=71, size_range=size)
    m = gc.compute_heatmaps(clean.model, clean.preprocess(batch.images), class_index=batch.labels)
    accuracy = float((clean.predict(batch.images).argmax(1) == batch.labels).mean())
    print(f"objects {size[0]:2d}-{size[1]:2d} px: accuracy {accuracy:4.0%}  energy on object "
          f"{metrics.energy_pointing_game(m, batch.masks).mean():.2f} (object area {batch.masks.mean():.3f})")

# %% [markdown]
# At 6-8 pixels the model itself mostly fails, and the little evidence it finds is spread far beyond the object;
# even at 12-16 pixels, where it is right almost always, most of the map lies off the object.
#
# ### Several instances
# Two cats side by side. Grad-CAM finds evidence on both, but a map is one surface per *class*: it cannot say
# that there are two cats, and the paper's box recipe (threshold at 15%, box the largest region) draws **one** box
# around both, which overlaps neither cat well (IoU < 0.5 counts as a miss). Grad-CAM++, designed with several
# instances in mind, behaves the same here.

# %%
cat = gc.load_image("../data/images/cat.png", size=(112, 112))
twins = np.full((224, 224, 3), 128, np.uint8)
twins[56:168, :112], twins[56:168, 112:] = cat, cat[:, ::-1]
cats = [(56, 0, 168, 112), (56, 112, 168, 224)]   # (y0, x0, y1, x1) of each cat
for method in ("gradcam", "gradcam++"):
    up = gc.upsample_heatmap(gc.compute_heatmaps(imagenet.model, imagenet.preprocess(twins), method=method)[0],
                             (224, 224))
    box = metrics.weakly_supervised_box(up, threshold=0.15)
    print(f"{method:10s} share on the left cat {up[:, :112].sum() / up.sum():.2f}  box {list(box)}  IoU with "
          f"each cat {[round(float(metrics.box_iou(box, c)), 2) for c in cats]}")

# %% [markdown]
# ### No spatial layer, no map
# Grad-CAM needs feature maps with positions. A model that flattens the picture first has none, and the library
# says so instead of returning something meaningless:

# %%
import keras
mlp = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Flatten(), keras.layers.Dense(5)], name="mlp")
try:
    gc.explain(mlp, x[:1])
except gc.GradCAMError as error:
    print(type(error).__name__, "-", error)

# %% [markdown]
# ## Summary
# - The CAM family shares one forward and one backward pass; only Score-CAM pays a forward pass per channel.
# - Decide what "right" means before comparing: localisation (pointing, energy) and faithfulness (deletion,
#   insertion, Average Drop) can rank methods differently; always compare with a random map.
# - Grad-CAM passes the randomisation sanity check; Guided Backprop fails it, so use it only inside Grad-CAM's
#   region.
# - Grad-CAM is coarse and class-level: use the last conv layer (LayerCAM for early ones), expect blobs larger
#   than small objects, check several instances, and use it only on models with spatial feature maps.
#
# ## Exercises
# Try first; worked solutions are in `solutions/07_evaluation_and_limits.md`.
#
# **1.** How many forward passes does Score-CAM cost per image at `conv5_act` of `shapes_gap`, counting the first
# one (at most, before constant channels are skipped)?

# %%
from gradcam_utils.exercises import check_scorecam_passes, check_lower_deletion

scorecam_passes = None   # a number
check_scorecam_passes(scorecam_passes)

# %% [markdown]
# **2.** Compute the mean deletion AUC (16 steps) of Grad-CAM's maps on the first 20 test pictures above, and of a
# map that is 1 on the true object's pixels and 0 elsewhere (`test.masks`). Which is lower: `"gradcam"` or
# `"mask"`?

# %%
lower_deletion = None   # "gradcam" or "mask"
check_lower_deletion(lower_deletion)
