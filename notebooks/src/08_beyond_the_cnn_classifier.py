# %% [markdown]
# # 08 · Beyond the CNN classifier: any target, transformers, segmentation, several labels, occlusion
#
# **Learning goals.** After this notebook you can:
# 1. explain a number that is not a class score, with `target=`: a difference of two classes answers "why this
#    class *rather than* that one";
# 2. run Grad-CAM on a Vision Transformer: pick its token layer, say why the layer after the last attention gives
#    an empty map, and compare its maps with a CNN's on the same pictures, with intervals;
# 3. explain a segmentation output: why did *these pixels* get *this class*, checked on the true masks;
# 4. explain each label of a picture that carries several;
# 5. use occlusion as a reference that needs no gradient, read a rank correlation with it, and say what agreement
#    with it does and does not prove.
#
# Every model here ships with the course and is trained on the synthetic shapes, whose true pixels are known, so
# each answer is measured rather than judged by eye. Every number the text states is computed next to it and
# checked by an `assert`.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import warnings
import numpy as np
import matplotlib.pyplot as plt
from scipy.stats import spearmanr
from gradcam_utils import metrics
from gradcam_utils.targets import Difference
from gradcam_utils.synthetic import make_shapes

gap = gc.load_model("shapes_gap")   # the course's CNN: conv body, global average pooling, Dense logits
names = gap.class_names


def outline(ax, mask, colour="white"):   # draw a true object's outline on a panel
    ax.contour(mask, levels=[0.5], colors=colour, linewidths=1)


# %% [markdown]
# ## 1. A target that is not a class
# Until now each map explained one class's score: `class_index=c` differentiates the logit of class `c`. But
# Grad-CAM only needs *a number per picture* with a gradient. `target=` takes any function of the model's output
# batch (read before the softmax, as `class_index` is) that returns one score per picture; `gc.targets` ships the
# common ones. `Difference(a, b)` is the logit of `a` minus the logit of `b`: the evidence for `a` *rather than*
# `b`.
#
# When does that differ from the map of `a`? When some features raise both scores. We draw 60 pictures, each with
# one circle and one square, and ask `shapes_gap`, which was trained on one shape per picture, what it sees.

# %%
CIRCLE, SQUARE = names.index("circle"), names.index("square")
pairs = make_shapes(60, seed=81, classes=("circle", "square"), objects_per_image=2)
assert pairs.class_names == names[:2]   # so pairs' labels are the model's class indices
on = {c: pairs.object_masks[pairs.object_labels == c] for c in (CIRCLE, SQUARE)}   # (60, 64, 64) each
x_pairs = gap.preprocess(pairs.images)
square_map = gc.explain(gap.model, x_pairs, class_index=SQUARE)
rather = gc.explain(gap.model, x_pairs, target=Difference(SQUARE, CIRCLE))
answers = square_map.logits.argmax(axis=1)
said_square, said_circle = (answers == SQUARE).mean(), (answers == CIRCLE).mean()
print(f"the model answers 'square' on {said_square:.0%} of the 60 pictures and 'circle' on {said_circle:.0%}")

# %% [markdown]
# The model mostly answers "square". Where is the evidence for it? Below, for the first two pictures where it
# answers "square": the map of the class "square", and the map of "square rather than circle" (the square's
# outline in white, the circle's in cyan). Each title gives the score the map explains: a logit, or a difference of
# two logits.

# %%
shown = np.flatnonzero(square_map.logits.argmax(axis=1) == SQUARE)[:2]
maps, titles = [], []
for i in shown:
    maps += [square_map.heatmaps[i], rather.heatmaps[i]]
    titles += [gc.explained_title("square", square_map.scores[i], predicted=names[square_map.logits[i].argmax()]),
               gc.explained_title("square - circle", rather.scores[i], score_name="difference")]
fig, axes = gc.show_heatmaps(np.repeat(pairs.images[shown], 2, axis=0), np.stack(maps), titles, ncols=4,
                             panel_size=3)
for ax, i in zip(axes.flat, np.repeat(shown, 2)):
    outline(ax, on[SQUARE][i]); outline(ax, on[CIRCLE][i], "cyan")
plt.show()

# %% [markdown]
# The same question over all 60 pictures, on the true masks: where does each map's peak fall (pointing game, Zhang
# et al., ECCV 2016), and which share of its mass lies on each shape (energy, Wang et al., CVPRW 2020)? Means with
# 95% bootstrap intervals over the pictures (`metrics.bootstrap_ci`).

# %%
scores = {}
for label, result in (("square", square_map), ("square - circle", rather)):
    for c in (SQUARE, CIRCLE):
        scores[label, names[c]] = (metrics.pointing_game(result.heatmaps, on[c]),
                                   metrics.energy_pointing_game(result.heatmaps, on[c]))
        (p, p_lo, p_hi), (e, e_lo, e_hi) = (metrics.bootstrap_ci(v) for v in scores[label, names[c]])
        print(f"map of {label:15s} on the {names[c]:6s}: peak {p:.2f} [{p_lo:.2f}, {p_hi:.2f}]  "
              f"energy {e:.2f} [{e_lo:.2f}, {e_hi:.2f}]")
print(f"shares of the picture: square {on[SQUARE].mean():.2f}, circle {on[CIRCLE].mean():.2f}")

# %% [markdown]
# The map of "square" puts its peak on the **circle** more often than on the square, and as much of its mass:
# the features the circle raises in the last conv layer also raise the square's logit. The class map shows all
# the evidence *for* a class, including evidence it shares with another. The difference keeps only what separates
# the two: its peak is on the square in about 9 pictures of 10, never on the circle, and almost none of its mass
# is on the circle.
#
# Why? On a global-average-pooling head, the gradient of a difference is the difference of the gradients, so the
# map is $\mathrm{ReLU}(\mathrm{CAM}_\text{square} - \mathrm{CAM}_\text{circle})$, rescaled to a peak of 1: the
# positions where the square's evidence beats the circle's. The library computes exactly that:

# %%
both = {c: gc.gradient_inputs(gap.model, x_pairs, class_index=c) for c in (SQUARE, CIRCLE)}
weights = both[SQUARE].gradients.mean(axis=(1, 2)) - both[CIRCLE].gradients.mean(axis=(1, 2))   # (60, K)
by_hand = np.maximum(np.einsum("bhwk,bk->bhw", both[SQUARE].activations, weights), 0)
by_hand /= by_hand.max(axis=(1, 2), keepdims=True)
print("largest |by hand - library| over the 60 maps:", f"{np.abs(by_hand - rather.heatmaps).max():.0e}")
assert np.abs(by_hand - rather.heatmaps).max() < 1e-5
(sq_p, sq_e), (ci_p, ci_e) = scores["square", "square"], scores["square", "circle"]
(d_p, d_e), (d_cp, d_ce) = scores["square - circle", "square"], scores["square - circle", "circle"]
assert said_square > 0.5 and said_square + said_circle == 1, "the text: the model mostly answers square"
assert ci_p.mean() > sq_p.mean() and abs((ci_e - sq_e).mean()) < 0.03, "square map: on the circle, as much mass"
assert metrics.bootstrap_ci(d_p.astype(float) - sq_p)[1] > 0 and d_p.mean() > 0.85, "difference: 9 in 10 on square"
assert not d_cp.any() and d_ce.mean() < 0.05, "difference: never peaks on the circle, little mass on it"

# %% [markdown]
# ## 2. Grad-CAM on a Vision Transformer
# A Vision Transformer (ViT, Dosovitskiy et al., ICLR 2021) has no feature maps: it turns the picture into a
# sequence of *tokens*, one per patch, puts a learned **class token** in front, and runs transformer blocks on them.
# In each block the tokens exchange information only in the attention layer; the layer norms, the MLP and the
# residual additions act on every token separately. The head reads the class token alone.
#
# `shapes_vit` is a small *hybrid* ViT (the paper's section 3.1): its first layers are `shapes_gap`'s first three
# conv blocks, frozen, which turn the 64×64 picture into an 8×8 map; each cell becomes a token of 64 numbers (one
# per 8×8-pixel patch, though the conv layers let it see a little beyond), and four transformer blocks follow. A
# token layer's output is `(batch, 65, 64)`: the library drops the class token (it is no position in the picture),
# puts the 64 patch tokens back on their 8×8 grid and computes the map as for a conv layer, so the maps come back
# as `(batch, 8, 8)`. Which layer? `gc.list_explainable_layers` lists the candidates, conv and token layers; the
# default is the input of the **last attention** (the layer pytorch-grad-cam's documentation uses for a ViT,
# `blocks[-1].norm1`).

# %%
vit = gc.load_model("shapes_vit")
layers = gc.list_explainable_layers(vit.model)
print(f"{len(layers)} explainable layers, e.g.", layers[:2], "...", layers[-2:])
print("the last block's:", [name for name, kind in layers if name.startswith("block4")])
print("default layer:", vit.last_conv_layer, "output", vit.model.get_layer(vit.last_conv_layer).output.shape)

# %% [markdown]
# Why not the last layer, as for a CNN? After the last attention, no patch token can reach the class token any
# more: whatever happens to a patch token there never touches the head. Its gradient is exactly zero, and so is
# the map. We check it on 200 new pictures (one shape each), at the residual sum right after the last attention,
# and at the default layer:

# %%
cases = make_shapes(200, seed=85)   # pictures neither model was trained on
x_vit = vit.preprocess(cases.images)
with warnings.catch_warnings(action="ignore", category=gc.EmptyHeatmapWarning):  # counted here instead
    after = gc.explain(vit.model, x_vit, layer_name="block4_add1", class_index=cases.labels)
    at_default = gc.explain(vit.model, x_vit, class_index=cases.labels)
print(f"empty maps: after the last attention {after.empty.mean():.0%}, at {at_default.layer_name} "
      f"{at_default.empty.mean():.0%}")
assert after.empty.all() and 0.05 < at_default.empty.mean() < 0.15, "the text: all after, about 1 in 10 before"

# %% [markdown]
# A CNN has no such cliff: every cell of its last conv layer reaches the logits. (The default layer's empty maps,
# about one in ten, are another matter: a map with no positive part comes back as zeros, as notebook 02 showed.)
# Now the two models side by side on the same 200 pictures, each explained at its default layer for the true
# class: `shapes_gap` (a 16×16 map) and the ViT (8×8). The white line is the shape's true outline.

# %%
cnn = gc.explain(gap.model, gap.preprocess(cases.images), class_index=cases.labels)
both_models = {"CNN (shapes_gap)": cnn, "ViT (shapes_vit)": at_default}
shown = [0, 1, 2, 3]
pictures = np.concatenate([cases.images[shown]] * 2)
maps = np.concatenate([gc.upsample_heatmap(r.heatmaps[shown], (64, 64)) for r in both_models.values()])
titles = [f"{model}\n" + gc.explained_title(names[r.class_indices[i]], r.scores[i],
                                            predicted=names[r.logits[i].argmax()])
          for model, r in both_models.items() for i in shown]
fig, axes = gc.show_heatmaps(pictures, maps, titles, ncols=len(shown), panel_size=2.6)
for ax, i in zip(axes.flat, shown * 2):
    outline(ax, cases.masks[i])
plt.show()

# %% [markdown]
# And in numbers: accuracy, pointing game and energy on the true masks, each with its 95% interval, then the
# paired difference (ViT minus CNN, picture by picture).

# %%
localised = {}
for model, r in both_models.items():
    localised[model] = (metrics.pointing_game(r.heatmaps, cases.masks),
                        metrics.energy_pointing_game(r.heatmaps, cases.masks))
    accuracy = (r.logits.argmax(axis=1) == cases.labels).mean()
    (p, p_lo, p_hi), (e, e_lo, e_hi) = (metrics.bootstrap_ci(v) for v in localised[model])
    print(f"{model}: accuracy {accuracy:.3f}  pointing {p:.2f} [{p_lo:.2f}, {p_hi:.2f}]  "
          f"energy {e:.3f} [{e_lo:.3f}, {e_hi:.3f}]")
(vit_p, vit_e), (cnn_p, cnn_e) = localised["ViT (shapes_vit)"], localised["CNN (shapes_gap)"]
for score, d in (("pointing", vit_p.astype(float) - cnn_p), ("energy", vit_e - cnn_e)):
    mean, lo, hi = metrics.bootstrap_ci(d)
    print(f"ViT minus CNN, {score}: {mean:+.3f} [{lo:+.3f}, {hi:+.3f}]")
print(f"object area {cases.masks.mean():.3f} of the picture (the energy of a uniform map)")

# %% [markdown]
# The ViT is as accurate as the CNN, but its map points at the shape in only about one picture of four, against
# the CNN's 19 of 20, and puts less than a third of the CNN's share of its mass on the shape (though more than a
# uniform map would). The paired intervals are far from 0: on these pictures, this is no accident of sampling.
#
# Where does the localisation go? Explain the ViT at earlier layers: the patch embedding (the tokens before any
# attention, each still holding its own patch) and the input of the second block (after one attention).

# %%
energy_at = {vit.last_conv_layer: vit_e}
with warnings.catch_warnings(action="ignore", category=gc.EmptyHeatmapWarning):  # an empty map scores 0
    for layer in ("patch_embed", "block2_norm1"):
        r = gc.explain(vit.model, x_vit, layer_name=layer, class_index=cases.labels)
        energy_at[layer] = metrics.energy_pointing_game(r.heatmaps, cases.masks)
for layer in ("patch_embed", "block2_norm1", vit.last_conv_layer):
    e, lo, hi = metrics.bootstrap_ci(energy_at[layer])
    print(f"ViT at {layer:12s} energy on the shape {e:.3f} [{lo:.3f}, {hi:.3f}]")

# %% [markdown]
# Before any attention the map puts about as much of its mass on the shape as the CNN's (its first layers *are*
# the CNN's); after a single attention it is down to what a uniform map gets. An attention layer lets every token
# take in information from every other, so after it a token's place in the grid no longer says where its content
# came from, and Grad-CAM reads the gradient *by place*. (That is a reading of the numbers, not a proof.)
#
# What the comparison shows: on these 200 pictures, at the layer one would choose by default, this ViT's Grad-CAM
# localises far worse than the CNN's, by more than the intervals allow to be chance. What it does not show: that
# the ViT looks at the background (it is right on 99% of pictures whose background says nothing about the class,
# and section 5 asks the model itself);
# that transformers in general localise worse (one small hybrid model, one training run); nor how much of the gap is
# the coarser 8×8 grid rather than the attention. Grad-CAM on tokens is one way to read a transformer; attention
# rollout (Abnar & Zuidema, ACL 2020), which follows the attention weights through the blocks, is another.

# %%
area = cases.masks.mean()
assert all((r.logits.argmax(axis=1) == cases.labels).mean() > 0.97 for r in both_models.values()), "both accurate"
assert vit_p.mean() < 0.35 and cnn_p.mean() > 0.9, "the text: about 1 picture in 4 against 19 in 20"
assert metrics.bootstrap_ci(vit_e)[1] > area and vit_e.mean() < cnn_e.mean() / 3, "above uniform, < 1/3 of the CNN"
assert all(metrics.bootstrap_ci(d)[2] < 0 for d in (vit_p.astype(float) - cnn_p, vit_e - cnn_e)), "paired: far from 0"
assert energy_at["patch_embed"].mean() > 0.7 * cnn_e.mean(), "the text: before attention, about the CNN's share"
assert energy_at["block2_norm1"].mean() < 1.3 * area, "the text: after one attention, about a uniform map's share"

# %% [markdown]
# ## 3. Explaining a segmentation
# `shapes_segmenter` gives every pixel a class: its output is `(batch, 64, 64, 6)`, six logits per pixel, for the
# five shapes and "background" (class 5). There is no single score to explain, so we choose one: "why did *these*
# pixels get class $c$?" is the sum of class $c$'s logits over those pixels, `RegionScore(c, region)`. Its map, at
# the 16×16 bottleneck `conv5_act` (the encoder's last layer, where each cell sees a whole shape), shows which
# features made the region class $c$.
#
# The pictures now hold one to three shapes (`make_scenes`, the kind of picture the segmenter and the multi-label
# model were trained on, with a new seed). The question ground truth can answer: does the map of the circle's
# pixels point at the circle, or at the square next to it?

# %%
from gradcam_utils.targets import RegionScore
from gradcam_utils.teaching_tasks import make_scenes

seg = gc.load_model("shapes_segmenter")
scenes = make_scenes(90, seed=86)   # 90 new pictures with 1, 2 or 3 shapes; exact masks of every shape
segmented = seg.predict(scenes.images).argmax(axis=-1)   # (90, 64, 64): the class of each pixel
truth = scenes.pixel_labels
iou = [((segmented == c) & (truth == c)).sum() / ((segmented == c) | (truth == c)).sum() for c in range(6)]
print(f"pixels right {(segmented == truth).mean():.3f}; IoU per class:",
      ", ".join(f"{n} {v:.2f}" for n, v in zip(seg.class_names, iou)))

# %% [markdown]
# For each shape in a picture with two or three shapes: the region the model labelled with the shape's class, its
# `RegionScore` map, and where that map points, at the shape itself or at one of the *other* shapes.

# %%
found = {f"{score} on {where}": [] for score in ("peak", "energy") for where in ("its shape", "the others")}
region_maps = {}   # (picture, class) -> its region's map and score
for c in range(len(names)):   # one target per class, with a region (a mask) per picture
    rows = np.flatnonzero(scenes.labels[:, c] & (scenes.labels.sum(axis=1) >= 2) & (segmented == c).any(axis=(1, 2)))
    r = gc.explain(seg.model, seg.preprocess(scenes.images[rows]), target=RegionScore(c, segmented[rows] == c))
    region_maps.update({(row, c): (m, s) for row, m, s in zip(rows, r.heatmaps, r.scores)})
    own = scenes.label_masks[rows, c]
    others = scenes.label_masks[rows].any(axis=1) & ~own
    for where, mask in (("its shape", own), ("the others", others)):
        found["peak on " + where].append(metrics.pointing_game(r.heatmaps, mask))
        found["energy on " + where].append(metrics.energy_pointing_game(r.heatmaps, mask))
found = {key: np.concatenate(v) for key, v in found.items()}
for key, v in found.items():
    mean, lo, hi = metrics.bootstrap_ci(v)
    print(f"{key:22s} {mean:.2f} [{lo:.2f}, {hi:.2f}] over {len(v)} regions")

# %% [markdown]
# One picture with three shapes, each region's map in turn (white: the region's own shape; cyan: the others).

# %%
k = int(np.flatnonzero(scenes.labels.sum(axis=1) == 3)[0])
present = np.flatnonzero(scenes.labels[k])
titles = [gc.explained_title(names[c], region_maps[k, c][1], score_name="summed logit")
          + f"\non the pixels labelled '{names[c]}'" for c in present]
fig, axes = gc.show_heatmaps(scenes.images[k], np.stack([region_maps[k, c][0] for c in present]), titles,
                             panel_size=3.3)
for ax, c in zip(axes.flat, present):
    outline(ax, scenes.label_masks[k, c])
    outline(ax, scenes.label_masks[k].any(axis=0) & ~scenes.label_masks[k, c], "cyan")
plt.show()

# %% [markdown]
# The segmenter labels about 98% of the pixels right; the shapes' IoU are lower: a shape has few pixels, so the
# errors at its edge weigh more than in the large background. The map of a region points at the region's own
# shape in about three regions of four, and at one of the other shapes in about one of seven (a bottleneck cell
# sees 50 pixels around it, so a neighbour can weigh in). The region's own shape gets about twice the share of the
# map that all the other shapes together get. So the answer to "why these pixels?" is mostly "the shape under
# them", and the exceptions are worth a look: a map can show that a label leans on a neighbour.

# %%
own_p, other_p = found["peak on its shape"], found["peak on the others"]
own_e, other_e = found["energy on its shape"], found["energy on the others"]
assert (segmented == truth).mean() > 0.95 and min(iou[:5]) < 0.9, "the text: ~98% of pixels, lower IoU per shape"
assert 0.65 < own_p.mean() < 0.85 and 0.07 < other_p.mean() < 0.22, "the text: 3 of 4 own, about 1 of 7 other"
assert metrics.bootstrap_ci(own_p.astype(float) - other_p)[1] > 0.4, "own shape far more often than another"
assert 1.5 < own_e.mean() / other_e.mean() < 3, "the text: about twice the share of all the others together"

# %% [markdown]
# ## 4. Each label of a picture with several
# `shapes_multilabel` answers five yes/no questions at once, "is there a circle?", "a square?", ..., with one
# sigmoid per label: its outputs are five logits, and a label is present when its logit is above 0. The map of
# one label explains that label's logit: `MultiLabel(k)`. One target can give each picture its own label, so one
# call explains every (picture, present label) pair of the pictures with two or three shapes.

# %%
from gradcam_utils.targets import MultiLabel

tagger = gc.load_model("shapes_multilabel")
said = tagger.predict(scenes.images) > 0   # (90, 5): the labels the model says are present
print(f"labels right {(said == scenes.labels).mean():.3f}; pictures with every label right "
      f"{(said == scenes.labels).all(axis=1).mean():.2f}")
pic, label = np.nonzero(scenes.labels & (scenes.labels.sum(axis=1, keepdims=True) >= 2))
per_label = gc.explain(tagger.model, tagger.preprocess(scenes.images[pic]), target=MultiLabel(label))
own = scenes.label_masks[pic, label]
others = scenes.label_masks[pic].any(axis=1) & ~own
on_label = {"its own shape": metrics.pointing_game(per_label.heatmaps, own),
            "another shape": metrics.pointing_game(per_label.heatmaps, others)}
for key, v in on_label.items():
    mean, lo, hi = metrics.bootstrap_ci(v)
    print(f"peak on {key}: {mean:.2f} [{lo:.2f}, {hi:.2f}] over {len(v)} labels")

# %% [markdown]
# The same three-shape picture, one map per label:

# %%
mine = pic == k   # the rows of section 4's batch that belong to picture k
titles = [gc.explained_title(names[c], s, predicted="present" if s > 0 else "absent")
          for c, s in zip(label[mine], per_label.scores[mine])]
fig, axes = gc.show_heatmaps(scenes.images[k], per_label.heatmaps[mine], titles, panel_size=3.3)
for ax, c in zip(axes.flat, label[mine]):
    outline(ax, scenes.label_masks[k, c])
    outline(ax, scenes.label_masks[k].any(axis=0) & ~scenes.label_masks[k, c], "cyan")
plt.show()

# %% [markdown]
# The model gets about 94% of the labels right, and every label of a picture right in about three pictures of
# four. Each label's map peaks on its own shape for more than 9 labels in 10, and almost never on one of the other
# shapes in the picture: each label's logit rests on its own shape, and the other shapes barely enter it.

# %%
assert 0.9 < (said == scenes.labels).mean() < 0.97 and 0.65 < (said == scenes.labels).all(axis=1).mean() < 0.85
assert on_label["its own shape"].mean() > 0.9 and on_label["another shape"].mean() < 0.05, "the text: own, not others"

# %% [markdown]
# ## 5. Occlusion as a reference
# Occlusion sensitivity (Zeiler & Fergus, ECCV 2014) asks the model directly: cover a square patch of the picture,
# record how much the class's logit drops, and slide the patch over the whole picture. It needs no gradient and no
# layer, which makes it a natural reference for the CAM family (`gc.occlusion_sensitivity`). But it has choices of
# its own: how large the patch is, and what the covered pixels become (notebook 07 showed that black pixels make a
# picture the model never saw). We start with a blurred copy under 16-pixel patches, 8 pixels apart.
#
# The model is `shapes_flat`, the CNN whose last conv layer feeds a dense layer position by position: there the CAM
# methods really differ (behind `shapes_gap`'s global average pooling Grad-CAM and HiResCAM are the same map by
# construction, and a comparison would show nothing). Besides the gradient methods we add the two that need no
# gradient: EigenCAM (Muhammad & Yeasin, IJCNN 2020), the first principal component of the layer's activations,
# and AblationCAM (Desai & Ramaswamy, WACV 2020), each channel's weight the drop in the score when it is zeroed.

# %%
flat = gc.load_model("shapes_flat")
test = make_shapes(30, seed=84)   # pictures no model was trained on, one shape each
x_test = flat.preprocess(test.images)
occluded = gc.occlusion_sensitivity(flat.model, x_test, class_index=test.labels, patch=16, stride=8,
                                    substrate="blur")
METHODS = ["gradcam", "hirescam", "gradcam++", "scorecam", "eigencam", "ablationcam"]
cams = {m: gc.explain(flat.model, x_test, class_index=test.labels, method=m) for m in METHODS}
print("occlusion grid per picture:", occluded.grid.shape[1:], "positions; CAM maps:",
      cams["gradcam"].heatmaps.shape[1:])

# %% [markdown]
# One picture: the occlusion map (the drop in the true class's logit when a patch covering that pixel is blurred,
# averaged over the patches that cover it; blue: covering it *raises* the logit) next to two CAM maps.

# %%
i, name = 0, names[test.labels[0]]
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
drop = np.abs(occluded.heatmaps[i]).max()
shown = axes[0].imshow(occluded.heatmaps[i], cmap="RdBu_r", vmin=-drop, vmax=drop)
fig.colorbar(shown, ax=axes[0], label=f"drop in the '{name}' logit")
axes[0].set_title(f"occlusion, '{name}' (logit {occluded.scores[i]:.1f})\n16 px patches of a blurred copy")
for ax, m in zip(axes[1:], ("gradcam", "eigencam")):
    ax.imshow(gc.overlay_heatmap(test.images[i], cams[m].heatmaps[i], alpha=0.5))
    ax.set_title(gc.explained_title(name, cams[m].scores[i], method=m, predicted=names[cams[m].logits[i].argmax()]))
gc.figures.add_colorbar(fig, axes[1:], "jet")
for ax in axes:
    outline(ax, test.masks[i]); ax.axis("off")
plt.show()


# %% [markdown]
# How alike are the maps, picture by picture? Their values live on different scales (a logit drop, a map rescaled
# to a peak of 1), so we compare *orders*: Spearman's rank correlation $\rho$ between a CAM map (upsampled to the
# picture) and the occlusion map, over the 64×64 pixels of each picture, then its mean over the 30 pictures with a
# bootstrap interval. $\rho = 1$: the same order of the pixels; 0: unrelated.

# %%
def rank_correlation(maps, reference):   # Spearman's rho, one per picture, over its pixels
    up = np.stack([gc.upsample_heatmap(m, reference.shape[1:]) for m in maps])
    # an empty map (all zeros: no evidence) orders no pixel: it counts as unrelated, rho 0
    return np.array([spearmanr(a.ravel(), b.ravel()).statistic if a.max() > a.min() else 0.0
                     for a, b in zip(up, reference)])


rho = {m: rank_correlation(cams[m].heatmaps, occluded.heatmaps) for m in METHODS}
for m in METHODS:
    (mean, lo, hi), (d, d_lo, d_hi) = metrics.bootstrap_ci(rho[m]), metrics.bootstrap_ci(rho[m] - rho["gradcam"])
    print(f"{m:11s} rho with occlusion {mean:.2f} [{lo:.2f}, {hi:.2f}]   "
          f"minus Grad-CAM's {d:+.3f} [{d_lo:+.3f}, {d_hi:+.3f}]")

# %% [markdown]
# Now change the *reference* instead of the method: 8-pixel patches (about half a shape) instead of 16, or black
# patches instead of blurred ones.

# %%
references = {"16 px, blurred": occluded}
for label, patch, substrate in (("8 px, blurred", 8, "blur"), ("16 px, black", 16, "zeros")):
    references[label] = gc.occlusion_sensitivity(flat.model, x_test, class_index=test.labels, patch=patch,
                                                 stride=8, substrate=substrate)
by_reference = {label: {m: rank_correlation(cams[m].heatmaps, r.heatmaps) for m in METHODS}
                for label, r in references.items()}
for label, rhos in by_reference.items():
    peak = metrics.pointing_game(references[label].heatmaps, test.masks).mean()
    print(f"occlusion {label:14s} (its own peak on the shape: {peak:.0%}) mean rho: "
          + ", ".join(f"{m} {v.mean():.2f}" for m, v in rhos.items()))

# %% [markdown]
# Last, a method that cannot know the class. EigenCAM looks only at the activations, so every class gets the same
# map. Ask each method about a *wrong* class (the next one in the list) and compare with the occlusion map of the
# true class:

# %%
wrong, empty = (test.labels + 1) % len(names), {}
for m in ("gradcam", "eigencam"):
    with warnings.catch_warnings(action="ignore", category=gc.EmptyHeatmapWarning):  # counted below instead
        asked_wrong = gc.explain(flat.model, x_test, class_index=wrong, method=m).heatmaps
    empty[m] = (asked_wrong.max(axis=(1, 2)) == 0).sum()
    rho[m, "wrong"] = rank_correlation(asked_wrong, occluded.heatmaps)
    print(f"{m:9s} map of a wrong class vs occlusion of the true class: rho {rho[m, 'wrong'].mean():.2f} "
          f"({empty[m]} of 30 maps empty); largest change from the true class's map "
          f"{np.abs(asked_wrong - cams[m].heatmaps).max():.2f}")

# %% [markdown]
# What the numbers say:
# - Against one occlusion reference (16-pixel blurred patches) the six methods agree about equally, with a mean
#   $\rho$ of about 0.7; only HiResCAM's paired difference from Grad-CAM (about -0.04) excludes 0.
# - Change the reference and every method moves together, and much further: about 0.3 with 8-pixel patches,
#   about 0.5 with black ones. All three references put their own peak on the shape in most pictures; they
#   differ in how they order the other pixels, the background that makes up about 95% of each picture, and a rank
#   correlation over all pixels counts every one of them.
# - EigenCAM's map does not change at all when asked about a wrong class, and still agrees with the occlusion of
#   the true class as well as before; Grad-CAM's map of the wrong class falls far below (several of its maps are
#   empty: no evidence for that class). On pictures of one shape, "where is the object" and "where is the
#   evidence for this class" are the same pixels, so agreeing with occlusion cannot tell a class explanation from
#   an object detector.
#
# So a high rank correlation shows that a map orders the pixels as the logit reacts when they are hidden, **under
# these choices** of patch and substitute. It does not prove the map faithful: occlusion is itself an explanation,
# with choices of its own (patch size, substitute, one patch at a time, so regions that matter only together are
# missed), and here those choices moved the number far more than the method did. Report the reference's settings
# with the correlation, and test on pictures where a wrong answer would show, such as the two shapes of section 1.

# %%
spread_methods = max(np.ptp([v.mean() for v in rhos.values()]) for rhos in by_reference.values())
spread_references = min(np.ptp([by_reference[label][m].mean() for label in references]) for m in METHODS)
print(f"largest spread between the methods {spread_methods:.2f}; "
      f"smallest spread between the references {spread_references:.2f}")
assert all(0.6 < rho[m].mean() < 0.8 for m in METHODS), "the text: about 0.7 for every method"
assert all(metrics.bootstrap_ci(rho[m] - rho["gradcam"])[1] < 0 < metrics.bootstrap_ci(rho[m] - rho["gradcam"])[2]
           for m in METHODS[2:]), "the text: only HiResCAM's paired difference excludes 0"
assert metrics.bootstrap_ci(rho["hirescam"] - rho["gradcam"])[2] < 0, "HiResCAM's difference excludes 0"
assert all(v.mean() < 0.4 for v in by_reference["8 px, blurred"].values()), "about 0.3 with 8-pixel patches"
assert all(0.4 < v.mean() < 0.6 for v in by_reference["16 px, black"].values()), "about 0.5 with black patches"
assert spread_references > 3 * spread_methods, "the text: the reference moves the number more than the method"
assert all(metrics.pointing_game(r.heatmaps, test.masks).mean() > 0.7 for r in references.values()), "own peaks"
assert np.allclose(rho["eigencam", "wrong"], rho["eigencam"]), "EigenCAM: the same map for every class"
assert empty["gradcam"] > 0 and rho["gradcam", "wrong"].mean() < rho["gradcam"].mean() - 0.3, "Grad-CAM falls"

# %% [markdown]
# ### The ViT, asked by occlusion
# Occlusion needs no layer, so it can ask `shapes_vit` directly whether it uses the shape: cover the shape, and does
# the logit drop? The same 30 pictures and settings (16-pixel blurred patches), then the rank correlation of the
# ViT's Grad-CAM maps with the ViT's own occlusion map, at the default layer and before any attention.

# %%
x_vit_test = vit.preprocess(test.images)
vit_occluded = gc.occlusion_sensitivity(vit.model, x_vit_test, class_index=test.labels, patch=16, stride=8,
                                        substrate="blur")
vit_peak = metrics.pointing_game(vit_occluded.heatmaps, test.masks)
print(f"the ViT's occlusion map peaks on the shape in {vit_peak.mean():.0%} of the 30 pictures")
with warnings.catch_warnings(action="ignore", category=gc.EmptyHeatmapWarning):  # an empty map counts as rho 0
    for layer in (vit.last_conv_layer, "patch_embed"):
        r = gc.explain(vit.model, x_vit_test, layer_name=layer, class_index=test.labels)
        rho["vit", layer] = rank_correlation(r.heatmaps, vit_occluded.heatmaps)
        m, lo, hi = metrics.bootstrap_ci(rho["vit", layer])
        print(f"ViT Grad-CAM at {layer:12s} rho with the ViT's occlusion map {m:.2f} [{lo:.2f}, {hi:.2f}]")

# %% [markdown]
# Covering the shape is what lowers the ViT's logit most in about 4 pictures of 5: the model does use the shape.
# Its Grad-CAM map at the default layer is unrelated to that occlusion map (the interval contains 0), and the map
# before any attention agrees with it somewhat. So the poor localisation of section 2 is Grad-CAM failing to read
# this transformer at that layer, not the transformer looking elsewhere, as far as this occlusion can tell.

# %%
default_rho, before_rho = rho["vit", vit.last_conv_layer], rho["vit", "patch_embed"]
assert 0.7 < vit_peak.mean() < 0.9, "the text: about 4 pictures of 5"
assert metrics.bootstrap_ci(default_rho)[1] < 0 < metrics.bootstrap_ci(default_rho)[2], "the text: contains 0"
assert metrics.bootstrap_ci(before_rho)[1] > 0 and before_rho.mean() < 0.5, "the text: agrees somewhat"

# %% [markdown]
# ## Summary
# - `target=` explains any differentiable score of the output. A class map shows all the evidence *for* a class,
#   including evidence it shares with another: here the map of "square" pointed at the circle more often than at
#   the square. `Difference(a, b)` keeps what separates the two, on a GAP head exactly
#   $\mathrm{ReLU}(\mathrm{CAM}_a - \mathrm{CAM}_b)$.
# - On a Vision Transformer, the last layer that can give a map is the input of the last attention: after it, the
#   patch tokens no longer reach the class token, and the map is empty. Whether that map localises is a matter
#   of measuring: on `shapes_vit` it points at the shape far less often than the CNN's and is unrelated to the
#   ViT's own occlusion map, although occlusion shows that the ViT uses the shape; a map taken before any
#   attention localises best. Say what else differs (the grid, one model, one training run).
# - A segmentation has no single score: choose one, such as a class's logits summed over a region
#   (`RegionScore`), and check on the masks that the map points at the region's own object and not at its
#   neighbour.
# - A multi-label model gets one map per label, each explaining that label's logit (`MultiLabel`).
# - Occlusion is a useful reference, not a ground truth: report its settings, which can move a rank correlation
#   more than the method does, and remember that a method that ignores the class can agree with it.
#
# ## Exercises
# Try first; worked solutions are in `solutions/08_beyond_the_cnn_classifier.md`.
#
# **1.** Section 1 explained "square rather than circle". Predict first: on the same 60 pictures, in what share of
# them does the map of **circle rather than square** put its peak on the circle? More or less often than 0.92?
# Then compute it.

# %%
from gradcam_utils.exercises import VIT_LAYER_CHOICES, check_circle_rather_than_square, check_empty_vit_layers
from gradcam_utils.exercises import check_occlusion_rho_24

circle_pointing = None   # a share between 0 and 1
check_circle_rather_than_square(circle_pointing)

# %% [markdown]
# **2.** Predict before you run anything: which of these layers of `shapes_vit` give an empty Grad-CAM map (for
# every picture)? Answer with a set of names, then check your reasoning with `gc.explain(vit.model, x_vit,
# layer_name=...)`.

# %%
print(VIT_LAYER_CHOICES)
empty_layers = None   # a set of names, e.g. {"final_norm"}
check_empty_vit_layers(empty_layers)

# %% [markdown]
# **3.** Predict first: with **24-pixel** blurred patches (stride 8), does Grad-CAM's mean $\rho$ with occlusion rise
# above or fall below the 0.7 it had with 16-pixel patches? Then compute it, on the same 30 pictures, with
# `rank_correlation`.

# %%
rho_24 = None   # a number
check_occlusion_rho_24(rho_24)

# %% [markdown]
# ## References
# - Selvaraju et al. "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization." ICCV 2017
#   (extended in IJCV 2020).
# - Zhou et al. "Learning Deep Features for Discriminative Localization." CVPR 2016 (CAM).
# - Dosovitskiy et al. "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale." ICLR 2021
#   (the Vision Transformer and its class token).
# - Abnar, Zuidema. "Quantifying Attention Flow in Transformers." ACL 2020 (attention rollout).
# - Zeiler, Fergus. "Visualizing and Understanding Convolutional Networks." ECCV 2014 (occlusion sensitivity).
# - Muhammad, Yeasin. "Eigen-CAM: Class Activation Map using Principal Components." IJCNN 2020.
# - Desai, Ramaswamy. "Ablation-CAM: Visual Explanation for Deep Convolutional Network via Gradient-free
#   Localization." WACV 2020.
# - Draelos, Carin. "Use HiResCAM instead of Grad-CAM for faithful explanations of convolutional neural
#   networks." arXiv 2011.08891, 2020.
# - Chattopadhay et al. "Grad-CAM++: Generalized Gradient-based Visual Explanations for Deep Convolutional
#   Networks." WACV 2018.
# - Wang et al. "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks." CVPR Workshops
#   2020 (also the energy-based pointing game).
# - Zhang et al. "Top-down Neural Attention by Excitation Backprop." ECCV 2016 (the pointing game).
# - Gildenblat and contributors. "pytorch-grad-cam." GitHub, 2021 (its reshape transforms and target callables for
#   transformers, segmentation and several labels).
#
# The full bibliography is in `references.md`.
