# %% [markdown]
# # 02 · The gradient math behind Grad-CAM
#
# **Learning goals.** After this notebook you can:
# 1. say what the feature maps $A^k$ of a convolution layer are, and read them as pictures;
# 2. compute the Grad-CAM weights $\alpha_k^c = \frac{1}{Z}\sum_{ij} \partial y^c / \partial A^k_{ij}$ with a
#    `GradientTape`, and the map $L^c = \mathrm{ReLU}(\sum_k \alpha_k^c A^k)$;
# 3. check those gradients with finite differences, and on paper that on a global-average-pooling head Grad-CAM
#    equals CAM divided by $Z$;
# 4. say exactly what the article's normalisation does to a map with no positive value (-0 or NaN), and why;
# 5. explain why we differentiate the score *before* the softmax, and why each image in a batch needs its own
#    gradients;
# 6. read a *counterfactual* map: where the evidence against a class lies;
# 7. show on a network without a pooling head that CAM cannot be computed, Grad-CAM can, and why it then differs
#    from HiResCAM.
#
# CAM comes from Zhou et al. (CVPR 2016), Grad-CAM from Selvaraju et al. (ICCV 2017). We start with a network
# small enough to work out by hand: a **colour detector** whose weights were chosen, not trained. Its first layer
# computes "redness" $R-G-B-0.2$ and "blueness" $B-R-G-0.2$ at every pixel, the second averages each over
# $4\times4$ blocks (an $8\times8$ map), and the class scores are $10\times$ the mean of each map.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import warnings
import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
import keras
from gradcam_utils.toy import build_colour_detector, two_squares_image, solid_and_striped_image, CLASS_NAMES

np.set_printoptions(precision=3, suppress=True)
model = build_colour_detector()
image = two_squares_image(red_at=(4, 4), blue_at=(18, 18), blue_side=8)
model.summary()

# %% [markdown]
# The picture has a red square (top left) and a smaller blue one (bottom right). We expect both class scores to
# be positive, red's the larger: the network "sees" both, and Grad-CAM should tell us **where** each class's
# evidence is.

# %%
logits = model(image[None]).numpy()[0]
print({name: round(float(score), 3) for name, score in zip(CLASS_NAMES, logits)})
assert (logits > 0).all() and logits[0] > logits[1], "the text says: both positive, red's the larger"
plt.imshow(image); plt.axis("off"); plt.title("input"); plt.show()

# %% [markdown]
# ## 1. Feature maps $A^k$
# Grad-CAM looks at the output of a late convolution layer: here `conv2_act`, with $K=2$ channels of $8\times8$
# positions ($Z = 64$ positions in all). Each channel is a picture of "where this feature fires"; both are drawn
# on one colour scale so their values can be compared.

# %%
feature_model = keras.Model(model.input, model.get_layer("conv2_act").output)
A = feature_model(image[None]).numpy()[0]          # (8, 8, 2)
fig, axes = plt.subplots(1, 2, figsize=(6.5, 3), layout="constrained")
for k, ax in enumerate(axes):
    ax.imshow(A[..., k], cmap="viridis", vmin=0, vmax=A.max()); ax.axis("off")
    ax.set_title(f"A^{k} ({['redness', 'blueness'][k]})")
gc.figures.add_colorbar(fig, axes, "viridis", label="activation", vmax=float(A.max()))
plt.show()

# %% [markdown]
# ## 2. CAM: the score, read off the feature maps
# This head is *global average pooling* then a dense layer, so the score is
# $y^c = \sum_k w_k^c \frac{1}{Z}\sum_{ij} A^k_{ij} = \frac{1}{Z}\sum_{ij}\big(\sum_k w_k^c A^k_{ij}\big)$.
# The bracket, $M^c = \sum_k w_k^c A^k$, says how much each position adds to the score: that is **CAM**
# (Zhou et al., CVPR 2016), computed here with numpy from the dense layer's weights. Its mean must be the score.

# %%
w = model.get_layer("predictions").kernel.numpy()   # (K=2 channels, 2 classes)
cam_red = A @ w[:, 0]                               # (8, 8): sum_k w_k^red A^k
print("score from CAM:", round(float(cam_red.mean()), 3), "| model's score:", round(float(logits[0]), 3))
assert np.isclose(cam_red.mean(), logits[0], rtol=1e-5), "the text says: CAM's mean is the score"

# %% [markdown]
# ## 3. Grad-CAM: weights from gradients
# CAM needs a GAP head. Grad-CAM (Selvaraju et al., ICCV 2017) replaces $w_k^c/Z$ by something every network has:
# the gradient. $\alpha_k^c = \frac{1}{Z}\sum_{ij} \partial y^c/\partial A^k_{ij}$ asks *if channel $k$ grew
# everywhere a little, how much would the score of class $c$ rise?* We get the gradient from a `GradientTape`...

# %%
grad_model = keras.Model(model.input, [model.get_layer("conv2_act").output, model.output])
with tf.GradientTape() as tape:
    activations, scores = grad_model(image[None], training=False)
    red_score = scores[:, 0]
grads = tape.gradient(red_score, activations).numpy()[0]   # (8, 8, 2)
alpha = grads.mean(axis=(0, 1))                             # average over positions only
print("alpha for 'red' from the tape:", alpha)


# %% [markdown]
# ...and check it without any automatic differentiation: nudge one activation up and down by $\varepsilon$ and
# watch the score (a *central finite difference*). The head after `conv2_act` is just "average, then dense", so we
# can run it in numpy. The two columns should agree.

# %%
def head(a):                       # GAP, then the dense layer: a (8, 8, 2) -> the two scores
    return a.mean(axis=(0, 1)) @ w

eps, i, j = 1e-3, 2, 3
for k in range(2):
    up, down = A.copy(), A.copy()
    up[i, j, k] += eps; down[i, j, k] -= eps
    finite = (head(up)[0] - head(down)[0]) / (2 * eps)
    print(f"channel {k}: finite difference {finite:.4f}   tape {grads[i, j, k]:.4f}")
    assert abs(finite - grads[i, j, k]) < 1e-3, "the text says: the two columns agree"

# %% [markdown]
# **On paper:** $\partial y^{red}/\partial A^k_{ij} = w_k^{red}/Z$ at every position, with $w^{red} = (10, 0)$ and
# $Z = 64$: $\alpha^{red} = (10/64, 0) = (0.156, 0)$, the printed value. So on a GAP head **Grad-CAM equals CAM
# divided by $Z$**, a check you can always run. Then the map: weight the channels, sum, and keep only the positive
# part (ReLU: we want evidence *for* the class). The library's `gc.compute_heatmaps` returns just the maps of
# `gc.explain` (notebook 01); `normalize=False` keeps their raw values, so both should match ours.

# %%
assert np.allclose(alpha, [10 / 64, 0.0]), "the paper computation above"
by_hand = np.maximum((A * alpha).sum(axis=-1), 0)
library = gc.compute_heatmaps(model, image, layer_name="conv2_act", class_index=0, normalize=False)[0]
print("library == by hand:", np.allclose(library, by_hand), "| Grad-CAM == CAM / Z:",
      np.allclose(library, np.maximum(cam_red, 0) / 64))
assert np.allclose(library, by_hand) and np.allclose(library, np.maximum(cam_red, 0) / 64), "both printed True"


# %% [markdown]
# ## 4. Normalising the map, and what goes wrong in the article's version
# For display, each map is divided by its maximum so that the strongest evidence is 1. The library takes the
# ReLU first and divides by the maximum of **what is left**. The article's code writes
# `tf.maximum(heatmap, 0) / tf.math.reduce_max(heatmap)`: ReLU in the numerator, but the maximum of the **raw**
# map in the denominator. Three cases, with that line run on $2\times2$ maps:
# - the raw map has a positive peak (and maybe negative parts): both maxima are the same number, nothing goes
#   wrong;
# - every value is negative (no evidence for the class): $0$ divided by a negative number is $-0$, an all-zero
#   map with a minus sign, returned **silently**;
# - the maximum is exactly 0 (e.g. all activations or all gradients zero): $0/0$ = **NaN** everywhere.

# %%
def article_normalise(heatmap):    # the article's line
    return (tf.maximum(heatmap, 0) / tf.math.reduce_max(heatmap)).numpy()

cases = {"positive peak": [[-1.0, 2.0], [0.5, -3.0]], "all negative": [[-1.0, -2.0], [-0.5, -3.0]],
         "all zero": [[0.0, 0.0], [0.0, 0.0]]}
out = {name: article_normalise(np.array(raw, np.float32)) for name, raw in cases.items()}
for name, values in out.items():
    print(f"{name:14s} -> {values.ravel()}")
relu_first = np.maximum(cases["positive peak"], 0) / np.max(cases["positive peak"])
assert np.allclose(out["positive peak"], relu_first) and np.isnan(out["all zero"]).all(), "cases 1 and 3 above"
assert (out["all negative"] == 0).all() and np.signbit(out["all negative"]).all(), "case 2: -0 everywhere"

# %% [markdown]
# The NaN case happens on our colour detector: in a picture **with no red**, the redness channel is 0 everywhere,
# so the "red" map $\frac{10}{64}A^{red} + 0 \cdot A^{blue}$ is exactly 0. The library returns zeros and says so
# with an `EmptyHeatmapWarning` (caught here, and its message printed).

# %%
no_red = two_squares_image(red_at=None)
with tf.GradientTape() as tape:
    acts, scores = grad_model(no_red[None], training=False)
    red = scores[:, 0]
weights = tf.reduce_mean(tape.gradient(red, acts), axis=(1, 2))          # alpha, shape (1, 2)
raw_map = tf.reduce_sum(acts * weights[:, None, None, :], axis=-1)[0]    # before ReLU and normalisation
print("largest value of the raw 'red' map:", float(tf.reduce_max(raw_map)))
print("article: NaN at", int(np.isnan(article_normalise(raw_map)).sum()), "of 64 positions")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    empty_map = gc.compute_heatmaps(model, no_red, class_index=0)[0]
print("library: largest value", float(empty_map.max()), "|", caught[0].category.__name__ + ":", caught[0].message)
assert np.isnan(article_normalise(raw_map)).all() and empty_map.max() == 0, "article NaN, library zeros"

# %% [markdown]
# ## 5. One map per class
# The same image, two questions. The library picks each image's top class when `class_index=None`; here we ask for
# both classes. Each panel names the class it explains, that class's score (logit) and the model's prediction:
# the "blue" map explains a class the model did not predict, which is a question Grad-CAM answers just as well.

# %%
result = gc.explain(model, np.stack([image, image]), class_index=[0, 1])
titles = [gc.explained_title(CLASS_NAMES[c], s, predicted=CLASS_NAMES[int(np.argmax(row))])
          for c, s, row in zip(result.class_indices, result.scores, result.logits)]
gc.show_heatmaps(np.stack([image, image]), result.heatmaps, titles, colormap="viridis", panel_size=2.8, alpha=0.7)
plt.show()

# %% [markdown]
# ## 6. Why the score *before* the softmax
# With a softmax, $p^{red} = e^{y^{red}}/(e^{y^{red}} + e^{y^{blue}})$, so
# $\partial p^{red}/\partial A = p^{red}(1-p^{red})\,(\partial y^{red}/\partial A - \partial y^{blue}/\partial A)$.
# Two things change: the gradient **subtracts the other class's gradient**, and it is **scaled by
# $p(1-p)$**, which vanishes as $p \to 1$. Below, `probability_gradcam` is Grad-CAM with $p^c$ in place of $y^c$.

# %%
softmax_model = build_colour_detector(softmax=True)
prob_grad_model = keras.Model(softmax_model.input,
                              [softmax_model.get_layer("conv2_act").output, softmax_model.output])

def probability_gradcam(picture, c=0):   # Grad-CAM of p^c instead of y^c: (normalised map, gradients, p^c)
    with tf.GradientTape() as tape:
        acts, probs = prob_grad_model(picture[None], training=False)
        p = probs[:, c]
    g = tape.gradient(p, acts).numpy()[0]
    raw = np.maximum((acts.numpy()[0] * g.mean(axis=(0, 1))).sum(axis=-1), 0)
    return raw / raw.max(), g, float(p[0])


# %% [markdown]
# **When the softmax changes nothing.** Here $\partial y^{red}/\partial A = (10, 0)/64$ and
# $\partial y^{blue}/\partial A = (0, 10)/64$, so the probability map of "red" is a constant times
# $\mathrm{ReLU}(A^{red} - A^{blue})$. On our two-squares picture no $4\times4$ block holds both colours: where
# redness is positive, blueness is 0, and the ReLU removes the rest. So we expect the two normalised maps to
# coincide.

# %%
logit_map = gc.compute_heatmaps(model, image, class_index=0)[0]
difference = np.abs(probability_gradcam(image)[0] - logit_map).max()
print("largest difference between the p^red map and the y^red map:", round(float(difference), 6))
assert difference < 1e-5, "the text says: the two normalised maps coincide"

# %% [markdown]
# **When it changes the map: competing classes.** Now a solid red square and a square of one-pixel red and blue
# stripes: each of its blocks holds as much red as blue, so it is evidence for **both** classes. Before running:
# will the striped square light up in the logit map of "red"? In the probability map of "red"?

# %%
striped = solid_and_striped_image()
logit_result = gc.explain(model, striped, class_index=0)
prob_map, _, p_striped = probability_gradcam(striped)
top = CLASS_NAMES[int(np.argmax(logit_result.logits[0]))]
titles = [gc.explained_title("red", float(logit_result.scores[0]), method="logit Grad-CAM", predicted=top),
          gc.explained_title("red", p_striped, method="probability Grad-CAM", score_name="p", predicted=top)]
gc.show_heatmaps(np.stack([striped, striped]), np.stack([logit_result.heatmaps[0], prob_map]), titles,
                 colormap="viridis", panel_size=2.8, alpha=0.7)
plt.show()
print("striped square (cells 5-6), logit map:", round(float(logit_result.heatmaps[0][5:7, 5:7].mean()), 3),
      "| probability map:", round(float(prob_map[5:7, 5:7].mean()), 3))
assert np.allclose(logit_result.heatmaps[0][5:7, 5:7], 0.5, atol=0.01), "the text below: half the solid square"
assert prob_map[5:7, 5:7].max() == 0, "the text below: the probability map leaves the striped square out"

# %% [markdown]
# The logit map shows the striped square at half the solid square's strength: it does raise the red score. The
# probability map leaves it out: it raises the blue score just as much, so it does nothing for $p^{red}$
# *relative to* blue. Which question do you want answered? "What here speaks for red" is the logit map; the
# probability map answers "red rather than blue", and with many classes, "rather than all the others at once".

# %% [markdown]
# **Saturation.** On an all-red picture the model is sure, and the probability's gradient shrinks by the factor
# $p(1-p)$. Dividing by the maximum removes that factor again as long as it is not 0; in float32 it reaches 0:
# with logits 20 apart, $p$ rounds to exactly 1 and the gradient of $p$ with respect to its own logit is exactly 0.
# (`gc.gradient_inputs` returns what every method starts from: the layer's activations, the gradients of the
# explained class's logit, and the scores.)

# %%
all_red = two_squares_image(red_at=(0, 0), red_side=32, blue_at=None)
_, prob_grads, p_red = probability_gradcam(all_red)
logit_grads = gc.gradient_inputs(model, all_red, "conv2_act", 0).gradients[0]
ratio = prob_grads[..., 0].mean() / logit_grads[..., 0].mean()
print(f"p(red) = {p_red:.4f}, p(1-p) = {p_red * (1 - p_red):.4f}, probability / logit gradient = {ratio:.4f}")
same = np.allclose(probability_gradcam(all_red)[0], gc.compute_heatmaps(model, all_red, class_index=0)[0], atol=1e-5)
print("after normalising, probability map == logit map:", same)
assert ratio < 0.01 and np.isclose(ratio, p_red * (1 - p_red), rtol=1e-3) and same, "shrinks by p(1-p), then removed"

# %%
far_apart = tf.Variable([[20.0, 0.0]])
with tf.GradientTape() as tape:
    p_first = tf.nn.softmax(far_apart)[0, 0]
d_own = tape.gradient(p_first, far_apart).numpy()[0, 0]
print("logits 20 apart: p =", float(p_first), "| dp/dy (own logit) =", float(d_own))
assert p_first == 1.0 and d_own == 0.0, "the text says: p rounds to 1 and its gradient is exactly 0"

# %% [markdown]
# The library always uses the pre-softmax score, **without editing your model**. The article gets logits with
# `model.layers[-1].activation = None`, which edits the model object itself: whoever uses it afterwards gets
# logits where they expected probabilities.

# %%
maps = gc.compute_heatmaps(softmax_model, striped, class_index=0)
print("same map as the logits model:", np.allclose(maps, gc.compute_heatmaps(model, striped, class_index=0)))
print("softmax model untouched:", softmax_model.get_layer("predictions").activation.__name__)
assert np.allclose(maps, logit_result.heatmaps), "the same map as the logits model"
assert softmax_model.get_layer("predictions").activation.__name__ == "softmax", "the model is untouched"
edited = build_colour_detector(softmax=True)
before = edited(striped[None]).numpy()[0]
edited.layers[-1].activation = None                  # the article's line
after = edited(striped[None]).numpy()[0]
print("article's edit, same model object: outputs", before.round(3), "->", after.round(3))
assert np.isclose(before.sum(), 1) and not np.isclose(after.sum(), 1), "the edit changes the model itself"

# %% [markdown]
# ## 7. A batch is many questions, not one
# The article's code averages gradients over axes `(0, 1, 2)` (batch included), uses image 0's top class for every
# image, and returns image 0's map only. The library differentiates the **sum** of per-image scores (image $b$'s
# score depends only on image $b$, so each gets its own gradient) and averages over axes `(1, 2)` only. With a
# red-only and a blue-only picture in one batch, each should get its own class and its own map.

# %%
red_only, blue_only = two_squares_image(blue_at=None), two_squares_image(red_at=None)
batch = gc.explain(model, np.stack([red_only, blue_only]))
names = [CLASS_NAMES[c] for c in batch.class_indices]
print("classes explained:", names)
assert names == ["red", "blue"], "the text says: each picture gets its own class"
titles = [gc.explained_title(n, s, predicted=n) for n, s in zip(names, batch.scores)]
gc.show_heatmaps(np.stack([red_only, blue_only]), batch.heatmaps, titles, colormap="viridis", panel_size=2.8,
                 alpha=0.7)
plt.show()

# %% [markdown]
# The article's steps on the same batch ask about image 0's top class, "red", for **both** pictures. The
# blue-only picture then has no evidence for it: its map is empty (and the article returns image 0's map only, so
# you would not even see that). Averaging over the batch axis too changes nothing *here*: on a GAP head every
# picture has the same gradient $w^c/Z$. Where the gradients differ from picture to picture (a non-linear head),
# it mixes them.

# %%
with tf.GradientTape() as tape:
    acts, scores = grad_model(np.stack([red_only, blue_only]), training=False)
    first_top = int(tf.argmax(scores[0]))             # image 0's top class, used for every image
    class_scores = scores[:, first_top]
pooled = tf.reduce_mean(tape.gradient(class_scores, acts), axis=(0, 1, 2)).numpy()   # batch axis included
blue_only_map = (acts[1].numpy() * pooled).sum(axis=-1)
print("article's steps: class", repr(CLASS_NAMES[first_top]), "for both pictures, pooled gradients", pooled)
print("largest value of the blue-only picture's map:", float(blue_only_map.max()))
assert CLASS_NAMES[first_top] == "red" and blue_only_map.max() <= 0, "the text says: 'red' for both, empty map"
assert np.allclose(pooled, alpha), "the text says: averaging over the batch changes nothing on this head"

# %% [markdown]
# ## 8. Counterfactual maps: evidence *against* a class
# Negate the weights, $\alpha_k = -\frac{1}{Z}\sum_{ij}\partial y^c/\partial A^k_{ij}$, and the map shows the
# regions whose removal would *raise* the score of class $c$ (Selvaraju et al., ICCV 2017, "counterfactual
# explanations"). We try it on a trained network: EfficientNet-Lite0, a small ImageNet classifier (Tan & Le,
# ICML 2019) that ships with the course; notebook 03 looks at it closely. On a photo with a cat (left half) and an
# espresso cup (right half), the Grad-CAM map for "espresso" should sit on the cup, its counterfactual map on the
# cat's half.

# %%
bundle = gc.load_model("efficientnet_lite0")
photo = bundle.load_images(gc.sample_image_path("cat_and_espresso.png"))
espresso = bundle.class_names.index("espresso")
found = [gc.explain(bundle.model, bundle.preprocess(photo), class_index=espresso, method=m)
         for m in ("gradcam", "counterfactual")]
predicted = bundle.class_names[int(np.argmax(found[0].logits[0]))]
titles = [gc.explained_title("espresso", float(r.scores[0]), predicted=predicted, method=r.method) for r in found]
gc.show_heatmaps(np.repeat(photo, 2, axis=0), np.concatenate([r.heatmaps for r in found]), titles, panel_size=3)
plt.show()
left_share = [float(r.heatmaps[0][:, :3].sum() / r.heatmaps[0].sum()) for r in found]   # columns 0-2 of 7
print("share of each map in its 3 left columns of 7 (the cat's side):", np.round(left_share, 2))
assert left_share[0] < 0.2 and left_share[1] > 0.9, "the text says: Grad-CAM on the cup, counterfactual on the cat"

# %% [markdown]
# ## 9. When the head is not GAP: CAM stops, Grad-CAM goes on
# Every network so far pools globally right after the explained layer, which is why Grad-CAM was exactly CAM$/Z$.
# `shapes_flat` is the course's shapes classifier (64x64 pictures, 5 classes, the same convolution layers as
# `shapes_gap`, `conv5_act` of $16\times16\times64$) with a **Flatten + Dense** head instead:
# $y^c = \sum_{ijk} W^c_{ijk} A^k_{ij} + b^c$. CAM needs one weight $w_k^c$ per channel; look at the head's kernel.

# %%
from gradcam_utils.synthetic import make_shapes
gap, flat = gc.load_model("shapes_gap"), gc.load_model("shapes_flat")
for b in (gap, flat):
    print(f"{b.name}: kernel of the 'logits' layer {tuple(b.model.get_layer('logits').kernel.shape)}")
assert flat.model.get_layer("logits").kernel.shape[0] == 16 * 16 * 64, "one weight per position and channel"

# %% [markdown]
# `shapes_gap` has 64 rows, one per channel: that is CAM's $w_k^c$. `shapes_flat` has $16\cdot16\cdot64 = 16384$,
# one per position **and** channel, so there is no $w_k^c$ and CAM cannot be computed. Grad-CAM only needs the
# gradient, and here $\partial y^c/\partial A^k_{ij} = W^c_{ijk}$: a different number at every position. We
# expect the gradient of one channel, drawn as a $16\times16$ picture, to be constant for `shapes_gap`
# ($w_k^c/256$ everywhere) and to vary for `shapes_flat`; the spread is printed as std over positions / |mean|.

# %%
pictures = make_shapes(16, seed=3)
inputs = {b.name: gc.gradient_inputs(b.model, b.preprocess(pictures.images), "conv5_act") for b in (gap, flat)}
k = int(np.argmax(np.abs(inputs["shapes_flat"].gradients[0].mean(axis=(0, 1)))))   # flat's strongest channel
fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), layout="constrained")
spread = {}
for ax, (name, found) in zip(axes, inputs.items()):
    g = found.gradients[0, ..., k]
    spread[name] = g.std() / abs(g.mean())
    lim = np.abs(g).max()
    fig.colorbar(ax.imshow(g, cmap="coolwarm", vmin=-lim, vmax=lim), ax=ax, label="gradient")
    ax.set_title(f"{name}\nd y^{flat.class_names[found.class_indices[0]]} / d A^{k}_ij"); ax.axis("off")
fig.suptitle(f"gradient of the top class's logit w.r.t. channel {k} of conv5_act, one picture"); plt.show()
print("std over positions / |mean|:", {name: round(float(value), 3) for name, value in spread.items()})
assert spread["shapes_gap"] < 1e-4 and spread["shapes_flat"] > 0.3, "constant for GAP, varying for the flat head"

# %% [markdown]
# Both gradients are what the formulas say, for every channel and position: $w_k^c/256$ on `shapes_gap`, the
# Dense kernel's column for class $c$ reshaped to $16\times16\times64$ on `shapes_flat`.

# %%
kernels = {b.name: b.model.get_layer("logits").kernel.numpy() for b in (gap, flat)}
c_gap, c_flat = (inputs[name].class_indices[0] for name in ("shapes_gap", "shapes_flat"))
from_formula = {"shapes_gap": np.broadcast_to(kernels["shapes_gap"][:, c_gap] / 256, (16, 16, 64)),
                "shapes_flat": kernels["shapes_flat"][:, c_flat].reshape(16, 16, 64)}
for name, expected in from_formula.items():
    print(name, "tape gradient == formula:", np.allclose(inputs[name].gradients[0], expected, atol=1e-6))
    assert np.allclose(inputs[name].gradients[0], expected, atol=1e-6)

# %% [markdown]
# So on `shapes_flat`, Grad-CAM's $\alpha_k^c$ is an average of numbers that differ from position to position, and
# forgets which weight applies where. **HiResCAM** (Draelos & Carin, arXiv 2020) keeps the gradient at each position:
# $\mathrm{ReLU}(\sum_k \partial y^c/\partial A^k_{ij}\, A^k_{ij})$. Where the gradient is constant (GAP) the two
# are the same map; here they should not be. `gc.heatmaps_from(inputs, method)` turns the activations and
# gradients we already have into maps (and a flag per empty map). Below, both maps for one picture on both
# models, then the largest difference between the normalised maps over all 16 pictures.

# %%
maps = {(name, m): gc.heatmaps_from(found, m)[0] for name, found in inputs.items() for m in ("gradcam", "hirescam")}
explained = {name: flat.class_names[found.class_indices[0]] for name, found in inputs.items()}   # top class
titles = [f"{name}\n" + gc.explained_title(explained[name], float(inputs[name].scores[0]), method=m,
                                           predicted=explained[name]) for name, m in maps]
gc.show_heatmaps(pictures.images[0], np.stack([v[0] for v in maps.values()]), titles, ncols=4, panel_size=2.6)
plt.show()
between = {name: np.abs(maps[name, "gradcam"] - maps[name, "hirescam"]).max(axis=(1, 2)) for name in inputs}
for name, d in between.items():
    print(f"{name}: largest |Grad-CAM - HiResCAM| per picture: mean {d.mean():.3f}, std {d.std():.3f}, "
          f"smallest {d.min():.3f}")
assert between["shapes_gap"].max() < 1e-4 and between["shapes_flat"].min() > 0.2, "equal on GAP, not on flat"


# %% [markdown]
# Two more things to see in the figure. HiResCAM keeps each position's own weight, positive or negative, so its
# map on `shapes_flat` is **patchier** than Grad-CAM's. We measure "patchy" as the mean jump between neighbouring
# cells of the map. And Grad-CAM on `shapes_flat` looks like Grad-CAM on `shapes_gap`: the two models share their
# convolution layers (the same $A^k$), so only the weights $\alpha_k^c$ differ, and once the flat head's weights
# are averaged over the positions, they give nearly the GAP model's map.

# %%
def jumps(m):   # mean |difference| between neighbouring cells, per map: a number for "patchy"
    return (np.abs(np.diff(m, axis=1)).mean(axis=(1, 2)) + np.abs(np.diff(m, axis=2)).mean(axis=(1, 2))) / 2

patchier = jumps(maps["shapes_flat", "hirescam"]) / jumps(maps["shapes_flat", "gradcam"])
print(f"shapes_flat, HiResCAM's jumps / Grad-CAM's: mean {patchier.mean():.2f}, smallest {patchier.min():.2f}")
same_A = np.array_equal(inputs["shapes_gap"].activations, inputs["shapes_flat"].activations)
near = np.abs(maps["shapes_flat", "gradcam"] - maps["shapes_gap", "gradcam"]).max(axis=(1, 2))
print(f"same A^k: {same_A} | largest |Grad-CAM flat - Grad-CAM gap| per picture: mean {near.mean():.2f}, "
      f"largest {near.max():.2f}")
assert patchier.min() > 1 and same_A and near.max() < 0.3, "HiResCAM patchier; flat's Grad-CAM close to gap's"

# %% [markdown]
# HiResCAM's map is what each position added to the score: before its ReLU, its values sum to the logit minus
# the bias $b^c$, as the formula for $y^c$ says. Grad-CAM's map has no such reading here: its sum (also taken
# before the ReLU) misses the logit.

# %%
found = inputs["shapes_flat"]
contribution = (found.gradients * found.activations).sum(axis=(1, 2, 3))
bias = flat.model.get_layer("logits").bias.numpy()[found.class_indices]
adds_up = np.allclose(contribution + bias, found.scores, rtol=0, atol=1e-3)
print("HiResCAM sum + bias == logit (to 0.001) on all 16 pictures:", adds_up,
      "| logits from", round(float(found.scores.min()), 1), "to", round(float(found.scores.max()), 1))
gradcam_sum = np.einsum("bhwk,bk->b", found.activations, found.gradients.mean(axis=(1, 2)))
miss = np.abs(gradcam_sum + bias - found.scores) / found.scores
print(f"Grad-CAM sum + bias misses the logit by {miss.mean():.0%} on average, at most {miss.max():.0%}")
assert adds_up and miss.max() > 0.1, "HiResCAM's map adds up to the logit, Grad-CAM's does not"

# %% [markdown]
# ## Summary
# - $\alpha_k^c$ is the spatial mean of the score's gradient over feature map $k$; the map is
#   $\mathrm{ReLU}(\sum_k\alpha_k^c A^k)$ at the layer's resolution.
# - On a GAP head, Grad-CAM $=$ CAM$/Z$ exactly: a check you can always run.
# - Normalise after the ReLU, by the maximum of what is left: the article's line gives a silent $-0$ map when
#   nothing is positive and NaN when the maximum is exactly 0.
# - Differentiate logits, not probabilities: the probability's gradient subtracts the competing classes and
#   shrinks by $p(1-p)$. Give each image its own gradients.
# - Negated weights give the counterfactual map: what speaks against the class.
# - Without a GAP head (`shapes_flat`) there is no CAM, Grad-CAM still works, and its averaged weights make it
#   differ from HiResCAM, whose map adds up to the score. Grad-CAM averages the position-wise weights away: its
#   map stays close to the GAP model's on the same features.
#
# ## Exercises
# Try first; worked solutions are in `solutions/02_the_gradient_math.md`.
#
# **1.** Work out on paper the Grad-CAM weights $\alpha^{blue}$ of the colour detector at `conv2_act` (one number
# per channel), then type them in.

# %%
from gradcam_utils.exercises import check_blue_weights, check_counterfactual_square, check_gradcam_function

alpha_blue = None   # e.g. [0.5, 0.5]
check_blue_weights(alpha_blue)


# %% [markdown]
# **2.** Write Grad-CAM yourself: a function from activations and gradients, both `(B, h, w, K)`, to maps
# `(B, h, w)`, before normalisation. Before you write it, predict the shape of the weights $\alpha$ inside your
# function. The check runs your function on random arrays, whose gradients differ from image to image.

# %%
def my_gradcam(activations, gradients):
    return None   # your code here

check_gradcam_function(my_gradcam)

# %% [markdown]
# **3.** On the colour detector's two-squares picture, where is the counterfactual map for "red": on the
# `"red"` square, the `"blue"` square, or is it `"empty"`? Reason from the weights first and write down your
# answer, then check with `gc.compute_heatmaps(..., method="counterfactual")`.

# %%
counterfactual_answer = None   # "red", "blue" or "empty"
check_counterfactual_square(counterfactual_answer)

# %% [markdown]
# ## References
# - Zhou, Khosla, Lapedriza, Oliva, Torralba. "Learning Deep Features for Discriminative Localization". CVPR 2016
#   (CAM).
# - Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra. "Grad-CAM: Visual Explanations from Deep Networks via
#   Gradient-based Localization". ICCV 2017 (extended in IJCV 2020).
# - Draelos, Carin. "Use HiResCAM instead of Grad-CAM for faithful explanations of convolutional neural networks".
#   arXiv 2011.08891, 2020 (HiResCAM).
# - Tan, Le. "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks". ICML 2019
#   (EfficientNet-Lite0 is its mobile variant).
#
# The full bibliography is in `references.md`. Next: the same recipe on a real ImageNet network.
