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
# number the text states is computed next to it (with its uncertainty where things are compared) and checked by an
# `assert`.

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
print("GAP head:  largest |map - Grad-CAM map| of HiResCAM and XGrad-CAM below 1e-4 (float rounding):",
      gap_diff < 1e-4)
print("flat head: mean |map - Grad-CAM map| per pixel (maps in [0, 1]):",
      ", ".join(f"{m} {d:.3f}" for m, d in flat_diff.items()))
assert gap_diff < 1e-4 and min(flat_diff.values()) > 100 * gap_diff, "the text says: identical on GAP, not on flat"
assert flat_diff["xgradcam"] < 0.01 < min(d for m, d in flat_diff.items() if m != "xgradcam"), "XGrad-CAM closest"
assert max(flat_diff, key=flat_diff.get) == "hirescam", "the text says HiResCAM moves furthest from Grad-CAM"

# %% [markdown]
# XGrad-CAM stays closest to Grad-CAM (0.005 per pixel): its weights are still averages over the positions, only
# weighted differently. HiResCAM, which keeps every position's own gradient, moves furthest.
#
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
#   (Grad-CAM++ and Score-CAM hit every time, so their bootstrap interval is [1.00, 1.00]: resampling cannot
#   invent a miss. With no miss in n pictures the true miss rate can still be up to about 3/n: 1% for 300.)
# - **Energy**: every method puts about 5 times the chance share on the object. The differences between methods
#   are about 0.01: measurable with 300 paired pictures, far too small to matter.
#
# So "which method is best" depends on the score: decide what "right" means before choosing, and report the
# interval with the number.

# %%
def real(m, score, sign):  # the paired interval lies entirely above (sign +1) or below (sign -1) zero
    d, lo, hi = paired[m][score]
    return lo > 0 if sign > 0 else hi < 0

assert real("gradcam++", "pointing", +1) and real("hirescam", "pointing", -1), "Grad-CAM++ more, HiResCAM less"
for m in ("xgradcam", "layercam", "scorecam"):
    assert not real(m, "pointing", +1) and not real(m, "pointing", -1), f"the text says {m}: not a difference"
assert all(abs(paired[m]["pointing"][0]) < 0.035 for m in ("xgradcam", "layercam")), "within about 3 points"
assert all(abs(paired[m]["energy"][0]) < 0.02 for m in METHODS[1:]), "energy differences about 0.01"
assert all(4 < energy[m].mean() / test.masks.mean() < 6 for m in METHODS), "about 5 times the chance share"

# %% [markdown]
# **If you compare with pytorch-grad-cam.** Many learners check their maps against
# [pytorch-grad-cam](https://github.com/jacobgil/pytorch-grad-cam), the most used PyTorch implementation. This project
# ran it on the same EfficientNet-Lite0 weights in torch (torch is not part of the course, so this notebook cannot
# repeat that run): its Grad-CAM, HiResCAM, XGrad-CAM and LayerCAM agree with ours to about 2e-6 of the peak, float32
# rounding. Two methods differ by design choices, not by mistakes:
# - **Grad-CAM++**: pytorch-grad-cam adds 1e-6 to the denominator of $\alpha = g^2 / (2g^2 + \sum A \cdot g^3)$, to
#   avoid dividing by zero. That is harmless only where $g^2 \gg 10^{-6}$. At EfficientNet's last layer the gradients
#   are about 1e-3, so $g^2$ is the same size as the constant and $\alpha$ changes. The cells below compute both
#   versions from the same gradients, on the five sample photos.
# - **Score-CAM**: pytorch-grad-cam upsamples the masks with `align_corners=True` and weights each channel by a softmax,
#   over the channels, of the class's logit on the masked image; ours, like the paper, uses the class probability. In
#   that run its maps differed from ours by up to 0.45 of the peak.

# %%
lite = gc.load_model("efficientnet_lite0")
photos = lite.preprocess(lite.load_images(*[gc.sample_image_path(n) for n in gc.sample_images()]))
inputs = gc.gradient_inputs(lite.model, photos, lite.last_conv_layer)
g, A = inputs.gradients.astype(np.float64), inputs.activations.astype(np.float64)


def gradcampp_map(eps):  # eps = 0 in the paper (and here), 1e-6 in pytorch-grad-cam
    denominator = 2 * g**2 + A.sum(axis=(1, 2), keepdims=True) * g**3 + eps
    alpha = np.divide(g**2, denominator, out=np.zeros_like(g), where=denominator != 0)
    cam = np.maximum((A * (alpha * np.maximum(g, 0)).sum(axis=(1, 2))[:, None, None, :]).sum(axis=-1), 0)
    return cam / cam.max(axis=(1, 2), keepdims=True)  # peak 1, as the library normalises


# %%
moved = np.abs(gradcampp_map(0) - gradcampp_map(1e-6)).max(axis=(1, 2))
print(f"median |gradient| = {np.median(np.abs(g)):.1e}")
print("largest difference between the two Grad-CAM++ maps, per photo (1 = the peak):", np.round(moved, 2))
library = gc.compute_heatmaps(lite.model, photos, lite.last_conv_layer, method="gradcam++")
assert np.abs(library - gradcampp_map(0)).max() < 1e-4, "eps = 0 gives the library's Grad-CAM++"
assert 3e-4 < np.median(np.abs(g)) < 3e-3, "the text: the gradients are about 1e-3"
assert 0.03 < moved.max() < 0.1 and moved.min() > 0.005, "the text below: every map moves, by up to about 0.06"

# %% [markdown]
# The constant moves every map, by up to about 0.06 of its peak, and neither library is wrong: they compute two
# slightly different formulas. When two implementations disagree, compare their formulas first.

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
versions = {"untouched": x, "1/16 to black": np.where(dots, 0.0, x).astype(np.float32),
            "1/16 to a blurred copy": np.where(dots, faithfulness.substrate_images(x, "blur"), x)}
p = {name: gc.class_probabilities(flat.model, v)[np.arange(len(x)), test.labels] for name, v in versions.items()}
for name, values in p.items():
    print(f"{name:22s}  p(true class): mean {values.mean():.2f}, below 0.5 on {(values < 0.5).mean():4.0%} of "
          f"the pictures, below 0.01 or above 0.99 on {((values < 0.01) | (values > 0.99)).mean():.0%}")
assert 0.5 < (p["1/16 to black"] < 0.5).mean() < 0.7, "the text says black dots lose the class on ~6 in 10"
assert p["1/16 to a blurred copy"].mean() > p["untouched"].mean() - 0.05, "the text says blurred dots barely do"
assert all(((v < 0.01) | (v > 0.99)).mean() > 0.95 for v in p.values()), "the text says p is almost always 0 or 1"
logit_gap = np.median(np.diff(np.sort(results["gradcam"].logits, axis=1)[:, -2:], axis=1))
print(f"median gap between the two largest logits of the untouched pictures: {logit_gap:.0f}")
assert logit_gap > 50, "the text says the logits lie far apart"

# %% [markdown]
# First, a property of this model: its two largest logits lie far apart (by about 100, last line), so the softmax
# probability of the true class is almost always 0 or 1 (last column). A mean probability is then about the share
# of pictures that keep their class.
#
# With black as the substitute, the class is lost on about 6 pictures in 10, although only a random sixteenth of
# each picture was touched: the test would measure the damage of out-of-distribution dots, and (as we check below)
# a random map would delete the class as fast as a good one. That is why ROAR (Hooker et al., NeurIPS 2019)
# retrains the model on perturbed pictures and ROAD (Rong et al., ICML 2022) fills deleted pixels from their
# neighbours. The library's deletion replaces pixels by a blurred copy of the picture by default
# (`substrate="blur"`, RISE's insertion substrate), and the same random sixteenth of blurred dots barely matters.
# The first picture whose class the black dots delete:

# %%
i = int(np.flatnonzero(p["1/16 to black"] < 0.5)[0])   # the first picture whose class the black dots delete
fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9), layout="constrained")
for ax, (name, v) in zip(axes, versions.items()):
    ax.imshow(v[i].astype(np.uint8)); ax.axis("off")
    predicted = names[gc.class_probabilities(flat.model, v[i:i + 1])[0].argmax()]
    ax.set_title(f"{name}\np({names[test.labels[i]]}) = {p[name][i]:.2f}, predicted '{predicted}'", fontsize=9)
plt.show()

# %% [markdown]
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
        "pointing": metrics.pointing_game(mp, test.masks[:n]),
        "energy": metrics.energy_pointing_game(mp, test.masks[:n])}

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
pairs = [("gradcam", "gradcam++"), ("gradcam", "hirescam"), ("gradcam++", "hirescam")]
order_gap = max(abs((faithful[a][s] - faithful[b][s]).mean()) for a, b in pairs for s in ("deletion", "insertion"))
all_or_nothing = {m: np.mean((v["avg drop %"] < 1) | (v["avg drop %"] > 99)) for m, v in faithful.items()}
print(f"largest mean difference between two methods' deletion or insertion AUC: {order_gap:.3f}")
print("share of pictures whose Average Drop is below 1% or above 99%:",
      ", ".join(f"{m} {share:.2f}" for m, share in all_or_nothing.items()))

# %% [markdown]
# With a substitute that keeps the picture natural, every method beats the random map on deletion, insertion,
# pointing and energy, and the intervals say it is not chance. One exception: HiResCAM's **Average Drop** is no
# better than the random map's. Its maps are concentrated on a few cells (their mean value, last column, is well
# below Grad-CAM's), so multiplying the picture by the map darkens most of the object too: Average Drop rewards broad
# maps as much as faithful ones. Because this model's probabilities are almost always 0 or 1, each picture's drop is
# nearly all or nothing (last line), and Average Drop here is close to the share of pictures whose class the
# darkened picture loses. Deletion and insertion, which only use the *order* of the pixels, hardly separate the
# three methods: their mean AUCs differ by less than 0.01.

# %%
assert all(beats[m][s] for m in beats for s in better if (m, s) != ("hirescam", "avg drop %")), "every method beats"
assert not beats["hirescam"]["avg drop %"], "the text says HiResCAM's Average Drop is no better than random"
assert candidates["hirescam"].mean() < 0.7 * candidates["gradcam"].mean(), "HiResCAM's maps: well below Grad-CAM's"
assert min(all_or_nothing.values()) > 0.8 and order_gap < 0.01, "drops all or nothing; order metrics close"

# %% [markdown]
# And onto black, RISE's original substitute? The same deletion test, Grad-CAM's maps against the random map:

# %%
black = {m: faithfulness.deletion_curve(flat.model, x[:n], candidates[m], test.labels[:n], steps=steps,
                                        substrate="zeros").auc for m in ("gradcam", "random")}
d = metrics.bootstrap_ci(black["random"] - black["gradcam"])
print(f"deletion AUC onto black: gradcam {black['gradcam'].mean():.2f}, random {black['random'].mean():.2f}; "
      f"random minus gradcam {d[0]:+.2f} [{d[1]:+.2f}, {d[2]:+.2f}]")
assert d[1] < 0 < d[2], "the text says that onto black a random map deletes the class as fast as Grad-CAM's"

# %% [markdown]
# Onto black, the random order deletes the class about as fast as Grad-CAM's: the interval of the difference
# contains 0, and the test could not tell Grad-CAM's map from noise.
#
# ## 3. The sanity check: does the map depend on the model?
# An explanation of a model must change when the model's learned weights are destroyed (Adebayo et al., NeurIPS
# 2018). The test re-initialises the layers one by one from the top (on a *copy*; the model is untouched) and
# measures how similar each map stays to the trained model's (Spearman rank correlation: 1 = unchanged,
# 0 = unrelated). It compares Grad-CAM with Guided Backprop (Springenberg et al., ICLR 2015 workshop: the gradient
# of the score with respect to the pixels, with negative gradients stopped at every ReLU) and their product,
# Guided Grad-CAM. We run it on `shapes_gap` with 32 pictures and three random seeds for the new weights.

# %%
from gradcam_utils.sanity import cascading_randomization

sanity = cascading_randomization(gap.model, x[:32], class_index=test.labels[:32], seed=[0, 1, 2], keep_maps=True)
print(sanity.summary())
curves = {name: np.nanmean(values.reshape(sanity.steps, len(sanity.seeds), -1), axis=2)  # (steps, seeds)
          for name, values in [("Grad-CAM", sanity.gradcam), ("Guided Backprop", sanity.guided_backprop),
                               ("Guided Grad-CAM", sanity.guided_gradcam)]}
print("empty Grad-CAM maps (no positive evidence, left out) per step:",
      np.round(sanity.empty_gradcam.mean(axis=1), 2).tolist())
random_maps = sanity.maps["gradcam"][-1]   # seed 0, every layer random
peak_on_object = metrics.bootstrap_ci(metrics.pointing_game(random_maps, test.masks[:32]))
random_energy = metrics.energy_pointing_game(random_maps, test.masks[:32]).mean()
print(f"every layer random (seed 0): peak on the object in {peak_on_object[0]:.2f} [{peak_on_object[1]:.2f}, "
      f"{peak_on_object[2]:.2f}] of the pictures, energy on it {random_energy:.2f} (area {test.masks.mean():.2f})")

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
    logits, c = m["logits"][step, i], sanity.class_indices[i]
    axes[0, step].set_title(f"{'random down to ' if step else ''}{step_names[step]}\nmap of '{names[c]}' "
                            f"(logit {round(logits[c], 1) + 0:.1f})\n"
                            f"predicted '{names[logits.argmax()]}'", fontsize=8)
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
#   of the mean), the others still resemble the trained maps. Once `conv5` is random too, the correlation falls
#   below 0.6 for every seed, and settles near 0.3 as more layers are random. It does not reach 0: even a fully
#   random conv net still responds to the object's edges. Its map's peak lies on the object in about a quarter of
#   the pictures (by chance: 5%), though little of its energy does.
# - **Guided Backprop fails.** Its maps stay almost unchanged (above 0.8 for every seed) while the logits,
#   `conv5` and `conv4` are random, and still resemble the trained maps with `conv3` random; they change only
#   when `conv2` and `conv1`, which see the pixels directly, are re-initialised. It shows the picture's edges as
#   the lowest layers see them, not what the network learned.
# - **Guided Grad-CAM lands in between.** It is Grad-CAM's map times guided backprop, pixel by pixel: it changes
#   as much as its Grad-CAM factor lets it, and its guided-backprop factor keeps the edges. Adebayo et al. found
#   it, like Guided Backprop, much less sensitive than the gradient maps. Here, with `conv4` or `conv3` random, it
#   stays above Grad-CAM for every seed but far below Guided Backprop; once `conv2` is random, it falls below
#   Grad-CAM for every seed, with its guided factor.
#
# That is why notebook 04 used guided backprop only for detail inside the region Grad-CAM chose.

# %%
grad, backprop, guided_gc = (curves[k].mean(axis=1) for k in ("Grad-CAM", "Guided Backprop", "Guided Grad-CAM"))
assert curves["Grad-CAM"][1].max() < 0.6 and curves["Guided Backprop"][:3].min() > 0.8, "every seed, as the text says"
assert sanity.empty_gradcam[0].mean() > 0.2 and grad[0] > grad[1] + 0.2, "many empty maps; then the fall at conv5"
assert backprop[3] > 0.6 and backprop[4] < 0.2 and backprop[5] < 0.2, "Guided Backprop changes only at conv2"
assert ((grad[2:] > 0.25) & (grad[2:] < 0.4)).all() and 0.15 < peak_on_object[0] < 0.4, "near 0.3; peak on ~1/4"
assert peak_on_object[1] > 2 * test.masks.mean() and random_energy < 0.15, "peak above chance, little energy"
assert (curves["Grad-CAM"][2:4] < curves["Guided Grad-CAM"][2:4]).all(), "Guided Grad-CAM above, conv4/conv3"
assert (guided_gc[1:4] < backprop[1:4] - 0.25).all(), "Guided Grad-CAM far below Guided Backprop, conv5 to conv3"
assert (curves["Guided Grad-CAM"][4:] < curves["Grad-CAM"][4:]).all(), "below Grad-CAM once conv2 is random"

# %% [markdown]
# ## 4. What each method costs
# Every method in the family starts from **one forward and one backward pass** for the whole batch; the backward
# pass only runs from the score down to the chosen layer. Score-CAM then runs the model **once more per channel**
# of the layer, on the picture masked by that channel's map. (Score-CAM needs no gradient; the library's Score-CAM
# still runs the shared backward pass, and the counts below say so.) The library batches Score-CAM's passes
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
# Grad-CAM gives each channel one weight, the gradient averaged over the whole map, and that weight lights up
# everything the channel responds to. At the last layer a channel responds to a whole shape; at early layers
# channels respond to edges and texture anywhere in the picture. LayerCAM weighs each position by its own positive
# gradient instead (Jiang et al., IEEE TIP 2021). Three scores on `shapes_gap`, 100 pictures, four layers: the
# pointing game, the same with a tolerance of 4 pixels (explained below), and the energy share.

# %%
import warnings
warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)   # from here on, an empty map simply counts as a miss
LAYERS, CAMS = ["conv5_act", "conv4_act", "conv3_act", "conv2_act"], ("gradcam", "layercam")
early = {(layer, m): gc.explain(gap.model, x[:100], layer, test.labels[:100], m) for layer in LAYERS for m in CAMS}
hit, near, ci = {}, {}, {}
for key, r in early.items():
    hit[key] = metrics.pointing_game(r.heatmaps, test.masks[:100])
    near[key] = metrics.pointing_game(r.heatmaps, test.masks[:100], tolerance=4)
    ci[key] = [metrics.bootstrap_ci(v) for v in (hit[key], near[key],
                                                 metrics.energy_pointing_game(r.heatmaps, test.masks[:100]))]
    print(f"{key[0]:10s} {key[1]:9s}" + "   ".join(f"{label} {e:.2f} [{lo:.2f}, {hi:.2f}]" for label, (e, lo, hi)
                                                   in zip(("pointing", "within 4 px", "energy"), ci[key])))

# %% [markdown]
# Going down the layers, LayerCAM's maps get *finer*: the share of their energy on the object grows from 0.26 at
# `conv5_act` to 0.39 at `conv2_act`. Yet the strict pointing game falls, for both methods to about half at
# `conv3_act`: early layers respond to edges, and the peak of their map often sits on the object's outline, just
# outside the mask. The pointing game's authors allow for this: a peak within 15 pixels of the object counts, on
# 224-pixel pictures (Zhang et al., ECCV 2016), about 4 pixels on our 64-pixel ones. Within 4 pixels LayerCAM hits
# nearly every time at every layer. Grad-CAM does not: at `conv2_act` its peak lies more than 4 pixels from the
# object in about a quarter of the pictures. Here is the first such picture, with each map's peak marked (+) and
# the object's outline in white (Grad-CAM at `conv2_act` lights up the picture's border):

# %%
i = int(np.flatnonzero(~near["conv2_act", "gradcam"])[0])
panels = [(layer, m) for m in CAMS for layer in LAYERS]

def verdict(key):
    return "peak on object" if hit[key][i] else "within 4 px" if near[key][i] else "peak > 4 px off"

titles = [f"{m} @ {layer}: {verdict((layer, m))}\n" + gc.explained_title(names[early[layer, m].class_indices[i]],
          early[layer, m].scores[i], predicted=names[early[layer, m].logits[i].argmax()]) for layer, m in panels]
maps = np.stack([gc.upsample_heatmap(early[key].heatmaps[i], (64, 64)) for key in panels])  # conv2 is 32x32
fig, axes = gc.show_heatmaps(test.images[i], maps, titles, ncols=4, panel_size=2.7)
for ax, heatmap in zip(axes.flat, maps):
    ax.contour(test.masks[i], levels=[0.5], colors="white", linewidths=1)
    row, col = np.unravel_index(heatmap.argmax(), heatmap.shape)
    ax.plot(col, row, marker="P", color="white", markeredgecolor="black", markersize=10)
plt.show()

# %%
pointing, within, energy_share = ({key: v[k][0] for key, v in ci.items()} for k in range(3))   # the means
assert ci["conv2_act", "layercam"][2][1] > ci["conv5_act", "layercam"][2][2], "LayerCAM finer: 0.26 -> 0.39"
assert abs(energy_share["conv5_act", "layercam"] - 0.26) < 0.02, "the text says 0.26 at conv5_act"
assert abs(energy_share["conv2_act", "layercam"] - 0.39) < 0.02, "the text says 0.39 at conv2_act"
assert all(0.4 < pointing["conv3_act", m] < 0.65 for m in CAMS), "the text says about half at conv3_act"
assert min(within[layer, "layercam"] for layer in LAYERS) > 0.95, "LayerCAM within 4 px nearly always"
assert 0.15 < 1 - within["conv2_act", "gradcam"] < 0.35, "Grad-CAM at conv2: a quarter more than 4 px off"
assert ci["conv2_act", "gradcam"][1][2] < ci["conv2_act", "layercam"][1][1], "Grad-CAM worse than LayerCAM"

# %% [markdown]
# ### Small objects
# One cell of the last layer covers 4×4 pixels, and the map is smoothed over the receptive field. For objects of
# a few pixels the map is much larger than the object: the share of its energy on the object drops. Three sizes,
# 100 new pictures each; "map above half its peak" is the share of the picture where the map exceeds 0.5.

# %%
sizes, small = [(6, 8), (12, 16), (20, 24)], {}
for size in sizes:
    batch = make_shapes(100, seed=71, size_range=size)
    r = gc.explain(gap.model, gap.preprocess(batch.images), class_index=batch.labels)
    accuracy = metrics.bootstrap_ci(r.logits.argmax(1) == batch.labels)
    e = metrics.bootstrap_ci(metrics.energy_pointing_game(r.heatmaps, batch.masks))
    blob = (np.stack([gc.upsample_heatmap(h, (64, 64)) for h in r.heatmaps]) > 0.5).mean()
    small[size] = (batch, r, accuracy, e, blob / batch.masks.mean())
    print(f"objects {size[0]:2d}-{size[1]:2d} px: accuracy {accuracy[0]:.2f} [{accuracy[1]:.2f}, {accuracy[2]:.2f}]"
          f"  energy on object {e[0]:.2f} [{e[1]:.2f}, {e[2]:.2f}]  object area {batch.masks.mean():.3f},"
          f" map above half its peak {blob:.3f} ({blob / batch.masks.mean():.1f} x the object)")
answers = np.bincount(small[6, 8][1].logits.argmax(1), minlength=len(names))
print("the model's answers at 6-8 px:", dict(zip(names, answers.tolist())))

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
# At 6-8 pixels the model itself fails: it is right about a quarter of the time, and it does not guess either: it
# answers 'triangle' or 'star' for nearly every picture. The map of the true class then lies almost entirely off
# the object. Where the model is right, the map shrinks more slowly than the object: its part above half the peak
# is about twice the object's area at 20-24 pixels and three times at 12-16 pixels. So even at 12-16 pixels, where
# the model is right almost always, about four fifths of the map's energy lie off the object, and at 20-24 pixels
# still about two thirds.

# %%
(_, _, acc6, e6, _), (_, _, acc12, e12, ratio12), (_, _, acc20, e20, ratio20) = small.values()
assert acc6[2] < 0.5 and answers[[names.index("triangle"), names.index("star")]].sum() > 80, "6-8 px: no guessing"
assert acc12[1] > 0.9 and acc20[1] > 0.9, "the text says the model is right almost always from 12 px"
assert e6[2] < 0.1 and 0.7 < 1 - e12[0] < 0.85 and 0.6 < 1 - e20[0] < 0.72, "energy off the object: 4/5, 2/3"
assert 1.5 < ratio20 < 2.5 and 2.5 < ratio12 < 3.5, "map above half its peak: ~2x and ~3x the object's area"

# %% [markdown]
# ### Several instances
# Two cats side by side, on the ImageNet model. Grad-CAM finds evidence on both, but a map is one surface per
# *class*: it cannot say that there are two cats, and the Grad-CAM paper's box recipe (Selvaraju et al., after
# Zhou et al.'s for CAM, CVPR 2016: threshold at 15% of the peak, box the largest region) draws **one** box around
# both, which overlaps neither cat well (IoU < 0.5 counts as a miss in weakly supervised localisation).
# Grad-CAM++, designed with several instances in mind (Chattopadhay et al., WACV 2018), behaves the same here.

# %%
cat = gc.load_image(gc.sample_image_path("cat.png"), size=(112, 112))
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
for ax, (_r, _up, box, _iou, _share) in zip(axes.flat, twin.values()):
    for y0, x0, y1, x1 in cats:
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="white", ls="--", lw=1.5))
    y0, x0, y1, x1 = box
    ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="magenta", lw=2))
plt.show()
assert all(max(t[3]) < 0.5 and 0.4 < t[4] < 0.6 for t in twin.values()), "evidence on both cats, one poor box"

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
#   insertion, Average Drop). Deleting to black measures out-of-distribution damage, and a random map scores
#   as well as Grad-CAM; onto a blurred copy every method beats a random map on deletion and insertion. Average
#   Drop also rewards broad maps, and on a model whose probabilities are 0 or 1 it counts lost classes.
# - Grad-CAM passes the randomisation sanity check; Guided Backprop fails it; Guided Grad-CAM inherits part of
#   each. Use guided backprop only inside Grad-CAM's region.
# - The CAM family shares one forward and one backward pass; Score-CAM pays a forward pass per channel.
# - Grad-CAM is coarse and class-level: for finer maps from earlier layers use LayerCAM (and score them with the
#   pointing game's tolerance), expect blobs larger than small objects, count instances some other way, and use
#   it only on models with spatial feature maps.
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
# - Gildenblat and contributors. "pytorch-grad-cam." GitHub, 2021 (the PyTorch implementation compared in section 1).
#
# The full bibliography is in `references.md`.
