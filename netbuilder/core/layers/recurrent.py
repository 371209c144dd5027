"""Recurrent layers over batch-first sequences (sequence x features). input_size comes from the input.

Besides the output sequence (or its last step), each gives its final state on ports of its own: `hidden`
(and `cell` for an LSTM), batch first, (layers x directions) x hidden size. With initial_state on, the
same ports appear as inputs, so that an encoder's final state can start a decoder.
"""
from __future__ import annotations

from .spec import Bool, Choice, Float, Int, LayerSpec, case, format_shape, module


def _params(extra: tuple = ()) -> tuple:
    return (
        Int("hidden_size", 64, 1, 65536, help="size of the hidden state"),
        Int("num_layers", 1, 1, 32, help="number of stacked layers"),
        Bool("bidirectional", False, help="also read the sequence backwards (doubles the output size)"),
        Float("dropout", 0.0, 0.0, 1.0, help="dropout between stacked layers"),
        Choice("output", "sequence", ("sequence", "last"),
               help="'sequence': every step's output; 'last': only the last step's"),
        *extra,
        Bool("bias", True, help="learn additive biases"),
        Bool("initial_state", False, help="take the starting state on input ports (e.g. an encoder's final "
                                          "state); otherwise it starts at zero"),
    )


def _states(cls: str) -> list[str]:
    return ["hidden", "cell"] if cls == "LSTM" else ["hidden"]


def _recurrent(cls: str):
    def build(p: dict, shapes: list):
        kwargs = {"nonlinearity": p["nonlinearity"]} if "nonlinearity" in p else {}
        return module(cls, shapes[0][-1], p["hidden_size"], num_layers=p["num_layers"], bias=p["bias"],
                      batch_first=True, bidirectional=p["bidirectional"], dropout=p["dropout"], **kwargs)
    return build


def _forward_for(cls: str):
    def forward(m, x, *start, output, **_params):
        """The state ports are batch first; torch's are (layers x directions, batch, hidden). Results are
        indexed, not unpacked: a traced value cannot be iterated."""
        if start:
            first = tuple(s.transpose(0, 1).contiguous() for s in start)
            result = m(x, first if len(first) > 1 else first[0])
        else:
            result = m(x)
        sequence, final = result[0], result[1]
        out = sequence[:, -1] if output == "last" else sequence
        finals = (final[0], final[1]) if cls == "LSTM" else (final,)
        return (out, *(f.transpose(0, 1) for f in finals))
    return forward


def _state_check(cls: str):
    def check(p: dict, shapes: list) -> str | None:
        layers = p["num_layers"] * (2 if p["bidirectional"] else 1)
        wanted = (layers, p["hidden_size"])
        for port, shape in zip(_states(cls), shapes[1:]):
            if tuple(shape) != wanted:
                return (f"the initial {port} state must be {format_shape(wanted)} (layers x directions, hidden "
                        f"size), gets {format_shape(shape)}")
        return None
    return check


def _summary(p: dict) -> str:
    layers = f", {p['num_layers']} layers" if p["num_layers"] > 1 else ""
    return f"{p['hidden_size']}{layers}{', bidirectional' if p['bidirectional'] else ''}, {p['output']}"


def _spec(cls: str, help: str, extra: tuple = (), cases: tuple = (), doc: str = "", formula: str = "") -> LayerSpec:
    states = _states(cls)
    return LayerSpec(cls, "recurrent", help, params=_params(extra), build=_recurrent(cls), forward=_forward_for(cls),
                     inputs=lambda p: ["in", *states] if p["initial_state"] else ["in"],
                     outputs=("out", *states), check=_state_check(cls),
                     ranks=(2,), rank_words="sequence x features", prefix=cls.lower(), summary=_summary, cases=cases,
                     doc=doc, formula=formula)


def _weights(gates: int, inputs: int, hidden: int, bias: bool = True) -> int:
    """One layer, one direction: input and hidden weights and two biases per gate."""
    return gates * (hidden * inputs + hidden * hidden + (2 * hidden if bias else 0))


LAYERS = [
    _spec("RNN", "Plain recurrent layer (Elman).", (Choice("nonlinearity", "tanh", ("tanh", "relu")),),
          cases=(case((5, 8), {"out": (5, 64), "hidden": (1, 64)}, _weights(1, 8, 64)),
                 case((5, 8), {"out": (4,), "hidden": (1, 4)}, _weights(1, 8, 4), hidden_size=4, output="last",
                      nonlinearity="relu"),
                 case((5, 3), {"out": (5, 8), "hidden": (2, 4)}, 2 * _weights(1, 3, 4), hidden_size=4,
                      bidirectional=True)),
          doc=("Reads a sequence (sequence x features) one step at a time, carrying a hidden state from step to "
               "step. Simple, but it forgets quickly: LSTM and GRU learn long sequences better."),
          formula="h_t = tanh(W_ih x_t + W_hh h_(t−1) + b)"),
    _spec("LSTM", "Long short-term memory: remembers over long sequences.",
          cases=(case((5, 8), {"out": (5, 64), "hidden": (1, 64), "cell": (1, 64)}, _weights(4, 8, 64)),
                 case((6, 2), {"out": (3,), "hidden": (2, 3), "cell": (2, 3)},
                      _weights(4, 2, 3) + _weights(4, 3, 3), hidden_size=3, num_layers=2, output="last"),
                 case((5, 4), {"out": (5, 3), "hidden": (1, 3), "cell": (1, 3)}, _weights(4, 4, 3, bias=False),
                      hidden_size=3, bias=False),
                 # a decoder started by an encoder's state: the state ports are inputs too
                 case({"in": (5, 4), "hidden": (1, 3), "cell": (1, 3)},
                      {"out": (5, 3), "hidden": (1, 3), "cell": (1, 3)}, _weights(4, 4, 3), hidden_size=3,
                      initial_state=True)),
          doc=("Reads a sequence (sequence x features) step by step with gated memory cells that keep "
               "information over long spans. output 'last' gives the final step's hidden state (to classify a "
               "sequence), 'sequence' every step's (to label each step, or to stack another layer); the hidden "
               "and cell ports carry the final state (an encoder's, to start a decoder)."),
          formula="c_t = f_t ⊙ c_(t−1) + i_t ⊙ g_t;  h_t = o_t ⊙ tanh(c_t)  (f, i, o: gates; g: candidate)"),
    _spec("GRU", "Gated recurrent unit: a lighter LSTM.",
          cases=(case((5, 8), {"out": (5, 64), "hidden": (1, 64)}, _weights(3, 8, 64)),
                 case((4, 3), {"out": (10,), "hidden": (2, 5)}, 2 * _weights(3, 3, 5), hidden_size=5,
                      bidirectional=True, output="last"),
                 case({"in": (6, 2), "hidden": (2, 4)}, {"out": (6, 4), "hidden": (2, 4)},
                      _weights(3, 2, 4, bias=False) + _weights(3, 4, 4, bias=False), hidden_size=4, num_layers=2,
                      bias=False, initial_state=True)),
          doc="Like an LSTM with two gates instead of three and no separate memory cell: fewer weights, often as good.",
          formula="h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_(t−1)  (z: update gate; n: candidate)"),
]
