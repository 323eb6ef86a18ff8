# %% [markdown]
# # 01 · Why look inside a classifier?
#
# **Learning goals.** After this notebook you can:
# 1. explain why a high test accuracy does not tell you *what* a model learned;
# 2. use one Grad-CAM call to see where a model looks;
# 3. describe a "shortcut": a model that is right for the wrong reason.
#
# Two small networks, same architecture, were trained to name the shape in a 64×64 picture (circle, square,
# triangle, cross, star). The **clean** model saw ordinary pictures. The **biased** model saw pictures that also
# carried a small coloured marker in a corner, and the marker's colour always matched the class, as a watermark
# or a hospital's scanner tag can in real data sets. Both were trained by `scripts/train_teaching_models.py`.

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import matplotlib.pyplot as plt
from gradcam_utils.synthetic import make_shapes

clean, biased = gc.load_model("shapes_gap"), gc.load_model("shapes_biased")
with_marker = make_shapes(500, seed=2024, cue="correlated", cue_kind="color")
fig, axes = plt.subplots(1, 5, figsize=(10, 2.2))
for ax, image, label in zip(axes, with_marker.images, with_marker.labels):
    ax.imshow(image); ax.set_title(with_marker.class_names[label]); ax.axis("off")
plt.show()

# %% [markdown]
# ## Both models score well on pictures like those they were trained on

# %%
def accuracy(bundle, batch):
    return float((bundle.predict(batch.images).argmax(axis=1) == batch.labels).mean())

plain = make_shapes(500, seed=2025)
print(f"clean model,  plain pictures:       {accuracy(clean, plain):.0%}")
print(f"biased model, pictures with marker: {accuracy(biased, with_marker):.0%}")

# %% [markdown]
# From these numbers alone, both models look finished. Grad-CAM asks each one: *which part of the picture raised
# the score of the class you chose?* (The next notebooks explain how; here we only look.)

# %%
images = with_marker.images[:5]
fig, axes = plt.subplots(2, 5, figsize=(10, 4.4))
for row, bundle in zip(axes, (clean, biased)):
    maps = gc.compute_heatmaps(bundle.model, bundle.preprocess(images), class_index=with_marker.labels[:5])
    for ax, image, heatmap in zip(row, images, maps):
        ax.imshow(gc.overlay_heatmap(image, heatmap, alpha=0.5)); ax.axis("off")
    row[0].set_title(f"{bundle.name}", loc="left")
plt.show()

# %% [markdown]
# The clean model looks at the shape. The biased model mostly looks at the **marker** in the corner, and where it
# does not, its map spreads over the whole picture. Does it matter? Remove the marker, or give it the colour of
# another class, and ask again:

# %%
for cue in ("none", "contradicting"):
    test = make_shapes(500, seed=2024, cue=cue, cue_kind="color")
    print(f"marker {cue:13s}  clean model {accuracy(clean, test):4.0%}   biased model {accuracy(biased, test):4.0%}")

# %% [markdown]
# Without the marker the biased model is at chance (20% for five classes), and with a misleading marker it is
# wrong almost every time: it had learned the marker, not the shapes. Its test accuracy could not tell us; one
# picture from Grad-CAM did. The same happens with real data: the Grad-CAM paper found a "doctor vs nurse"
# classifier looking at faces and hair instead of the stethoscope or the scrubs.
#
# ## Summary
# - Accuracy measures *whether* a model is right on data like its test set, not *why*.
# - Grad-CAM shows which regions raised a class's score, for any model with conv layers, without retraining.
# - A model relying on a shortcut can look perfect until the shortcut disappears.
#
# ## Exercises
# Each exercise has a check that tells you whether your answer is right. Try first; worked solutions are in
# `solutions/01_why_interpretability.md`.
#
# **1.** Which of these statements about Grad-CAM are true? Replace `None` by `True` or `False`.

# %%
from gradcam_utils.exercises import GRADCAM_FACTS, check_gradcam_facts, check_misleading_marker_accuracy

answers = {statement: None for statement in GRADCAM_FACTS}   # e.g. answers["needs the model to be retrained"] = False
check_gradcam_facts(answers if None not in answers.values() else None)

# %% [markdown]
# **2.** Make 200 pictures whose marker has the colour of *another* class (`make_shapes(200, seed=11,
# cue="contradicting", cue_kind="color")`) and compute the biased model's accuracy on them, as a fraction.

# %%
misleading_accuracy = None   # your code here
check_misleading_marker_accuracy(misleading_accuracy)

# %% [markdown]
# Next: the gradient math that makes those maps.
