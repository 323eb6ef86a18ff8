"""How long the explorer takes to update after a control changes, on the embedded model (efficientnet_lite0).

Each update is timed the way a user triggers it: setting a control's ``.value`` on the real ``ExplorerWidget``,
whose callback runs the explorer and re-encodes the changed pictures as PNG before returning. Targets (from the
performance issue): a class, opacity or colormap change under 100 ms; a layer change under 1.5 s.

What each number covers:
  image_change          a new image: one forward pass for the predictions + one batched gradient call (top-k)
  layer_change          a layer not visited before: its gradient plan is traced, then one batched gradient call
  layer_change_revisit  back to a layer already computed: served from the cache
  class_change_topk     another of the top classes: no forward pass (its map is computed from cached gradients)
  class_change_by_name  a class outside the top ones, typed by name: one gradient call for that class
  method_change         another gradient method (Score-CAM excluded): no forward pass
  alpha_change          the opacity slider: blending and one PNG
  colormap_change       colouring and two PNGs

Import it and call ``measure()``; run it as a script for a table:
    .venv/bin/python benchmarks/explorer_latency.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time

TARGETS_MS = {
    "class_change_topk": 100.0,
    "class_change_by_name": 100.0,
    "alpha_change": 100.0,
    "colormap_change": 100.0,
    "layer_change": 1500.0,
    "layer_change_revisit": 1500.0,
}
GRADIENT_METHODS = ("gradcam++", "hirescam", "layercam", "xgradcam", "counterfactual", "gradcam")


def measure(repeats: int = 5, model: str = "efficientnet_lite0") -> dict[str, float]:
    """Median milliseconds per kind of update, over ``repeats`` updates each (see the module docstring)."""
    from gradcam_utils.widgets import explore  # imported here: importing this module does nothing

    ui = explore(model)  # the first sample image, top class, the model's usual layer
    explorer = ui.explorer
    samples = [s for s in explorer.image_options()]
    layers = explorer.layers
    times: dict[str, list[float]] = {}

    def timed(name: str, control, value) -> None:
        start = time.perf_counter()
        control.value = value
        elapsed = (time.perf_counter() - start) * 1000.0
        if explorer.error is not None:
            raise RuntimeError(f"{name} failed: {explorer.error}")
        times.setdefault(name, []).append(elapsed)

    home_layer = explorer.state.layer
    # Layers never visited (each is traced once), spread over the network's depth.
    fresh_layers = [name for name in layers[::-1][1 :: max(1, len(layers) // (repeats + 1))] if name != home_layer][
        :repeats
    ]
    for r in range(repeats):
        explorer.clear_cache()  # a new image: predictions and gradients computed from scratch
        timed("image_change", ui.image_picker, samples[(r + 1) % len(samples)])

        timed("layer_change", ui.layer_picker, fresh_layers[r % len(fresh_layers)])
        timed("layer_change_revisit", ui.layer_picker, home_layer)

        explorer.clear_cache(maps_only=True)  # the map itself is computed, from cached gradients
        top = [index for _, index in explorer.class_options()[: explorer.top]]
        others = [index for index in top if index != explorer.state.class_index]
        timed("class_change_topk", ui.class_picker, others[r % len(others)])

        outside = [i for i in range(7 + 97 * r, len(explorer.all_class_names)) if i not in top][0]
        timed("class_change_by_name", ui.class_search, explorer.all_class_names[outside])

        explorer.clear_cache(maps_only=True)
        methods = [m for m in GRADIENT_METHODS if m != explorer.state.method]
        timed("method_change", ui.method_picker, methods[r % len(methods)])

        timed("alpha_change", ui.alpha_slider, 0.7 if explorer.state.alpha != 0.7 else 0.4)
        colormaps = [c for c in explorer.colormap_options() if c != explorer.state.colormap]
        timed("colormap_change", ui.colormap_picker, colormaps[r % len(colormaps)])
        ui.method_picker.value = "gradcam"
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str]) -> None:
    """Print the median latency of each explorer update against its target; ``argv[0]``: repeats (default 5)."""
    repeats = int(argv[0]) if argv else 5
    results = measure(repeats)
    print(f"explorer update latency, efficientnet_lite0, median of {repeats}, including PNG encoding")
    print(f"{'update':22s} {'ms':>9s} {'target':>9s}")
    for name, ms in results.items():
        target = TARGETS_MS.get(name)
        verdict = "" if target is None else f"{target:7.0f}  {'ok' if ms < target else 'SLOW'}"
        print(f"{name:22s} {ms:9.1f} {verdict:>9s}")


if __name__ == "__main__":
    main(sys.argv[1:])
