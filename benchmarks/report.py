"""The report of a benchmark run.

The targets of the performance issue, their verdicts from a run's results, the printed tables and the JSON that
``--out`` writes.
"""

from __future__ import annotations

import numpy as np

TARGETS = {
    "speedup_vs_article": 6.0,  # batched Grad-CAM throughput / the article's one-image-per-call code, Xception B=32
    "gradcam_over_forward": 1.25,  # Grad-CAM time / one plain forward pass of the same batch, B=8
    "speedup_vs_tf_keras_vis": 1.5,  # tf-keras-vis Gradcam time / ours, same inputs
    "explorer_fast_ms": 100.0,  # class, alpha, colormap change
    "explorer_layer_ms": 1500.0,  # a layer not visited before
    "leak_rss_mb": 16.0,  # RSS growth from call 10 to call 200, above which we call it a leak
    "leak_python_mb": 1.0,  # Python/numpy allocations (tracemalloc) growth over the same calls
    "suite_seconds": 600.0,
}
FAST_EXPLORER_UPDATES = ("class_change_topk", "class_change_by_name", "alpha_change", "colormap_change")
LAYER_EXPLORER_UPDATES = ("layer_change", "layer_change_revisit")


# ----- targets ------------------------------------------------------------------------------------------------


def evaluate(results: dict) -> list[dict]:
    """Rows (check, measured, target, verdict) for every target the issue sets, from the results of a run."""
    rows = []

    def add(check: str, value, target: str, ok: bool | None, note: str = ""):
        rows.append(
            {
                "check": check,
                "measured": value,
                "target": target,
                "verdict": "n/a" if ok is None else ("PASS" if ok else "FAIL"),
                "note": note,
            }
        )

    for section in results.get("gradcam", []):
        name, batches = section["model"], section["batches"]
        big = max(batches)
        row = batches[big]
        add(
            f"{name} B={big}: throughput vs the article",
            f"{row['speedup_vs_article']:.2f}x",
            f">= {TARGETS['speedup_vs_article']:g}x",
            row["speedup_vs_article"] >= TARGETS["speedup_vs_article"],
            f"ceiling (article / one forward pass): {row['ceiling_vs_article']:.2f}x"
            + ("" if name == "xception" else "; the target is set for xception"),
        )
        for batch in sorted(batches):
            row = batches[batch]
            if batch == 8 or 8 not in batches and batch == big:
                add(
                    f"{name} B={batch}: Grad-CAM / forward pass",
                    f"{row['gradcam_over_forward']:.2f}x",
                    f"<= {TARGETS['gradcam_over_forward']:g}x",
                    row["gradcam_over_forward"] <= TARGETS["gradcam_over_forward"],
                )
        for batch in sorted(batches):
            row = batches[batch]
            if row["speedup_vs_tf_keras_vis"] is None:
                add(
                    f"{name} B={batch}: throughput vs tf-keras-vis",
                    "skipped",
                    "",
                    None,
                    row.get("tf_keras_vis_note") or "tf-keras-vis is not installed",
                )
            else:
                chunk = row.get("tf_keras_vis_chunk")
                add(
                    f"{name} B={batch}: throughput vs tf-keras-vis",
                    f"{row['speedup_vs_tf_keras_vis']:.2f}x",
                    f">= {TARGETS['speedup_vs_tf_keras_vis']:g}x",
                    row["speedup_vs_tf_keras_vis"] >= TARGETS["speedup_vs_tf_keras_vis"],
                    f"tf-keras-vis in chunks of {chunk} (memory)" if chunk and chunk < batch else "",
                )
    explorer = results.get("explorer")
    if explorer:
        for update in FAST_EXPLORER_UPDATES + LAYER_EXPLORER_UPDATES:
            ms = explorer["median_ms"].get(update)
            if ms is None:
                continue
            limit = TARGETS["explorer_fast_ms" if update in FAST_EXPLORER_UPDATES else "explorer_layer_ms"]
            add(f"explorer: {update.replace('_', ' ')}", f"{ms:.0f} ms", f"< {limit:g} ms", ms < limit)
    for leak in results.get("leaks", []):
        growth = leak["rss_growth_mb"]
        add(
            f"{leak['label']}: memory, call {leak['first']} -> {leak['total']}",
            f"RSS {growth:+.1f} MB, Python {leak['python_growth_mb']:+.2f} MB"
            if growth is not None
            else f"Python {leak['python_growth_mb']:+.2f} MB",
            f"<= {TARGETS['leak_rss_mb']:g} MB / {TARGETS['leak_python_mb']:g} MB",
            leak["ok"],
        )
    for traces in results.get("traces", []):
        add(
            f"{traces['model']}: traces per plan over batch sizes {traces['gradcam']['batch_sizes']}",
            f"Grad-CAM {traces['gradcam']['trace_counts'][-1]}, logits {traces['logits']['trace_counts'][-1]}",
            "1 each",
            traces["ok"],
        )
    for section in results.get("gradcam", []):
        add(
            f"{section['model']}: traces after all timed calls",
            str(section["trace_count"]),
            "1",
            section["trace_count"] == 1,
        )
    if "seconds" in results:
        add(
            "suite wall time",
            f"{results['seconds']:.0f} s",
            f"< {TARGETS['suite_seconds']:g} s",
            results["seconds"] < TARGETS["suite_seconds"],
        )
    return rows


# ----- printing -----------------------------------------------------------------------------------------------


def _table(headers: list[str], rows: list[list], out=print) -> None:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        padded = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        out("  ".join(padded).rstrip())
        if n == 0:
            out("  ".join("-" * w for w in widths))


def _perturbation_tables(results: dict, out) -> None:
    """The Score-CAM table (batched vs one pass per channel) and AblationCAM's (next to Score-CAM, vs Grad-CAM)."""
    if results.get("scorecam"):
        out("\nScore-CAM: per-channel forward passes batched vs one per pass")
        _table(
            ["model", "layer", "images", "channels", "batched", "one per pass", "speedup"],
            [
                [
                    s["model"],
                    s["layer"],
                    s["images"],
                    s["channels"],
                    f"{s['batched_ms']:.0f} ms (bs {s['batch_size']})",
                    f"{s['one_per_pass_ms']:.0f} ms",
                    f"{s['speedup']:.1f}x",
                ]
                for s in results["scorecam"]
            ],
            out,
        )
    if results.get("ablation"):
        out("\nAblationCAM and Score-CAM vs Grad-CAM (one call each, same images, medians interleaved in this run)")
        _table(
            ["model", "layer", "images", "channels", "Grad-CAM", "AblationCAM", "Score-CAM"],
            [
                [
                    a["model"],
                    a["layer"],
                    a["images"],
                    a["channels"],
                    f"{a['gradcam_ms']:.0f} ms",
                    f"{a['ablationcam_ms']:.0f} ms ({a['ablation_over_gradcam']:.1f}x)",
                    "skipped"
                    if a["scorecam_ms"] is None
                    else f"{a['scorecam_ms']:.0f} ms ({a['scorecam_over_gradcam']:.1f}x)",
                ]
                for a in results["ablation"]
            ],
            out,
        )


def _f(value, digits=0, suffix=""):
    return None if value is None else f"{value:.{digits}f}{suffix}"


def report(results: dict, out=print) -> None:
    """Print a run's results as tables (machine, targets, Grad-CAM, Score-CAM, AblationCAM, explorer, memory, leaks)."""
    m = results["machine"]
    out(
        f"\nmachine: {m['device']} | {m['cpu_model']} | {m['cpus_usable']} usable of {m['cpu_count']} CPUs | "
        f"TF {m['tensorflow']}, Keras {m['keras']} | load average at start {m['load_average']}, at end "
        f"{results.get('load_average_end')} | oneDNN {m['onednn']}"
    )
    out("\nTargets (ratios measured in this run)")
    _table(
        ["check", "measured", "target", "verdict", "note"],
        [[r["check"], r["measured"], r["target"], r["verdict"], r["note"]] for r in results["targets"]],
        out,
    )
    for section in results.get("gradcam", []):
        out(
            f"\nGrad-CAM, {section['model']} {tuple(section['input_shape'])}, layer {section['layer']} "
            f"(median ms per batch; the article: {section['article_ms_per_image']:.0f} ms per one-image call x B)"
        )
        _table(
            [
                "B",
                "article",
                "ours",
                "forward",
                "tf-keras-vis",
                "vs article",
                "ceiling",
                "ours/forward",
                "vs tf-keras-vis",
                "images/s",
            ],
            [
                [
                    b,
                    _f(r["article_ms"]),
                    _f(r["ours_ms"]),
                    _f(r["forward_ms"]),
                    _f(r["tf_keras_vis_ms"]),
                    _f(r["speedup_vs_article"], 2, "x"),
                    _f(r["ceiling_vs_article"], 2, "x"),
                    _f(r["gradcam_over_forward"], 2, "x"),
                    _f(r["speedup_vs_tf_keras_vis"], 2, "x"),
                    _f(r["images_per_s"], 1),
                ]
                for b, r in section["batches"].items()
            ],
            out,
        )
        chunked = {
            b: r["tf_keras_vis_chunk"]
            for b, r in section["batches"].items()
            if r.get("tf_keras_vis_chunk") and r["tf_keras_vis_chunk"] < int(b)
        }
        if chunked:
            out(
                "tf-keras-vis ran in chunks (not enough free memory for the whole batch at once): "
                + ", ".join(f"B={b} in chunks of {c}" for b, c in chunked.items())
            )
        out(
            f"same maps: max |ours - article| {section['max_abs_diff_vs_article']:.1e} (a photo, maps in [0, 1])"
            + (
                ""
                if not section["tf_keras_vis"]
                else ", max |ours - tf-keras-vis| / peak "
                f"{section['max_rel_diff_vs_tf_keras_vis']:.1e} (5 photos, raw maps)"
            )
        )
    _perturbation_tables(results, out)
    if results.get("explorer"):
        out(
            f"\nExplorer updates, efficientnet_lite0 (median of {results['explorer']['repeats']}, PNG encoding "
            "included)"
        )
        _table(["update", "ms"], [[k, f"{v:.0f}"] for k, v in results["explorer"]["median_ms"].items()], out)
    if results.get("memory"):
        fresh = all(mem.get("fresh_process") for mem in results["memory"])
        out(
            "\nPeak memory of one call (MB above the process's RSS just before it; Python = tracemalloc"
            + ("; a fresh process per row)" if fresh else "; measured in this process: a lower bound)")
        )
        rows = []
        for mem in results["memory"]:
            if "error" in mem or "skipped" in mem:
                rows.append(
                    [
                        f"{mem['model']} {mem['call']}",
                        mem["batch"],
                        mem.get("error") or mem.get("skipped"),
                        None,
                        None,
                        None,
                    ]
                )
                continue
            rows.append(
                [
                    f"{mem['model']} {mem['call']}",
                    mem["batch"],
                    _f(mem["rss_peak_above_before_mb"]),
                    _f(mem["rss_mb_per_image"], 1),
                    _f(mem["python_peak_mb"], 1),
                    _f(mem.get("gpu_peak_mb")),
                ]
            )
        _table(["call", "B", "RSS peak", "per image", "Python peak", "GPU peak"], rows, out)
    for leak in results.get("leaks", []):
        out(
            f"\nleak check, {leak['label']}: RSS {leak['rss_after_first_mb']:.0f} MB after {leak['first']} calls, "
            f"{leak['rss_after_total_mb']:.0f} MB after {leak['total']} ({leak['rss_growth_kb_per_call']:+.1f} KB "
            f"per call); Python allocations {leak['python_growth_kb_per_call']:+.2f} KB per call"
            + ("" if leak.get("gpu_growth_mb") is None else f"; GPU memory {leak['gpu_growth_mb']:+.1f} MB")
        )
    for check in results.get("consistency", []):
        for layer, d in check["layers"].items():
            out(
                f"batch consistency, {check['model']} {layer}: one at a time vs batch of {check['batch']}: "
                f"gradients differ by up to {d['max_rel_grad_diff']:.1e} (relative), maps by {d['max_map_diff']:.1e}"
                f" (oneDNN {check['onednn']})"
            )
    out(f"\nsuite: {results.get('seconds', 0):.0f} s")


# ----- JSON ---------------------------------------------------------------------------------------------------


def jsonable(value):
    """``value`` with numpy scalars as Python numbers and every key a string: what ``--out`` writes."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value
