"""Compose gradcam_utils/data/images/cat_and_espresso.png: the cat photo (left) beside the espresso photo (right).

A picture with two known objects in known halves lets tests and notebooks check that Grad-CAM is
class-discriminative: the map for a cat class should sit on the left, the map for "espresso" on the right.
Both sources are in gradcam_utils/data/images (see SOURCES.md).
Run: .venv/bin/python scripts/make_two_object_image.py
"""

from pathlib import Path

import numpy as np
from PIL import Image

IMAGES = Path(__file__).resolve().parents[1] / "gradcam_utils" / "data" / "images"  # the checkout's copy
HALF = (224, 224)  # (width, height) of each half


def square_crop(image: Image.Image, centre_x: float) -> Image.Image:
    """The largest square around a horizontal centre (fraction of the width), resized to HALF."""
    side = min(image.size)
    left = int(np.clip(centre_x * image.width - side / 2, 0, image.width - side))
    return image.crop((left, 0, left + side, side)).resize(HALF, Image.Resampling.LANCZOS)


def main() -> None:
    """Crop both photos square, put them side by side and save the result next to them."""
    cat = square_crop(Image.open(IMAGES / "cat.png").convert("RGB"), centre_x=0.55)
    cup = square_crop(Image.open(IMAGES / "espresso.png").convert("RGB"), centre_x=0.5)
    canvas = Image.new("RGB", (2 * HALF[0], HALF[1]))
    canvas.paste(cat, (0, 0))
    canvas.paste(cup, (HALF[0], 0))
    canvas.save(IMAGES / "cat_and_espresso.png", optimize=True)
    print("wrote", IMAGES / "cat_and_espresso.png")


if __name__ == "__main__":
    main()
