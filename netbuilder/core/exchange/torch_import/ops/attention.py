"""Multi-head attention and transformer layers: torch.nn modules that export as dozens of operators, read whole.

The block's settings come from the module itself when the import has it (a .py file), else from what its
operators show: the heads from the query's shape in scaled_dot_product_attention, the feed-forward size from
linear1's weight, the dropout from its dropout operators, norm_first from whether a layer norm comes first.
(Attention's own dropout is not among an inference export's operators: a .pt2 file's stand-alone attention
comes back with dropout 0.)
"""
from __future__ import annotations

import torch

from ...onnx_import.refusals import Refusal
from ..naming import op_name
from ..values import Val
from . import reads


def _tensors(imp, region) -> tuple[list[Val], list[torch.Tensor]]:
    values = region.tensor_inputs(imp.values)
    computed = [v for v in values if isinstance(v, Val)]
    constants = [v for v in values if isinstance(v, torch.Tensor)]
    return list(dict.fromkeys(computed)), constants


def _causal(region, constants: list[torch.Tensor]) -> bool:
    """A constant mask that hides the positions after each one, or is_causal on the attention."""
    for node in region.ops("aten.scaled_dot_product_attention.default"):
        if node.kwargs.get("is_causal") or (len(node.args) > 5 and node.args[5]):
            return True
    for mask in constants:
        if mask.dim() == 2 and mask.shape[0] == mask.shape[1] and mask.shape[0] > 1:
            above = torch.triu(torch.ones_like(mask, dtype=torch.bool), 1)
            hidden = mask if mask.dtype == torch.bool else mask < -1e9
            if bool((hidden == above).all()):
                return True
            raise Refusal("it is given a mask that is not causal (only a causal mask has a setting)")
    return False


def _heads(imp, region) -> int:
    for node in region.ops("aten.scaled_dot_product_attention.default"):
        value = node.args[0].meta.get("val")
        if isinstance(value, torch.Tensor) and value.dim() == 4:
            return int(value.shape[1])
    raise Refusal("netbuilder cannot tell its number of heads from its operators")


def _batch_first(x: Val, module) -> bool:
    if module is not None:
        return bool(getattr(module, "batch_first", getattr(getattr(module, "self_attn", None), "batch_first", True)))
    return x.batch_axis == 0


def _into(imp, x: Val, batch_first: bool, node) -> object:
    return imp.port(x if batch_first else x.permuted([1, 0, 2]), node)


def _out(port, batch_first: bool) -> Val:
    return Val(port, (0, 1, 2) if batch_first else (1, 0, 2))


def _check_outputs(region) -> None:
    if len(region.outputs) != 1:
        raise Refusal("its attention weights are used (only the attended values have a block)")


@reads("MultiheadAttention")
def attention(imp, region):
    module = imp.live(region.call)
    computed, constants = _tensors(imp, region)
    params = region.params(imp.values)
    if not computed or len(computed) > 2:
        raise Refusal("queries, keys and values from three different tensors have no block")
    if "bias_k" in params or (module is not None and module.add_zero_attn):
        raise Refusal("bias_k, bias_v and add_zero_attn have no block settings")
    _check_outputs(region)
    x = computed[0]
    batch_first = _batch_first(x, module)
    node = imp.region_op(region)
    settings = {"heads": module.num_heads if module is not None else _heads(imp, region),
                "dropout": float(module.dropout) if module is not None else 0.0,
                "bias": "in_proj_bias" in params or "out_proj.bias" in params,
                "causal": _causal(region, constants), "cross": len(computed) == 2}
    sources = [_into(imp, v, batch_first, node) for v in computed]
    main = params.get("in_proj_weight") or params.get("q_proj_weight")
    port = imp.add("MultiheadAttention", settings, sources, node, params, shares=main)
    return {region.outputs[0]: _out(port, batch_first)}


def _layer(imp, region, layer: str):
    module = imp.live(region.call)
    computed, constants = _tensors(imp, region)
    params = region.params(imp.values)
    wanted = 2 if layer == "TransformerDecoderLayer" else 1
    if len(computed) != wanted:
        raise Refusal(f"it reads {len(computed)} computed tensors; the block reads {wanted}")
    _check_outputs(region)
    batch_first = _batch_first(computed[0], module)
    node = imp.region_op(region)
    nodes = region.nodes
    if module is not None:
        activation = _activation_name(module)
        settings = {"heads": module.self_attn.num_heads, "dim_feedforward": module.linear1.out_features,
                    "dropout": float(module.dropout.p), "activation": activation, "eps": float(module.norm1.eps),
                    "norm_first": bool(module.norm_first), "bias": module.linear1.bias is not None}
    else:
        norms = region.ops("aten.layer_norm.default")
        linears = region.ops("aten.linear.default")
        drops = region.ops("aten.dropout.default")
        acts = {op_name(n) for n in nodes} & {"aten.relu.default", "aten.gelu.default"}
        if not norms or not linears or len(acts) != 1 or "linear1.weight" not in params:
            raise Refusal(f"its operators are not those of torch's {layer}")
        settings = {"heads": _heads(imp, region), "dim_feedforward": int(params["linear1.weight"].tensor.shape[0]),
                    "dropout": float(drops[0].args[1]) if drops else 0.0,
                    "activation": "relu" if "aten.relu.default" in acts else "gelu",
                    "eps": float(norms[0].args[4]) if len(norms[0].args) > 4 else 1e-5,
                    "norm_first": nodes.index(norms[0]) < nodes.index(linears[0]),
                    "bias": "linear1.bias" in params}
    settings["causal"] = _causal(region, constants)
    sources = [_into(imp, v, batch_first, node) for v in computed]
    port = imp.add(layer, settings, sources, node, params, shares=params.get("self_attn.in_proj_weight"))
    return {region.outputs[0]: _out(port, batch_first)}


def _activation_name(module) -> str:
    import torch.nn.functional as F

    activation = module.activation
    if activation is F.relu or isinstance(activation, torch.nn.ReLU):
        return "relu"
    if activation is F.gelu or (isinstance(activation, torch.nn.GELU) and activation.approximate == "none"):
        return "gelu"
    raise Refusal(f"its activation {getattr(activation, '__name__', type(activation).__name__)} has no setting "
                  "(relu and gelu have)")


@reads("TransformerEncoderLayer")
def encoder_layer(imp, region):
    return _layer(imp, region, "TransformerEncoderLayer")


@reads("TransformerDecoderLayer")
def decoder_layer(imp, region):
    return _layer(imp, region, "TransformerDecoderLayer")
