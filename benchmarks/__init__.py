"""The benchmark suite: Grad-CAM speed, memory and tracing, measured in one process on the same inputs.

Run it as ``python -m benchmarks.run`` from the repository root, or as ``python benchmarks/run.py`` (a shim that
imports this package from its folder; no ``sys.path`` edits either way). The modules:

    cases      what is measured on: the machine, the models (``ModelCase``), the implementations compared,
               AblationCAM next to Grad-CAM and Score-CAM (``ablation_cost``)
    timing     interleaved medians; the Grad-CAM, Score-CAM and explorer sections
    memory     peak memory (in fresh processes), the leak check, tf-keras-vis' chunking
    checks     tracing (one trace per plan) and batch consistency (oneDNN)
    report     the targets, their verdicts, the printed tables, the JSON
    run        the suite (``run_suite``) and the command line (``main``)

What each row means: benchmarks/README.md.
"""

import os

# On a GPU, TensorFlow would reserve nearly all of its memory at start: the memory probes' processes could then get
# none, and the peak figures would be the reservation. Allocate as needed instead (children inherit this). Set here,
# before any of the modules imports TensorFlow.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

# Before any module here imports keras or tensorflow: gradcam_utils imports TensorFlow quietly.
import gradcam_utils  # noqa: E402, F401
