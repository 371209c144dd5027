"""Recurrent layers over batch-first sequences (sequence x features). input_size comes from the input."""
from __future__ import annotations

from .spec import Bool, Choice, Float, Int, LayerSpec, module


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


def _spec(cls: str, help: str, extra: tuple = ()) -> LayerSpec:
    return LayerSpec(cls, "recurrent", help, params=_params(extra), build=_recurrent(cls), forward=_forward,
                     ranks=(2,), rank_words="sequence x features", prefix=cls.lower(), example=(5, 8),
                     summary=_summary)


LAYERS = [
    _spec("RNN", "Plain recurrent layer (Elman).", (Choice("nonlinearity", "tanh", ("tanh", "relu")),)),
    _spec("LSTM", "Long short-term memory: remembers over long sequences."),
    _spec("GRU", "Gated recurrent unit: a lighter LSTM."),
]
