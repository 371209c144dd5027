"""LSTM, GRU and RNN layers (ATen's lstm.input and friends: every layer and direction in one operator)."""
from __future__ import annotations

from ...onnx_import.refusals import Refusal
from ..values import Batched, Param, Port, Val
from . import handles
from .common import tensor_of

KINDS = {"aten.lstm.input": ("LSTM", None), "aten.gru.input": ("GRU", None),
         "aten.rnn_tanh.input": ("RNN", "tanh"), "aten.rnn_relu.input": ("RNN", "relu")}


def _names(layers: int, directions: int, bias: bool) -> list[str]:
    """The state_dict names of torch's recurrent weights, in the order ATen takes them."""
    names = []
    for layer in range(layers):
        for suffix in ("", "_reverse")[:directions]:
            names += [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
            if bias:
                names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
    return names


@handles(*KINDS)
def recurrent(imp, node):
    layer, nonlinearity = KINDS[node.op]
    x, states, weights = node.val(0), node.arg(1), list(node.arg(2))
    bias, layers, dropout, train, bidirectional, batch_first = (node.arg(i) for i in range(3, 9))
    if train:
        raise Refusal("runs in training mode")
    if not isinstance(states, (list, tuple)):
        states = [states]
    directions = 2 if bidirectional else 1
    names = _names(int(layers), directions, bool(bias))
    if len(weights) != len(names) or any(tensor_of(w) is None for w in weights):
        raise Refusal("its weights are not the layer's own parameters")
    hidden = int(tensor_of(weights[1]).shape[1])
    if not batch_first:  # torch's (sequence, batch, features): the block reads batch first
        x = x.permuted([1, 0, 2])
    port = imp.port(x, node)
    start = [s for s in states if not (isinstance(s, Batched) and not tensor_of(s.value).abs().sum())]
    if start and len(start) != len(states):
        raise Refusal("starts one state at zero and takes the other")
    if start and not all(isinstance(s, Val) for s in start):
        raise Refusal("its starting state is a constant other than zero")
    sources = [port] + [imp.port(s.permuted([1, 0, 2]), node) for s in start]  # the state ports are batch first
    params = {"hidden_size": hidden, "num_layers": int(layers), "bidirectional": bool(bidirectional),
              "dropout": float(dropout), "output": "sequence", "bias": bool(bias), "initial_state": bool(start)}
    if nonlinearity:
        params["nonlinearity"] = nonlinearity
    main = weights[0] if isinstance(weights[0], Param) else None
    block = imp.add(layer, params, sources, node, dict(zip(names, weights)), shares=main)
    out = Val(Port(block.node_id, "out"), (0, 1, 2) if batch_first else (1, 0, 2))
    finals = [Val(Port(block.node_id, p), (1, 0, 2)) for p in (("hidden", "cell") if layer == "LSTM" else ("hidden",))]
    return [out, *finals] if layer == "LSTM" else [out, finals[0]]
