# %% [markdown]
# # 09 · Capstone: explain your own model and your own picture
#
# **Learning goals.** After this notebook you can, on a model nobody has explained for you:
# 1. train a small CNN of your own on the shapes, with a twist you choose, seeded so that every run is the same;
# 2. choose the layer Grad-CAM should explain, and say why;
# 3. explain a picture you drew yourself, for the predicted class and for a second class;
# 4. back every sentence about the maps with a number: accuracy, pointing game and energy against a random map,
#    the sanity check, and one limit, measured;
# 5. write a short report that a check recomputes from your model.
#
# **How to use it.** First run it top to bottom as it is: a worked example, with its decisions
# in section 1 (a run takes under a minute). Then save a copy, make the decisions your own (other classes, another
# image size, a planted shortcut), run it again, and answer the four exercises for *your* model. Each exercise asks
# you to predict first; its check computes the right answer from your model, whatever you chose. Worked solutions
# are in `solutions/09_capstone.md`.
#
# **Your sentences need numbers too.** The text describes the worked example. Each sentence in it that states a
# number or a comparison has an `assert` under the numbers it rests on, and the assert's message quotes the
# sentence. With your decisions some will fail, or stop with a `KeyError` where a cell names the example's
# classes. That is not a bug: the sentence is not true of your model. Read your numbers, rewrite the sentence so
# that it says what they show, change the assert to guard your new sentence, and run on. A report in which every
# claim sits next to its number and its assert is what this capstone asks of you.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import numpy as np
import matplotlib.pyplot as plt
import keras
import tensorflow as tf
from gradcam_utils import metrics
from gradcam_utils.synthetic import make_shapes
import warnings
warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)   # an all-zero map counts as a miss; we count them below
# every assert below starts its message with this (see "Your sentences need numbers too" above)
REWRITE = "Not true of your model? Read the numbers above, then rewrite this sentence and its assert: "
from gradcam_utils.exercises import check_capstone, check_capstone_layer
from gradcam_utils.exercises import check_energy_function, check_sanity_prediction

# %% [markdown]
# ## 1. Your decisions
# The course's models see five classes at 64×64 pixels. Here you choose. Ideas for a twist:
# - other classes (2 to 5 of `circle`, `square`, `triangle`, `cross`, `star`);
# - another image size (40 or more; objects scale with it);
# - a shortcut: `DATA = dict(cue="correlated", cue_kind="color")` paints a marker whose colour gives the class
#   away (notebooks 01 and 06), and the measurements below tell you whether your model took it;
# - another `SEED`: the same recipe trains another model. Which of the sentences below still hold for it?
#
# Training and test pictures come from different seeds, so the test pictures are new to the model.

# %%
CLASSES = ("circle", "square", "cross")
IMAGE_SIZE = 48
DATA = dict(cue="none")
SEED = 8
train = make_shapes(1200, seed=SEED, image_size=IMAGE_SIZE, classes=CLASSES, **DATA)
test = make_shapes(300, seed=SEED + 1, image_size=IMAGE_SIZE, classes=CLASSES, **DATA)
x_train, x_test = train.images.astype("float32"), test.images.astype("float32")
object_area = float(test.masks.mean())
print(f"{len(train)} training and {len(test)} test pictures of {CLASSES}, {IMAGE_SIZE}x{IMAGE_SIZE} pixels")
print(f"an object covers {object_area:.1%} of its picture on average")

# %%
fig, axes = plt.subplots(1, 6, figsize=(10, 2))
for ax, image, label in zip(axes, train.images, train.labels):
    ax.imshow(image); ax.set_title(CLASSES[label]); ax.axis("off")
plt.show()


# %% [markdown]
# ## 2. Your model
# Three convolution blocks, then a head: global **max** pooling (the strongest response of each feature map,
# wherever it is) and one dense layer that gives a score per class. The course's models average instead; max
# pooling is this model's own twist, and it learns the shapes in a few epochs. The dense layer gives logits, the
# scores before the softmax, which is what Grad-CAM differentiates (notebook 02).

# %%
def build_model(num_classes, image_size):
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="rescale")(inputs)  # pixels to [-1, 1]
    for i, filters in enumerate((16, 32, 32), start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", name=f"conv{i}")(x)
        x = keras.layers.Activation("relu", name=f"conv{i}_act")(x)
        if i < 3:
            x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="my_model")


# %% [markdown]
# Training is seeded (`keras.utils.set_random_seed`: the same initial weights and batches) and deterministic
# (`enable_op_determinism`: the same order of arithmetic), so a rerun gives the same model and the same numbers.
# Four epochs on 1200 small pictures: a short wait, even on a laptop's CPU.

# %%
keras.utils.set_random_seed(SEED)
tf.config.experimental.enable_op_determinism()
model = build_model(len(CLASSES), IMAGE_SIZE)
model.compile(optimizer=keras.optimizers.Adam(3e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(x_train, train.labels, epochs=4, batch_size=32, verbose=0)
predicted = gc.class_logits(model, x_test).argmax(axis=1)
accuracy = float((predicted == test.labels).mean())
print(f"test accuracy {accuracy:.1%} (chance {1 / len(CLASSES):.1%}); {int((predicted != test.labels).sum())} of "
      f"{len(test)} test pictures wrong")
assert accuracy > 0.8, REWRITE + "'The model is far above chance' (text below)"

# %% [markdown]
# The model is far above chance: it has learned something about the shapes. *What* it learned is the question
# for Grad-CAM.
#
# ## 3. Which layer?
# Grad-CAM weights the feature maps of one layer by how much the class score depends on them. That layer needs
# positions (rows and columns), and its features should be about the classes, not about edges; notebooks 05 and
# 07 showed what happens at earlier layers. Here are your model's layers and the shape of what each one outputs
# (batch axis left out):

# %%
for layer in model.layers:
    print(f"{layer.name:10s} {type(layer).__name__:20s} {tuple(layer.output.shape[1:])}")

# %% [markdown]
# **Exercise 1.** Which layer should Grad-CAM explain in your model? Decide before you read on.

# %%
my_layer = None   # a layer name from the list above
check_capstone_layer(model, my_layer)

# %% [markdown]
# From here on the notebook uses the library's choice, `gc.default_layer_name(model)`; compare it with yours.

# %%
LAYER = gc.default_layer_name(model)
rows, cols = model.get_layer(LAYER).output.shape[1:3]
print(f"Grad-CAM layer: {LAYER}, {rows}x{cols} positions, one per {IMAGE_SIZE // rows}x{IMAGE_SIZE // cols} pixels")

# %% [markdown]
# **What Grad-CAM computes behind your head.** Global max pooling passes on only the strongest position of each
# feature map, so the class score's gradient is the dense weight at that position and 0 everywhere else. Its
# spatial mean, Grad-CAM's weight, is the dense weight divided by the number of positions: the weights of CAM
# (Zhou et al., CVPR 2016), as behind the average pooling of the course's models (notebook 02). So on this model
# Grad-CAM's map is CAM's map, scaled to its peak. Computed both ways on 50 test pictures:

# %%
features = keras.Model(model.input, model.get_layer(LAYER).output)(x_test[:50]).numpy()
dense = model.get_layer("logits").kernel.numpy()   # (channels, classes)
cam = np.maximum(np.einsum("bhwk,kb->bhw", features, dense[:, test.labels[:50]]), 0)
peaks = cam.max(axis=(1, 2), keepdims=True)
cam = np.divide(cam, peaks, out=np.zeros_like(cam), where=peaks > 0)
gradcam_maps = gc.compute_heatmaps(model, x_test[:50], LAYER, class_index=test.labels[:50])
difference = float(abs(cam - gradcam_maps).max())
print(f"largest difference between CAM's and Grad-CAM's maps: {difference:.5f}")
assert difference < 1e-4, REWRITE + "'on this model Grad-CAM's map is CAM's map' (text above)"

# %% [markdown]
# ## 4. Your own picture
# A picture drawn with numpy, unlike anything in the training set: a dark background without stripes, a red disc
# top left and a yellow cross bottom right, at known pixels (`disc`, `cross`). To explain a photo instead, load it with
# `gc.load_image("my_photo.png", size=(IMAGE_SIZE, IMAGE_SIZE))`; without masks you can then only judge by eye.
# Change the shapes to two of *your* classes.

# %%
yy, xx = np.mgrid[:IMAGE_SIZE, :IMAGE_SIZE]
disc = (yy - 14) ** 2 + (xx - 14) ** 2 < 6 ** 2                                   # 12 px wide
cross = ((abs(yy - 32) < 7) & (abs(xx - 32) < 3)) | ((abs(yy - 32) < 3) & (abs(xx - 32) < 7))  # 13 px
noise = np.random.default_rng(SEED).normal(0, 4, size=(IMAGE_SIZE, IMAGE_SIZE, 3))
picture = np.clip(50 + noise, 0, 255).astype(np.uint8)
picture[disc], picture[cross] = (220, 60, 60), (240, 240, 80)
drawn = {"circle": disc, "cross": cross}
assert set(drawn) <= set(CLASSES), f"draw shapes of your classes {CLASSES}, and name them in `drawn`"

# %% [markdown]
# One picture, one question per class: why "circle", why "cross", why "square"? Grad-CAM answers each class
# separately, so we ask for every class of the model. Which map do you expect where? The model's own answer, its
# top class, is in every title.

# %%
every_class = list(range(len(CLASSES)))
result = gc.explain(model, np.repeat(picture[None].astype("float32"), len(CLASSES), axis=0), LAYER,
                    class_index=every_class)
top = CLASSES[int(result.logits[0].argmax())]
titles = [gc.explained_title(CLASSES[c], s, predicted=top) for c, s in zip(result.class_indices, result.scores)]
gc.show_heatmaps(picture, result.heatmaps, titles, panel_size=3)
plt.show()
share = {(CLASSES[c], shape): metrics.energy_pointing_game(heatmap, mask)
         for c, heatmap in zip(every_class, result.heatmaps) for shape, mask in drawn.items()}
for name in CLASSES:
    print(f"map of {name!r}: " + ", ".join(f"{share[(name, shape)]:.0%} on the {shape}" for shape in drawn))

# %%
own = {name: share[(name, name)] for name in drawn}
other = {name: max(share[(name, shape)] for shape in drawn if shape != name) for name in drawn}
logit = dict(zip(CLASSES, result.scores))
assert all(own[name] > 2 * other[name] for name in drawn), REWRITE + "'Each drawn class's map puts at least twice...'"
assert top == "cross" and min(logit, key=logit.get) == "circle", REWRITE + "'The model answers \"cross\"...'"
assert sum(share[("cross", shape)] for shape in drawn) < 0.5, REWRITE + "'Most of the cross's map lies off both...'"
assert share[("square", "circle")] > 0.3, REWRITE + "'the \"square\" map sits on the disc'"

# %% [markdown]
# Each drawn class's map puts at least twice as much of its energy on its own shape as on the other shape: the
# maps are class-discriminative, also on a picture drawn by hand. But look closer. The model answers "cross", and
# the circle, drawn just as clearly, gets the lowest score of the three; yet its map looks as hot as the cross's,
# because every map is scaled to its own peak. Most of the cross's map lies *off* both shapes, spilling past the
# cross's edge: evidence can sit around an object as much as on it. And the "square" map sits on the disc: the
# model finds some square evidence in a round shape. So read a map together with its score (in the titles), and
# look at the other classes' maps before trusting one.
#
# ## 5. Evidence on 300 test pictures
# One picture is an anecdote. On the test set we know every object's pixels (`test.masks`), so we can count:
# how often the map's peak is on the object (pointing game, Zhang et al., ECCV 2016), and which share of the
# map's energy lies on it (energy-based pointing game, Wang et al., CVPR Workshops 2020). Each map explains the
# **true** class, so a wrong prediction counts against the map. A random map is the baseline: it puts about the
# object's area on the object.
#
# **Exercise 2.** Write the energy share yourself: a function of one map `(h, w)` at the layer's resolution and
# one boolean mask `(H, W)` at the picture's, returning the share of the map's energy on the mask.

# %%
my_energy = None   # a function (heatmap, mask) -> number
check_energy_function(my_energy)

# %%
explained = gc.explain(model, x_test, LAYER, class_index=test.labels)
heatmaps = explained.heatmaps
random_maps = np.random.default_rng(SEED).uniform(size=heatmaps.shape)

# %%
scores = {}
for name, maps in [("Grad-CAM", heatmaps), ("random map", random_maps)]:
    hits, energy = metrics.pointing_game(maps, test.masks), metrics.energy_pointing_game(maps, test.masks)
    scores[name] = metrics.bootstrap_ci(hits), metrics.bootstrap_ci(energy)
    (p, p_lo, p_hi), (e, e_lo, e_hi) = scores[name]
    print(f"{name:10s} pointing game {p:.0%} [{p_lo:.0%}, {p_hi:.0%}]   "
          f"energy on object {e:.2f} [{e_lo:.2f}, {e_hi:.2f}]")
print(f"{int(explained.empty.sum())} Grad-CAM maps were all zero; the object covers {object_area:.1%} of a picture")
assert scores["Grad-CAM"][0][1] > scores["random map"][0][2], REWRITE + "'Grad-CAM's peak lands on the object...'"
assert scores["Grad-CAM"][1][1] > 5 * scores["random map"][1][2], REWRITE + "'more than five times as much...'"
assert abs(scores["random map"][1][0] - object_area) < 0.01, REWRITE + "'The random map's energy share is close...'"

# %% [markdown]
# (95% bootstrap intervals over the 300 pictures in brackets.) Grad-CAM's peak lands on the object far more often
# than a random map's, and more than five times as much of its energy is on the object: the intervals are far
# apart, so this is not luck of the sample. The random map's energy share is close to the object's area, as it
# should be for a map that knows nothing.
#
# An average over all pictures can hide a class. The same numbers, class by class:

# %%
energy, hits = metrics.energy_pointing_game(heatmaps, test.masks), metrics.pointing_game(heatmaps, test.masks)
by_class = {}
for c, name in enumerate(CLASSES):
    mine = test.labels == c
    by_class[name] = metrics.bootstrap_ci(energy[mine]), hits[mine].mean(), (predicted[mine] == c).mean()
    (e, low, high), pointing, right = by_class[name]
    print(f"{name:8s} {mine.sum()} pictures, {right:4.0%} right   pointing game {pointing:4.0%}   "
          f"energy on object {e:.2f} [{low:.2f}, {high:.2f}]")
others = [name for name in CLASSES if name != "cross"]
assert by_class["cross"][0][2] < min(by_class[n][0][1] for n in others) / 2, REWRITE + "'The cross's maps put...'"
assert by_class["cross"][2] > 0.8, REWRITE + "'The model recognises crosses...'"
assert by_class["cross"][1] < min(by_class[n][1] for n in others) / 2, REWRITE + "'their peak lands on the cross...'"

# %% [markdown]
# The cross's maps put less than half as much of their energy on the object as the other classes' maps do, and
# their peak lands on the cross far less often. The model recognises crosses, but the evidence Grad-CAM shows for
# "cross" lies mostly off the cross, as on the drawn picture: that picture was not a fluke. A good average can
# hide a class for which the map tells you little; look class by class. This is a finding about this model, not
# about crosses: a model trained with another `SEED` may differ, so measure yours.
#
# A closer look at a few test pictures, including wrong predictions: every title names the class explained (the
# true one), its logit, and what the model predicted.

# %%
wrong = np.flatnonzero(predicted != test.labels)[:2]
show = np.concatenate([np.setdiff1d(np.arange(6), wrong)[:6 - len(wrong)], wrong])
titles = [gc.explained_title(CLASSES[test.labels[i]], explained.scores[i], predicted=CLASSES[predicted[i]])
          for i in show]
gc.show_heatmaps(test.images[show], heatmaps[show], titles, ncols=6)
plt.show()

# %% [markdown]
# The last panels whose predicted class differs from the explained one are pictures the model gets wrong. Their
# maps still explain the true class: they show what evidence for it the model found, and where; its logit in the
# title is lower than the predicted class's, so the model found less of it.

# %% [markdown]
# ## 6. Does the map depend on the model? The sanity check
# A map that stays the same when the model's learned weights are replaced by random ones explains the picture,
# not the model (Adebayo et al., NeurIPS 2018). `gc.cascading_randomization` re-initialises a *copy* of the model
# from the top down and measures the rank correlation between the trained model's maps and the new ones
# (1 = unchanged, 0 = unrelated). We call it a **pass** when the mean correlation is below 0.5 after each of the
# first two steps (the dense head, then the last convolution), on the first 16 test pictures.
#
# **Exercise 3.** Predict before running the next cell: does Grad-CAM on your model pass?

# %%
passes_sanity = None   # True or False
check_sanity_prediction(model, x_test, LAYER, passes_sanity)

# %%
sanity = gc.cascading_randomization(model, x_test[:16], LAYER, max_steps=2, seed=0, guided_maps=False)
print(sanity.summary())
correlations = [row["gradcam"] for row in sanity.rows()]
intervals = [metrics.bootstrap_ci(step[~np.isnan(step)]) for step in sanity.gradcam]   # NaN: an all-zero map
print("95% intervals over the pictures:", ", ".join(f"[{low:.2f}, {high:.2f}]" for _, low, high in intervals))
assert max(correlations) < 0.5, REWRITE + "'Grad-CAM on this model passes' (text below)"
assert max(high for _, low, high in intervals) < 0.5, REWRITE + "'even the upper ends of the intervals...'"

# %% [markdown]
# The maps change as soon as the head is random, and stay far from the trained ones when the last convolution is
# random too: Grad-CAM on this model passes, its maps depend on what the model learned. Sixteen pictures are
# enough for this verdict: even the upper ends of the intervals are below 0.5.
#
# ## 7. One limit, measured: objects smaller than the training ones
# Each cell of the Grad-CAM layer stands for a block of pixels (printed in section 3), and its evidence is
# spread further by the convolutions. Objects smaller than anything in the training set test both the model and
# the map.

# %% [markdown]
# For each size we measure the accuracy, the map's energy on the object, and, as a yardstick, the energy share of
# the object's own mask shrunk to the layer's grid (each cell gets the share of its pixels on the object) and
# upsampled like a map: a map that knew the object perfectly, at the layer's resolution.

# %%
sizes = {"as in training": None, "small (6-8 px)": (6, 8)}
for name, size_range in sizes.items():
    batch = make_shapes(300, seed=SEED + 2, image_size=IMAGE_SIZE, classes=CLASSES, size_range=size_range, **DATA)
    x = batch.images.astype("float32")
    maps = gc.compute_heatmaps(model, x, LAYER, class_index=batch.labels)
    shrunk = tf.image.resize(batch.masks[..., None].astype("float32"), (rows, cols), method="area")[..., 0]
    answers = gc.class_logits(model, x).argmax(axis=1)
    sizes[name] = dict(accuracy=float((answers == batch.labels).mean()), area=float(batch.masks.mean()),
                       energy=metrics.bootstrap_ci(metrics.energy_pointing_game(maps, batch.masks)),
                       shrunk_mask=float(metrics.energy_pointing_game(shrunk.numpy(), batch.masks).mean()),
                       answers=dict(zip(CLASSES, np.bincount(answers, minlength=len(CLASSES)).tolist())))

# %%
for name, m in sizes.items():
    e, low, high = m["energy"]
    print(f"objects {name:15s} accuracy {m['accuracy']:.0%}  energy on object {e:.2f} [{low:.2f}, {high:.2f}]  "
          f"shrunk mask {m['shrunk_mask']:.2f}  object area {m['area']:.1%}")
usual, small = sizes.values()
print("the model's answers on the small objects:", small["answers"])
assert small["accuracy"] < usual["accuracy"] - 0.2, REWRITE + "'the model is wrong far more often'"
assert max(small["answers"], key=small["answers"].get) == "cross" and small["answers"]["cross"] > 150, \
    REWRITE + "'it answers \"cross\" for most of them'"
assert small["energy"][0] < usual["energy"][0] / 2, REWRITE + "'falls to less than half'"
assert small["energy"][2] < usual["energy"][1], REWRITE + "'the two intervals are far apart'"
assert small["shrunk_mask"] < usual["shrunk_mask"] - 0.1, REWRITE + "'even the object's own mask...'"
assert small["energy"][0] / small["area"] > 3, REWRITE + "'its share is several times the object's area'"

# %% [markdown]
# On small objects the model is wrong far more often, and it is not guessing: it answers "cross" for most of
# them. The share of the map's energy on the object falls to less than half, and the two intervals are far
# apart. Part of that fall is the layer: even the object's own mask, shrunk to
# the layer's grid and upsampled like a map, puts clearly less of its energy on a small object, which spans only
# about two of the layer's 4-pixel cells. Grad-CAM cannot be finer than its layer. The map is still aimed at the
# object (its share is several times the object's area, the random baseline), and it explains what the model
# does, also when the model is out of its depth.
#
# ## 8. Your report
# **Exercise 4.** Put your findings in one dict, from the variables above, and let the check recompute each number
# from your model: the layer, the test accuracy (the variable `accuracy`, a fraction, not the percentage printed
# above), the mean energy share of Grad-CAM's maps on the object and of the random maps, and the sanity verdict.
# The check also recomputes your `heatmaps` with its own GradientTape.

# %%
report = None   # a dict with the keys layer, accuracy, energy_on_object, energy_random, passes_sanity
check_capstone(model, x_test, test.labels, test.masks, heatmaps, report)

# %% [markdown]
# ## Summary of the course
# - **Why** (01): a correct answer can rest on the wrong evidence; a map of the evidence can show it.
# - **How** (02, 03): Grad-CAM weights a layer's feature maps by the spatial mean of the class score's gradient,
#   sums them and keeps the positive part (Selvaraju et al., ICCV 2017), generalising CAM (Zhou et al., CVPR 2016)
#   to any head.
# - **Showing it** (04, 05): a map is coarse; upsample it, overlay it, name the class it explains and give it a
#   colour bar.
# - **Using it** (06): find shortcuts, localise objects, explain transferred models, with numbers, not by eye.
# - **Beyond the classifier** (08): explain any score (a difference of two classes, a region of a segmentation,
#   one label of several), a Vision Transformer at the last attention's input, and compare with occlusion,
#   knowing what agreement does not prove.
# - **Trusting it** (07, here): compare with a random map, with intervals; delete pixels onto a natural
#   substitute, not black; run the sanity check; know the limits: coarse layers, small objects, several instances.
# - **Claiming it** (here): every sentence about a map sits next to the number behind it, and an assert that
#   fails when the number stops supporting it.
#
# **Where to go next.** `references.md` lists every paper the course relies on. Try the other methods of
# `gc.available_methods()` on your model (`gc.explain(..., method="gradcam++")`): Grad-CAM++ (Chattopadhay et al.,
# WACV 2018), Score-CAM (Wang et al., CVPR Workshops 2020), LayerCAM (Jiang et al., IEEE TIP 2021), and HiResCAM
# (Draelos & Carin, arXiv 2020), which keeps each position's own gradient: does it differ from Grad-CAM behind your
# max-pooling head, and does it put more of the cross's map on the cross? Predict, then measure it as in section
# 5. Measure your maps' faithfulness with 07's deletion and insertion curves (Petsiuk et al., BMVC 2018), and read
# how ROAR (Hooker et al., NeurIPS 2019) and ROAD (Rong et al., ICML 2022) remove pixels without leaving the
# pictures the model knows.
#
# ## References
# - Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016.
# - Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization",
#   ICCV 2017.
# - Zhang et al., "Top-down Neural Attention by Excitation Backprop", ECCV 2016 (pointing game).
# - Wang et al., "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks", CVPR Workshops
#   2020 (energy-based pointing game).
# - Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018.
# - Chattopadhay et al., "Grad-CAM++", WACV 2018; Jiang et al., "LayerCAM", IEEE TIP 2021.
# - Draelos & Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations of convolutional neural
#   networks", arXiv 2011.08891, 2020.
# - Petsiuk et al., "RISE", BMVC 2018; Hooker et al., "A Benchmark for Interpretability Methods in Deep Neural
#   Networks", NeurIPS 2019; Rong et al., "A Consistent and Efficient Evaluation Strategy for Attribution
#   Methods", ICML 2022.
