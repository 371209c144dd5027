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


def _spec(cls: str, help: str, extra: tuple = (), cases: tuple = ()) -> LayerSpec:
    return LayerSpec(cls, "recurrent", help, params=_params(extra), build=_recurrent(cls), forward=_forward,
                     ranks=(2,), rank_words="sequence x features", prefix=cls.lower(), summary=_summary, cases=cases)


def _weights(gates: int, inputs: int, hidden: int) -> int:
    """One layer, one direction: input and hidden weights and two biases per gate."""
    return gates * (hidden * inputs + hidden * hidden + 2 * hidden)


LAYERS = [
    _spec("RNN", "Plain recurrent layer (Elman).", (Choice("nonlinearity", "tanh", ("tanh", "relu")),),
          cases=(case((5, 8), (5, 64), _weights(1, 8, 64)),
                 case((5, 8), (4,), _weights(1, 8, 4), hidden_size=4, output="last", nonlinearity="relu"),
                 case((5, 3), (5, 8), 2 * _weights(1, 3, 4), hidden_size=4, bidirectional=True))),
    _spec("LSTM", "Long short-term memory: remembers over long sequences.",
          cases=(case((5, 8), (5, 64), _weights(4, 8, 64)),
                 case((6, 2), (3,), _weights(4, 2, 3) + _weights(4, 3, 3), hidden_size=3, num_layers=2,
                      output="last"))),
    _spec("GRU", "Gated recurrent unit: a lighter LSTM.",
          cases=(case((5, 8), (5, 64), _weights(3, 8, 64)),
                 case((4, 3), (10,), 2 * _weights(3, 3, 5), hidden_size=5, bidirectional=True, output="last"))),
]
