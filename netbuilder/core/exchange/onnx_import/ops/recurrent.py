"""LSTM, GRU and RNN nodes: one recurrent block each, its gates reordered from ONNX's to PyTorch's.

ONNX reads (sequence, batch, features) and writes Y (sequence, directions, batch, hidden) and the final
states (directions, batch, hidden); the block is batch first, so these are views of its ports. An initial
state that is zero (built from the batch size by ConstantOfShape or Expand) is the block's own default;
a computed one (an encoder's final state) is wired to the block's state input ports.
"""
from __future__ import annotations

import numpy as np

from .. import views
from ..folding import Batched
from ..refusals import Refusal
from ..views import View
from . import handles

LSTM_GATES = [0, 2, 3, 1]  # ONNX i, o, f, c -> torch i, f, g, o
GRU_GATES = [1, 0, 2]  # ONNX z, r, h -> torch r, z, n
COMMON = {"activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "layout"}
DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}


@handles("LSTM", attrs=COMMON | {"input_forget"}, inputs=7)
def lstm(imp, node):
    if node.attr("input_forget", 0):
        raise Refusal("input_forget couples gates that PyTorch's LSTM keeps apart")
    return _recurrent(imp, node, "LSTM", LSTM_GATES, 4, ["hidden", "cell"])


@handles("GRU", attrs=COMMON | {"linear_before_reset"}, inputs=6)
def gru(imp, node):
    if not node.attr("linear_before_reset", 0):
        raise Refusal("GRU with linear_before_reset=0 differs from PyTorch's GRU")
    return _recurrent(imp, node, "GRU", GRU_GATES, 3, ["hidden"])


@handles("RNN", attrs=COMMON, inputs=6)
def rnn(imp, node):
    activations = node.attr("activations")
    nonlinearity = "relu" if activations and activations[0] == "Relu" else "tanh"
    return _recurrent(imp, node, "RNN", [0], 1, ["hidden"], nonlinearity)


def _recurrent(imp, node, layer: str, gates: list[int], count: int, states: list[str], nonlinearity: str = "tanh"):
    hidden = int(node.attr("hidden_size"))
    direction = node.attr("direction", "forward")
    if direction == "reverse":
        raise Refusal("a backward-only recurrent layer has no block")
    dirs = 2 if direction == "bidirectional" else 1
    default = [("Relu" if nonlinearity == "relu" else a) for a in DEFAULT_ACTIVATIONS[layer]] * dirs
    if node.attr("activations") not in (None, default):
        raise Refusal(f"activations {node.attr('activations')} differ from PyTorch's {layer}")
    if node.attr("clip") is not None:
        raise Refusal("clipping the cell has no block")
    W, R, B = node.const(1), node.const(2), node.const(3)
    if W is None or R is None or (node.input(3) is not None and B is None):
        raise Refusal("its weights are not constants")
    if node.input(4) is not None:
        raise Refusal("sequence lengths (input sequence_lens) are not supported")
    batch_first = bool(node.attr("layout", 0))
    port = _sequence(imp, node, node.view(), batch_first)
    sources, initial = [port], []
    for name, index in zip(states, (5, 6)):
        start = node.input(index)
        if start is None or (isinstance(start, (Batched, np.ndarray)) and not np.asarray(
                start.array if isinstance(start, Batched) else start).any()):
            continue  # zero: the block's own starting state
        if not isinstance(start, View):
            raise Refusal(f"its initial {name} state is a constant other than zero")
        initial.append(name)
        sources.append(_sequence(imp, node, start, batch_first, what="initial state"))
    if initial and initial != states:
        raise Refusal(f"only some of its initial states ({', '.join(initial)}) are computed")

    def reorder(matrix: np.ndarray) -> np.ndarray:
        return np.concatenate([matrix[g * hidden:(g + 1) * hidden] for g in gates])

    weights = {}
    for d in range(dirs):
        suffix = "_l0" + ("_reverse" if d else "")
        weights[f"weight_ih{suffix}"] = reorder(W[d])
        weights[f"weight_hh{suffix}"] = reorder(R[d])
        if B is not None:
            weights[f"bias_ih{suffix}"] = reorder(B[d][: count * hidden])
            weights[f"bias_hh{suffix}"] = reorder(B[d][count * hidden:])
    params = {"hidden_size": hidden, "bidirectional": dirs == 2, "bias": B is not None, "initial_state": bool(initial)}
    if layer == "RNN":
        params["nonlinearity"] = nonlinearity
    out = imp.add(layer, params, sources, node, weights, shares=node.weight_source(1))
    return [_output(imp, out, dirs, hidden, batch_first)] + [
        _state(imp, type(out)(out.node_id, name), batch_first) for name in states][:len(node.proto.output)]


def _sequence(imp, node, view: View, batch_first: bool, what: str = "input"):
    """ONNX's (sequence, batch, x) as the block's (batch, sequence, x)."""
    canon = imp.canonical(view, node)
    wanted = 0 if batch_first else 1
    if view.rank != 3 or canon.batch_axis != wanted or canon.side != "alone":
        raise Refusal(f"its {what} does not have the batch on axis {wanted}")
    return canon.port


def _output(imp, port, dirs: int, hidden: int, batch_first: bool) -> View:
    """Y: (sequence, directions, batch, hidden), or (batch, sequence, directions, hidden) with layout 1."""
    batch, (length, _) = views.Atom(imp.batch), imp.shape_of(port)
    step, direction, unit = views.Atom(length), views.Atom(dirs), views.Atom(hidden)
    groups = [[batch], [step], [direction], [unit]] if batch_first else [[step], [direction], [batch], [unit]]
    return views.simplify(View(port, [[batch], [step], [direction, unit]], groups))


def _state(imp, port, batch_first: bool) -> View:
    """Y_h, Y_c: (directions, batch, hidden); the block's state ports are (batch, directions, hidden)."""
    view = imp.view_of(port)
    return view if batch_first else views.transpose(view, [1, 0, 2])
