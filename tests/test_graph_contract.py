"""The contract of ``gradcam_utils/_graph.py``: each Keras / TensorFlow behaviour it relies on, asserted directly.

``_graph.py`` is the only module that touches Keras' and TensorFlow's private APIs. When a Keras or TensorFlow
upgrade changes one of them, the test here that names the assumption fails first, with a message that says which
one broke, before the engine's, guided backprop's or the notebooks' tests fail in less obvious ways.

The models are built here (not imported from tests/helpers.py) so the contract stands on its own.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gradcam_utils import _graph
from gradcam_utils.errors import UnsupportedModelError


def _functional(activation=None):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv")(inputs)
    x = keras.layers.Activation("relu", name="act")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(4, activation=activation, name="dense")(x)
    return keras.Model(inputs, outputs, name="contract")


def _sequential():
    keras.utils.set_random_seed(4)
    return keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Dropout(0.5, name="drop"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(4, name="dense"),
        ],
        name="contract_seq",
    )


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype(np.float32)


# ----- the graph of a model -----------------------------------------------------------------------------------------


def test_a_functional_model_runs_its_graph_through_run_through_graph_and_nodes_by_depth():
    model = _functional()
    assert hasattr(model, "_run_through_graph") and hasattr(model, "_nodes_by_depth"), (
        "Keras assumption broken: a functional keras.Model has _run_through_graph and _nodes_by_depth "
        "(graph_of relies on them to recognise a model with an open graph)."
    )
    assert _graph.graph_of(model) is model


def test_a_built_sequential_keeps_a_functional_graph_in_functional():
    model = _sequential()
    inner = getattr(model, "_functional", None)
    assert inner is not None, (
        "Keras assumption broken: a built keras.Sequential keeps its functional graph in "
        "the private attribute _functional."
    )
    assert hasattr(inner, "_run_through_graph") and hasattr(inner, "_nodes_by_depth"), (
        "Keras assumption broken: Sequential._functional is a Functional model with _run_through_graph."
    )
    assert len(inner.inputs) == 1 and len(inner.outputs) == 1
    assert _graph.graph_of(model) is inner


def test_a_subclassed_model_has_no_graph_to_open():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    model = Subclassed()
    model(np.zeros((1, 3), np.float32))
    assert not hasattr(model, "_nodes_by_depth"), (
        "Keras assumption broken: a subclassed model has no _nodes_by_depth, which is how graph_of tells it apart "
        "from a functional one."
    )
    with pytest.raises(UnsupportedModelError, match="subclassed"):
        _graph.graph_of(model)


def test_keras_history_names_the_operation_that_made_the_output():
    model = _functional()
    history = getattr(model.outputs[0], "_keras_history", None)
    assert history is not None and hasattr(history, "operation"), (
        "Keras assumption broken: a functional model's output KerasTensor has _keras_history.operation."
    )
    assert history.operation is model.get_layer("dense"), (
        "Keras assumption broken: _keras_history.operation of a model's output is the layer that produced it."
    )
    assert _graph.output_operation(model) is model.get_layer("dense")


def test_keras_history_of_a_keras_ops_output_is_an_operation_named_after_the_op():
    inputs = keras.Input((4,))
    outputs = keras.ops.softmax(keras.layers.Dense(3)(inputs))
    op = keras.Model(inputs, outputs).outputs[0]._keras_history.operation
    assert not isinstance(op, keras.layers.Layer) and type(op).__name__ == "Softmax", (
        "Keras assumption broken: keras.ops.softmax in a functional graph is a non-Layer Operation whose class is "
        "named 'Softmax' (pre_activation and guided backprop recognise keras.ops by their class names)."
    )
    relu = keras.Model(inputs, keras.ops.relu(inputs)).outputs[0]._keras_history.operation
    assert type(relu).__name__ == "Relu", "Keras assumption broken: keras.ops.relu's Operation class is 'Relu'."


# ----- running the graph operation by operation ---------------------------------------------------------------------


def test_run_through_graph_asks_operation_fn_for_every_operation_and_uses_what_it_returns(x):
    model = _functional()
    asked = []

    def operation_fn(op):
        asked.append(op)
        if op.name == "act":
            return lambda *args, **kwargs: keras.ops.zeros_like(op(*args, **kwargs))
        return op

    output = model._run_through_graph(x, operation_fn=operation_fn)
    output = output[0] if isinstance(output, (list, tuple)) else output
    assert [op.name for op in asked] == ["conv", "act", "gap", "dense"], (
        "Keras assumption broken: _run_through_graph(x, operation_fn=...) calls operation_fn once per operation, "
        f"input to output, input layers left out; it asked for {[op.name for op in asked]}."
    )
    bias = model.get_layer("dense").bias.numpy()
    np.testing.assert_allclose(
        np.asarray(output),
        np.tile(bias, (len(x), 1)),
        atol=1e-6,
        err_msg=(
            "Keras assumption broken: the callable operation_fn returns replaces the operation's call (zeroed "
            "activations should leave only the Dense bias)."
        ),
    )


def test_run_through_graph_treats_a_nested_model_as_one_operation(x):
    inner = _functional()
    inputs = keras.Input((6, 6, 2))
    outer = keras.Model(inputs, keras.layers.Activation("softmax", name="probs")(inner(inputs)))
    asked = []
    outer._run_through_graph(x, operation_fn=lambda op: asked.append(op) or op)
    assert asked == [inner, outer.get_layer("probs")], (
        "Keras assumption broken: a nested model is one operation of its parent's graph (forward opens it itself)."
    )


def test_every_layer_lists_training_in_call_context_args_and_accepts_training_false(x):
    model = _sequential()
    for layer in model.layers:
        assert "training" in getattr(layer, "_call_context_args", ()), (
            f"Keras assumption broken: layer {layer.name!r} ({type(layer).__name__}) has 'training' in "
            "_call_context_args (call_inference passes training=False to such layers)."
        )
    dense = model.get_layer("dense")
    out = dense(np.ones((1, 3), np.float32), training=False)  # its call() takes no training argument
    assert out.shape == (1, 4), "Keras assumption broken: a layer accepts training=False even if call() lacks it."
    relu_op = keras.ops.relu(keras.Input((4,)))._keras_history.operation
    assert "training" not in getattr(relu_op, "_call_context_args", ()), (
        "Keras assumption broken: a keras.ops Operation has no _call_context_args (it would not accept training)."
    )


def test_dropout_and_batchnorm_run_in_inference_mode_through_forward(x):
    model = _sequential()
    expected = model(x, training=False)
    np.testing.assert_allclose(
        np.asarray(_graph.forward(model, x)),
        np.asarray(expected),
        rtol=1e-5,
        atol=1e-6,
        err_msg="forward (training=False through call_inference) differs from model(x, training=False)",
    )


def test_forward_without_hook_matches_the_model_and_leaves_the_final_softmax_out(x):
    probs, logits = _functional("softmax"), _functional(None)  # same seed, same weights
    np.testing.assert_allclose(
        np.asarray(_graph.forward(probs, x, logits=False)), np.asarray(probs(x)), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(np.asarray(_graph.forward(probs, x)), np.asarray(logits(x)), rtol=1e-5, atol=1e-6)


def test_forward_hook_replaces_an_operation_and_sees_the_final_one(x):
    model = _functional()
    seen = []

    def hook(op, is_final):
        seen.append((op.name, is_final))
        return (lambda *a, **k: keras.ops.zeros_like(op(*a, **k))) if op.name == "act" else None

    out = _graph.forward(model, x, hook)
    assert seen == [("conv", False), ("act", False), ("gap", False), ("dense", True)]
    np.testing.assert_allclose(np.asarray(out), np.tile(model.get_layer("dense").bias.numpy(), (len(x), 1)), atol=1e-6)


def test_activations_are_resolved_to_the_same_function_objects():
    dense = keras.layers.Dense(2, activation="softmax")
    assert dense.activation is keras.activations.softmax, (
        "Keras assumption broken: Dense(activation='softmax').activation is keras.activations.softmax "
        "(pre_activation compares activations by identity)."
    )
    assert keras.layers.Activation("relu").activation is keras.activations.relu, (
        "Keras assumption broken: Activation('relu').activation is keras.activations.relu (guided backprop "
        "compares activations by identity)."
    )


# ----- tracing --------------------------------------------------------------------------------------------------


def test_tf_function_reads_omit_frequent_tracing_warning():
    function = tf.function(lambda t: t * 2, input_signature=[tf.TensorSpec((None,), tf.float32)], autograph=False)
    assert getattr(function, "_omit_frequent_tracing_warning", None) is False, (
        "TensorFlow assumption broken: a tf.function has the attribute _omit_frequent_tracing_warning (False by "
        "default); traced() sets it to True to silence false retracing warnings."
    )
    traced = _graph.traced(lambda t: t * 2, tf.TensorSpec((None,), tf.float32))
    assert traced._omit_frequent_tracing_warning is True
    traced(tf.constant([1.0])), traced(tf.constant([1.0, 2.0]))
    assert traced.experimental_get_tracing_count() == 1, "one trace for any batch size"


def test_a_layer_lists_its_calls_with_their_input_and_output_tensors():
    """transfer.fit_head tells a plain chain of layers (base -> head) from a branching graph by each layer's calls."""
    model = _functional()
    calls = _graph.calls_on(model.get_layer("conv"), model.inputs[0])
    assert len(calls) == 1, "Keras assumption broken: Layer._inbound_nodes has one node per call of the layer"
    inputs, outputs = calls[0]
    assert inputs[0] is model.inputs[0] and len(outputs) == 1, (
        "Keras assumption broken: Node.input_tensors / output_tensors hold the call's KerasTensors"
    )
    assert _graph.calls_on(model.get_layer("act"), outputs[0])[0][1][0] is model.get_layer("act").output, (
        "Keras assumption broken: a node's output tensor is the one the next layer takes"
    )
    assert _graph.calls_on(model.get_layer("act"), model.inputs[0]) == [], "a layer not called on a tensor has no call"


def test_nodes_by_depth_give_each_call_its_operation_tensors_and_arguments_to_fill_in(x):
    # tail_function walks a graph from a layer's node on: nodes of lower depth come after it, each with its
    # operation, input_tensors (KerasTensors it reads), outputs, and arguments.fill_in({id(tensor): value})
    model = _functional(activation="softmax")
    nodes = {node.operation.name: (node, depth) for depth, ns in model._nodes_by_depth.items() for node in ns}
    act, act_depth = nodes["act"]
    gap, gap_depth = nodes["gap"]
    assert gap_depth < act_depth and nodes["dense"][1] < gap_depth and nodes["conv"][1] > act_depth, (
        "Keras assumption broken: _nodes_by_depth numbers nodes from the output (0) up, so later calls are shallower"
    )
    assert gap.operation is model.get_layer("gap") and not gap.is_input
    assert [id(t) for t in gap.input_tensors] == [id(t) for t in act.outputs]
    value = tf.ones((2, 6, 6, 3))
    args, kwargs = gap.arguments.fill_in({id(act.outputs[0]): value})
    assert args[0] is value and kwargs == {}
    deepest = model._nodes_by_depth[max(model._nodes_by_depth)]
    assert all(node.is_input for node in deepest), "Keras assumption broken: the deepest nodes are the inputs'"
    assert [id(t) for node in deepest for t in node.outputs] == [id(model.inputs[0])], (
        "Keras assumption broken: an input node's output is the model's input tensor (values_before starts there)"
    )


def test_tail_function_runs_only_the_layers_after_one_and_leaves_the_softmax_out(x):
    model = _functional(activation="softmax")
    acts = keras.Model(model.inputs, model.get_layer("act").output)(x)  # the layer's output, by Keras' own call
    tail = _graph.tail_function(model, (model.get_layer("act"),), (None, None, 3))
    dense = model.get_layer("dense")
    expected = np.asarray(keras.ops.mean(acts, axis=(1, 2))) @ np.asarray(dense.kernel) + np.asarray(dense.bias)
    np.testing.assert_allclose(np.asarray(tail(acts)), expected, rtol=1e-5, atol=1e-6)
