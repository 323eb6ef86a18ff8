"""Loading images from anything a learner has at hand, and checking batches before they reach a model.

``load_image`` accepts a path, bytes, a file object, a PIL image or an array and always returns a uint8 RGB array
(height, width, 3): greyscale is replicated, palette images are expanded, transparency is composited onto white
(a transparent pixel has no colour of its own), 16-bit images are scaled to 8 bits, and the EXIF orientation that
cameras write is applied so the picture is the right way up.
"""

from __future__ import annotations

import io
import numbers
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import GradCAMError, ImageInputError, ImageLoadError, ImageNotFoundError
from .resize import MAX_PIXELS, check_size

# The one bound on what load_image (and to_batch) will hold, in pixels: a decoded file's header, an array or PIL image
# handed in and a requested size are all checked against it before anything that large is allocated. 40 MP covers any
# real photograph; a caller raises it explicitly with max_pixels=... . A pixel costs load_image some 6-20 bytes at its
# peak (measured: Pillow's 4-byte pixels, a conversion or two, the uint8 result), so the default stays under ~1 GB.
MAX_IMAGE_PIXELS = MAX_PIXELS

# The formats the course reads, as Pillow names them: those of the command's IMAGE_EXTENSIONS (.png .jpg .jpeg .bmp
# .gif .webp .tif .tiff). Pillow picks its decoder from a file's content, not its name; restricting it to these means
# a file of another kind (e.g. PostScript, which Pillow hands to Ghostscript, an external interpreter) never reaches
# another decoder, whatever it is called. (Pillow reports a multi-picture JPEG from a camera as "MPO".)
ALLOWED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
_ALLOWED_NAMES = "PNG, JPEG, BMP, GIF, WebP or TIFF"
_DECODED_FORMATS = (*ALLOWED_FORMATS, "MPO")

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}

_CHUNK = 1 << 16  # elements converted at a time in float64 (512 KiB): never a float copy of a whole image


def load_image(
    source, size: tuple[int, int] | None = None, interpolation: str = "bilinear", max_pixels: int = MAX_IMAGE_PIXELS
) -> np.ndarray:
    """Read ``source`` as a uint8 RGB array of shape (height, width, 3).

    Files are decoded only as PNG, JPEG, BMP, GIF, WebP or TIFF (``ALLOWED_FORMATS``, recognised by their content);
    any other kind of file is refused with :class:`ImageLoadError` naming the format found.

    Args:
        source: a path (str or Path), bytes, a binary file object, a PIL image, or an array of shape (H, W),
            (H, W, 1), (H, W, 3) or (H, W, 4) with dtype uint8, uint16, or float in [0, 1].
        size: optional (height, width) to resize to, as Keras' ``target_size``.
        interpolation: "bilinear" (default), "nearest", "bicubic" or "lanczos".
        max_pixels: the most pixels (height x width) accepted, checked before anything that large is allocated: for
            a file, the size its header declares (a decompression-bomb guard), for an array or PIL image its size,
            and for ``size`` the requested size. Default ``MAX_IMAGE_PIXELS`` (40 MP); pass a larger int to read a
            larger image you trust (Pillow's own bomb guard, ~179 MP, still applies to files).

    Raises:
        ImageNotFoundError: no file at the path.
        ImageLoadError: the file cannot be read or decoded, is not one of the formats above, or is over
            ``max_pixels``.
        ImageInputError: a bad array, PIL image, size, interpolation or ``max_pixels``.
    """
    limit = _check_max_pixels(max_pixels)
    if interpolation not in _RESAMPLE:
        raise ImageInputError(f"interpolation must be one of {sorted(_RESAMPLE)}, got {interpolation!r}.")
    target = None
    if size is not None:  # checked before decoding: a refused size costs nothing
        target = check_size(size, "size", error=ImageInputError, max_pixels=limit)
    image = _to_pil(source, limit)
    image = _to_rgb(image)
    if target is not None:
        height, width = target
        image = image.resize((width, height), _RESAMPLE[interpolation])
    return np.array(image, dtype=np.uint8)  # np.array copies: the result never shares memory with the source


def _check_max_pixels(max_pixels) -> int:
    if isinstance(max_pixels, numbers.Integral) and not isinstance(max_pixels, bool) and int(max_pixels) > 0:
        return int(max_pixels)
    raise ImageInputError(
        f"max_pixels must be a positive int (the most pixels an image may have, default {MAX_IMAGE_PIXELS:,}); got "
        f"{max_pixels!r}. There is no unlimited setting: to read a larger image you trust, pass a larger number, "
        "e.g. max_pixels=100_000_000."
    )


def _to_pil(source, max_pixels: int) -> Image.Image:
    if isinstance(source, Image.Image):
        if source.format is not None and source.format not in _DECODED_FORMATS:
            raise ImageInputError(
                f"This PIL image was opened from a {source.format} file; load_image reads only {_ALLOWED_NAMES}. "
                "Convert it yourself first if you trust it (image.convert('RGB')), or save it as PNG."
            )
        _check_pixels(source.size, max_pixels, "The PIL image")
        return source
    if isinstance(source, np.ndarray):
        return _array_to_pil(source, max_pixels)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            is_file = path.is_file()
        except (OSError, ValueError) as err:  # e.g. a name too long, a NUL byte, a folder we may not enter
            raise ImageNotFoundError(
                f"No image file at '{path}' ({type(err).__name__}: {err}). Check the path and its folders' permissions."
            ) from None
        if not is_file:
            raise ImageNotFoundError(
                f"No image file at '{path}'. Check the path (relative paths start from the notebook's folder)."
            )
        try:
            file = open(path, "rb")  # noqa: SIM115 (closed below, once decoded)
        except PermissionError:
            raise ImageLoadError(
                f"'{path}' cannot be read: permission denied. Copy the file somewhere you can read "
                "it, or fix its permissions."
            ) from None
        except OSError as err:
            raise ImageLoadError(f"'{path}' cannot be read ({type(err).__name__}: {err}).") from None
        with file:
            return _open(file, str(path), max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _open(io.BytesIO(source), "the given bytes", max_pixels)
    if hasattr(source, "read"):
        return _open(_seekable(source, max_pixels), "the given file object", max_pixels)
    raise ImageInputError(
        f"Expected a path, bytes, a file object, a PIL image or a numpy array; got {type(source).__name__}."
    )


def _seekable(stream, max_pixels: int):
    """``stream`` itself if it can seek (Pillow reads only what it needs), else its bytes, read up to a bound.

    Pillow reads an unseekable stream (a pipe, an HTTP response) to its end first: an endless one would fill memory.
    No file of an allowed format needs more than 16 bytes a pixel (uncompressed float RGBA TIFF) plus its metadata.
    """
    try:
        if stream.seekable():
            return stream
    except Exception:  # no seekable(), or one that fails: read it as a stream
        pass
    limit = 16 * max_pixels + 2**24
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = stream.read(min(2**20, limit + 1 - total))
        if not chunk:
            return io.BytesIO(b"".join(chunks))
        chunks.append(chunk)
        total += len(chunk)
    raise ImageLoadError(
        f"the given stream holds more than {limit:,} bytes, more than an image of max_pixels={max_pixels:,} pixels "
        "needs; it is not read further. Save it to a file first if you trust it."
    )


def _open(fp, what: str, max_pixels: int) -> Image.Image:
    """Decode ``fp`` with one of the allowed decoders; every failure is an ImageLoadError."""
    try:
        image = Image.open(fp, formats=list(ALLOWED_FORMATS))
        _check_pixels(image.size, max_pixels, what)  # header only: nothing decoded yet
        image.load()
        # Cameras store the picture sideways and record the rotation in EXIF; apply it.
        return ImageOps.exif_transpose(image)
    except GradCAMError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(_unidentified(fp, what)) from None
    except PermissionError:
        raise ImageLoadError(
            f"{what} cannot be read: permission denied. Copy the file somewhere you can read "
            "it, or fix its permissions."
        ) from None
    except Image.DecompressionBombError as err:
        raise ImageLoadError(f"{what} is too large to decode safely ({err}).") from None
    except MemoryError:
        raise ImageLoadError(f"{what} is too large to decode with the memory available.") from None
    except Exception as err:  # a damaged file makes Pillow's decoders raise OSError, ValueError, SyntaxError, ...
        raise ImageLoadError(
            f"{what} could not be decoded ({type(err).__name__}: {err}). The file may be truncated or corrupt; "
            "re-download or re-export it."
        ) from None


def _unidentified(fp, what: str) -> str:
    """The message for a file that no allowed decoder accepts, naming the format it has if Pillow knows it."""
    found = None
    try:
        fp.seek(0)
        prefix = fp.read(16)
        Image.init()  # registers every plugin's signature check; nothing is decoded
        for name, (_, accept) in Image.OPEN.items():
            if name not in _DECODED_FORMATS and accept is not None:
                verdict = accept(prefix)
                if verdict and not isinstance(verdict, str):
                    found = name
                    break
    except Exception:  # an unseekable stream, or a signature check that fails: no name to give
        found = None
    if found is not None:
        return (
            f"{what} is in {found} format (recognised from its content, whatever its name), not an image this "
            f"package reads: only {_ALLOWED_NAMES}. Convert it to PNG first if you trust it."
        )
    return (
        f"{what} is not an image Pillow can read (expected {_ALLOWED_NAMES}). Check that the file is a picture "
        "and not, e.g., an HTML error page."
    )


def _check_pixels(
    size: tuple[int, int], max_pixels: int, what: str, error: type[GradCAMError] = ImageLoadError
) -> None:
    width, height = size
    if width * height > max_pixels:
        raise error(
            f"{what} is {width}x{height} = {width * height:,} pixels, over the {max_pixels:,}-pixel limit that "
            "guards against decompression bombs. Downscale it first, or pass max_pixels=... if you trust it."
        )
    if width * height == 0:
        raise error(f"{what} is {width}x{height}: it has no pixels.")


def _to_rgb(image: Image.Image) -> Image.Image:
    try:
        return _convert_to_rgb(image)
    except GradCAMError:
        raise
    except MemoryError:
        raise ImageLoadError("The image is too large to convert with the memory available.") from None
    except Exception as err:  # e.g. a TIFF in a colour space Pillow cannot convert to RGB (LAB, ...)
        raise ImageLoadError(
            f"The image's pixels (mode {image.mode!r}) cannot be converted to RGB ({type(err).__name__}: {err}). "
            "Re-export it as an 8-bit RGB PNG or JPEG."
        ) from None


def _convert_to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (or 32-bit integer) greyscale: scale the full range of the data type down to 8 bits.
        data = np.asarray(image)
        top = 65535.0 if image.mode.startswith("I;16") or data.max() <= 65535 else float(data.max())
        image = Image.fromarray(_to_uint8(data, lambda chunk: np.clip(chunk / top * 255.0 + 0.5, 0, 255)))
    elif image.mode == "F":
        image = Image.fromarray(_float_to_uint8(np.asarray(image)))
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _to_uint8(data: np.ndarray, scale) -> np.ndarray:
    """``scale`` (float64 in, values in 0..255.5 out) applied a chunk of rows at a time, as uint8.

    The float64 temporaries stay under 2 MB whatever the image's size; the values are those of one whole-array pass.
    """
    out = np.empty(data.shape, np.uint8)
    flat_in, flat_out = data.reshape(-1), out.reshape(-1)
    for start in range(0, flat_in.size, _CHUNK):
        flat_out[start : start + _CHUNK] = scale(flat_in[start : start + _CHUNK].astype(np.float64))
    return out


def _float_to_uint8(data: np.ndarray) -> np.ndarray:
    low, high, finite = np.inf, -np.inf, True
    flat = data.reshape(-1)
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        finite = finite and bool(np.isfinite(chunk).all())
        if finite and chunk.size:
            low, high = min(low, float(chunk.min())), max(high, float(chunk.max()))
    if not finite:
        raise ImageInputError("The image contains NaN or infinite values; fix or drop those pixels first.")
    if low < 0 or high > 1:
        raise ImageInputError(
            f"A float image must hold values in [0, 1]; got [{low:.3g}, {high:.3g}]. Divide by 255 (or rescale) first."
        )
    return _to_uint8(data, lambda chunk: np.clip(chunk * 255.0 + 0.5, 0, 255))


def _array_to_pil(array: np.ndarray, max_pixels: int) -> Image.Image:
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ImageInputError(
            f"An image array must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got "
            f"{array.shape}. For a batch, load the images one at a time."
        )
    _check_pixels((array.shape[1], array.shape[0]), max_pixels, "The image array", ImageInputError)
    if array.dtype == np.uint8:
        data = array
    elif array.dtype == np.uint16:
        data = _to_uint8(array, lambda chunk: chunk / 257.0 + 0.5)
    elif np.issubdtype(array.dtype, np.floating):
        data = _float_to_uint8(array)
    else:
        raise ImageInputError(f"An image array must be uint8, uint16 or float in [0, 1]; got dtype {array.dtype}.")
    return Image.fromarray(np.ascontiguousarray(data))  # uint8 (H,W) -> L, (H,W,3) -> RGB, (H,W,4) -> RGBA


def to_batch(images, expected_shape: tuple | None = None, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Check a model input batch and return it as a new float32 array (the caller's array is never modified).

    A single image (rank 3) becomes a batch of one. ``expected_shape`` is the model's (height, width, channels),
    with None for any size. Images of more than ``max_pixels`` pixels each are refused before the copy is made
    (a model that takes any size would need many times that memory for its activations).
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
    if array.shape[1] * array.shape[2] > _check_max_pixels(max_pixels):
        raise ImageInputError(
            f"Images of {array.shape[1]}x{array.shape[2]} = {array.shape[1] * array.shape[2]:,} pixels are over the "
            f"{max_pixels:,}-pixel limit that keeps memory bounded; resize them first (load_image(path, size=...))."
        )
    if not np.isfinite(array).all():
        raise ImageInputError(
            "Images contain NaN or infinite values; a model cannot be explained on them. Check the preprocessing step."
        )
    with np.errstate(over="ignore"):  # an overflow is reported below, in words
        converted = array.astype(np.float32)  # always a copy: the caller's array is never touched
    if not np.isfinite(converted).all():
        largest = float(np.max(np.abs(array)))
        raise ImageInputError(
            f"Images have values up to {largest:.3g}, beyond float32's range (about 3.4e38), which the model computes "
            "in; they would become infinite. Check the preprocessing step (pixels are usually in [0, 255] or [-1, 1])."
        )
    return converted


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
