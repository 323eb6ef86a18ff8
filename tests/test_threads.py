"""GRADCAM_THREADS=N (gradcam_utils/thread_limit.py): TensorFlow's thread pools in a fresh process, bad values warn.

The pools can only be set before TensorFlow runs its first operation, so each setting is checked in a new Python
process that imports gradcam_utils and reports ``gc.threads()``; the warnings are checked in this process.
"""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

import gradcam_utils as gc
from gradcam_utils import thread_limit

REPORT = """
import json, os, warnings
warnings.simplefilter("always")
import gradcam_utils as gc
import tensorflow as tf
print(json.dumps({**gc.threads(), "omp": os.environ.get("OMP_NUM_THREADS"),
                  "intra_tf": tf.config.threading.get_intra_op_parallelism_threads(),
                  "inter_tf": tf.config.threading.get_inter_op_parallelism_threads()}))
"""


def _fresh_process(value: str | None) -> tuple[dict, str]:
    env = {
        key: val for key, val in os.environ.items() if key not in ("GRADCAM_THREADS", *thread_limit.LIBRARY_VARIABLES)
    }
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if value is not None:
        env["GRADCAM_THREADS"] = value
    done = subprocess.run([sys.executable, "-c", REPORT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_gradcam_threads_1_sets_both_pools_and_the_library_variables():
    found, stderr = _fresh_process("1")
    assert found["intra_tf"] == 1 and found["inter_tf"] == 1
    assert found["GRADCAM_THREADS"] == 1 and found["intra_op"] == 1 and found["inter_op"] == 1
    assert found["omp"] == "1"
    assert found["problem"] is None
    assert "GRADCAM_THREADS" not in stderr


def test_unset_leaves_tensorflows_defaults():
    found, _ = _fresh_process(None)
    assert found["intra_tf"] == 0 and found["inter_tf"] == 0  # 0: TensorFlow picks (one thread per core)
    assert found["GRADCAM_THREADS"] is None and found["omp"] is None


def test_a_bad_value_at_import_warns_and_changes_nothing():
    found, stderr = _fresh_process("two")
    assert found["intra_tf"] == 0 and found["inter_tf"] == 0
    assert found["problem"] == "unusable value" and found["omp"] is None
    assert "ThreadSettingWarning" in stderr and "GRADCAM_THREADS='two' is ignored" in stderr


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "2 threads"])
def test_bad_values_say_what_was_expected_and_what_to_do(value):
    with pytest.warns(gc.ThreadSettingWarning) as caught:
        assert thread_limit.requested_threads({"GRADCAM_THREADS": value}) is None
    message = str(caught[0].message)
    assert f"GRADCAM_THREADS={value!r} is ignored" in message
    assert "whole number of threads, 1 or more" in message and "unset GRADCAM_THREADS" in message


@pytest.mark.parametrize(("value", "expected"), [("1", 1), (" 4 ", 4), ("", None), ("  ", None)])
def test_good_and_empty_values_read_without_a_warning(value, expected, recwarn):
    assert thread_limit.requested_threads({"GRADCAM_THREADS": value}) == expected
    assert thread_limit.requested_threads({}) is None
    assert not [w for w in recwarn if issubclass(w.category, gc.ThreadSettingWarning)]


def test_library_variables_are_set_only_where_unset():
    environ = {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": ""}
    thread_limit.limit_library_threads(2, environ)
    assert environ["OMP_NUM_THREADS"] == "3"  # the user's own setting wins
    assert environ["MKL_NUM_THREADS"] == "2" and environ["OPENBLAS_NUM_THREADS"] == "2"
    assert set(thread_limit.LIBRARY_VARIABLES) <= set(environ)


def test_too_late_warns_instead_of_raising(monkeypatch):
    monkeypatch.setitem(thread_limit._applied, "problem", None)  # restored afterwards: other tests read gc.threads()
    tf.constant(1.0) + 1.0  # TensorFlow has run an operation: its pools are fixed now
    current = tf.config.threading.get_intra_op_parallelism_threads()
    with pytest.warns(gc.ThreadSettingWarning, match="could not be applied"):
        assert thread_limit.limit_tensorflow_threads(current + 3) is False
    assert tf.config.threading.get_intra_op_parallelism_threads() == current
    assert gc.threads()["problem"] == "too late"


def test_threads_reports_this_process():
    found = gc.threads()
    assert set(found) == {"GRADCAM_THREADS", "intra_op", "inter_op", "cores", "problem"}
    assert found["intra_op"] == tf.config.threading.get_intra_op_parallelism_threads()


def test_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="stage must be"):
        thread_limit.apply_from_environment("later")
