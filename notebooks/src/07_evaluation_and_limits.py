# %% [markdown]
# # 07 · Is the map right? Comparing methods, measuring faithfulness, knowing the limits
#
# **Learning goals.** After this notebook you can:
# 1. compare the CAM family (Grad-CAM, HiResCAM, XGrad-CAM, Grad-CAM++, LayerCAM, Score-CAM) on a model where
#    they really differ, and tell a real difference from noise with a confidence interval;
# 2. score maps two ways: against ground truth (pointing game, energy) and against the model itself
#    (deletion/insertion, Average Drop), and say why the pixels a deletion test puts in must look natural;
# 3. run the model-randomisation **sanity check** and read it: Grad-CAM passes, Guided Backprop fails, and
#    Guided Grad-CAM, the product of the two, lands in between;
# 4. count what each method costs in forward and backward passes;
# 5. recognise where Grad-CAM breaks: early layers, small objects, several instances, models without a spatial
#    layer.
#
# Most of the measuring happens on the course's shapes classifiers, where the true object pixels are known. Every
# number the text states is computed in the cell above it, with its uncertainty, and checked by an `assert`.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import numpy as np
import matplotlib.pyplot as plt
from gradcam_utils import faithfulness, metrics
from gradcam_utils.synthetic import make_shapes

flat = gc.load_model("shapes_flat")   # conv body, then Flatten + Dense: a weight for every position
gap = gc.load_model("shapes_gap")     # the same conv body, then global average pooling + Dense
test = make_shapes(300, seed=70)      # pictures no model was trained on; test.masks = the true object pixels
x = flat.preprocess(test.images)      # both models take the same input
names = flat.class_names
GRADIENT_METHODS = ["gradcam", "hirescam", "xgradcam", "gradcam++", "layercam"]
results = {m: gc.explain(flat.model, x, class_index=test.labels, method=m) for m in GRADIENT_METHODS}

# %% [markdown]
# ## 1. The family side by side
# All of them weight the same feature maps $A^k$ of the last conv layer; they differ in the weights (notebook 02
# and `gradcam_utils/methods.py` give the formulas). Grad-CAM (Selvaraju et al., ICCV 2017) averages the gradient
# over all positions; HiResCAM (Draelos & Carin, 2020) multiplies gradient and activation position by position;
# XGrad-CAM (Fu et al., BMVC 2020) averages the gradient weighted by the activation; Grad-CAM++ (Chattopadhay et
# al., WACV 2018) and LayerCAM (Jiang et al., IEEE TIP 2021) keep only positive gradients, in different ways;
# Score-CAM (Wang et al., CVPRW 2020) uses no gradient at all: it scores the picture masked by each channel.
#
# Behind a **global-average-pooling** head the gradient is the same at every position, so Grad-CAM, HiResCAM and
# XGrad-CAM coincide by construction. The course's `shapes_flat` model flattens the last feature map into a dense
# layer instead: every position has its own weights, and the methods part ways.

# %%
same = {m: gc.compute_heatmaps(gap.model, x[:50], class_index=test.labels[:50], method=m)
        for m in ("gradcam", "hirescam", "xgradcam")}
gap_diff = max(np.abs(same["gradcam"] - same[m]).max() for m in ("hirescam", "xgradcam"))
flat_diff = {m: np.abs(results["gradcam"].heatmaps - results[m].heatmaps).mean() for m in GRADIENT_METHODS[1:]}
print(f"GAP head:  largest |map - Grad-CAM map| of HiResCAM and XGrad-CAM: {gap_diff:.0e}")
print("flat head: mean |map - Grad-CAM map| per pixel (maps in [0, 1]):",
      ", ".join(f"{m} {d:.3f}" for m, d in flat_diff.items()))
assert gap_diff < 1e-4 and min(flat_diff.values()) > 100 * gap_diff

# %% [markdown]
# Score-CAM costs one forward pass per channel (section 4), so it gets the first 60 pictures only. Here are the
# maps of six methods for three pictures; the white line is the object's true outline.

# %%
results["scorecam"] = gc.explain(flat.model, x[:60], class_index=test.labels[:60], method="scorecam")
METHODS = GRADIENT_METHODS + ["scorecam"]
shown, pictures, maps, titles = [0, 1, 2], [], [], []
for i in shown:
    for m in METHODS:
        r = results[m]
        pictures.append(test.images[i]); maps.append(r.heatmaps[i])
        titles.append(f"{m}\n" + gc.explained_title(names[r.class_indices[i]], r.scores[i],
                                                    predicted=names[r.logits[i].argmax()]))
fig, axes = gc.show_heatmaps(pictures, maps, titles, ncols=len(METHODS), panel_size=2.5)
for ax, i in zip(axes.flat, np.repeat(shown, len(METHODS))):
    ax.contour(test.masks[i], levels=[0.5], colors="white", linewidths=1)
plt.show()

# %% [markdown]
# The pictures hint at differences; the numbers decide. For each method: how often its peak lies on the object
# (pointing game, Zhang et al., ECCV 2016) and which share of its mass does (the energy-based pointing game of
# Wang et al., CVPRW 2020), with a 95% bootstrap interval over the pictures (`metrics.bootstrap_ci`). The object
# covers about 5% of each picture, so an energy share of 0.05 would be chance.

# %%
hits = {m: metrics.pointing_game(r.heatmaps, test.masks[:len(r.heatmaps)]) for m, r in results.items()}
energy = {m: metrics.energy_pointing_game(r.heatmaps, test.masks[:len(r.heatmaps)]) for m, r in results.items()}
print(f"object area {test.masks.mean():.3f} of the picture; mean [95% interval]")
for m in METHODS:
    p, e = metrics.bootstrap_ci(hits[m]), metrics.bootstrap_ci(energy[m])
    print(f"{m:10s} {len(hits[m]):3d} pictures  pointing {p[0]:.2f} [{p[1]:.2f}, {p[2]:.2f}]"
          f"  energy {e[0]:.3f} [{e[1]:.3f}, {e[2]:.3f}]")

# %% [markdown]
# Two methods scored on the same pictures are best compared picture by picture: the interval of the *paired*
# difference says whether it could be chance (it contains 0) or not.

# %%
paired = {}
for m in METHODS[1:]:
    n = len(hits[m])
    paired[m] = {"pointing": metrics.bootstrap_ci(hits[m].astype(float) - hits["gradcam"][:n]),
                 "energy": metrics.bootstrap_ci(energy[m] - energy["gradcam"][:n])}
    print(f"{m:10s} minus gradcam:  " + "   ".join(
        f"{score} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]{' *' if lo > 0 or hi < 0 else ''}"
        for score, (d, lo, hi) in paired[m].items()))
print("* the interval excludes 0")

# %% [markdown]
# What the intervals allow us to say on this model:
# - **Pointing**: Grad-CAM++ puts its peak on the object more often than Grad-CAM, and HiResCAM much less often
#   (its peak follows single strong gradient-times-activation positions, sometimes beside the object).
#   XGrad-CAM and LayerCAM stay within about 3 points of Grad-CAM, and their intervals reach 0: not a
#   difference we can claim. Score-CAM, on 60 pictures only, cannot be told from Grad-CAM either.
# - **Energy**: every method puts about 5 times the chance share on the object. The differences between methods
#   are about 0.01: measurable with 300 paired pictures, far too small to matter.
#
# So "which method is best" depends on the score: decide what "right" means before choosing, and report the
# interval with the number.

# %%
def real(m, score, sign):  # the paired interval lies entirely above (sign +1) or below (sign -1) zero
    d, lo, hi = paired[m][score]
    return lo > 0 if sign > 0 else hi < 0

assert real("gradcam++", "pointing", +1) and real("hirescam", "pointing", -1)
assert not real("xgradcam", "pointing", +1) and not real("xgradcam", "pointing", -1)
assert not real("layercam", "pointing", +1) and not real("layercam", "pointing", -1)
assert not real("scorecam", "pointing", +1) and not real("scorecam", "pointing", -1)
assert all(abs(paired[m]["energy"][0]) < 0.02 for m in METHODS[1:])
assert all(4 < energy[m].mean() / test.masks.mean() < 6 for m in METHODS)

# %% [markdown]
# ## 2. Is the map faithful to the model?
# Ground truth asks whether the map is on the object. Faithfulness asks whether the map points at what the
# *model* uses (Petsiuk et al., RISE, BMVC 2018): delete the pixels the map ranks highest first, and the class
# probability should collapse quickly (**deletion** AUC, lower is better); reveal them first on a blurred picture,
# and it should come back quickly (**insertion** AUC, higher is better). **Average Drop** (Chattopadhay et al., WACV
# 2018) asks how much probability is lost when the picture is multiplied by the map (lower is better). A random
# map is the baseline every method must beat.
#
# But what does a deleted pixel become? Painting it black puts scattered black dots on the picture: a picture the
# model never saw in training. Let us delete a *random* 1/16 of the pixels, which should hardly matter.

# %%
rng = np.random.default_rng(0)
dots = rng.uniform(size=x.shape[:3])[..., None] < 1 / 16   # a random 1/16 of each picture's pixels
rows = np.arange(len(x))
probability = lambda images: gc.class_probabilities(flat.model, images)[rows, test.labels]
p_clean = probability(x)
p_black = probability(np.where(dots, 0.0, x).astype(np.float32))
p_blur = probability(np.where(dots, faithfulness.blur(x), x).astype(np.float32))
print(f"probability of the true class: untouched {p_clean.mean():.2f}, 1/16 deleted to black "
      f"{p_black.mean():.2f}, 1/16 deleted to a blurred copy {p_blur.mean():.2f}")
assert p_black.mean() < p_clean.mean() - 0.2 and p_blur.mean() > p_clean.mean() - 0.05

# %% [markdown]
# With black as the substitute the probability falls although nothing the model needs was removed: the test would
# measure the damage of out-of-distribution dots, and a random map would score as well as a good one. That is why
# ROAR (Hooker et al., NeurIPS 2019) retrains the model on perturbed pictures and ROAD (Rong et al., ICML 2022)
# fills deleted pixels from their neighbours. The library's deletion now replaces pixels by a blurred copy of the
# picture by default (`substrate="blur"`, RISE's insertion substrate), which a random 1/16 barely moves.
#
# The table scores three methods against the random map, on the first 80 pictures (the curves cost 2 x 9 forward
# passes per picture and method), with 95% intervals.

# %%
n, steps = 80, 8
rng = np.random.default_rng(1)
candidates = {m: results[m].heatmaps[:n] for m in ["gradcam", "gradcam++", "hirescam"]}
candidates["random"] = rng.uniform(size=candidates["gradcam"].shape).astype(np.float32)
faithful = {}
for m, mp in candidates.items():
    faithful[m] = {
        "deletion": faithfulness.deletion_curve(flat.model, x[:n], mp, test.labels[:n], steps=steps).auc,
        "insertion": faithfulness.insertion_curve(flat.model, x[:n], mp, test.labels[:n], steps=steps).auc,
        "avg drop %": 100 * faithfulness.confidence_change(flat.model, x[:n], mp, test.labels[:n]).drops,
        "pointing": metrics.pointing_game(mp, test.masks[:n]), "energy": metrics.energy_pointing_game(mp, test.masks[:n])}

# %%
print(f"{'':10s}" + "".join(f"{score:>22s}" for score in faithful["random"]) + "   mean map value")
for m, scores in faithful.items():
    cells = [metrics.bootstrap_ci(v) for v in scores.values()]
    print(f"{m:10s}" + "".join(f"{e:8.2f} [{lo:5.2f},{hi:5.2f}]" for e, lo, hi in cells)
          + f"   {candidates[m].mean():.2f}")
print("lower is better: deletion, avg drop %; higher is better: insertion, pointing, energy")

# %%
better = {"deletion": -1, "insertion": +1, "avg drop %": -1, "pointing": +1, "energy": +1}
beats = {}
for m in candidates:
    if m != "random":
        beats[m] = {s: metrics.bootstrap_ci(sign * (faithful[m][s] - faithful["random"][s].astype(float)))[1] > 0
                    for s, sign in better.items()}
        print(f"{m:10s} beats the random map (paired interval above 0) on:", [s for s, ok in beats[m].items() if ok])
assert all(beats[m][s] for m in beats for s in better if (m, s) != ("hirescam", "avg drop %"))
assert not beats["hirescam"]["avg drop %"] and candidates["hirescam"].mean() < 0.7 * candidates["gradcam"].mean()

# %% [markdown]
# With a substitute that keeps the picture natural, every method beats the random map on deletion, insertion,
# pointing and energy, and the intervals say it is not chance. One exception: HiResCAM's **Average Drop** is no
# better than the random map's. Its maps are concentrated on a few cells (their mean value, last column, is well
# below Grad-CAM's), so multiplying the picture by the map darkens most of the object too: Average Drop rewards broad
# maps as much as faithful ones. Deletion and insertion, which only use the *order* of the pixels, do not rank the
# three methods (their intervals overlap).
#
# ## 3. The sanity check: does the map depend on the model?
# An explanation of a model must change when the model's learned weights are destroyed (Adebayo et al., NeurIPS
# 2018). The test re-initialises the layers one by one from the top (on a *copy*; the model is untouched) and
# measures how similar each map stays to the trained model's (Spearman rank correlation: 1 = unchanged,
# 0 = unrelated). We run it on `shapes_gap` with 32 pictures and three random seeds for the new weights.

# %%
from gradcam_utils.sanity import cascading_randomization

sanity = cascading_randomization(gap.model, x[:32], class_index=test.labels[:32], seed=[0, 1, 2], keep_maps=True)
print(sanity.summary())
curves = {name: np.nanmean(values.reshape(sanity.steps, len(sanity.seeds), -1), axis=2)  # (steps, seeds)
          for name, values in [("Grad-CAM", sanity.gradcam), ("Guided Backprop", sanity.guided_backprop),
                               ("Guided Grad-CAM", sanity.guided_gradcam)]}
print("empty Grad-CAM maps (no positive evidence, left out) per step:",
      np.round(sanity.empty_gradcam.mean(axis=1), 2).tolist())

# %% tags=["nbval-ignore-output"]
step_names = ["trained"] + [names_so_far[-1] for names_so_far in sanity.layers]
for name, per_seed in curves.items():
    mean = np.concatenate([[1.0], per_seed.mean(axis=1)])
    low, high = np.concatenate([[1.0], per_seed.min(axis=1)]), np.concatenate([[1.0], per_seed.max(axis=1)])
    plt.errorbar(np.arange(len(mean)), mean, yerr=[mean - low, high - mean], marker="o", capsize=3, label=name)
plt.xticks(np.arange(len(step_names)), step_names); plt.ylim(-0.15, 1.05); plt.axhline(0, color="grey", lw=0.5)
plt.xlabel("randomised from the top down to"); plt.ylabel("rank correlation with the trained maps")
plt.title("mean over 32 pictures; bars: lowest and highest of the 3 seeds"); plt.legend(); plt.show()

# %% [markdown]
# The figure that made the sanity-check paper known: one picture, its maps under the trained model and after each
# step. Every column explains the same class; its score changes with the weights.

# %%
m, i = sanity.maps, 0
fig, axes = plt.subplots(3, sanity.steps + 1, figsize=(15, 6.8), layout="constrained")
for step in range(sanity.steps + 1):
    logits = m["logits"][step, i]
    axes[0, step].set_title(f"{'random down to ' if step else ''}{step_names[step]}\nmap of '{names[sanity.class_indices[i]]}' "
                            f"(logit {logits[sanity.class_indices[i]]:.1f})\npredicted '{names[logits.argmax()]}'",
                            fontsize=8)
    axes[0, step].imshow(gc.overlay_heatmap(test.images[i], m["gradcam"][step, i], alpha=0.5))
    for row, key in [(1, "guided_backprop"), (2, "guided_gradcam")]:
        axes[row, step].imshow(m[key][step, i] / max(m[key][step, i].max(), 1e-12), cmap="gray", vmin=0, vmax=1)
for row, label in enumerate(["Grad-CAM", "|Guided Backprop|", "|Guided Grad-CAM|"]):
    axes[row, 0].set_ylabel(label)
for ax in axes.flat:
    ax.set_xticks([]); ax.set_yticks([])
gc.figures.add_colorbar(fig, axes[0], "jet"); gc.figures.add_colorbar(fig, axes[1:], "gray"); plt.show()

# %% [markdown]
# What the numbers show (the means are over 32 pictures x 3 seeds; the bars give the spread between seeds):
# - **Grad-CAM passes.** With only the logits random, a Grad-CAM map is a new weighted sum of the same trained
#   feature maps, which all fire on the object: many maps have no positive evidence left at all (empty, left out
#   of the mean), the others still resemble the trained maps. Once `conv5` is random too, the maps keep only a
#   weak resemblance to the trained ones. It does not reach 0: even a random conv net responds most where the picture has structure, and
#   here the only structure is the object.
# - **Guided Backprop fails.** Its maps stay almost unchanged (above 0.8 for every seed) while the logits,
#   `conv5` and `conv4` are random, and still resemble the trained maps with `conv3` random; they change only
#   when `conv2` and `conv1`, which see the pixels directly, are re-initialised. It shows the picture's edges as
#   the lowest layers see them, not what the network learned.
# - **Guided Grad-CAM lands in between.** It is Grad-CAM's map times guided backprop, pixel by pixel: it changes
#   as much as its Grad-CAM factor lets it, and its guided-backprop factor keeps the edges. Adebayo et al. found
#   it, like Guided Backprop, much less sensitive than the gradient maps; here it stays above Grad-CAM but far
#   below Guided Backprop until `conv2` is random, and then falls below Grad-CAM with its guided factor.
#
# That is why notebook 04 used guided backprop only for detail inside the region Grad-CAM chose.

# %%
grad, backprop, guided_gc = (curves[k].mean(axis=1) for k in ("Grad-CAM", "Guided Backprop", "Guided Grad-CAM"))
assert curves["Grad-CAM"][1].max() < 0.6 and curves["Guided Backprop"][:3].min() > 0.8   # every seed
assert sanity.empty_gradcam[0].mean() > 0.2 and grad[0] > grad[1] + 0.2
assert backprop[3] > 0.6 and backprop[4] < 0.2 and backprop[5] < 0.2 and grad[1:].min() > 0.1
assert (grad[1:4] < guided_gc[1:4]).all() and (guided_gc[1:4] < backprop[1:4] - 0.25).all()
assert (guided_gc[4:] < grad[4:]).all()

# %% [markdown]
# ## 4. What each method costs
# Every method in the family starts from **one forward and one backward pass** for the whole batch; the backward
# pass only runs from the score down to the chosen layer. Score-CAM then runs the model **once more per channel**
# of the layer, on the picture masked by that channel's map. The library batches Score-CAM's passes
# (`batch_size`), which makes it faster but not cheaper. Here are the counts per picture on the ImageNet model
# (exercise 1 asks you for the shapes model's before you compute them).

# %%
from gradcam_utils.methods import passes_per_image

imagenet = gc.load_model("efficientnet_lite0")
channels = imagenet.model.get_layer("top_activation").output.shape[-1]
costs = ", ".join(f"{m} {passes_per_image(m, channels)}" for m in ["gradcam", "layercam", "scorecam"])
print(f"efficientnet_lite0 top_activation ({channels} channels): {costs}  (forward, backward)")

# %% [markdown]
# ## 5. Where Grad-CAM breaks
# ### Early layers
# Grad-CAM averages the gradient over the map. At the last layer that average is meaningful; at early layers the
# gradient changes sign from one position to the next, the average washes out, and the map turns noisy. LayerCAM
# weighs each position by its own positive gradient (Jiang et al., IEEE TIP 2021). Measured on `shapes_gap`, 100
# pictures:

# %%
import warnings
warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)   # from here on, an empty map simply counts as a miss
LAYERS = ["conv5_act", "conv4_act", "conv3_act", "conv2_act"]
early = {(layer, m): gc.explain(gap.model, x[:100], layer, test.labels[:100], m)
         for layer in LAYERS for m in ("gradcam", "layercam")}
pointing = {key: metrics.bootstrap_ci(metrics.pointing_game(r.heatmaps, test.masks[:100]))
            for key, r in early.items()}
for layer in LAYERS:
    print(f"{layer:10s} pointing game: " + "   ".join(
        f"{m} {pointing[layer, m][0]:.2f} [{pointing[layer, m][1]:.2f}, {pointing[layer, m][2]:.2f}]"
        for m in ("gradcam", "layercam")))

# %% [markdown]
# One layer down (`conv4_act`) LayerCAM still points at the object almost every time and Grad-CAM clearly less
# often; at `conv3_act` and `conv2_act` both miss about half of the time or more (chance would be about 5%), and
# at `conv2_act` LayerCAM does even worse than Grad-CAM: those layers respond to edges and texture, not to whole
# shapes. The maps of one picture, with the object's outline in white:

# %%
i, panels = 3, [(layer, m) for m in ("gradcam", "layercam") for layer in LAYERS]
titles = [f"{m} @ {layer}\n" + gc.explained_title(names[early[layer, m].class_indices[i]],
                                                   early[layer, m].scores[i]) for layer, m in panels]
maps = np.stack([gc.upsample_heatmap(early[key].heatmaps[i], (64, 64)) for key in panels])  # conv2 is 32x32
fig, axes = gc.show_heatmaps(test.images[i], maps, titles, ncols=4)
for ax in axes.flat:
    ax.contour(test.masks[i], levels=[0.5], colors="white", linewidths=1)
plt.show()

# %%
lo, hi = (lambda layer, m: pointing[layer, m][1]), (lambda layer, m: pointing[layer, m][2])
assert lo("conv4_act", "layercam") > hi("conv4_act", "gradcam") and pointing["conv4_act", "layercam"][0] > 0.9
assert all(pointing[layer, m][0] < 0.7 for layer in LAYERS[2:] for m in ("gradcam", "layercam"))
assert hi("conv2_act", "layercam") < lo("conv2_act", "gradcam")

# %% [markdown]
# ### Small objects
# One cell of the last layer covers 4×4 pixels, and the map is smoothed over the receptive field. For objects of
# a few pixels the map is much larger than the object: the share of its energy on the object drops.

# %%
sizes, small = [(6, 8), (12, 16), (20, 24)], {}
for size in sizes:
    batch = make_shapes(100, seed=71, size_range=size)
    r = gc.explain(gap.model, gap.preprocess(batch.images), class_index=batch.labels)
    small[size] = (batch, r)
    accuracy = metrics.bootstrap_ci(r.logits.argmax(1) == batch.labels)
    e = metrics.bootstrap_ci(metrics.energy_pointing_game(r.heatmaps, batch.masks))
    print(f"objects {size[0]:2d}-{size[1]:2d} px: accuracy {accuracy[0]:.2f} [{accuracy[1]:.2f}, {accuracy[2]:.2f}]"
          f"  energy on object {e[0]:.2f} [{e[1]:.2f}, {e[2]:.2f}]  (object area {batch.masks.mean():.3f})")
    small[size] += (accuracy, e, batch.masks.mean())

# %%
pictures, maps, titles = [], [], []
for size, (batch, r, *_) in small.items():
    for j in range(4):
        pictures.append(batch.images[j]); maps.append(r.heatmaps[j])
        titles.append(f"objects {size[0]}-{size[1]} px\n" + gc.explained_title(
            names[r.class_indices[j]], r.scores[j], predicted=names[r.logits[j].argmax()]))
fig, axes = gc.show_heatmaps(pictures, maps, titles, ncols=4, panel_size=2.7)
for k, ax in enumerate(axes.flat):
    ax.contour(small[sizes[k // 4]][0].masks[k % 4], levels=[0.5], colors="white", linewidths=1)
plt.show()

# %% [markdown]
# At 6-8 pixels the model itself mostly fails, and the little evidence it finds is spread far beyond the object;
# even at 12-16 pixels, where it is right almost always, about four fifths of the map lie off the object, and at
# 20-24 pixels still about two thirds.

# %%
(_, _, acc6, e6, _), (_, _, acc12, e12, _), (_, _, acc20, e20, _) = small.values()
assert acc6[2] < 0.5 and acc12[1] > 0.9 and acc20[1] > 0.9
assert e6[2] < 0.1 and 0.7 < 1 - e12[0] < 0.85 and 0.6 < 1 - e20[0] < 0.72 and e6[2] < e12[1] and e12[2] < e20[1]

# %% [markdown]
# ### Several instances
# Two cats side by side, on the ImageNet model. Grad-CAM finds evidence on both, but a map is one surface per
# *class*: it cannot say that there are two cats, and the paper's box recipe (threshold at 15% of the peak, box the
# largest region) draws **one** box around both, which overlaps neither cat well (IoU < 0.5 counts as a miss).
# Grad-CAM++, designed with several instances in mind (Chattopadhay et al., WACV 2018), behaves the same here.

# %%
cat = gc.load_image("../data/images/cat.png", size=(112, 112))
twins = np.full((224, 224, 3), 128, np.uint8)
twins[56:168, :112], twins[56:168, 112:] = cat, cat[:, ::-1]
cats = [(56, 0, 168, 112), (56, 112, 168, 224)]   # (y0, x0, y1, x1) of each cat
twin = {}
for method in ("gradcam", "gradcam++"):
    r = gc.explain(imagenet.model, imagenet.preprocess(twins), method=method)
    up = gc.upsample_heatmap(r.heatmaps[0], (224, 224))
    box = metrics.weakly_supervised_box(up, threshold=0.15)
    twin[method] = (r, up, box, [float(metrics.box_iou(box, c)) for c in cats], up[:, :112].sum() / up.sum())
    print(f"{method:10s} share on the left cat {twin[method][4]:.2f}  box {list(box)}  IoU with each cat "
          f"{[round(v, 2) for v in twin[method][3]]}")

# %%
fig, axes = gc.show_heatmaps(twins, np.stack([twin[m][1] for m in twin]), [
    gc.explained_title(imagenet.class_names[r.class_indices[0]], r.scores[0], method=m,
                       predicted=imagenet.class_names[r.logits[0].argmax()]) for m, (r, *_) in twin.items()],
    panel_size=3.6, suptitle="dashed white: the two true cats; magenta: the one box the map gives")
for ax, (r, up, box, iou, share) in zip(axes.flat, twin.values()):
    for y0, x0, y1, x1 in cats:
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="white", ls="--", lw=1.5))
    y0, x0, y1, x1 = box
    ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="magenta", lw=2))
plt.show()
assert all(max(t[3]) < 0.5 and 0.4 < t[4] < 0.6 for t in twin.values())

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
# - Behind a global-average-pooling head Grad-CAM, HiResCAM and XGrad-CAM are the same map; behind a flattening
#   head they differ, and on this model Grad-CAM++ points at the object more often and HiResCAM less often than
#   Grad-CAM. Energy shares differ by about 0.01: compare with intervals, not by eye.
# - Decide what "right" means before comparing: localisation (pointing, energy) and faithfulness (deletion,
#   insertion, Average Drop). Deleting to black measures out-of-distribution damage; with a natural substitute
#   every method beats a random map.
# - Grad-CAM passes the randomisation sanity check; Guided Backprop fails it; Guided Grad-CAM inherits part of
#   each. Use guided backprop only inside Grad-CAM's region.
# - The CAM family shares one forward and one backward pass; Score-CAM pays a forward pass per channel.
# - Grad-CAM is coarse and class-level: use the last conv layer (LayerCAM one layer down), expect blobs larger
#   than small objects, count instances some other way, and use it only on models with spatial feature maps.
#
# ## Exercises
# Try first; worked solutions are in `solutions/07_evaluation_and_limits.md`.
#
# **1.** Predict before you compute: how many forward passes does Score-CAM cost per picture at `conv5_act` of
# `shapes_gap`, counting the first one (at most, before constant channels are skipped)?

# %%
from gradcam_utils.exercises import check_scorecam_passes, check_lower_deletion

scorecam_passes = None   # a number
check_scorecam_passes(scorecam_passes)

# %% [markdown]
# **2.** First predict, then compute: on the first 20 test pictures, with `flat` and 16 steps of the default
# deletion, which has the lower mean deletion AUC: Grad-CAM's maps (`results["gradcam"]`), or a map that is 1 on
# the true object's pixels and 0 elsewhere (`test.masks`)? Answer `"gradcam"` or `"mask"`.

# %%
lower_deletion = None   # "gradcam" or "mask"
check_lower_deletion(lower_deletion)

# %% [markdown]
# ## References
# - Selvaraju et al. "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization." ICCV 2017
#   (extended in IJCV 2020).
# - Chattopadhay, Sarkar, Howlader, Balasubramanian. "Grad-CAM++: Generalized Gradient-based Visual Explanations
#   for Deep Convolutional Networks." WACV 2018 (also Average Drop and Increase in Confidence).
# - Draelos, Carin. "Use HiResCAM instead of Grad-CAM for faithful explanations of convolutional neural
#   networks." arXiv 2011.08891, 2020.
# - Fu et al. "Axiom-based Grad-CAM: Towards Accurate Visualization and Explanation of CNNs." BMVC 2020
#   (XGrad-CAM).
# - Jiang et al. "LayerCAM: Exploring Hierarchical Class Activation Maps for Localization." IEEE TIP 2021.
# - Wang et al. "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks." CVPR Workshops
#   2020 (also the energy-based pointing game).
# - Zhang et al. "Top-down Neural Attention by Excitation Backprop." ECCV 2016 (the pointing game).
# - Petsiuk, Das, Saenko. "RISE: Randomized Input Sampling for Explanation of Black-box Models." BMVC 2018
#   (deletion and insertion).
# - Hooker, Erhan, Kindermans, Kim. "A Benchmark for Interpretability Methods in Deep Neural Networks." NeurIPS
#   2019 (ROAR).
# - Rong, Leemann, Borisov, Kasneci, Kasneci. "A Consistent and Efficient Evaluation Strategy for Attribution
#   Methods." ICML 2022 (ROAD).
# - Adebayo, Gilmer, Muelly, Goodfellow, Hardt, Kim. "Sanity Checks for Saliency Maps." NeurIPS 2018.
# - Springenberg, Dosovitskiy, Brox, Riedmiller. "Striving for Simplicity: The All Convolutional Net." ICLR 2015
#   workshop (guided backpropagation).
# - Zhou et al. "Learning Deep Features for Discriminative Localization." CVPR 2016 (CAM and its box recipe).
#
# The full bibliography is in `references.md`.
