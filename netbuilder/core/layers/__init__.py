"""The layer registry: every layer type netbuilder knows, each declared once in a family module.

Palette, inspector, shape inference, compiler, code export and ONNX import all read `LAYERS`. Plain data: it may
import `base` only (torch is imported inside the functions that build and run a layer).
"""
from __future__ import annotations

from . import activation, arithmetic, attention, conv, dense, io, losses, merge, norm, pool, recurrent, sampling, shape
from .spec import Construct, LayerSpec, Param, ParamError, Shape

CATEGORIES = {
    "io": "Input / output",
    "dense": "Dense",
    "conv": "Convolution",
    "pool": "Pooling",
    "norm": "Normalization & regularization",
    "activation": "Activation",
    "shape": "Shape",
    "merge": "Merge",
    "recurrent": "Recurrent",
    "attention": "Attention & transformers",
    "math": "Math",
    "sampling": "Noise & sampling",
    "loss": "Loss",
}

LAYERS: dict[str, LayerSpec] = {}
for _family in (io, dense, conv, pool, norm, activation, shape, merge, recurrent, attention, arithmetic, sampling,
                losses):
    for _spec in _family.LAYERS:
        assert _spec.type not in LAYERS, f"layer type {_spec.type} declared twice"
        assert _spec.category in CATEGORIES, f"{_spec.type}: unknown category {_spec.category}"
        LAYERS[_spec.type] = _spec


def get_layer(type_name: str) -> LayerSpec:
    """The spec of a layer type; KeyError for an unknown type."""
    return LAYERS[type_name]


__all__ = ["CATEGORIES", "LAYERS", "Construct", "LayerSpec", "Param", "ParamError", "Shape", "get_layer"]
