"""Image loading from every source and format a learner meets; hand-made pixels are the reference."""

import io

import numpy as np
import pytest
from PIL import Image

import gradcam_utils as gc

RED = (200, 10, 20)


def solid(mode, size=(6, 4), colour=RED):
    return Image.new(mode, size, colour)


def test_sources_path_bytes_fileobj_pil_and_array_agree(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "p.png")
    data = (tmp_path / "p.png").read_bytes()
    for source in (
        tmp_path / "p.png",
        str(tmp_path / "p.png"),
        data,
        io.BytesIO(data),
        Image.fromarray(pixels),
        pixels,
    ):
        out = gc.load_image(source)
        assert out.dtype == np.uint8 and out.shape == (4, 6, 3)
        np.testing.assert_array_equal(out, pixels)


def test_caller_array_is_not_modified_and_result_is_a_copy():
    pixels = np.full((4, 4, 3), 7, np.uint8)
    out = gc.load_image(pixels)
    out[:] = 0
    assert (pixels == 7).all()


def test_greyscale_is_replicated_to_rgb():
    out = gc.load_image(Image.new("L", (3, 2), 90))
    assert out.shape == (2, 3, 3) and (out == 90).all()


def test_rgba_is_composited_on_white():
    image = Image.new("RGBA", (2, 1))
    image.putpixel((0, 0), (200, 0, 0, 255))  # opaque red stays red
    image.putpixel((1, 0), (0, 0, 0, 0))  # fully transparent becomes white, not black
    out = gc.load_image(image)
    np.testing.assert_array_equal(out[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(out[0, 1], [255, 255, 255])


def test_half_transparent_pixel_is_blended_by_hand_computation():
    image = Image.new("RGBA", (1, 1), (0, 0, 0, 128))
    expected = round(255 * (1 - 128 / 255))  # black over white at alpha 128/255
    assert abs(int(gc.load_image(image)[0, 0, 0]) - expected) <= 1


def test_palette_image_with_transparency(tmp_path):
    image = Image.new("P", (2, 1))
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((0, 0), 0)
    image.putpixel((1, 0), 1)
    image.info["transparency"] = 1
    image.save(tmp_path / "p.png")
    out = gc.load_image(tmp_path / "p.png")
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out[0, 1], [255, 255, 255])


def test_16_bit_png_is_scaled_to_8_bits(tmp_path):
    values = np.array([[0, 65535, 32896]], dtype=np.uint16)  # 32896 = 128 * 257
    Image.fromarray(values).save(tmp_path / "deep.png")
    out = gc.load_image(tmp_path / "deep.png")
    np.testing.assert_array_equal(out[0, :, 0], [0, 255, 128])
    np.testing.assert_array_equal(gc.load_image(values)[0, :, 1], [0, 255, 128])


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[:8, :8] = [255, 0, 0]  # red top-left block in the stored (sideways) pixels; JPEG keeps a block red
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image.save(tmp_path / "rot.jpg", exif=exif, quality=100)
    out = gc.load_image(tmp_path / "rot.jpg")
    assert out.shape == (30, 20, 3)  # width and height swap
    assert out[2, -3, 0] > 200 and out[2, -3, 1] < 60  # the red block is now top-right
    assert out[2, 2, 0] < 60


def test_resize_and_float_arrays():
    out = gc.load_image(np.ones((10, 20, 3), np.float32) * 0.5, size=(5, 7))
    assert out.shape == (5, 7, 3) and (out == 128).all()
    assert gc.load_image(np.zeros((10, 20, 1), np.uint8), size=(3, 3), interpolation="nearest").shape == (3, 3, 3)


@pytest.mark.parametrize(
    "source, error, match",
    [
        (np.zeros((2, 2, 2), np.uint8), gc.ImageInputError, "shape"),
        (np.zeros((2, 2, 3), np.int64), gc.ImageInputError, "dtype"),
        (np.full((2, 2, 3), 2.0), gc.ImageInputError, r"\[0, 1\]"),
        (np.full((2, 2, 3), np.nan), gc.ImageInputError, "NaN"),
        (b"<html>not found</html>", gc.ImageLoadError, "not an image"),
        (12345, gc.ImageInputError, "Expected a path"),
    ],
)
def test_bad_sources_are_clear_errors(source, error, match):
    with pytest.raises(error, match=match):
        gc.load_image(source)


def test_non_image_and_truncated_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(gc.ImageLoadError, match="not an image"):
        gc.load_image(tmp_path / "notes.txt")
    Image.new("RGB", (64, 64), RED).save(tmp_path / "full.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "full.png").read_bytes()[:60])
    with pytest.raises(gc.ImageLoadError):
        gc.load_image(tmp_path / "cut.png")


def test_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        gc.load_image(tmp_path / "nope.png")
    with pytest.raises(ValueError, match="No image file"):  # also a ValueError, like every bad input here
        gc.load_image(tmp_path)  # a folder is not an image file either


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    Image.new("L", (2000, 1000)).save(tmp_path / "big.png")
    with pytest.raises(gc.ImageLoadError, match="pixel limit"):
        gc.load_image(tmp_path / "big.png", max_pixels=1_000_000)
    assert gc.load_image(tmp_path / "big.png", max_pixels=2_000_000).shape == (1000, 2000, 3)


@pytest.mark.parametrize("size", [(0, 3), (3,), "big", (-1, 2)])
def test_bad_size(size):
    with pytest.raises(gc.ImageInputError, match="size"):
        gc.load_image(np.zeros((4, 4, 3), np.uint8), size=size)


def test_size_check_is_the_shared_one():
    image = np.zeros((4, 4, 3), np.uint8)
    assert gc.load_image(image, size=(np.int64(6), 8)).shape == (6, 8, 3)
    with pytest.raises(gc.ImageInputError, match=r"pair of positive integers \(height, width\)"):
        gc.load_image(image, size=(6.0, 8.0))


def test_png_bytes_round_trip():
    from gradcam_utils.images import png_bytes

    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    data = png_bytes(pixels)
    assert data.startswith(b"\x89PNG")
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)


def test_a_batch_whose_rank_differs_from_the_models_input_is_refused():
    from gradcam_utils.images import to_batch

    assert to_batch(np.zeros((1, 8, 8, 3)), expected_shape=(8, 8, 3)).shape == (1, 8, 8, 3)
    # (8, 8) matches the first two axes: comparing only as far as the shorter shape goes would let it through
    with pytest.raises(gc.ImageInputError, match=r"expects images of shape \(batch, 8, 8\)"):
        to_batch(np.zeros((1, 8, 8, 3)), expected_shape=(8, 8))


def test_to_batch_says_when_float64_values_overflow_float32():
    """A float64 batch with values past float32's range (~3.4e38) would turn infinite in the cast: the message says
    so, instead of blaming NaN or infinite values the caller never had. The caller's array is left alone."""
    from gradcam_utils.images import to_batch

    batch = np.full((1, 4, 4, 3), 1e39)
    before = batch.copy()
    with pytest.raises(gc.ImageInputError, match=r"values up to 1e\+39, beyond float32's range"):
        to_batch(batch, (4, 4, 3))
    np.testing.assert_array_equal(batch, before)
    with pytest.raises(gc.ImageInputError, match="NaN or infinite"):
        to_batch(np.full((1, 4, 4, 3), np.nan), (4, 4, 3))
