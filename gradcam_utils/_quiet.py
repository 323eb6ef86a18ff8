"""Import TensorFlow without its C++ start-up chatter.

On a CPU-only laptop TensorFlow prints timestamped INFO/ERROR lines about oneDNN and missing CUDA drivers straight
to file descriptor 2, before its own log-level setting is read. In a notebook they land in red boxes under the
first cell, alarm learners, and differ on every run (which breaks output regression tests). We send fd 2 to
/dev/null only while TensorFlow imports and probes its devices; Python exceptions still propagate as usual.
Set GRADCAM_UTILS_VERBOSE_TF=1 to see everything.
"""

import os
import sys


def import_tensorflow_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get("GRADCAM_UTILS_VERBOSE_TF") or "tensorflow" in sys.modules:
        return
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr (some embedded interpreters): nothing to quiet
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe prints too; do it now, while quiet
    finally:
        os.dup2(saved, 2)
        os.close(saved)
