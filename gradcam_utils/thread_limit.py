"""A thread limit for shared servers: ``GRADCAM_THREADS=N`` caps TensorFlow's thread pools in every kernel.

TensorFlow sizes its thread pools to every core of the machine. One learner on a laptop wants that; thirty kernels
on one classroom server do not: each tries to use all cores at once, and they spend their time switching between
threads instead of computing. Set the variable in the environment the kernels start from (the JupyterHub spawner's
environment, or ``export GRADCAM_THREADS=1`` before ``jupyter lab``)::

    GRADCAM_THREADS=1 jupyter lab

When ``gradcam_utils`` is imported (before TensorFlow runs any operation) it then sets:

- TensorFlow's intra-op pool (the threads that share one operation, e.g. a convolution) to N;
- TensorFlow's inter-op pool (the threads that run independent operations side by side) to 1. The course's models
  are chains with at most a short side branch, so running one operation at a time costs little, and it keeps a
  kernel's busy threads at about N (the intra-op pool plus the one calling thread) instead of up to 2N;
- ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``NUMEXPR_NUM_THREADS`` and
  ``VECLIB_MAXIMUM_THREADS`` to N where they are unset, for numerical libraries and processes started later.

Unset (or empty), nothing changes: TensorFlow keeps its defaults (0: one thread per core). A value that is not a
whole number >= 1 (``0``, ``-1``, ``two``) gives a warning that says what was expected, and is ignored rather than
raised: a typo in a server's environment should not stop every learner's first cell, and the course still runs,
only without the limit. ``gc.threads()`` reports what is in force. ``benchmarks/notebook_resources.py`` measures
the effect (see benchmarks/README.md).
"""

from __future__ import annotations

import os
import warnings

from .errors import ThreadSettingWarning

VARIABLE = "GRADCAM_THREADS"
INTER_OP_THREADS = 1
LIBRARY_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)

_applied: dict[str, int | str | None] = {"setting": None, "problem": None}


def requested_threads(environ: dict[str, str] | os._Environ[str] | None = None) -> int | None:
    """The thread count asked for in ``GRADCAM_THREADS``, or None when it is unset, empty or unusable.

    Args:
        environ: The environment to read (default: ``os.environ``).

    Returns:
        N >= 1, or None. An unusable value (not a whole number >= 1) warns with ``ThreadSettingWarning``.
    """
    raw = (os.environ if environ is None else environ).get(VARIABLE, "").strip()
    if not raw:
        return None
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count >= 1:
        return count
    _warn(
        f"{VARIABLE}={raw!r} is ignored: it should be a whole number of threads, 1 or more (e.g. {VARIABLE}=1 on a "
        f"shared server, or the number of cores each learner may use). TensorFlow will use every core. Set a "
        f"positive integer, or unset {VARIABLE}, and restart the kernel."
    )
    return None


def limit_library_threads(count: int, environ: dict[str, str] | os._Environ[str] | None = None) -> None:
    """Set the OpenMP/BLAS thread variables to ``count`` where they are unset (a value already there wins).

    Args:
        count: Threads per library pool.
        environ: The environment to change (default: ``os.environ``, inherited by processes started later).
    """
    target = os.environ if environ is None else environ
    for name in LIBRARY_VARIABLES:
        if not target.get(name):
            target[name] = str(count)


def limit_tensorflow_threads(count: int) -> bool:
    """Set TensorFlow's intra-op pool to ``count`` and its inter-op pool to 1; False (and a warning) if too late.

    Args:
        count: Threads of the intra-op pool.

    Returns:
        True when the pools are set (or already were); False when TensorFlow had already run an operation with
        other settings, which it does not allow to change.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(count)
        tf.config.threading.set_inter_op_parallelism_threads(INTER_OP_THREADS)
    except RuntimeError:
        _warn(
            f"{VARIABLE}={count} could not be applied: TensorFlow already ran an operation in this process before "
            f"gradcam_utils was imported, and its thread pools cannot change after that. Import gradcam_utils "
            f"first (before any other TensorFlow or Keras call), or restart the kernel."
        )
        _applied["problem"] = "too late"
        return False
    return True


def apply_from_environment(stage: str) -> None:
    """Apply ``GRADCAM_THREADS`` in two stages: ``"environment"`` before TensorFlow is imported, ``"tensorflow"`` after.

    The library variables must be in place before numpy's and TensorFlow's libraries start their pools; the
    TensorFlow pools can only be set once TensorFlow is imported, and before it runs its first operation.

    Args:
        stage: ``"environment"`` or ``"tensorflow"``.
    """
    if stage == "environment":
        count = requested_threads()
        _applied["setting"] = count
        if count is None and os.environ.get(VARIABLE, "").strip():
            _applied["problem"] = "unusable value"
        if count is not None:
            limit_library_threads(count)
    elif stage == "tensorflow":
        setting = _applied["setting"]
        if isinstance(setting, int):
            limit_tensorflow_threads(setting)
    else:
        raise ValueError(f"stage must be 'environment' or 'tensorflow', not {stage!r}")


def threads() -> dict[str, int | str | None]:
    """What is in force: the ``GRADCAM_THREADS`` setting and TensorFlow's two pools (0 means one per core).

    Returns:
        ``{"GRADCAM_THREADS": N or None, "intra_op": ..., "inter_op": ..., "cores": ..., "problem": None or why
        the setting is not in force}``.
    """
    import tensorflow as tf

    return {
        VARIABLE: _applied["setting"],
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "cores": os.cpu_count(),
        "problem": _applied["problem"],
    }


def _warn(message: str) -> None:
    # The warning points into this module: the statement a user can change (``import gradcam_utils``, or the
    # environment) lies frames up inside importlib, so the message itself says what to do.
    warnings.warn(message, ThreadSettingWarning, stacklevel=2)
