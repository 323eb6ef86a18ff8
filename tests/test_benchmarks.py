"""The benchmark suite (the benchmarks package, run as benchmarks/run.py) on tiny models: every section runs and
reports what it should, and the trace-count and leak helpers catch the problems they exist to catch. No timing is
asserted: timings are the suite's output, not a test's."""

import importlib
import importlib.util
import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from helpers import tiny_functional

from gradcam_utils import engine

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    """The suite's modules: bench.run, bench.cases, bench.timing, bench.memory, bench.checks, bench.report.

    The ``benchmarks`` package is imported from its folder, as benchmarks/run.py does when run as a script: found
    whether or not the repository root is on sys.path, without editing sys.path.
    """
    if "benchmarks" not in sys.modules:
        folder = ROOT / "benchmarks"
        spec = importlib.util.spec_from_file_location(
            "benchmarks", folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules["benchmarks"] = package
        spec.loader.exec_module(package)
    return SimpleNamespace(
        **{
            name: importlib.import_module(f"benchmarks.{name}")
            for name in ("run", "cases", "timing", "memory", "checks", "report")
        }
    )


@pytest.fixture(scope="module")
def tiny_case(bench):
    return bench.cases.ModelCase(
        "tiny",
        tiny_functional(name="tiny_bench"),
        "conv2_act",
        "conv1_act",
        batch_sizes=(1, 2),
        repeats=1,
        article_calls=1,
    )


def test_the_suite_runs_on_a_tiny_model_and_reports_every_section(bench, tiny_case, capsys):
    images = tiny_case.images(2)
    results = bench.run.run_suite(
        [tiny_case],
        [("tiny", tiny_case.model, "conv2_act", images, 4)],
        explorer_repeats=None,
        ablation_cases=[
            ("tiny", tiny_case.model, "conv2_act", images, True),
            ("tiny", tiny_case.model, "conv1_act", images, False),
        ],
        leak_calls=(2, 5),
        fresh_process_memory=False,
        log=lambda _: None,
    )

    section = results["gradcam"][0]
    assert set(section["batches"]) == {1, 2}
    for row in section["batches"].values():
        for key in (
            "article_ms",
            "ours_ms",
            "forward_ms",
            "speedup_vs_article",
            "ceiling_vs_article",
            "gradcam_over_forward",
            "images_per_s",
        ):
            assert np.isfinite(row[key]) and row[key] > 0, key
        assert row["tf_keras_vis_ms"] is not None and row["speedup_vs_tf_keras_vis"] > 0  # installed for tests
    assert section["max_abs_diff_vs_article"] < 1e-4 and section["max_rel_diff_vs_tf_keras_vis"] < 1e-4
    assert section["trace_count"] == 1
    assert results["scorecam"][0]["channels"] == 5 and results["scorecam"][0]["speedup"] > 0
    with_scorecam, without = results["ablation"]  # AblationCAM next to Score-CAM, both as ratios to Grad-CAM
    assert (with_scorecam["layer"], with_scorecam["channels"], without["channels"]) == ("conv2_act", 5, 6)
    for key in ("gradcam_ms", "ablationcam_ms", "scorecam_ms", "ablation_over_gradcam", "scorecam_over_gradcam"):
        assert np.isfinite(with_scorecam[key]) and with_scorecam[key] > 0, key
    assert with_scorecam["ablation_over_gradcam"] == with_scorecam["ablationcam_ms"] / with_scorecam["gradcam_ms"]
    assert without["scorecam_ms"] is None and without["scorecam_over_gradcam"] is None
    assert results["traces"][0]["ok"] and results["leaks"][0]["total"] == 5
    assert [(row["call"], row["batch"]) for row in results["memory"]] == [
        ("ours", 2),
        ("forward", 2),
        ("tf_keras_vis", 2),
    ]
    assert all(row["python_peak_mb"] >= 0 and "rss_mb_per_image" in row for row in results["memory"])
    assert set(results["consistency"][0]["layers"]) == {"conv1_act", "conv2_act"}
    assert "explorer" not in results and results["machine"]["tensorflow"] == tf.__version__

    checks = {row["check"]: row for row in results["targets"]}
    assert {row["verdict"] for row in results["targets"]} <= {"PASS", "FAIL", "n/a"}
    assert "tiny B=2: throughput vs the article" in checks and "tiny B=2: Grad-CAM / forward pass" in checks
    assert checks["tiny: traces after all timed calls"]["verdict"] == "PASS"

    bench.report.report(results)
    printed = capsys.readouterr().out
    assert "Targets" in printed and "Grad-CAM, tiny" in printed and "Score-CAM" in printed
    assert "AblationCAM and Score-CAM vs Grad-CAM" in printed and "skipped" in printed
    assert "Peak memory" in printed
    json.dumps(bench.report.jsonable(results))  # what --out writes


def test_trace_check_catches_a_function_that_retraces_every_call(bench):
    retracing = tf.function(lambda x, batch: x * batch)  # a Python argument: every new value is a new trace
    caught = bench.checks.trace_check(
        lambda b: retracing(tf.ones(3), b), retracing.experimental_get_tracing_count, batch_sizes=(1, 2, 3, 4)
    )
    assert not caught["ok"] and caught["retraces"] == 3 and caught["trace_counts"] == [1, 2, 3, 4]

    stable = tf.function(lambda x: x * 2, input_signature=[tf.TensorSpec((None, 3), tf.float32)])
    fine = bench.checks.trace_check(
        lambda b: stable(tf.ones((b, 3))), stable.experimental_get_tracing_count, batch_sizes=(1, 2, 3, 4)
    )
    assert fine["ok"] and fine["trace_counts"] == [1, 1, 1, 1]


def test_engine_plans_trace_once_whatever_the_batch_size(bench, tiny_case):
    checked = bench.checks.engine_trace_check(tiny_case, batch_sizes=(1, 3, 2, 3))
    assert checked["ok"], checked
    assert checked["gradcam"]["trace_counts"] == [1, 1, 1, 1] and checked["logits"]["trace_counts"] == [1, 1, 1, 1]


def test_leak_check_catches_growing_memory_and_passes_steady_calls(bench):
    kept = []
    leaking = bench.memory.leak_check(lambda: kept.append(np.ones(2**18)), first=2, total=12)  # 2 MB per call
    assert not leaking["ok"]
    assert 15 < leaking["python_growth_mb"] < 25 and leaking["python_growth_kb_per_call"] > 1500

    steady = bench.memory.leak_check(lambda: float(np.ones(2**18).sum()), first=2, total=12)
    assert steady["ok"] and abs(steady["python_growth_mb"]) < 0.5
    with pytest.raises(ValueError):
        bench.memory.leak_check(lambda: None, first=5, total=5)


def test_tf_keras_vis_gets_the_batch_in_chunks_only_when_memory_is_short(bench):
    fitting_chunk = bench.memory.fitting_chunk
    assert fitting_chunk(32, None, 20000) == 32 and fitting_chunk(32, 400, None) == 32
    assert fitting_chunk(32, 400, 100000) == 32
    assert fitting_chunk(32, 400, 20000) == 8  # 8 x 400 MB x 1.25 = 4 GB <= 25% of 20 GB; 16 would not fit
    assert fitting_chunk(32, 400, 40000) == 16
    assert fitting_chunk(8, 10000, 1000) == 1


def test_targets_are_judged_from_the_measured_ratios(bench):
    row = {
        "speedup_vs_article": 4.0,
        "ceiling_vs_article": 4.2,
        "gradcam_over_forward": 1.1,
        "speedup_vs_tf_keras_vis": None,
    }
    results = {
        "gradcam": [{"model": "xception", "trace_count": 1, "batches": {8: dict(row), 32: dict(row)}}],
        "explorer": {"median_ms": {"layer_change": 2000.0, "alpha_change": 5.0}},
        "seconds": 100.0,
    }
    verdicts = {r["check"]: r["verdict"] for r in bench.report.evaluate(results)}
    assert verdicts["xception B=32: throughput vs the article"] == "FAIL"
    assert verdicts["xception B=8: Grad-CAM / forward pass"] == "PASS"
    assert verdicts["xception B=8: throughput vs tf-keras-vis"] == "n/a"  # not installed: skipped, said so
    assert verdicts["explorer: layer change"] == "FAIL" and verdicts["explorer: alpha change"] == "PASS"
    assert verdicts["suite wall time"] == "PASS"


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_many_plans_do_not_log_retracing_warnings(images):
    """One traced function per (model, layer) is not retracing; TensorFlow would say it is after five plans."""
    handler, logger = _Records(), logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        for i in range(4):
            model = tiny_functional(name=f"tiny_plans_{i}")
            for layer in ("conv1", "conv1_act", "conv2_act"):
                engine.explain(model, images, layer)
        ours = list(handler.messages)

        def scale(x):  # the same code in several tf.functions: how our plans looked to TensorFlow
            return x * 2.0

        for _ in range(8):
            tf.function(scale)(tf.ones(2))
    finally:
        logger.removeHandler(handler)
    assert not [m for m in ours if "retracing" in m], ours
    assert [m for m in handler.messages if "triggered tf.function retracing" in m], "the handler saw nothing"
