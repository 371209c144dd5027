"""Recurrent layers over batch-first sequences (sequence x features). input_size comes from the input."""
from __future__ import annotations

from .spec import Bool, Choice, Float, Int, LayerSpec, case, module


def _params(extra: tuple = ()) -> tuple:
    return (
        Int("hidden_size", 64, 1, 65536, help="size of the hidden state"),
        Int("num_layers", 1, 1, 32, help="number of stacked layers"),
        Bool("bidirectional", False, help="also read the sequence backwards (doubles the output size)"),
        Float("dropout", 0.0, 0.0, 1.0, help="dropout between stacked layers"),
        Choice("output", "sequence", ("sequence", "last"),
               help="'sequence': every step's output; 'last': only the last step's"),
        *extra,
    )


def _recurrent(cls: str):
    def build(p: dict, shapes: list):
        kwargs = {"nonlinearity": p["nonlinearity"]} if "nonlinearity" in p else {}
        return module(cls, shapes[0][-1], p["hidden_size"], num_layers=p["num_layers"], batch_first=True,
                      bidirectional=p["bidirectional"], dropout=p["dropout"], **kwargs)
    return build


def _forward(m, x, output, **_params):
    sequence = m(x)[0]
    return sequence[:, -1] if output == "last" else sequence


def _summary(p: dict) -> str:
    layers = f", {p['num_layers']} layers" if p["num_layers"] > 1 else ""
    return f"{p['hidden_size']}{layers}{', bidirectional' if p['bidirectional'] else ''}, {p['output']}"


def _spec(cls: str, help: str, extra: tuple = (), cases: tuple = (), doc: str = "", formula: str = "") -> LayerSpec:
    return LayerSpec(cls, "recurrent", help, params=_params(extra), build=_recurrent(cls), forward=_forward,
                     ranks=(2,), rank_words="sequence x features", prefix=cls.lower(), summary=_summary, cases=cases,
                     doc=doc, formula=formula)


def _weights(gates: int, inputs: int, hidden: int) -> int:
    """One layer, one direction: input and hidden weights and two biases per gate."""
    return gates * (hidden * inputs + hidden * hidden + 2 * hidden)


LAYERS = [
    _spec("RNN", "Plain recurrent layer (Elman).", (Choice("nonlinearity", "tanh", ("tanh", "relu")),),
          cases=(case((5, 8), (5, 64), _weights(1, 8, 64)),
                 case((5, 8), (4,), _weights(1, 8, 4), hidden_size=4, output="last", nonlinearity="relu"),
                 case((5, 3), (5, 8), 2 * _weights(1, 3, 4), hidden_size=4, bidirectional=True)),
          doc=("Reads a sequence (sequence x features) one step at a time, carrying a hidden state from step to "
               "step. Simple, but it forgets quickly: LSTM and GRU learn long sequences better."),
          formula="h_t = tanh(W_ih x_t + W_hh h_(t−1) + b)"),
    _spec("LSTM", "Long short-term memory: remembers over long sequences.",
          cases=(case((5, 8), (5, 64), _weights(4, 8, 64)),
                 case((6, 2), (3,), _weights(4, 2, 3) + _weights(4, 3, 3), hidden_size=3, num_layers=2,
                      output="last")),
          doc=("Reads a sequence (sequence x features) step by step with gated memory cells that keep "
               "information over long spans. output 'last' gives the final step's hidden state (to classify a "
               "sequence), 'sequence' every step's (to label each step, or to stack another layer)."),
          formula="c_t = f_t ⊙ c_(t−1) + i_t ⊙ g_t;  h_t = o_t ⊙ tanh(c_t)  (f, i, o: gates; g: candidate)"),
    _spec("GRU", "Gated recurrent unit: a lighter LSTM.",
          cases=(case((5, 8), (5, 64), _weights(3, 8, 64)),
                 case((4, 3), (10,), 2 * _weights(3, 3, 5), hidden_size=5, bidirectional=True, output="last")),
          doc="Like an LSTM with two gates instead of three and no separate memory cell: fewer weights, often as good.",
          formula="h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_(t−1)  (z: update gate; n: candidate)"),
]
