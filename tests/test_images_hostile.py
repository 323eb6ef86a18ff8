"""Hostile images (issue 15): load_image, the size checks and the upsampling never run a decoder the course does not
need, never raise anything but the package's own errors, and never allocate more than a bound.

The fuzz and the huge-size checks run in a subprocess under an address-space cap (RLIMIT_AS) that imports only the
package's image modules (no TensorFlow, whose import reserves gigabytes of address space): there, an allocation over
the cap fails with MemoryError instead of exhausting a shared machine, and the test fails. The subprocess runs this file
as a script (see ``_worker``), so this module imports nothing heavy at its top.
"""

from __future__ import annotations

import io
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

PACKAGE = Path(__file__).resolve().parents[1] / "gradcam_utils"
FUZZ_MAX_PIXELS = 1_000_000  # the fuzz's max_pixels: a header claiming more must be refused before any allocation
CAP_BYTES = 256 * 2**20  # address space the worker may add to what it holds after its imports
# per strategy; deterministic (derandomize), about 1 s each. GRADCAM_FUZZ_EXAMPLES=5000 fuzzes deeper, by hand.
FUZZ_EXAMPLES = int(os.environ.get("GRADCAM_FUZZ_EXAMPLES", "200"))
FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 12\n%%EndComments\n"
    b"newpath 0 0 moveto 16 12 lineto stroke showpage\n%%EOF\n"
)


# --------------------------------------------------------------------------------------------------------------------
# The worker: runs in a subprocess (python tests/test_images_hostile.py <mode>), under the cap


def _import_image_modules(package: Path) -> types.SimpleNamespace:
    """gradcam_utils.images, .resize and .errors from ``package`` without running the package's __init__."""
    stub = types.ModuleType("gradcam_utils")
    stub.__path__ = [str(package)]
    sys.modules["gradcam_utils"] = stub
    from gradcam_utils import errors, images, resize  # noqa: PLC0415 (after the stub)

    return types.SimpleNamespace(images=images, resize=resize, errors=errors)


def _cap_address_space() -> None:
    with open("/proc/self/status") as status:
        size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = size_kb * 1024 + CAP_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _seeds() -> list[bytes]:
    """Small real files in every allowed format and the modes a learner meets, made here."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the EXIF transpose runs
    made = [
        (rgb, "PNG", {}),
        (rgb.convert("RGBA"), "PNG", {}),
        (rgb.convert("P"), "PNG", {"transparency": 0}),
        (Image.fromarray(rng.integers(0, 65536, (12, 16), dtype=np.uint16)), "PNG", {}),
        (rgb, "JPEG", {"quality": 80, "exif": exif}),
        (rgb.convert("CMYK"), "JPEG", {}),
        (rgb, "JPEG", {"progressive": True}),
        (rgb, "BMP", {}),
        (rgb.convert("P"), "GIF", {}),
        (rgb, "TIFF", {}),
        (rgb, "TIFF", {"compression": "tiff_lzw"}),
        (Image.fromarray(rng.random((12, 16), dtype=np.float32)), "TIFF", {}),  # float pixels in [0, 1]
        (rgb.convert("LAB"), "TIFF", {}),
        (rgb, "WEBP", {"lossless": True}),
        (rgb.convert("RGBA"), "WEBP", {"quality": 50}),
    ]
    seeds = []
    for image, fmt, options in made:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        seeds.append(buffer.getvalue())
    return seeds


def _fix_png_crcs(data: bytes) -> bytes:
    """Recompute every chunk's CRC, so a mutated PNG reaches the decoder instead of failing its checksum."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    out, pos = bytearray(data[:8]), 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        end = pos + 8 + length
        if end + 4 > len(data):
            break
        body = data[pos + 4 : end]
        out += data[pos : pos + 4] + body + struct.pack(">I", zlib.crc32(body))
        pos = end + 4
    return bytes(out + data[pos:])


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


SIDES = st.one_of(st.integers(0, 64), st.integers(0, 2**16 - 1), st.integers(-(2**31), 2**31 - 1))
TAIL = st.binary(max_size=200)


@st.composite
def hostile_headers(draw) -> bytes:
    """A header of an allowed format (or a foreign one) with drawn sizes, depths and modes, then random bytes."""
    kind = draw(st.sampled_from(["bmp", "gif", "png", "tiff", "jpeg", "webp", "foreign"]))
    width, height = draw(SIDES), draw(SIDES)
    tail = draw(TAIL)
    if kind == "bmp":
        bits = draw(st.sampled_from([1, 2, 4, 8, 16, 24, 32, 0, 7, 64]))
        compression, colours = draw(st.integers(0, 7)), draw(st.integers(0, 2**32 - 1))
        info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, compression, 0, 0, 0, colours, 0)
        return b"BM" + struct.pack("<IHHI", 54 + len(tail), 0, 0, 54) + info + tail
    if kind == "gif":
        w, h = width % 2**16, height % 2**16
        flags = draw(st.integers(0, 255))
        table = draw(st.binary(min_size=0, max_size=48))
        descriptor = b"," + struct.pack("<HHHHB", 0, 0, w, h, draw(st.integers(0, 255)))
        return b"GIF89a" + struct.pack("<HHBBB", w, h, flags, 0, 0) + table + descriptor + b"\x08" + tail + b";"
    if kind == "png":
        depth = draw(st.sampled_from([1, 2, 4, 8, 16, 3]))
        colour = draw(st.sampled_from([0, 2, 3, 4, 6, 5]))
        ihdr = struct.pack(">IIBBBBB", width % 2**32, height % 2**32, depth, colour, 0, 0, draw(st.integers(0, 1)))
        extra = _png_chunk(b"PLTE", bytes(range(48))) if draw(st.booleans()) else b""
        return (
            b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", ihdr)
            + extra
            + _png_chunk(b"IDAT", zlib.compress(tail))
            + _png_chunk(b"IEND", b"")
        )
    if kind == "tiff":
        tags = [
            (256, width % 2**32),
            (257, height % 2**32),
            (258, draw(st.sampled_from([1, 4, 8, 16, 32, 64, 12]))),
            (259, draw(st.sampled_from([1, 5, 7, 8, 32773, 2, 999]))),
            (262, draw(st.integers(0, 10))),
            (273, 8 + 2 + 12 * 11 + 4),
            (277, draw(st.integers(0, 6))),
            (278, draw(st.integers(0, 2**32 - 1))),
            (279, len(tail)),
            (284, draw(st.integers(1, 2))),
            (339, draw(st.integers(1, 4))),
        ]
        ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", tag, 4, 1, value) for tag, value in tags)
        return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00" + tail
    if kind == "jpeg":
        components = draw(st.integers(0, 4))
        sof = struct.pack(">BHHB", 8, height % 2**16, width % 2**16, components)
        sof += b"".join(struct.pack(">BBB", i + 1, 0x11, 0) for i in range(components))
        return b"\xff\xd8\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xda" + tail + b"\xff\xd9"
    if kind == "webp":
        vp8x = struct.pack("<I", draw(st.integers(0, 255))) + (width % 2**24).to_bytes(3, "little")
        vp8x += (height % 2**24).to_bytes(3, "little")
        body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x + tail
        return b"RIFF" + struct.pack("<I", len(body)) + body
    foreign = draw(st.sampled_from([EPS, b"8BPS\x00\x01", b"\x00\x00\x01\x00\x01\x00", b"%PDF-1.4\n", b"P6\n"]))
    return foreign + tail


@st.composite
def mutated_files(draw, seeds: list[bytes]) -> bytes:
    """A real file with a few bytes replaced, maybe truncated or extended, maybe with its PNG checksums mended."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for position, value in draw(st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), max_size=8)):
        data[position % len(data)] = value
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    if cut is not None:
        data = data[:cut]
    data += draw(st.binary(max_size=16))
    return _fix_png_crcs(bytes(data)) if draw(st.booleans()) else bytes(data)


def _fuzz(package: Path) -> None:
    lib = _import_image_modules(package)
    expected = (lib.errors.ImageLoadError, lib.errors.ImageInputError)
    seeds = _seeds()
    for seed in seeds:  # the seeds themselves load
        assert lib.images.load_image(seed).dtype == np.uint8
    outcomes = {"ok": 0, "refused": 0}

    scratch = Path(tempfile.mkdtemp(prefix="gradcam_fuzz_"))

    def as_source(data: bytes, kind: str):
        if kind == "path":
            path = scratch / "photo.png"  # the name says PNG, whatever the bytes are
            path.write_bytes(data)
            return path
        return io.BytesIO(data) if kind == "file object" else data

    def check(data: bytes, size, kind: str = "bytes") -> None:
        try:
            out = lib.images.load_image(as_source(data, kind), size=size, max_pixels=FUZZ_MAX_PIXELS)
        except expected as err:
            assert str(err), "an error without a message"
            assert "memory available" not in str(err), f"an allocation over the cap was attempted: {err}"
            outcomes["refused"] += 1
            return
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        assert 0 < out.shape[0] * out.shape[1] <= FUZZ_MAX_PIXELS
        outcomes["ok"] += 1

    sizes = st.one_of(st.none(), st.tuples(st.integers(1, 64), st.integers(1, 64)), st.just((100_000, 100_000)))

    kinds = st.sampled_from(["bytes", "file object", "path"])

    @FUZZ_SETTINGS
    @given(mutated_files(seeds), sizes, kinds)
    def fuzz_mutated(data, size, kind):
        check(data, size, kind)

    @FUZZ_SETTINGS
    @given(hostile_headers(), sizes, kinds)
    def fuzz_headers(data, size, kind):
        check(data, size, kind)

    _cap_address_space()
    try:
        fuzz_mutated()
        fuzz_headers()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"fuzzed {2 * FUZZ_EXAMPLES} files: {outcomes['ok']} loaded, {outcomes['refused']} refused")


def _huge(package: Path) -> None:
    """Absurd sizes and huge arrays: a clear error before any allocation (each would need gigabytes)."""
    lib = _import_image_modules(package)
    images, resize, errors = lib.images, lib.resize, lib.errors
    small = np.zeros((4, 4, 3), np.uint8)
    cases = {
        "size 100000x100000": lambda: images.load_image(small, size=(100_000, 100_000)),
        "size 40000000x2": lambda: images.load_image(small, size=(40_000_000, 2)),
        "uint8 array 100000x100000": lambda: images.load_image(np.broadcast_to(small[:1, :1], (100_000, 100_000, 3))),
        "float array 100000x100000": lambda: images.load_image(
            np.broadcast_to(np.zeros((1, 1), np.float32), (100_000, 100_000))
        ),
        "uint16 RGBA array 50000x50000": lambda: images.load_image(
            np.broadcast_to(np.zeros((1, 1, 4), np.uint16), (50_000, 50_000, 4))
        ),
        "batch of one 100000x100000 image": lambda: images.to_batch(
            np.broadcast_to(np.zeros((1, 1, 1, 3), np.uint8), (1, 100_000, 100_000, 3))
        ),
        "heatmap to 100000x100000": lambda: resize.upsample_heatmap(np.zeros((7, 7)), (100_000, 100_000)),
        "heatmap to 40000000x1": lambda: resize.upsample_heatmap(np.zeros((7, 1)), (40_000_000, 1)),
        "huge heatmap to one more": lambda: resize.upsample_heatmap(
            np.broadcast_to(np.zeros((1, 1), np.float32), (30_000, 30_000)), (30_001, 30_001)
        ),
        "10000 maps to 224x224": lambda: resize.upsample_maps(
            np.broadcast_to(np.zeros((1, 7, 7)), (10_000, 7, 7)), (224, 224)
        ),
    }
    _cap_address_space()
    for name, call in cases.items():
        try:
            call()
        except errors.GradCAMError as err:
            assert "limit" in str(err), f"{name}: {err}"
            continue
        except BaseException as err:
            raise AssertionError(f"{name}: {type(err).__name__}: {err}") from None
        raise AssertionError(f"{name}: no error")
    print(f"refused {len(cases)} absurd sizes")


def _worker(mode: str, package: Path) -> None:
    {"fuzz": _fuzz, "huge": _huge}[mode](package)


def _run_worker(mode: str) -> str:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, __file__, mode, str(PACKAGE)], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return done.stdout


# --------------------------------------------------------------------------------------------------------------------
# The tests


def test_fuzzed_files_give_an_image_or_a_clear_error_under_a_memory_cap():
    assert "fuzzed" in _run_worker("fuzz")


def test_absurd_sizes_and_huge_arrays_are_refused_before_any_allocation():
    assert "refused 10" in _run_worker("huge")


def _foreign_files() -> dict[str, bytes]:
    """Files in formats Pillow knows but the course does not read, named as if they were photos."""
    image = Image.new("RGB", (16, 12), (200, 10, 20))
    files = {"EPS": EPS}
    for fmt in ("ICO", "PCX", "TGA", "PPM", "SGI", "DDS", "XBM", "QOI", "SPIDER"):
        buffer = io.BytesIO()
        try:
            (image.convert("1") if fmt == "XBM" else image.convert("F") if fmt == "SPIDER" else image).save(buffer, fmt)
        except (OSError, KeyError, ValueError):  # a writer this Pillow lacks
            continue
        files[fmt] = buffer.getvalue()
    return files


def test_other_formats_never_reach_their_decoders(tmp_path, monkeypatch):
    import gradcam_utils as gc

    Image.init()
    accepts = {name: accept for name, (_, accept) in Image.OPEN.items()}
    reached = []
    for name, (factory, accept) in list(Image.OPEN.items()):
        if name not in ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF"):

            def recorder(*args, _name=name, _factory=factory, **kwargs):
                reached.append(_name)
                return _factory(*args, **kwargs)

            monkeypatch.setitem(Image.OPEN, name, (recorder, accept))
    files = _foreign_files()
    assert {"EPS", "ICO", "PCX", "TGA", "PPM"} <= set(files)
    for fmt, data in files.items():
        (tmp_path / f"photo_{fmt}.png").write_bytes(data)
        for source in (tmp_path / f"photo_{fmt}.png", data, io.BytesIO(data)):
            with pytest.raises(gc.ImageLoadError) as info:
                gc.load_image(source)
            message = str(info.value)
            assert "PNG, JPEG, BMP, GIF, WebP or TIFF" in message
            if accepts[fmt] is not None:  # a TGA file, e.g., has no signature: only its decoder could recognise it
                assert f"is in {fmt} format" in message, message
    assert reached == [], f"decoders run: {sorted(set(reached))}"


def test_a_pil_image_of_another_format_is_not_decoded(monkeypatch):
    from PIL import EpsImagePlugin

    import gradcam_utils as gc

    def no_ghostscript(*args, **kwargs):
        raise AssertionError("Ghostscript was asked to run")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", no_ghostscript)
    with pytest.raises(gc.ImageInputError, match="EPS"):
        gc.load_image(Image.open(io.BytesIO(EPS)))


@pytest.mark.parametrize("max_pixels", [None, 0, -1, True, 2.5, "40"])
def test_max_pixels_must_be_a_positive_int(max_pixels):
    import gradcam_utils as gc

    with pytest.raises(gc.ImageInputError, match="max_pixels must be a positive int"):
        gc.load_image(np.zeros((2, 2, 3), np.uint8), max_pixels=max_pixels)


def test_odd_paths_are_clear_errors(tmp_path):
    import gradcam_utils as gc

    (tmp_path / "file").write_bytes(b"x")
    for path in (
        str(tmp_path / "nul\x00byte.png"),
        tmp_path / ("long" * 100 + ".png"),
        tmp_path / "file" / "inside_a_file.png",
        tmp_path / "loop.png",
    ):
        if path == tmp_path / "loop.png":
            os.symlink(path, path)
        with pytest.raises(gc.ImageNotFoundError, match="No image file"):
            gc.load_image(path)


def test_decoder_and_conversion_failures_are_image_load_errors():
    import gradcam_utils as gc

    good = io.BytesIO()
    Image.new("RGB", (16, 12)).save(good, "PNG")
    data = bytearray(good.getvalue())
    data[29] ^= 0xFF  # the zlib stream's first byte: the header parses, decoding fails (not with an OSError)
    with pytest.raises(gc.ImageLoadError):
        gc.load_image(bytes(data))
    lab = io.BytesIO()
    Image.new("LAB", (16, 12)).save(lab, "TIFF")
    assert gc.load_image(lab.getvalue()).shape == (12, 16, 3)
    with pytest.raises(gc.ImageLoadError, match="mode 'La'"):  # a PIL image whose mode has no RGB conversion
        gc.load_image(Image.new("La", (4, 4)))


def test_huge_uint16_and_float_arrays_are_converted_without_float_copies_of_the_whole():
    import tracemalloc

    import gradcam_utils as gc

    for array in (np.full((1000, 1000, 3), 0.5, np.float32), np.full((1000, 1000, 3), 40000, np.uint16)):
        tracemalloc.start()
        out = gc.load_image(array)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert out.shape == (1000, 1000, 3)
        assert peak < 4 * array.size, f"{array.dtype}: peak {peak:,} bytes for {array.size:,} values"


def test_the_allowed_formats_are_those_of_the_commands_extensions():
    import gradcam_utils as gc
    from gradcam_utils.cli.inputs import IMAGE_EXTENSIONS

    Image.init()
    by_extension = Image.registered_extensions()
    assert {by_extension[extension] for extension in IMAGE_EXTENSIONS} == set(gc.images.ALLOWED_FORMATS)


class _Endless(io.RawIOBase):
    """An unseekable stream that never ends (a pipe, a hostile server): only reads of a given size are answered."""

    def __init__(self, head: bytes = b""):
        self.head, self.served = head, 0

    def readable(self):
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            raise AssertionError("the whole of an endless stream was asked for")
        data = (self.head + bytes(size))[:size] if self.served == 0 else bytes(size)
        self.served += len(data)
        return data


def test_an_endless_stream_is_not_read_to_its_end():
    import gradcam_utils as gc

    stream = _Endless(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(gc.ImageLoadError, match="not read further"):
        gc.load_image(stream, max_pixels=1000)
    assert stream.served <= 16 * 1000 + 2**24 + 1
    png = io.BytesIO()
    Image.new("RGB", (5, 4), (1, 2, 3)).save(png, "PNG")

    class Pipe(io.RawIOBase):  # a finite unseekable stream still loads
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def read(self, size=-1):
            return self.data.read(size)

    assert gc.load_image(Pipe(png.getvalue())).shape == (4, 5, 3)


if __name__ == "__main__":
    _worker(sys.argv[1], Path(sys.argv[2]))
