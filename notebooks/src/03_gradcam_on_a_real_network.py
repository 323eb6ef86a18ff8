# %% [markdown]
# # 03 · Grad-CAM on a real ImageNet network: the article's recipe
#
# **Learning goals.** After this notebook you can:
# 1. write the Grad-CAM recipe of the article yourself, step by step (gradient model, `GradientTape`, pooled
#    gradients, weighted sum, ReLU, normalisation, overlay), and check it against the library's batched call;
# 2. say where the article's code goes wrong (batch mixing, the order of ReLU and normalisation, logits printed as
#    probabilities, nearest-neighbour resizing, the overlay's rescaling) and what the library does instead;
# 3. see what the article's Xception looks like (input, Grad-CAM layer, size) even without its weights;
# 4. ask Grad-CAM about **any** class, and measure that the maps of two classes in one picture sit on different
#    objects.
#
# The article follows the Keras Grad-CAM example on **Xception** (Chollet, CVPR 2017), whose 88 MB of ImageNet
# weights Keras downloads once. This notebook runs everywhere, also without internet, so its recipe runs on
# **EfficientNet-Lite0**, a mobile version of EfficientNet (Tan & Le, ICML 2019) trained on ImageNet, whose
# weights ship inside the course's package.
# Section 3 builds Xception's architecture too, and says how to get its weights. Grad-CAM itself is from
# Selvaraju et al. (ICCV 2017).

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import numpy as np
import matplotlib
import matplotlib.pyplot as plt
import keras
import tensorflow as tf

bundle = gc.load_model("efficientnet_lite0")  # embedded: the same numbers on every machine, no download
model, layer_name = bundle.model, bundle.last_conv_layer
print(bundle.name, "| input", bundle.input_size, "| Grad-CAM layer:", layer_name)

# %% [markdown]
# ## 1. The recipe, step by step
# **Step 0: the picture.** `get_img_array` loads the photo, resizes it to the model's input and adds a batch axis
# (values 0–255); the model's own preprocessing then scales it (EfficientNet-Lite: $(x-127)/128$; Xception:
# $x/127.5-1$). Our bundles output **logits**, the scores before the softmax; the softmax turns them into
# probabilities.

# %%
img_path = gc.sample_image_path("cat.png")  # the path of a photo file that ships with the course
pixels = gc.get_img_array(img_path, size=bundle.input_size)  # 0..255
img_array = bundle.preprocess_fn(pixels)
assert np.allclose(img_array, (pixels - 127) / 128), "the text says EfficientNet-Lite scales by (x-127)/128"
logits = model(img_array, training=False).numpy()
probabilities = tf.nn.softmax(logits).numpy()
print("batch", img_array.shape)
for index in np.argsort(-logits[0])[:3]:
    print(f"{bundle.class_names[index]:13s} logit {logits[0, index]:5.2f}   probability {probabilities[0, index]:.2f}")
top = int(np.argmax(logits[0]))
assert logits[0, top] > 1, "the text below says the top logit is far above 1, so it cannot be a probability"

# %% [markdown]
# The article removes the softmax with `model.layers[-1].activation = None` and then prints
# `decode_predictions(preds)`. After that line the model outputs logits, so what it prints as a "score" is the
# logit (the top one above is far above 1), not a probability (at most 1). `bundle.decode` applies the softmax first.
#
# **Step 1: a gradient model.** One model from the input to two outputs: the feature maps $A$ of the Grad-CAM layer
# (the last convolutional layer) and the class scores.

# %%
grad_model = keras.Model(model.input, [model.get_layer(layer_name).output, model.output])
print("outputs:", [tuple(t.shape) for t in grad_model.outputs])

# %% [markdown]
# **Step 2: record the forward pass and differentiate.** `tf.GradientTape` watches the computation; we pick the
# top class and ask for the gradient of its score (the logit $y^c$) with respect to every value of $A$.

# %%
with tf.GradientTape() as tape:
    features, scores = grad_model(img_array, training=False)
    class_index = int(tf.argmax(scores[0]))
    class_score = scores[:, class_index]
grads = tape.gradient(class_score, features)
print("explaining", repr(bundle.class_names[class_index]), "| A", tuple(features.shape), "| dy/dA", tuple(grads.shape))

# %% [markdown]
# **Step 3: pool the gradients** into one weight per channel, $\alpha_k = \frac{1}{Z}\sum_{i,j}
# \partial y^c / \partial A^k_{ij}$: the mean over each image's own positions, axes 1 and 2. (The article averages
# over axes (0, 1, 2): with several images in the batch, that mixes all their gradients into one set of weights.)

# %%
weights = tf.reduce_mean(grads, axis=(1, 2))  # (batch, channels)
print("weights", tuple(weights.shape),
      f"| from {float(tf.reduce_min(weights)):.4f} to {float(tf.reduce_max(weights)):.4f}")

# %% [markdown]
# **Step 4: the weighted sum** of the feature maps, $\sum_k \alpha_k A^k$: one value per position of the layer.

# %%
raw_map = tf.einsum("bhwk,bk->bhw", features, weights).numpy()
print("raw map", raw_map.shape, f"| from {raw_map.min():.3f} to {raw_map.max():.3f}")

# %% [markdown]
# **Step 5: ReLU, then normalise.** Keep only the positive evidence, $\max(\cdot, 0)$, then divide by the maximum of
# what is left, so the peak is 1. The article divides by the maximum taken *before* the ReLU:
# `max(map, 0) / max(map)`. On a map with positive values that is the same thing; on the two maps below it is not.
# A map with no positive value (no evidence for the class) comes back as -0 everywhere, without a warning; a map
# whose maximum is exactly 0 comes back as 0/0 = NaN.

# %%
heatmap = np.maximum(raw_map, 0) / np.maximum(raw_map, 0).max()
assert np.array_equal(heatmap, np.maximum(raw_map, 0) / raw_map.max()), "the text: same thing on this map"
no_evidence, flat_top = np.array([-1.0, -2.0]), np.array([0.0, -1.0])
with np.errstate(invalid="ignore"):  # numpy would warn about 0/0
    article = {"all negative": np.maximum(no_evidence, 0) / no_evidence.max(),
               "maximum 0": np.maximum(flat_top, 0) / flat_top.max()}
for name, values in article.items():
    print(f"{name:12s} article: {values}")
assert np.signbit(article["all negative"]).all(), "the text says an all-negative map comes back as -0"
assert np.isnan(article["maximum 0"]).all(), "the text says a map whose maximum is 0 comes back as NaN"

# %% [markdown]
# The library returns zeros for both and warns (`EmptyHeatmapWarning`; notebook 02 showed it). **The same map from the
# library:** its batched call runs steps 1–5 for any number of images at once. It must give the very map we just built.

# %%
library_map = gc.compute_heatmaps(model, img_array, layer_name=layer_name)
same_via_article_name = gc.make_gradcam_heatmap(img_array, model, layer_name)
difference = max(np.abs(library_map - heatmap).max(), np.abs(same_via_article_name - heatmap[0]).max())
print(f"max |library - ours| below 1e-5 (float rounding, which varies by machine): {difference < 1e-5}")
assert difference < 1e-5, "the text says the library computes the same map"

# %% [markdown]
# The map is coarse: one value per position of the Grad-CAM layer, 7×7 here (10×10 for Xception).

# %%
fig, ax = plt.subplots(figsize=(3.6, 3))
ax.imshow(heatmap[0], cmap="jet", vmin=0, vmax=1)
ax.set_title(gc.explained_title(bundle.class_names[class_index], float(class_score[0]),
                                predicted=bundle.class_names[top]), fontsize=9)
gc.figures.add_colorbar(fig, ax)
plt.show()

# %% [markdown]
# ## 2. The overlay: the library's and the article's
# **Step 6: overlay.** The library upsamples the *map* bilinearly to the photo's size, colours it with jet, and
# blends: $(1-\alpha)\,\text{photo} + \alpha\,\text{colour}$ with $\alpha = 0.4$. The article does it the other way
# round: it colours the 7×7 map first (`np.uint8(255 * heatmap)` indexes jet's colours), resizes the *coloured*
# picture with PIL's default resampler (bicubic), adds $0.4 \times$ colours on top of the photo, and `array_to_img`
# stretches the sum so that its minimum becomes 0 and its maximum 255. Both, in a few lines:

# %%
photo = gc.load_image(img_path)  # the photo at its own size, as both overlays use it
jet_colours = matplotlib.colormaps["jet"](np.arange(256))[:, :3]

def article_style_overlay(photo, heatmap, alpha=0.4):
    small = keras.utils.array_to_img(jet_colours[np.uint8(255 * heatmap)])  # colour the 7x7 map first
    coloured = keras.utils.img_to_array(small.resize(photo.shape[1::-1]))  # then resize the colours (bicubic)
    total = photo + alpha * coloured
    return np.asarray(keras.utils.array_to_img(total)), coloured, total  # min -> 0, max -> 255

article_picture, article_colours, total = article_style_overlay(photo, heatmap[0])
library_picture = gc.overlay_heatmap(photo, heatmap[0], alpha=0.4)

# %%
title = gc.explained_title(bundle.class_names[class_index], float(class_score[0]), predicted=bundle.class_names[top])
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
for ax, picture, how in zip(axes, [library_picture, article_picture], ["library", "article"]):
    ax.imshow(picture); ax.set_title(f"{how}: {title}", fontsize=9); ax.axis("off")
gc.figures.add_colorbar(fig, axes)
plt.show()

# %% [markdown]
# Why they differ, in two numbers. First, the weights. The library always gives the photo 0.6 and the colour 0.4.
# The article adds photo + 0.4 × colour, then `array_to_img` subtracts the sum's minimum and multiplies by
# $255 / (\max - \min)$: a factor that depends on the photo and the map. Second, resizing *colours* mixes
# neighbouring cells' colours, and a mix of two jet colours (blue and red give purple) is often not a jet colour:
# such pixels cannot be read off the colour bar.

# %%
stretch = 255 / (total.max() - total.min())
palette = np.round(jet_colours * 255)
def share_off_the_colour_bar(colours, tolerance=20):
    distance = np.linalg.norm(colours.reshape(-1, 1, 3)[::5] - palette, axis=-1).min(axis=1)
    return (distance > tolerance).mean()
library_colours = gc.overlay.colorize(gc.upsample_heatmap(heatmap[0], photo.shape[:2])).astype(np.float32)
off_article, off_library = share_off_the_colour_bar(article_colours), share_off_the_colour_bar(library_colours)
print(f"article: photo weight {stretch:.2f} (library 0.60), colour weight {0.4 * stretch:.2f} (library 0.40)")
print(f"pixels whose colour is not on the jet colour bar: article {off_article:.0%}, library {off_library:.0%}")
assert stretch > 0.6 and 0.4 * stretch < 0.4, "the text below: the article's photo weighs more, its colour less"
assert 0.25 < off_article < 0.4 and off_library == 0, "the text below: a third of the article's pixels, none"

# %% [markdown]
# Here the article's photo weighs more than the library's and its colours less, so its map looks fainter. A third of
# the colours it lays over the photo are not on the colour bar; none of the library's are, because the library
# colours the map after resizing it.
#
# **Resizing the input.** The article's `get_img_array` calls Keras' `load_img`, which resizes
# **nearest-neighbour** unless told `interpolation=...`: it keeps one pixel in each block and drops the others. The
# library's `get_img_array` resizes bilinearly. Same photo, same class:

# %%
nearest = keras.utils.img_to_array(keras.utils.load_img(img_path, target_size=bundle.input_size))
bilinear = gc.get_img_array(img_path, size=bundle.input_size)[0]
both = gc.explain(model, bundle.preprocess_fn(np.stack([nearest, bilinear])), class_index=class_index)
pixel_change = np.abs(nearest - bilinear).mean()
map_change = np.abs(both.heatmaps[0] - both.heatmaps[1]).max()
print(f"mean pixel difference {pixel_change:.1f} of 255 | logits {both.scores[0]:.2f} vs {both.scores[1]:.2f}"
      f" | largest map difference {map_change:.2f}")
assert 2 < pixel_change < 4 and 0.05 < map_change < 0.2, "the text below: about 3 per pixel, about a tenth"

# %% [markdown]
# A small change to the input (about 3 of 255 per pixel on average) moves the map by up to a tenth of its range.
#
# ## 3. The article's Xception, without its weights
# Xception's *architecture* comes with Keras; only its trained weights need the download. `weights=None` builds the
# network with random weights: the right shapes, no knowledge. (Seeded, so a rerun on your machine builds the same
# network; another machine or Keras version may draw other random numbers.)

# %%
keras.utils.set_random_seed(0)
xception = keras.applications.Xception(weights=None, classifier_activation=None)
xception_layer = xception.get_layer("block14_sepconv2_act")
print("input", xception.input_shape, "| Grad-CAM layer", xception_layer.name, "output", xception_layer.output.shape)
print(f"parameters: {xception.count_params():,}")
assert xception_layer.output.shape[1:] == (10, 10, 2048), "the text below says a 10x10 grid of 2048 channels"
assert xception.count_params() == 22_910_480, "Keras' Xception has 22,910,480 parameters"

# %% [markdown]
# A 299×299 picture goes in; the Grad-CAM layer sees it as a 10×10 grid of 2048 channels. The same recipe runs on it,
# step for step (here in one cell: steps 1–5):

# %%
x_img = keras.applications.xception.preprocess_input(gc.get_img_array(img_path, size=(299, 299)))
x_grad_model = keras.Model(xception.input, [xception_layer.output, xception.output])
with tf.GradientTape() as tape:
    x_features, x_scores = x_grad_model(x_img, training=False)
    x_class = int(tf.argmax(x_scores[0]))
    x_score = x_scores[:, x_class]
x_grads = tape.gradient(x_score, x_features)
x_raw = tf.einsum("bhwk,bk->bhw", x_features, tf.reduce_mean(x_grads, axis=(1, 2))).numpy()
x_map = np.maximum(x_raw, 0) / max(np.maximum(x_raw, 0).max(), 1e-12)
x_probability = float(tf.nn.softmax(x_scores)[0, x_class])
print("Xception map", x_map.shape)

# %% tags=["nbval-ignore-output"]
print(f"untrained Xception's top class: {bundle.class_names[x_class]!r}, p = {x_probability:.4f} (1/1000 = 0.0010)")
x_lowest = float(tf.reduce_min(tf.nn.softmax(x_scores)))
assert x_lowest > 0.0009 and x_probability < 0.0011, "the text says every class gets about 1/1000"

# %% [markdown]
# The untrained network gives its top class a probability of about 1/1000, the same as any other class: its top class
# is arbitrary (which one depends on the random numbers, so your machine may print another one), and so is the map
# below. **This map is meaningless**: it shows where random filters respond, not what a trained network
# looks at. With the weights, the same cells give the article's result. To get them: run `gradcam-fetch-xception` on
# a machine with internet (it saves the 88 MB file in Keras' cache), or copy the file
# `xception_weights_tf_dim_ordering_tf_kernels.h5` and point `GRADCAM_XCEPTION_WEIGHTS=/path/to/file.h5` at it, or
# call `gc.load_model("xception", weights_path="/path/to/file.h5")`. With the weights on the machine, the cell after
# the figure explains the cat with the trained Xception (the library's call, which we checked against the recipe).

# %%
x_photo = gc.load_image(img_path, size=(299, 299))
x_title = f"map of '{bundle.class_names[x_class]}' (p={x_probability:.4f})\npredicted '{bundle.class_names[x_class]}'"
fig, axes = gc.show_heatmaps(x_photo, x_map, [x_title + "\nrandom weights: meaningless"], panel_size=3.2)
plt.show()

# %% tags=["nbval-ignore-output"]
from gradcam_utils import xception as xception_weights

if xception_weights.weights_available():  # the trained network: the article's own result
    trained = gc.load_model("xception")
    cat_299 = trained.load_images(img_path)
    trained_result = gc.explain(trained.model, trained.preprocess(cat_299))
    name = trained.class_names[trained_result.class_indices[0]]
    gc.show_heatmaps(cat_299, trained_result.heatmaps, [gc.explained_title(name, trained_result.scores[0],
                                                                             predicted=name)], panel_size=3.2)
    plt.show()
else:
    print("The Xception weights are not on this machine; with them, this cell shows the trained Xception's map.")

# %% [markdown]
# ## 4. Grad-CAM answers "why *this* class?"
# A picture with a cat on the left and an espresso cup on the right. The model's top three classes are cats, but we
# can ask about any class: we look classes up by name in `bundle.class_names`. `gc.explain` takes a batch and one
# class per image, and reports each class's score (its logit) and all logits (their argmax is the prediction).

# %%
two = bundle.load_images(gc.sample_image_path("cat_and_espresso.png"))  # squeezed to 224x224 for the model
original = gc.load_image(gc.sample_image_path("cat_and_espresso.png"))  # 448x224, for display
top4 = bundle.decode(bundle.predict(two), top=4)[0]  # softmax probabilities, best first
print(", ".join(f"{p.name} p={p.score:.2f}" for p in top4))
assert [p.name for p in top4[:3]] == ["Egyptian cat", "tiger cat", "tabby"], "the text: the top three are cats"
asked = ["Egyptian cat", "espresso"]
result = gc.explain(model, bundle.preprocess(np.repeat(two, 2, axis=0)),
                    class_index=[bundle.class_names.index(name) for name in asked])
predicted = [bundle.class_names[i] for i in result.logits.argmax(axis=1)]
titles = [gc.explained_title(n, s, predicted=p) for n, s, p in zip(asked, result.scores, predicted)]
fig, axes = gc.show_heatmaps(np.repeat(original[np.newaxis], 2, axis=0), result.heatmaps, titles, panel_size=3.6)
plt.show()

# %% [markdown]
# How much of each map lies on the cat's half (the left half)? This is the share of the map's total "energy" inside a
# region, the energy-based pointing game of the Score-CAM paper (Wang et al., CVPR Workshops 2020).

# %%
shares = {}
for name, heatmap_of_class in zip(asked, result.heatmaps):
    up = gc.upsample_heatmap(heatmap_of_class, bundle.input_size)
    shares[name] = up[:, : up.shape[1] // 2].sum() / up.sum()
    print(f"{name:13s} share of the map on the cat's half: {shares[name]:.2f}")
assert shares["Egyptian cat"] > 0.9, "the text below: the cat's map lies almost entirely on the left half"
assert shares["espresso"] < 0.2, "the text below: the espresso map lies mostly on the right half"

# %% [markdown]
# The cat's map lies almost entirely on the left half, the espresso map mostly on the right: one picture, two
# questions, two different answers.
#
# ## 5. Several photos at once
# One call explains a whole batch, each photo with its own top class: one forward and one backward pass.

# %%
names = ["cat.png", "espresso.png", "astronaut.png", "grace_hopper.jpg"]
photos = bundle.load_images(*[gc.sample_image_path(n) for n in names])
batch = gc.explain(model, bundle.preprocess(photos))
top_names = [bundle.class_names[c] for c in batch.class_indices]
titles = [gc.explained_title(n, s, predicted=n) for n, s in zip(top_names, batch.scores)]
fig, axes = gc.show_heatmaps(photos, batch.heatmaps, titles, ncols=4)
plt.show()
next_guesses = [bundle.class_names[i] for i in np.argsort(-batch.logits[2])[1:3]]
print("top classes:", top_names, "| the astronaut's next guesses:", next_guesses)
assert top_names[2] == "bobsled" and next_guesses == ["football helmet", "go-kart"], "the text below says so"

# %% [markdown]
# The astronaut is a "bobsled" to this network: Grad-CAM explains the *model*, right or wrong. Where the map is hot
# is where Grad-CAM finds the evidence for "bobsled" (the next guesses are "football helmet" and "go-kart"). Reading
# wrong predictions like this is the topic of the applications notebook.
#
# **The article's batch mistake, measured.** The article's step 3 averages the gradients over axes (0, 1, 2), so a
# batch of photos shares one set of channel weights. Guess first: will the four maps above change much if we do
# that? Same activations, same gradients, only the mean taken the article's way:

# %%
inputs = gc.gradient_inputs(model, bundle.preprocess(photos), layer_name)  # A and dy/dA, per photo
shared_weights = inputs.gradients.mean(axis=(0, 1, 2))  # the article: one weight per channel for the whole batch
mixed = np.maximum(np.einsum("bhwk,k->bhw", inputs.activations, shared_weights), 0)
mixed /= mixed.max(axis=(1, 2), keepdims=True)
fig, axes = gc.show_heatmaps(photos, mixed, titles, ncols=4, suptitle="the article's weights, averaged over the batch")
plt.show()
moved = np.abs(mixed - batch.heatmaps).max(axis=(1, 2))
print("largest change of each map:", ", ".join(f"{n} {m:.2f}" for n, m in zip(top_names, moved)))
assert moved.min() > 0.15 and moved[2] > 0.5, "the text below: every map moves, the astronaut's by over half"

# %% [markdown]
# Every map moves, the astronaut's by more than half of its range: with the article's code, what a photo's map shows
# depends on which other photos share its batch. Run one photo at a time (as the article does) and the mistake does not
# show; the library's batched call keeps each photo's own weights.
#
# > **Notes on the article.** The article is a friendly, working introduction; a few of its words and lines are
# > worth correcting.
# > - Its comments call two steps "transfer learning" (転移学習): removing the softmax
# >   (`model.layers[-1].activation = None`) and taking the gradient. Neither is transfer learning, which means
# >   reusing a network trained on one task for a new one by training (part of) it again on new data, as notebook 06
# >   does in section 4. Removing the softmax just reads the scores before it; the gradient step is Grad-CAM itself.
# > - It averages the gradients over the batch as well (step 3; section 5 shows what that does to a batch), divides
# >   by the maximum before the ReLU (step 5: -0 or NaN), prints logits as if they were probabilities (step 0),
# >   resizes the input nearest-neighbour and stretches the overlay (section 2).
# > - The library keeps the article's function names and fixes these: per-image gradients, ReLU before normalising
# >   (with a warning for empty maps), logits read without editing your model, bilinear resizing of the input and of
# >   the map, and a fixed blend.
#
# ## Summary
# - Grad-CAM is six short steps: gradient model, tape, pooled gradients, weighted sum, ReLU and normalisation,
#   overlay. Written by hand, they give the library's map to within 1e-5.
# - Small details change what you see: the article's overlay (colours resized, blend stretched) is fainter and a
#   third of its colours are off the colour bar; nearest-neighbour resizing of the input moved the cat's map by a
#   tenth; averaging gradients over a batch moved every map of the batch. Normalising before the ReLU breaks maps
#   with no positive evidence (-0 or NaN).
# - Without its trained weights, a network's Grad-CAM map means nothing; the architecture alone is not the model.
# - Grad-CAM is class-discriminative: in one picture, the cat's map and the cup's map sit on different objects.
#
# ## Exercises
# Try first; worked solutions are in `solutions/03_gradcam_on_a_real_network.md`. Before each one, write down your
# guess.
#
# **1.** The astronaut photo also shows a space shuttle (top right), yet the model answers "bobsled". Find the
# ImageNet class index of `"space shuttle"` in the bundle (don't type it from memory), then ask Grad-CAM about that
# class as in section 4. Guess first: will its map find the shuttle, although the model ranks that class far below
# its top guesses?

# %%
from gradcam_utils.exercises import check_class_index, check_espresso_probability, check_left_half_share

shuttle_index = None   # your code here
check_class_index("space shuttle", shuttle_index)

# %% [markdown]
# **2.** Which probability does the model give "espresso" on the photo `gc.sample_image_path("espresso.png")`? Guess
# first: above or below 0.5? (The figure of section 5 shows its logit, not its probability.)

# %%
espresso_probability = None   # your code here
check_espresso_probability(bundle.name, espresso_probability)

# %% [markdown]
# **3.** Which share of the upsampled "tabby" map lies on the left half of `cat_and_espresso.png`? Guess first:
# closer to the cat's share or to the espresso's?

# %%
tabby_share = None   # your code here
check_left_half_share(bundle.name, "tabby", tabby_share)

# %% [markdown]
# ## References
# - Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra. "Grad-CAM: Visual Explanations from Deep Networks via
#   Gradient-based Localization." ICCV 2017.
# - Chollet. "Xception: Deep Learning with Depthwise Separable Convolutions." CVPR 2017.
# - Tan, Le. "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks." ICML 2019.
# - Wang, Wang, Du, Yang, Zhang, Ding, Mardziel, Hu. "Score-CAM: Score-Weighted Visual Explanations for
#   Convolutional Neural Networks." CVPR Workshops 2020.
#
# Next: how to turn a heatmap into a picture you can trust (upsampling, colormaps, opacity).
