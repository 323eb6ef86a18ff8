"""The one home of the Keras and TensorFlow private APIs this package relies on.

Everything that reaches past Keras' or TensorFlow's public surface is here, and only here, so a Keras upgrade that
changes one of them breaks in one small module (and in ``tests/test_graph_contract.py``, which asserts each
assumption directly), not across the library. The private names used:

- ``keras.Sequential._functional``: the functional graph a built Sequential model runs.
- ``Functional._run_through_graph(x, operation_fn=...)`` and ``Functional._nodes_by_depth``: running a model's graph
  operation by operation, with a hook choosing what each operation's call does (``forward``).
- ``KerasTensor._keras_history.operation``: the operation that produced a model's output (``output_operation``).
- ``Layer._call_context_args``: whether a layer's ``call`` takes ``training`` (``call_inference``).
- ``tf.function``'s ``_omit_frequent_tracing_warning``: silencing a false retracing warning (``traced``).
- ``Layer._inbound_nodes`` and ``Node.input_tensors`` / ``output_tensors``: the calls of a layer, to tell whether a
  model is a plain chain of layers (``calls_on``, used by ``transfer.fit_head``).
- ``Functional._nodes_by_depth`` with ``Node.operation``, ``is_input``, ``input_tensors``, ``outputs`` and
  ``arguments.fill_in``: running only the part of a graph after a layer (``tail_call``, AblationCAM), and the part
  before it for the tensors a skip connection carries across it (``crossing_tensors``, ``values_before``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .errors import UnsupportedModelError

PROBABILITY_ACTIVATIONS = (keras.activations.softmax, keras.activations.sigmoid)
PROBABILITY_OPS = ("Softmax", "Sigmoid")  # keras.ops.softmax / sigmoid used directly in a functional graph


def graph_of(model: keras.Model):
    """The functional graph a model runs: itself, or the one a built Sequential keeps inside.

    Raises UnsupportedModelError for a subclassed model (no graph), and unless the graph has one input and one
    output tensor (not a dict).
    """
    graph = layer_graph(model)
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedModelError(
            f"Model '{model.name}' has {len(graph.inputs)} inputs and {len(graph.outputs)} "
            "outputs; Grad-CAM here explains single-input, single-output classifiers. Wrap the part to explain in a "
            "model of its own, e.g. keras.Model(model.inputs[0], model.outputs[0]) when that output depends on one "
            "input."
        )
    if isinstance(graph.output, dict):  # Functional.output: the outputs' structure, as the model was built
        key = next(iter(graph.output))
        raise UnsupportedModelError(
            f"Model '{model.name}' returns a dict of outputs ({', '.join(map(repr, graph.output))}); Grad-CAM needs "
            f"one tensor of class scores. Wrap it: keras.Model(model.inputs, model.output[{key!r}])."
        )
    return graph


def layer_graph(model: keras.Model):
    """The functional graph a model runs, whatever its inputs and outputs; UnsupportedModelError if it has none."""
    if isinstance(model, keras.Sequential):
        graph = getattr(model, "_functional", None)
    elif hasattr(model, "_run_through_graph") and hasattr(model, "_nodes_by_depth"):
        graph = model
    else:
        graph = None
    if graph is None:
        raise UnsupportedModelError(
            f"Model '{model.name}' ({type(model).__name__}) has no layer graph to open up: it is a subclassed "
            "keras.Model, whose call() is Python code that hides its layers' activations. Build it with the "
            "functional API or keras.Sequential; a subclassed model whose call() only chains layers converts in two "
            "lines, sharing its weights: inputs = keras.Input(image_shape); functional = keras.Model(inputs, "
            "model.call(inputs))."
        )
    return graph


def calls_on(layer, tensor) -> list[tuple[list, list]]:
    """(input tensors, output tensors) of each call of ``layer`` whose only input is ``tensor``, in any model."""
    return [
        (list(node.input_tensors), list(node.output_tensors))
        for node in layer._inbound_nodes
        if len(node.input_tensors) == 1 and node.input_tensors[0] is tensor
    ]


def output_operation(graph):
    """The operation (layer, nested model or keras.ops op) that produces ``graph``'s single output."""
    return graph.outputs[0]._keras_history.operation


def model_shapes(model: keras.Model) -> tuple[tuple, int | None]:
    """(input shape without the batch axis, number of classes or None when only known at run time)."""
    graph = graph_of(model)
    out_shape = graph.outputs[0].shape
    if len(out_shape) != 2:
        raise UnsupportedModelError(
            f"Model '{model.name}' outputs shape {tuple(out_shape)}; Grad-CAM needs "
            "class scores of shape (batch, classes)."
        )
    return tuple(graph.inputs[0].shape[1:]), out_shape[-1]


def forward(model: keras.Model, x, hook=None, logits: bool = True):
    """Run ``model``'s graph on ``x`` operation by operation; the output, pre-softmax when ``logits``.

    ``hook(op, is_final)`` may return a callable to use instead of ``op``'s usual call (``operation_call(op,
    is_final)``, which it can wrap), or None to keep it; ``is_final`` is True for the operation whose output is the
    score, when ``logits``. Layers are called with ``training=False``; weights are read live, nothing is changed.
    """
    graph = graph_of(model)
    final_op = output_operation(graph)

    def operation_fn(op):
        is_final = logits and op is final_op
        replaced = hook(op, is_final) if hook is not None else None
        return replaced if replaced is not None else operation_call(op, is_final)

    output = graph._run_through_graph(x, operation_fn=operation_fn)
    return output[0] if isinstance(output, (list, tuple)) else output


def operation_call(op, is_final: bool):
    """How ``forward`` calls ``op`` by default: without its final softmax/sigmoid when it is the final step."""
    return pre_activation(op) if is_final else (lambda *args, **kwargs: call_inference(op, *args, **kwargs))


def call_inference(op, *args, **kwargs):
    """Call ``op`` in inference mode: ``training=False`` where its ``call`` takes it."""
    if "training" in getattr(op, "_call_context_args", ()):
        kwargs["training"] = False  # BatchNorm uses its moving statistics, Dropout is off
    return op(*args, **kwargs)


def pre_activation(op):
    """A callable computing ``op``'s output without a final softmax/sigmoid, reading op's weights live."""
    if isinstance(op, keras.Model):
        return lambda inputs, *a, **k: forward(op, inputs, None, logits=True)
    is_prob_layer = isinstance(op, keras.layers.Softmax) or (
        isinstance(op, keras.layers.Activation) and op.activation in PROBABILITY_ACTIVATIONS
    )
    if is_prob_layer or (type(op).__name__ in PROBABILITY_OPS and not isinstance(op, keras.layers.Layer)):
        return lambda inputs, *a, **k: inputs  # its input is the score before the probability
    if getattr(op, "activation", None) in PROBABILITY_ACTIVATIONS:
        if isinstance(op, keras.layers.Dense):

            def dense_logits(inputs, *a, **k):
                out = keras.ops.matmul(inputs, op.kernel)
                return out + op.bias if op.use_bias else out

            return dense_logits
        raise UnsupportedModelError(
            f"The model's last layer '{op.name}' ({type(op).__name__}) applies {op.activation.__name__} inside "
            "itself, and only a final Dense layer can be read without it. Build the model with a linear last layer "
            "followed by a separate Activation('softmax') layer, or pass a model that outputs logits."
        )
    return lambda *args, **kwargs: call_inference(op, *args, **kwargs)


def traced(fn, *spec: tf.TensorSpec):
    """A plan's ``tf.function``: a fixed signature (any batch size, one trace), without AutoGraph.

    AutoGraph rewrites Python control flow on tensors into graph ops. It never reaches a layer's ``call`` here (Keras
    calls it from its own code, which AutoGraph leaves alone), and our code branches only on Python values, so it
    would only cost time: a new plan's first call is 7-17% faster without it (benchmarks/README.md).

    There is one traced function per plan, i.e. per (model, layer), and TensorFlow counts traces per Python function
    *code*, which all plans share: visiting five layers would log "5 out of the last 5 calls to ... triggered
    tf.function retracing", a false alarm (each plan traces once; ``plan.trace_count`` shows it) that ends up in
    learners' notebooks. The warning is turned off for these functions only, as TensorFlow does for the functions
    it restores from a SavedModel; users' own functions still warn.
    """
    function = tf.function(fn, input_signature=list(spec), autograph=False)
    function._omit_frequent_tracing_warning = True
    return function


def tail_function(model: keras.Model, path: tuple, activation_shape: tuple):
    """``tail_call`` traced for activations of ``activation_shape`` (without the batch axis; None for any size)."""
    run = tail_call(model, path)
    return traced(lambda activations: run(activations), tf.TensorSpec((None,) + tuple(activation_shape), tf.float32))


def tail_call(model: keras.Model, path: tuple):
    """A function (``path[-1]``'s output (N, ...), before=()) -> ``model``'s pre-softmax scores (N, classes), float32.

    Only the operations after the layer run: the graph's nodes (``Functional._nodes_by_depth``, each node's
    ``operation``, ``input_tensors``, ``outputs`` and ``arguments.fill_in``) are walked from that layer's node on, as
    ``_run_through_graph`` walks them from the inputs; nested models on ``path`` are left the same way, innermost
    first. Nothing is built on the model (a sub-model ``keras.Model(layer.output, ...)`` would add nodes to its
    layers). When a later operation also reads a tensor from before the layer (a skip connection across it: a
    residual block's Add, a pre-norm transformer block's residual), ``before`` holds those tensors' values (N, ...),
    in the order of ``crossing_tensors``, computed from the images by ``values_before``.
    """
    ids = [id(tensor) for tensor in crossing_tensors(model, path)]

    def run(owner, path: tuple, x, logits: bool, known: dict):
        graph = graph_of(owner)
        final_op = output_operation(graph) if logits else None
        node, depth = _single_node(graph, path[0])
        if len(path) > 1:
            x = run(path[0], path[1:], x, path[0] is final_op, known)
        values = {**known, **{id(tensor): x for tensor in node.outputs}}
        _run_steps(graph, values, [d for d in graph._nodes_by_depth if d < depth], final_op)
        return values[id(graph.outputs[0])]

    return lambda activations, before=(): tf.cast(
        run(model, path, activations, True, dict(zip(ids, before, strict=True))), tf.float32
    )


def crossing_tensors(model: keras.Model, path: tuple) -> list:
    """The tensors from before ``path[-1]`` that operations after it read (skip connections across it), in order.

    Found by walking the later operations as ``tail_call`` does, at every level of ``path`` (innermost first); empty
    for a plain chain. They do not depend on the layer (a tensor that did would come after it).
    """
    found: list = []

    def level(owner, path: tuple):
        graph = graph_of(owner)
        node, depth = _single_node(graph, path[0])
        if len(path) > 1:
            level(path[0], path[1:])
        available = {id(tensor) for tensor in node.outputs}
        for later in sorted((d for d in graph._nodes_by_depth if d < depth), reverse=True):
            for step in graph._nodes_by_depth[later]:
                if not step.operation or step.is_input:
                    continue
                for tensor in step.input_tensors:
                    if id(tensor) not in available:
                        found.append(tensor)
                        available.add(id(tensor))
                available.update(id(tensor) for tensor in step.outputs)

    level(model, path)
    return found


def values_before(model: keras.Model, path: tuple, images) -> list:
    """The values of ``crossing_tensors(model, path)`` for ``images``: the graph run up to the layer, at every level."""
    wanted = crossing_tensors(model, path)
    if not wanted:
        return []
    values: dict = {}

    def level(owner, path: tuple, x):
        graph = graph_of(owner)
        node, depth = _single_node(graph, path[0])
        local = {id(graph.inputs[0]): x}
        _run_steps(graph, local, [d for d in graph._nodes_by_depth if d > depth], None)  # deeper: before the layer
        values.update(local)
        if len(path) > 1:  # the nested model's input, computed above
            level(path[0], path[1:], local[id(node.input_tensors[0])])

    level(model, path, images)
    return [values[id(tensor)] for tensor in wanted]


def _run_steps(graph, values: dict, depths: list, final_op) -> None:
    """Run ``graph``'s operations at ``depths`` (deepest first) whose inputs are all in ``values``, adding outputs."""
    for depth in sorted(depths, reverse=True):
        for step in graph._nodes_by_depth[depth]:
            if not step.operation or step.is_input or any(id(t) not in values for t in step.input_tensors):
                continue
            args, kwargs = step.arguments.fill_in(values)
            out = operation_call(step.operation, step.operation is final_op)(*args, **kwargs)
            outputs = out if isinstance(out, (list, tuple)) else [out]
            values.update((id(tensor), value) for tensor, value in zip(step.outputs, outputs, strict=False))


def _single_node(graph, operation) -> tuple:
    """(node, depth) of ``operation``'s one call in ``graph``; UnsupportedModelError when it has several."""
    found = [
        (node, depth) for depth, nodes in graph._nodes_by_depth.items() for node in nodes if node.operation is operation
    ]
    if len(found) != 1:
        raise UnsupportedModelError(
            f"'{operation.name}' is called {len(found)} times in the model's graph; the layers after it can only be "
            "run from it when it is called once. Pick a layer that runs once."
        )
    return found[0]
