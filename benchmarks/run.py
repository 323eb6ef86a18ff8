"""The benchmark suite: Grad-CAM speed, memory and tracing, measured in one process on the same inputs.

    .venv/bin/python benchmarks/run.py                      # the full suite: ~3 min on 2 CPU cores
    .venv/bin/python benchmarks/run.py --quick              # a smoke run, ~1.5 min: batch sizes 1 and 8, fewer repeats
    .venv/bin/python benchmarks/run.py --out results.json   # also write every number as JSON
    .venv/bin/python benchmarks/run.py --onednn-off-check   # also the batch-consistency check with oneDNN off

It runs on whatever TensorFlow sees (CPU or GPU, unchanged) and prints a table of ratios against the performance
targets (PASS/FAIL), then the absolute medians behind them. Every timing is a median over repeats, taken after a
warm-up call; the compared cases are run round-robin (one of each per round), so a change in the machine's load
hits them alike. Only ratios measured in the same run mean anything; absolute times depend on the machine and its
load (printed at the start and the end). What each row means: benchmarks/README.md.

The same from the repository root as a module: ``.venv/bin/python -m benchmarks.run [--quick] [--out results.json]``.
The suite's parts live in the package's modules (cases, timing, memory, checks, report: see benchmarks/__init__.py);
this module runs them in order and is the command line.
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:
    # Run as a script (`python benchmarks/run.py`): this folder is not on sys.path as a package, so import the
    # package from its folder (its location, not a sys.path edit) and run this module as `python -m benchmarks.run`.
    import importlib.util
    import runpy
    import sys
    from pathlib import Path

    _folder = Path(__file__).resolve().parent
    _spec = importlib.util.spec_from_file_location(
        "benchmarks", _folder / "__init__.py", submodule_search_locations=[str(_folder)]
    )
    assert _spec is not None and _spec.loader is not None
    _package = importlib.util.module_from_spec(_spec)
    sys.modules["benchmarks"] = _package
    _spec.loader.exec_module(_package)
    runpy.run_module("benchmarks.run", run_name="__main__", alter_sys=True)
    raise SystemExit(0)  # not reached: the module's main exits

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import gradcam_utils as gc
from gradcam_utils.synthetic import make_shapes

from .cases import CASES, ModelCase, ablation_cost, load_average, machine_info
from .checks import batch_consistency, engine_trace_check, onednn_off_consistency
from .memory import leak_check, memory_probe, memory_section
from .report import TARGETS, evaluate, jsonable, report
from .timing import explorer_section, gradcam_section, scorecam_section


def run_suite(
    cases: list[ModelCase],
    scorecam_cases: Sequence[tuple] = (),
    explorer_repeats: int | None = 5,
    ablation_cases: Sequence[tuple] = (),
    leak_calls: tuple[int, int] = (10, 200),
    memory_batches: dict[str, int] | None = None,
    fresh_process_memory: bool = True,
    onednn_off_model: str | None = None,
    log=print,
) -> dict:
    """Run every section on ``cases``; returns the results (``report`` prints them, ``evaluate`` judges them).

    ``scorecam_cases``: (name, model, layer, images, batch_size) tuples. ``ablation_cases``: (name, model, layer,
    images, with Score-CAM) tuples, AblationCAM and Score-CAM timed next to Grad-CAM. ``memory_batches``: {call:
    batch} for the memory probes (default: ours and the forward pass at the largest batch, tf-keras-vis at 8).
    """
    with warnings.catch_warnings():
        # The article's code (tests/article_reference.py reproduces it) wraps model.inputs in a list, and Keras
        # says so on every call; random inputs often have no positive evidence at a middle layer. Neither is what
        # is measured.
        warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")
        warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)
        return _run_suite(
            cases,
            scorecam_cases,
            ablation_cases,
            explorer_repeats,
            leak_calls,
            memory_batches,
            fresh_process_memory,
            onednn_off_model,
            log,
        )


def _run_suite(
    cases,
    scorecam_cases,
    ablation_cases,
    explorer_repeats,
    leak_calls,
    memory_batches,
    fresh_process_memory,
    onednn_off_model,
    log,
) -> dict:
    started = time.perf_counter()
    results: dict = {
        "machine": machine_info(),
        "targets_set": TARGETS,
        "gradcam": [],
        "scorecam": [],
        "ablation": [],
        "memory": [],
        "leaks": [],
        "traces": [],
        "consistency": [],
    }
    m = results["machine"]
    log(f"{m['device']}, TF {m['tensorflow']}, {m['cpus_usable']} CPUs, load {m['load_average']}")
    # Memory first, in fresh processes: before this one holds the models, and so that tf-keras-vis' need is known
    # before it is handed a big batch.
    log("peak memory")
    for case in cases:
        batches = memory_batches or {
            "ours": max(case.batch_sizes),
            "forward": max(case.batch_sizes),
            "tf_keras_vis": min(8, max(case.batch_sizes)),
        }
        results["memory"] += memory_section([case], batches, fresh_process_memory, log)
    for case in cases:
        log(f"Grad-CAM timings: {case.name}")
        tfkv_need = next(
            (
                row.get("rss_mb_per_image")
                for row in results["memory"]
                if row["model"] == case.name and row["call"] == "tf_keras_vis"
            ),
            None,
        )
        results["gradcam"].append(gradcam_section(case, log, tfkv_need))
    for name, model, layer, images, batch_size in scorecam_cases:
        log(f"Score-CAM: {name} {layer}")
        results["scorecam"].append(scorecam_section(name, model, layer, images, batch_size))
    for name, model, layer, images, with_scorecam in ablation_cases:
        log(f"AblationCAM and Score-CAM vs Grad-CAM: {name} {layer}")
        results["ablation"].append(ablation_cost(name, model, layer, images, scorecam=with_scorecam))
    if explorer_repeats:
        log("explorer latencies")
        results["explorer"] = explorer_section(explorer_repeats)
    for case in cases:
        log(f"traces, batch consistency: {case.name}")
        results["traces"].append(engine_trace_check(case))
        results["consistency"].append(batch_consistency(case))
    if onednn_off_model:
        log(f"batch consistency with oneDNN off: {onednn_off_model} (a fresh process)")
        off = onednn_off_consistency(onednn_off_model)
        results["consistency_onednn_off"] = off
        if "layers" in off:
            results["consistency"].append(off)
    leak_case = cases[-1]
    one = leak_case.images(1)
    log(f"leak check: {leak_case.name}, {leak_calls[1]} calls")
    results["leaks"].append(
        {
            "label": f"{leak_case.name} explain, B=1",
            **leak_check(lambda: gc.explain(leak_case.model, one, leak_case.layer), *leak_calls),
        }
    )
    results["seconds"] = time.perf_counter() - started
    results["load_average_end"] = load_average()
    results["targets"] = evaluate(results)
    return results


def main(argv: list[str] | None = None) -> int:
    """The benchmark command: run the sections asked for, print the report, optionally write the JSON; exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch sizes 1 and 8, fewer repeats and calls")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--models", default=",".join(CASES), help=f"comma-separated, from: {', '.join(CASES)}")
    parser.add_argument("--no-explorer", action="store_true", help="skip the explorer latencies")
    parser.add_argument(
        "--onednn-off-check",
        action="store_true",
        help="repeat the batch-consistency check in a fresh process with TF_ENABLE_ONEDNN_OPTS=0",
    )
    parser.add_argument("--probe", choices=("memory", "consistency"), help=argparse.SUPPRESS)  # run in a subprocess
    parser.add_argument("--call", default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CASES))
    if unknown or not names:
        parser.error(f"unknown model(s) {unknown}; use some of {', '.join(CASES)}")
    batch_sizes = (1, 8) if args.quick else (1, 8, 32)
    settings = {
        "xception": (2, 3) if args.quick else (3, 5),  # (repeats, article calls)
        "efficientnet_lite0": (3, 4) if args.quick else (5, 7),
    }

    def build(name: str) -> ModelCase:
        return CASES[name](batch_sizes, *settings[name])

    if args.probe:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gc.EmptyHeatmapWarning)
            case = build(names[0])
            found = memory_probe(case, args.call, args.batch) if args.probe == "memory" else batch_consistency(case)
        print(json.dumps(jsonable(found)))
        return 0

    cases = [build(n) for n in names]
    shapes = gc.load_model("shapes_gap")
    shape_image = np.asarray(shapes.preprocess(make_shapes(1, seed=3).images))
    scorecam_cases = [("shapes_gap", shapes.model, shapes.last_conv_layer, shape_image, 64)]
    # AblationCAM where the issue asks for it (the last conv layer) and at Score-CAM's EfficientNet layer
    ablation_cases = [("shapes_gap", shapes.model, shapes.last_conv_layer, shape_image, True)]
    if not args.quick and "efficientnet_lite0" in names:
        lite = next(c for c in cases if c.name == "efficientnet_lite0")
        scorecam_cases.append(("efficientnet_lite0", lite.model, "block2a_project_conv", lite.images(1), 32))
        ablation_cases += [
            ("efficientnet_lite0", lite.model, "block2a_project_conv", lite.images(1), True),
            ("efficientnet_lite0", lite.model, lite.layer, lite.images(1), False),  # Score-CAM: ~10 s at 1280 maps
        ]
    results = run_suite(
        cases,
        scorecam_cases,
        explorer_repeats=None if args.no_explorer else (2 if args.quick else 5),
        ablation_cases=ablation_cases,
        leak_calls=(10, 60) if args.quick else (10, 200),
        onednn_off_model="efficientnet_lite0" if args.onednn_off_check else None,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    report(results)
    if args.out:
        args.out.write_text(json.dumps(jsonable(results), indent=1))
        print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
