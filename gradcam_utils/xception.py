"""Xception with ImageNet weights, the model of the article, resolved so that it also works offline.

Weights are looked for in this order:
  1. an explicit ``weights_path`` argument;
  2. the file named by the environment variable GRADCAM_XCEPTION_WEIGHTS (classrooms hand the .h5 around);
  3. the Keras cache ($KERAS_HOME/models or ~/.keras/models), checked against the published MD5;
  4. a download from Keras' public origin (only this step needs the internet).
``gradcam-fetch-xception`` (or ``python -m gradcam_utils.xception``) runs step 4 ahead of time, into the cache.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

import keras

from .errors import GradCAMError, WeightsUnavailableError

WEIGHTS_FILE = "xception_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_MD5 = "0a58e3b7378bc2990ea3b43d5981f1f6"
WEIGHTS_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/xception/{WEIGHTS_FILE}"
ENV_VAR = "GRADCAM_XCEPTION_WEIGHTS"
INPUT_SIZE = (299, 299)
LAST_CONV_LAYER = "block14_sepconv2_act"


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded files: $KERAS_HOME, else ~/.keras (the weights go in its models/ folder)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def resolve_weights(
    weights_path=None,
    *,
    origin: str = WEIGHTS_URL,
    file_hash: str | None = WEIGHTS_MD5,
    cache_dir=None,
    download: bool = True,
) -> Path:
    """Find the ImageNet weights file (see the module docstring for the order); download it if allowed."""
    if weights_path is not None:
        return _existing(Path(weights_path), "the weights_path argument")
    if os.environ.get(ENV_VAR):
        return _existing(Path(os.environ[ENV_VAR]), f"the {ENV_VAR} environment variable")
    cache = Path(cache_dir) if cache_dir is not None else keras_cache_dir()
    cached = cache / "models" / WEIGHTS_FILE
    try:
        if cached.is_file() and (file_hash is None or _md5(cached) == file_hash):
            return cached
    except OSError as err:  # an unreadable cached file: say so instead of a raw traceback
        raise WeightsUnavailableError(_missing_message(cached, f"the cached file cannot be read: {err}")) from None
    if not download:
        raise WeightsUnavailableError(_missing_message(cached, "downloading was not allowed"))
    try:
        cache.mkdir(parents=True, exist_ok=True)  # Keras silently falls back to /tmp/.keras for a missing folder
    except OSError as err:  # ~/.keras is a file, read-only, ...
        why = f"the cache folder {cache} cannot be created ({err}); set KERAS_HOME to a writable folder"
        raise WeightsUnavailableError(_missing_message(cached, why)) from None
    try:
        fetched = keras.utils.get_file(
            WEIGHTS_FILE, origin, cache_subdir="models", file_hash=file_hash, cache_dir=str(cache)
        )
    except Exception as err:  # Keras raises a bare Exception for network errors, ValueError for a bad hash
        raise WeightsUnavailableError(_missing_message(cached, f"the download failed: {err}")) from None
    return Path(fetched)


def weights_available(cache_dir=None) -> bool:
    """True when the weights can be found on this machine without a download (argument-free lookup)."""
    try:
        resolve_weights(cache_dir=cache_dir, download=False)
    except (WeightsUnavailableError, GradCAMError, OSError):  # unreadable or missing: not available
        return False
    return True


def _existing(path: Path, where: str) -> Path:
    if not path.is_file():
        raise WeightsUnavailableError(
            f"{where} names '{path}', but there is no file there. It should be "
            f"{WEIGHTS_FILE} (about 88 MB, MD5 {WEIGHTS_MD5})."
        )
    return path


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _missing_message(cached: Path, why: str) -> str:
    return (
        f"The Xception ImageNet weights are not available ({why}). The file needed is {WEIGHTS_FILE} "
        f"(about 88 MB, MD5 {WEIGHTS_MD5}). Two ways to provide it:\n"
        f"  1. on a machine with internet, run `gradcam-fetch-xception` (it saves to {cached}), or copy the "
        f"file there;\n"
        f"  2. put the file anywhere and set {ENV_VAR}=/path/to/{WEIGHTS_FILE} (or pass weights_path=...).\n"
        "Or use the embedded model, which needs no download: load_model('efficientnet_lite0'), or "
        "load_model('xception', fallback=True)."
    )


def build_xception(weights_path) -> keras.Model:
    """Keras' Xception with the given ImageNet weights file and pre-softmax outputs (logits)."""
    try:
        return keras.applications.Xception(weights=str(weights_path), classifier_activation=None)
    except (OSError, ValueError, KeyError) as err:
        raise GradCAMError(
            f"'{weights_path}' could not be loaded as Xception ImageNet weights ({err}). It should "
            f"be {WEIGHTS_FILE} (MD5 {WEIGHTS_MD5}); fetch it again."
        ) from None


def preprocess_input(images):
    """uint8 RGB (0..255) to Xception's input range: x / 127.5 - 1, as float32."""
    return keras.applications.xception.preprocess_input(images.astype("float32"))


def fetch_weights_main(argv=None) -> None:
    """Command line: download the weights into the Keras cache now, for offline use later."""
    parser = argparse.ArgumentParser(prog="gradcam-fetch-xception", description=fetch_weights_main.__doc__)
    parser.add_argument("--origin", default=WEIGHTS_URL, help="where to download from (default: Keras' origin)")
    parser.add_argument("--cache-dir", default=None, help="Keras cache folder (default: $KERAS_HOME or ~/.keras)")
    args = parser.parse_args(argv)
    file_hash = WEIGHTS_MD5 if args.origin == WEIGHTS_URL else None
    try:
        path = resolve_weights(origin=args.origin, file_hash=file_hash, cache_dir=args.cache_dir)
    except WeightsUnavailableError as err:
        raise SystemExit(str(err)) from None
    print(f"Xception weights ready at {path}")


if __name__ == "__main__":
    fetch_weights_main()
