# %% [markdown]
# # 02 · The gradient math behind Grad-CAM
#
# **Learning goals.** After this notebook you can:
# 1. say what the feature maps $A^k$ of a convolution layer are, and read them as pictures;
# 2. compute the Grad-CAM weights $\alpha_k^c = \frac{1}{Z}\sum_{ij} \partial y^c / \partial A^k_{ij}$ with a
#    `GradientTape`, and the map $L^c = \mathrm{ReLU}(\sum_k \alpha_k^c A^k)$;
# 3. check those gradients with finite differences, and on paper that on a global-average-pooling head Grad-CAM
#    equals CAM divided by $Z$;
# 4. explain why we differentiate the score *before* the softmax, and why each image in a batch needs its own
#    gradients;
# 5. read a *counterfactual* map: where the evidence against a class lies.
#
# We use a network small enough to work out by hand: a **colour detector** whose weights were chosen, not trained.
# Its first layer computes "redness" $R-G-B-0.2$ and "blueness" $B-R-G-0.2$ at every pixel, the second averages
# each over $4\times4$ blocks (an $8\times8$ map), and the class scores are $10\times$ the mean of each map.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
import keras
from gradcam_utils.toy import build_colour_detector, two_squares_image, CLASS_NAMES

np.set_printoptions(precision=3, suppress=True)
model = build_colour_detector()
image = two_squares_image(red_at=(4, 4), blue_at=(18, 18))
model.summary()

# %% [markdown]
# The picture has a red square (top left) and a blue one (bottom right). Both scores are positive, so the
# network "sees" both; Grad-CAM should tell us **where** each class's evidence is.

# %%
logits = model(image[None]).numpy()[0]
print({name: round(float(score), 3) for name, score in zip(CLASS_NAMES, logits)})
plt.imshow(image); plt.axis("off"); plt.title("input"); plt.show()

# %% [markdown]
# ## 1. Feature maps $A^k$
# Grad-CAM looks at the output of a late convolution layer: here `conv2_act`, with $K=2$ channels of $8\times8$
# positions ($Z = 64$). Each channel is a picture of "where this feature fires".

# %%
feature_model = keras.Model(model.input, model.get_layer("conv2_act").output)
A = feature_model(image[None]).numpy()[0]          # (8, 8, 2)
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for k, ax in enumerate(axes):
    ax.imshow(A[..., k], cmap="viridis"); ax.set_title(f"A^{k} ({['redness', 'blueness'][k]})"); ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. CAM: the score, read off the feature maps
# This head is *global average pooling* then a dense layer, so the score is
# $y^c = \sum_k w_k^c \frac{1}{Z}\sum_{ij} A^k_{ij} = \frac{1}{Z}\sum_{ij}\big(\sum_k w_k^c A^k_{ij}\big)$.
# The bracket, $M^c = \sum_k w_k^c A^k$, says how much each position adds to the score: that is **CAM**
# (Zhou et al. 2016), computed here with numpy from the dense layer's weights.

# %%
w = model.get_layer("predictions").kernel.numpy()   # (K=2 channels, 2 classes)
cam_red = A @ w[:, 0]                               # (8, 8): sum_k w_k^red A^k
print("score from CAM:", round(float(cam_red.mean()), 3), "| model's score:", round(float(logits[0]), 3))

# %% [markdown]
# ## 3. Grad-CAM: weights from gradients
# CAM needs a GAP head. Grad-CAM replaces $w_k^c/Z$ by something every network has: the gradient.
# $\alpha_k^c = \frac{1}{Z}\sum_{ij} \partial y^c/\partial A^k_{ij}$ asks *if channel $k$ grew everywhere a
# little, how much would the score of class $c$ rise?* We get the gradient from a `GradientTape`...

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
# can run it in numpy.

# %%
def head(a):                       # GAP, then the dense layer: a (8, 8, 2) -> the two scores
    return a.mean(axis=(0, 1)) @ w

eps, i, j = 1e-3, 2, 3
for k in range(2):
    up, down = A.copy(), A.copy()
    up[i, j, k] += eps; down[i, j, k] -= eps
    print(f"channel {k}: finite difference {(head(up)[0] - head(down)[0]) / (2 * eps):.4f}   tape {grads[i, j, k]:.4f}")

# %% [markdown]
# **On paper:** $\partial y^{red}/\partial A^k_{ij} = w_k^{red}/Z$ at every position, with $w^{red} = (10, 0)$ and
# $Z = 64$: $\alpha^{red} = (0.156, 0)$, the printed value. So on a GAP head **Grad-CAM equals CAM divided by
# $Z$**, a check you can always run. Then the map: weight the channels, sum, and keep only the positive part
# (ReLU: we want evidence *for* the class).

# %%
by_hand = np.maximum((A * alpha).sum(axis=-1), 0)
library = gc.compute_heatmaps(model, image, layer_name="conv2_act", class_index=0, normalize=False)[0]
print("library == by hand:", np.allclose(library, by_hand), "| Grad-CAM == CAM / Z:",
      np.allclose(library, np.maximum(cam_red, 0) / 64))

# %% [markdown]
# For display, the library then divides each map by its maximum (`normalize=True`, the default), so the
# strongest evidence is 1. A map with no positive value at all stays all zeros, with a warning, instead of the
# 0/0 = NaN the article's code produces (it divides by the maximum *before* the ReLU).

# %% [markdown]
# ## 4. One map per class
# The same image, two questions. The library picks each image's top class when `class_index=None`; here we ask for
# both classes and overlay the (normalised) maps.

# %%
result = gc.explain(model, np.stack([image, image]), class_index=[0, 1])
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for ax, heatmap, c in zip(axes, result.heatmaps, result.class_indices):
    ax.imshow(gc.overlay_heatmap(image, heatmap, alpha=0.5, colormap="viridis"))
    ax.set_title(f"Grad-CAM for '{CLASS_NAMES[c]}'"); ax.axis("off")
plt.show()

# %% [markdown]
# ## 5. Why the score *before* the softmax
# With a softmax, $p^{red} = e^{y^{red}}/(e^{y^{red}} + e^{y^{blue}})$, so
# $\partial p^{red}/\partial A = p^{red}(1-p^{red})\,(\partial y^{red}/\partial A - \partial y^{blue}/\partial A)$:
# the gradient **mixes in the other class** (with a minus sign) and **vanishes** as $p^{red}\to 1$.
# Take an image with a big red square and a small blue one, and differentiate the probability instead:

# %%
confident = two_squares_image(red_at=(0, 0), blue_at=(27, 27), red_side=24, blue_side=4)
softmax_model = build_colour_detector(softmax=True)
grad_prob_model = keras.Model(softmax_model.input, [softmax_model.get_layer("conv2_act").output, softmax_model.output])
with tf.GradientTape() as tape:
    acts, probs = grad_prob_model(confident[None], training=False)
    p_red = probs[:, 0]
alpha_prob = tape.gradient(p_red, acts).numpy()[0].mean(axis=(0, 1))
print("p(red) =", round(float(p_red[0]), 4))
print("alpha from the probability:", alpha_prob, " <- tiny, and negative for the blue channel")
print("alpha from the logit:      ", np.array([10 / 64, 0.0]))

# %% [markdown]
# The library always uses the pre-softmax score, **without editing your model** (the article's
# `model.layers[-1].activation = None` changes the model for everyone who uses it afterwards):

# %%
maps = gc.compute_heatmaps(softmax_model, confident, class_index=0)
print("same map as the logits model:", np.allclose(maps, gc.compute_heatmaps(model, confident, class_index=0)))
print("softmax model untouched:", softmax_model.get_layer("predictions").activation.__name__)

# %% [markdown]
# ## 6. A batch is many questions, not one
# The article's code averages gradients over axes `(0, 1, 2)` (batch included), uses image 0's top class for every
# image, and returns image 0's map only. The library differentiates the **sum** of per-image scores (image $b$'s
# score depends only on image $b$, so each gets its own gradient) and averages over axes `(1, 2)` only.

# %%
red_only = two_squares_image(blue_at=None)
blue_only = two_squares_image(red_at=None)
batch = gc.explain(model, np.stack([red_only, blue_only]))
print("classes explained:", [CLASS_NAMES[c] for c in batch.class_indices])
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for ax, img, heatmap in zip(axes, (red_only, blue_only), batch.heatmaps):
    ax.imshow(gc.overlay_heatmap(img, heatmap, colormap="viridis")); ax.axis("off")
plt.show()

# %% [markdown]
# ## 7. Counterfactual maps: evidence *against* a class
# Negate the weights, $\alpha_k = -\frac{1}{Z}\sum_{ij}\partial y^c/\partial A^k_{ij}$, and the map shows the
# regions whose removal would *raise* the score of class $c$ (paper, section 3.3). On a photo with a cat and an
# espresso cup, the counterfactual map for "espresso" should sit on the cat.

# %%
bundle = gc.load_model("efficientnet_lite0")
photo = bundle.load_images("../data/images/cat_and_espresso.png")
espresso = bundle.class_names.index("espresso")
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
for ax, method in zip(axes, ["gradcam", "counterfactual"]):
    heatmap = gc.compute_heatmaps(bundle.model, bundle.preprocess(photo), class_index=espresso, method=method)[0]
    ax.imshow(gc.overlay_heatmap(photo[0], heatmap, alpha=0.5)); ax.set_title(f"{method}: espresso"); ax.axis("off")
plt.show()

# %% [markdown]
# ## Summary
# - $\alpha_k^c$ is the spatial mean of the score's gradient over feature map $k$; the map is
#   $\mathrm{ReLU}(\sum_k\alpha_k^c A^k)$ at the layer's resolution.
# - On a GAP head, Grad-CAM $=$ CAM$/Z$ exactly: a check you can always run.
# - Differentiate logits, not probabilities; give each image its own gradients.
# - Negated weights give the counterfactual map: what speaks against the class.
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
# `(B, h, w)`, before normalisation. The check runs it on random arrays.

# %%
def my_gradcam(activations, gradients):
    return None   # your code here

check_gradcam_function(my_gradcam if my_gradcam(np.ones((1, 2, 2, 1)), np.ones((1, 2, 2, 1))) is not None else None)

# %% [markdown]
# **3.** On the colour detector's two-squares picture, where is the counterfactual map for "red": on the
# `"red"` square, the `"blue"` square, or is it `"empty"`? Reason from the weights first, then check with
# `gc.compute_heatmaps(..., method="counterfactual")`.

# %%
counterfactual_answer = None   # "red", "blue" or "empty"
check_counterfactual_square(counterfactual_answer)

# %% [markdown]
# Next: the same recipe on a real ImageNet network.
