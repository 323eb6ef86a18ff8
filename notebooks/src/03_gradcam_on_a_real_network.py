# %% [markdown]
# # 03 · Grad-CAM on a real ImageNet network: the article's recipe
#
# **Learning goals.** After this notebook you can:
# 1. run the classic Keras recipe (`get_img_array` → `preprocess_input` → `make_gradcam_heatmap` →
#    `save_and_display_gradcam`) on a pretrained network, and say what each step does;
# 2. load a model as a *bundle* (model, preprocessing, class names, input size, Grad-CAM layer) that works
#    offline;
# 3. ask Grad-CAM about **any** class, and see that the maps of two classes in one picture point at different
#    objects.
#
# The article uses **Xception** (299×299, 88 MB of weights that Keras downloads once). When those weights are on
# your machine (`gradcam-fetch-xception` on a connected machine, or `GRADCAM_XCEPTION_WEIGHTS=/path/to/file.h5`),
# this notebook uses Xception. When they are not, it says so and runs the very same steps on
# **EfficientNet-Lite0**, an ImageNet network whose weights ship inside a Python package, so a classroom without
# internet can follow along. (The test command fixes the choice with `GRADCAM_COURSE_MODEL`, so the stored outputs
# are the same on every machine; the outputs you see below come from that run.)

# %%
import gradcam_utils as gc  # first: it also quiets TensorFlow's start-up messages
import numpy as np
import matplotlib.pyplot as plt
from gradcam_utils import get_img_array, make_gradcam_heatmap, save_and_display_gradcam
from gradcam_utils.course import imagenet_model_choice

MODEL, why = imagenet_model_choice()
print("Model:", why)
bundle = gc.load_model(MODEL)
print(bundle.name, "| input", bundle.input_size, "| Grad-CAM layer:", bundle.last_conv_layer)

# %% [markdown]
# ## 1. The recipe, step by step
# `get_img_array` loads and resizes the photo into a batch of one with values 0–255; the model's own
# preprocessing then scales it (EfficientNet-Lite: $(x-127)/128$; Xception: $x/127.5-1$).

# %%
img_path = "../data/images/cat.png"
img_array = bundle.preprocess_fn(get_img_array(img_path, size=bundle.input_size))
logits = bundle.model(img_array, training=False)
for index, name, score in bundle.decode(logits, top=3)[0]:
    print(f"{index:4d} {name:15s} {score:.2f}")

# %% [markdown]
# The article removes the softmax with `model.layers[-1].activation = None` before computing the map. Our
# bundles already output **logits**, and `make_gradcam_heatmap` would read the pre-softmax score even from a
# softmax model, so that line is not needed (and it would change the model for everyone using it).

# %%
heatmap = make_gradcam_heatmap(img_array, bundle.model, bundle.last_conv_layer)
print("heatmap", heatmap.shape, f"values from {heatmap.min():.2f} to {heatmap.max():.2f}")
plt.matshow(heatmap); plt.title("Grad-CAM at the layer's resolution"); plt.show()

# %% [markdown]
# The map is coarse: one value per position of the last conv layer (7×7 here, 10×10 for Xception). For display
# it is upsampled **bilinearly** to the photo's size, coloured, and blended over it.

# %%
cam_path = save_and_display_gradcam(img_path, heatmap, cam_path="outputs/cat_gradcam.jpg", alpha=0.4)

# %% [markdown]
# ## 2. Grad-CAM answers "why *this* class?"
# A picture with a cat on the left and an espresso cup on the right. The model's top classes are cats, but we can
# ask about any class. `gc.explain` takes a batch and one class per image, and reports the class and score it
# explained.

# %%
two = bundle.load_images("../data/images/cat_and_espresso.png")  # squeezed to 224x224 for the model
original = gc.load_image("../data/images/cat_and_espresso.png")     # 448x224, for display
print([f"{name} {score:.2f}" for _, name, score in bundle.decode(bundle.predict(two), top=4)[0]])
classes = [285, 967]  # Egyptian cat, espresso
result = gc.explain(bundle.model, bundle.preprocess(np.repeat(two, 2, axis=0)), class_index=classes)
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
for ax, heatmap, c in zip(axes, result.heatmaps, result.class_indices):
    ax.imshow(gc.overlay_heatmap(original, heatmap, alpha=0.5)); ax.set_title(bundle.class_names[c]); ax.axis("off")
plt.show()

# %% [markdown]
# How much of each map lies on the left half? (The paper calls this kind of number an *energy* measure.)

# %%
for heatmap, c in zip(result.heatmaps, result.class_indices):
    up = gc.upsample_heatmap(heatmap, bundle.input_size)
    print(f"{bundle.class_names[c]:13s} share of the map on the cat's half: {up[:, :112].sum() / up.sum():.2f}")

# %% [markdown]
# ## 3. Several photos at once
# One call explains a whole batch, each photo with its own top class: one forward and one backward pass.

# %%
names = ["cat.png", "espresso.png", "astronaut.png", "grace_hopper.jpg"]
photos = bundle.load_images(*[f"../data/images/{n}" for n in names])
batch = gc.explain(bundle.model, bundle.preprocess(photos))
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for ax, photo, heatmap, c in zip(axes, photos, batch.heatmaps, batch.class_indices):
    ax.imshow(gc.overlay_heatmap(photo, heatmap)); ax.set_title(bundle.class_names[c]); ax.axis("off")
plt.show()

# %% [markdown]
# The astronaut is a "bobsled" to this network: Grad-CAM explains the *model*, right or wrong. The map sits on
# the suit and helmet, a hint of what the model took for bobsled gear. Reading wrong predictions like this is the
# topic of the applications notebook.
#
# ## Summary
# - The article's three functions run unchanged on top of the library; they are batched and fixed underneath.
# - A bundle carries what a model needs: preprocessing, class names, input size, Grad-CAM layer.
# - Grad-CAM is class-discriminative: in one picture, the cat's map and the cup's map sit on different objects.
#
# ## Exercises
# Try first; worked solutions are in `solutions/03_gradcam_on_a_real_network.md`.
#
# **1.** What is the ImageNet class index of `"espresso"`? (Look it up in the bundle, don't type it from memory.)

# %%
from gradcam_utils.exercises import check_class_index, check_espresso_probability, check_left_half_share

espresso_index = None   # your code here
check_class_index("espresso", espresso_index)

# %% [markdown]
# **2.** Which probability does the model give "espresso" on `../data/images/espresso.png`?

# %%
espresso_probability = None   # your code here
check_espresso_probability(bundle.name, espresso_probability)

# %% [markdown]
# **3.** Which share of the upsampled "tabby" map lies on the left half of `cat_and_espresso.png`?

# %%
tabby_share = None   # your code here
check_left_half_share(bundle.name, "tabby", tabby_share)

# %% [markdown]
# Next: how to turn a heatmap into a picture you can trust (upsampling, colormaps, opacity).
