# %% [markdown]
# # 01 · Why look inside a classifier?
#
# **Learning goals.** After this notebook you can:
# 1. explain why a high test accuracy does not tell you *what* a model learned;
# 2. use one Grad-CAM call to see where a model looks, and read a panel that names the class it explains;
# 3. describe a "shortcut": a model that is right for the wrong reason, and check a map's story with counts over
#    many pictures instead of a few examples.
#
# Two small networks, same architecture, were trained to name the shape in a 64×64 picture (circle, square,
# triangle, cross, star). The **clean** model saw ordinary pictures. The **biased** model saw pictures that also
# carried a small coloured marker in a corner, and the marker's colour always matched the class, as a watermark
# or a hospital's scanner tag can in real data sets (Geirhos et al., Nature Machine Intelligence 2020, call such a
# rule a *shortcut*). Both were trained by `scripts/train_teaching_models.py`. Here are five test pictures with
# their markers:

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import numpy as np
import matplotlib.pyplot as plt
from gradcam_utils.metrics import pointing_game
from gradcam_utils.synthetic import make_shapes

clean, biased = gc.load_model("shapes_gap"), gc.load_model("shapes_biased")
names = clean.class_names
with_marker = make_shapes(500, seed=2024, cue="correlated", cue_kind="color")
fig, axes = plt.subplots(1, 5, figsize=(10, 2.2))
for ax, image, label in zip(axes, with_marker.images, with_marker.labels):
    ax.imshow(image); ax.set_title(names[label]); ax.axis("off")
plt.show()


# %% [markdown]
# ## Both models score well on pictures like those they were trained on

# %%
def accuracy(bundle, batch):
    return float((bundle.predict(batch.images).argmax(axis=1) == batch.labels).mean())

plain = make_shapes(500, seed=2025)
clean_plain, biased_marked = accuracy(clean, plain), accuracy(biased, with_marker)
print(f"clean model,  500 plain pictures:       {clean_plain:.1%}")
print(f"biased model, 500 pictures with marker: {biased_marked:.1%}")
assert min(clean_plain, biased_marked) > 0.95, "the text says both models score well"

# %% [markdown]
# From these numbers alone, both models look finished. Grad-CAM (Selvaraju et al., ICCV 2017) asks each one:
# *which part of the picture raised the score of the class you chose?* (Notebook 02 explains how; here we only
# look.) To avoid picking examples that suit the story, we take **the first picture of each class** in the test
# set above, and ask each model about the picture's true class. Every panel says which model answered, which
# class its map explains, that class's score, and what the model predicted. The score is the *logit*: the raw
# number the model gives a class before the softmax turns the five numbers into probabilities. Dark red is where
# the map is highest; the colour bar gives the scale (each map divided by its own peak).

# %%
first = [int(np.flatnonzero(with_marker.labels == k)[0]) for k in range(len(names))]
images, labels = with_marker.images[first], with_marker.labels[first]
maps, titles = [], []
for bundle, who in ((clean, "clean"), (biased, "biased")):
    result = gc.explain(bundle.model, bundle.preprocess(images), class_index=labels)
    maps += list(result.heatmaps)
    titles += [gc.explained_title(names[c], s, predicted=names[p], method=who)
               for c, s, p in zip(result.class_indices, result.scores, result.logits.argmax(axis=1))]
maps = np.stack(maps)
fig, axes = gc.show_heatmaps(np.concatenate([images, images]), maps, titles, ncols=5, panel_size=2.8)
plt.show()
peak_on_marker = pointing_game(maps, np.concatenate([with_marker.cue_masks[first]] * 2))
peak_on_the_shape = pointing_game(maps, np.concatenate([with_marker.masks[first]] * 2))
assert peak_on_the_shape[:5].all() and peak_on_marker[5:9].all(), "top row: shape; bottom row: marker for 4"
assert peak_on_the_shape[9] and (maps[9] >= 0.5).mean() > 0.5, "biased 'star': peaks on the star, covers most"


# %% [markdown]
# The clean model's maps (top row) peak on the shape in every panel. In the bottom row, the biased model's maps for
# circle, square, triangle and cross peak on the **marker** in the corner; its map for "star" spreads over most of the
# picture and peaks on the star. Five pictures are anecdotes, though. The *pointing game* (Zhang et al., ECCV 2016)
# counts, over all 500 test pictures, how often a map's highest point falls on a given region: here the marker, and the
# shape.

# %%
def peak_on(bundle, batch):
    result = gc.explain(bundle.model, bundle.preprocess(batch.images), class_index=batch.labels)
    return (pointing_game(result.heatmaps, batch.cue_masks),
            pointing_game(result.heatmaps, batch.masks))

on_marker, on_shape = {}, {}
for bundle in (clean, biased):
    on_marker[bundle.name], on_shape[bundle.name] = peak_on(bundle, with_marker)
    print(f"{bundle.name:13s} peak on the marker {on_marker[bundle.name].mean():5.1%}   "
          f"on the shape {on_shape[bundle.name].mean():5.1%}")

# %% [markdown]
# Split by class, the biased model's numbers show that "star" is the exception, and that its triangle maps point
# at the marker about three times in four (the other peaks fall on the background, never on the triangle):

# %%
for k, name in enumerate(names):
    of_class = with_marker.labels == k
    print(f"biased, class {name:8s} peak on the marker {on_marker['shapes_biased'][of_class].mean():5.1%}   "
          f"on the shape {on_shape['shapes_biased'][of_class].mean():5.1%}")
not_star = with_marker.labels != names.index("star")
assert on_shape["shapes_gap"].mean() > 0.9 > 0.05 > on_marker["shapes_gap"].mean(), "clean: on the shape"
assert on_marker["shapes_biased"][not_star].mean() > 0.9 > 0.05 > on_shape["shapes_biased"][not_star].mean(), \
    "biased: on the marker, not the shape, for the four non-star classes"
assert on_shape["shapes_biased"][~not_star].mean() > 0.9, "biased: on the star for star pictures"
triangles = with_marker.labels == names.index("triangle")
assert 0.65 < on_marker["shapes_biased"][triangles].mean() < 0.85 and not on_shape["shapes_biased"][triangles].any(), \
    "biased triangle maps: on the marker about three times in four, never on the triangle"

# %% [markdown]
# So the clean model looks at the shape, and the biased model looks at the marker for four classes out of five.
# For "star" its map peaks on the star, which looks fine. Does it matter? Remove the marker, or give it the
# colour of another class, and ask again, this time counting *what each model answers*:

# %%
accuracies, follows_marker = {}, {}
for cue in ("none", "contradicting"):
    test = make_shapes(500, seed=2024, cue=cue, cue_kind="color")
    for bundle in (clean, biased):
        answers = bundle.predict(test.images).argmax(axis=1)
        accuracies[cue, bundle.name] = float(np.mean(answers == test.labels))
        counts = ", ".join(f"{names[k]} {n}" for k, n in enumerate(np.bincount(answers, minlength=5)))
        print(f"marker {cue:13s} {bundle.name:13s} accuracy {accuracies[cue, bundle.name]:6.1%}  answers: {counts}")
        if cue == "contradicting":
            follows_marker[bundle.name] = float(np.mean(answers == test.cue_labels))
print("with a marker of another colour, answers that name the marker's class:",
      ", ".join(f"{name} {share:.1%}" for name, share in follows_marker.items()))
assert accuracies["none", "shapes_gap"] > accuracies["contradicting", "shapes_gap"] > 0.95, "the text: clean >95%"
assert follows_marker["shapes_gap"] < 0.01, "the text: the clean model names the marker's class under 1% of the time"
assert follows_marker["shapes_biased"] > 0.9, "the text says it answers the marker's class almost every time"

# %% [markdown]
# Read the answers, not only the accuracy. Without the marker the biased model is **not** guessing (guessing
# would spread its answers over the five classes and be right about 20% of the time): it answers **"star"**
# for almost every picture, whatever the shape, and its 20% accuracy is just the share of stars in the test set.
# With a marker of another colour it answers the marker's class almost every time. The clean model stays above
# 95% either way and names the marker's class for under 1% of the pictures: the colour means nothing to it. (It
# does lose a few points to the marker, a patch it never saw in training.) The asserts above and below
# keep these sentences tied to the numbers. What does the biased model's map of the answer it gives show, without
# the marker? Over the same 500 pictures:

# %%
no_marker = make_shapes(500, seed=2024, cue="none", cue_kind="color")
result = gc.explain(biased.model, biased.preprocess(no_marker.images))   # each picture's predicted class
star_share = float(np.mean(result.class_indices == names.index("star")))
hits, spread = pointing_game(result.heatmaps, no_marker.masks), float((result.heatmaps >= 0.5).mean())
worst = min(hits[no_marker.labels == k].mean() for k in range(len(names)))
stars, no_marker_accuracy = float(np.mean(no_marker.labels == names.index("star"))), accuracy(biased, no_marker)
print(f"biased model without marker: answers 'star' for {star_share:.1%}, accuracy {no_marker_accuracy:.1%}, "
      f"stars in the test set {stars:.1%}")
print(f"its map of the class it predicts peaks on the shape in {hits.mean():.1%} of the pictures "
      f"({worst:.0%} for the shape it hits least), and is at half its peak or more over {spread:.0%} of the picture")
assert star_share > 0.9 and abs(no_marker_accuracy - stars) < 0.02, "the text: 'star' for almost all, not guessing"
assert worst > 0.9 and spread > 0.5, "the text: the map peaks on the shape, whatever it is, and covers most"

# %% [markdown]
# Its "star" is a fallback: during training every non-star picture carried a red, green, blue or yellow marker (and
# every star a magenta one), so "none of those four colours" was enough to say "star". Here are the five pictures from
# above without their markers:

# %%
pick = gc.explain(biased.model, biased.preprocess(no_marker.images[first]))
titles = [gc.explained_title(names[c], s, predicted=names[c], method="biased") + f", truth '{names[t]}'"
          for c, s, t in zip(pick.class_indices, pick.scores, no_marker.labels[first])]
fig, axes = gc.show_heatmaps(no_marker.images[first], pick.heatmaps, titles, ncols=5)
plt.show()

# %% [markdown]
# The maps of "star" cover most of the picture and peak on the shape, a circle or a cross as much as a star: Grad-CAM
# puts the "star" evidence on whatever shape is there. A map on the right place is not a reason: it shows *where* the
# evidence for a class came from, not *what* the model concluded from it. The maps of the first figure already told us
# what was wrong (the marker, for four classes); the counts over many pictures, and a test without the shortcut, told us
# how wrong.
#
# The same happens with real data. Selvaraju et al. (ICCV 2017, the section on identifying bias in data sets)
# fine-tuned a "doctor vs nurse" classifier on images from a web search, in which most doctors were men and most
# nurses women. It did well on its validation images, but Grad-CAM showed it looking at faces and hair (at gender,
# in effect) rather than at the white coat or the stethoscope, and it generalised poorly (82% on the test set).
# After the training set was rebalanced, the maps moved to those cues and the test accuracy rose to 90%.
#
# ## Summary
# - Accuracy measures *whether* a model is right on data like its test set, not *why*.
# - Grad-CAM shows which regions raised the score of the class you ask about. Read a map with its class, score and
#   prediction, and back what a few maps suggest by counts over many images.
# - A model relying on a shortcut can look perfect until the shortcut disappears; then it may not guess but fall
#   back to one answer, so look at *what* it answers, not only at its accuracy.
#
# ## Exercises
# Each exercise has a check that tells you whether your answer is right. Predict first, then run; worked
# solutions are in `solutions/01_why_interpretability.md`.
#
# **1.** Which of these statements about Grad-CAM are true? Replace each `None` by `True` or `False`.

# %%
from gradcam_utils.exercises import GRADCAM_FACTS, check_gradcam_facts, check_white_marker_star_share

answers = {statement: None for statement in GRADCAM_FACTS}   # e.g. answers["needs the model to be retrained"] = False
check_gradcam_facts(answers)

# %% [markdown]
# **2.** The biased model never saw a **white** marker. `make_shapes(200, seed=11, cue="correlated",
# cue_kind="position")` draws 200 pictures with a white marker (its position, not its colour, depends on the
# class). *Predict first:* what share of these pictures will the biased model call "star"? Then compute it, as a
# fraction between 0 and 1.

# %%
white_star_share = None   # your code here
check_white_marker_star_share(white_star_share)

# %% [markdown]
# ## References
# - Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra. "Grad-CAM: Visual Explanations from Deep Networks via
#   Gradient-based Localization." ICCV 2017 (extended in IJCV 2020).
# - Zhang, Bargal, Lin, Brandt, Shen, Sclaroff. "Top-down Neural Attention by Excitation Backprop." ECCV 2016
#   (the pointing game).
# - Geirhos, Jacobsen, Michaelis, Zemel, Brendel, Bethge, Wichmann. "Shortcut Learning in Deep Neural Networks."
#   Nature Machine Intelligence 2020.
#
# Next: the gradient math that makes those maps.
