"""Loading images from anything a learner has at hand, and checking batches before they reach a model.

``load_image`` accepts a path, bytes, a file object, a PIL image or an array and always returns a uint8 RGB array
(height, width, 3): greyscale is replicated, palette images are expanded, transparency is composited onto white
(a transparent pixel has no colour of its own), 16-bit images are scaled to 8 bits, and the EXIF orientation that
cameras write is applied so the picture is the right way up.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageInputError, ImageLoadError, ImageNotFoundError
from .resize import check_size

# Decoding a crafted file can claim gigapixels and exhaust memory; 40 MP covers any real photograph.
MAX_IMAGE_PIXELS = 40_000_000

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def load_image(
    source, size: tuple[int, int] | None = None, interpolation: str = "bilinear", max_pixels: int = MAX_IMAGE_PIXELS
) -> np.ndarray:
    """Read ``source`` as a uint8 RGB array of shape (height, width, 3).

    Args:
        source: a path (str or Path), bytes, a binary file object, a PIL image, or an array of shape (H, W),
            (H, W, 1), (H, W, 3) or (H, W, 4) with dtype uint8, uint16, or float in [0, 1].
        size: optional (height, width) to resize to, as Keras' ``target_size``.
        interpolation: "bilinear" (default), "nearest", "bicubic" or "lanczos".
        max_pixels: refuse images larger than this many pixels (decompression-bomb guard).
    """
    if interpolation not in _RESAMPLE:
        raise ImageInputError(f"interpolation must be one of {sorted(_RESAMPLE)}, got {interpolation!r}.")
    image = _to_pil(source, max_pixels)
    image = _to_rgb(image)
    if size is not None:
        height, width = check_size(size, "size", error=ImageInputError)
        image = image.resize((width, height), _RESAMPLE[interpolation])
    return np.asarray(image, dtype=np.uint8).copy()


def _to_pil(source, max_pixels: int) -> Image.Image:
    if isinstance(source, Image.Image):
        _check_pixels(source.size, max_pixels, "image")
        return source
    if isinstance(source, np.ndarray):
        return _array_to_pil(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageNotFoundError(
                f"No image file at '{path}'. Check the path (relative paths start from the notebook's folder)."
            )
        return _open(path, str(path), max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _open(io.BytesIO(bytes(source)), "the given bytes", max_pixels)
    if hasattr(source, "read"):
        return _open(source, "the given file object", max_pixels)
    raise ImageInputError(
        f"Expected a path, bytes, a file object, a PIL image or a numpy array; got {type(source).__name__}."
    )


def _open(fp, what: str, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(fp)
        _check_pixels(image.size, max_pixels, what)  # header only: nothing decoded yet
        image.load()
    except UnidentifiedImageError:
        raise ImageLoadError(
            f"{what} is not an image Pillow can read (expected PNG, JPEG, BMP, GIF, TIFF or "
            "WebP). Check that the file is a picture and not, e.g., an HTML error page."
        ) from None
    except PermissionError:
        raise ImageLoadError(
            f"{what} cannot be read: permission denied. Copy the file somewhere you can read "
            "it, or fix its permissions."
        ) from None
    except Image.DecompressionBombError as err:
        raise ImageLoadError(f"{what} is too large to decode safely ({err}).") from None
    except OSError as err:  # truncated or corrupt data
        raise ImageLoadError(
            f"{what} could not be decoded ({err}). The file may be truncated or corrupt; re-download or re-export it."
        ) from None
    # Cameras store the picture sideways and record the rotation in EXIF; apply it.
    return ImageOps.exif_transpose(image)


def _check_pixels(size: tuple[int, int], max_pixels: int, what: str) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageLoadError(
            f"{what} is {width}x{height} = {width * height:,} pixels, over the {max_pixels:,}-pixel limit that "
            "guards against decompression bombs. Downscale it first, or pass max_pixels=... if you trust it."
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit integer) greyscale: scale the full range of the data type down to 8 bits.
        data = np.asarray(image).astype(np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or data.max() <= 65535 else float(data.max())
        image = Image.fromarray(np.clip(data / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    elif image.mode == "F":
        data = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(_float_to_uint8(data))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _float_to_uint8(data: np.ndarray) -> np.ndarray:
    if not np.isfinite(data).all():
        raise ImageInputError("The image contains NaN or infinite values; fix or drop those pixels first.")
    if data.min() < 0 or data.max() > 1:
        raise ImageInputError(
            f"A float image must hold values in [0, 1]; got [{data.min():.3g}, {data.max():.3g}]. "
            "Divide by 255 (or rescale) first."
        )
    return np.clip(data * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _array_to_pil(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ImageInputError(
            f"An image array must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got "
            f"{array.shape}. For a batch, load the images one at a time."
        )
    if array.dtype == np.uint8:
        data = array
    elif array.dtype == np.uint16:
        data = (array.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        data = _float_to_uint8(array.astype(np.float64))
    else:
        raise ImageInputError(f"An image array must be uint8, uint16 or float in [0, 1]; got dtype {array.dtype}.")
    return Image.fromarray(np.ascontiguousarray(data))  # uint8 (H,W) -> L, (H,W,3) -> RGB, (H,W,4) -> RGBA


def to_batch(images, expected_shape: tuple | None = None) -> np.ndarray:
    """Check a model input batch and return it as a new float32 array (the caller's array is never modified).

    A single image (rank 3) becomes a batch of one. ``expected_shape`` is the model's (height, width, channels),
    with None for any size.
    """
    try:
        array = np.asarray(images)
    except (TypeError, ValueError) as err:
        raise ImageInputError(f"Images must be an array of shape (batch, height, width, channels); {err}") from None
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ImageInputError(
            f"Images must be a real-valued numeric array (float32 after preprocessing); got dtype {array.dtype}."
        )
    if array.ndim == 3:
        array = array[np.newaxis]
    if array.ndim != 4:
        raise ImageInputError(
            f"Images must have shape (batch, height, width, channels) or (height, width, "
            f"channels); got an array of shape {array.shape}."
        )
    if array.shape[0] == 0:
        raise ImageInputError("The batch is empty: pass at least one image.")
    if expected_shape is not None:
        ok = len(expected_shape) == array.ndim - 1 and all(
            e is None or e == a for e, a in zip(expected_shape, array.shape[1:], strict=True)
        )
        if not ok:
            want = "x".join("any" if e is None else str(e) for e in expected_shape)
            raise ImageInputError(
                f"The model expects images of shape (batch, {want.replace('x', ', ')}); got "
                f"{array.shape}. Resize with load_image(path, size=...) and preprocess first."
            )
    array = array.astype(np.float32)  # always a copy: the caller's array is never touched
    if not np.isfinite(array).all():
        raise ImageInputError(
            "Images contain NaN or infinite values; a model cannot be explained on them. Check the preprocessing step."
        )
    return array


def save_png(image: np.ndarray, file: BinaryIO) -> None:
    """Encode a uint8 RGB array as PNG into an open binary file: the one PNG encoder of the package.

    zlib level 1: on photographs it encodes about 4x faster than Pillow's default level 6, for files ~10% larger;
    at level 6 encoding took more time than the model (the command's overlays, the explorer's pictures).
    """
    Image.fromarray(image).save(file, format="PNG", compress_level=1)


def png_bytes(image: np.ndarray) -> bytes:
    """``image`` (uint8 RGB) encoded as PNG bytes, as :func:`save_png` writes it."""
    buffer = io.BytesIO()
    save_png(image, buffer)
    return buffer.getvalue()
