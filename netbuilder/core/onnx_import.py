"""Import an ONNX model as an editable graph of registry blocks, with its weights.

The ONNX nodes are read in order. A node whose inputs are all constants (the shape arithmetic that
exporters leave, e.g. Shape -> Gather -> Concat -> Reshape) is evaluated with onnx's reference
implementation, the batch size standing in as a sentinel number. Every other node becomes a block:
Conv -> Conv2d, Gemm or MatMul+Add -> Linear, LSTM between its transposes -> LSTM (gates reordered),
and so on. Operators with no block are all collected and reported together; nothing is written then.
The result is checked: the imported graph must match onnxruntime on the original file.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .compile import CompileError, compile_graph
from .errors import NetbuilderError, first_line
from .files import atomic_write_text
from .graph import Graph, GraphError
from .groups import add_groups, groups_from_scopes
from .layout import apply_layout
from .shapes import clashes_with_torch, infer_shapes
from .weights import apply_state, save_weights

BATCH = 1_000_000_007  # the batch size, as it flows through constant shape arithmetic
TOLERANCE = 1e-4
ZERO_PRESERVING = {"Slice", "Gather", "Squeeze", "Unsqueeze", "Reshape", "Expand", "Concat", "Transpose", "Cast",
                   "Identity"}
LSTM_GATES = [0, 2, 3, 1]  # ONNX i, o, f, c -> torch i, f, g, o
GRU_GATES = [1, 0, 2]  # ONNX z, r, h -> torch r, z, n


SIMPLE = {  # operators that are one parameter-free block
    "Relu": ("ReLU",), "Sigmoid": ("Sigmoid",), "Tanh": ("Tanh",),
    "GlobalAveragePool": ("AdaptiveAvgPool2d", {"output_size": 1}),
}


class OnnxImportError(NetbuilderError):
    """The file cannot be imported; the message names every problem (e.g. each unsupported operator)."""


@dataclass
class Block:
    """A tensor made by a netbuilder block (batch first)."""

    node_id: str


@dataclass
class SeqFirst:
    """A batch-first block output seen transposed to (sequence, batch, features): what ONNX RNNs read."""

    block: Block


@dataclass
class RnnOutput:
    """An ONNX LSTM/GRU's Y: (sequence, directions, batch, hidden), made by our RNN block."""

    block: Block
    directions: int
    step: str = "raw"  # raw -> transposed (bidirectional) -> ready to reshape


@dataclass
class LastStep:
    """A slice of the last step of an RNN block's output, before its sequence axis is squeezed."""

    block: Block


@dataclass
class BatchZeros:
    """Zeros of a shape that depends on the batch size (an RNN's initial state): never materialized."""


@dataclass
class Imported:
    graph: Graph
    state: dict[str, torch.Tensor]
    max_abs_diff: float


def _name(raw: str) -> str:
    name = re.sub(r"\W", "_", raw).strip("_")
    return name if name and not name[0].isdigit() else f"n_{name}"


class _Importer:
    def __init__(self, model, source: str) -> None:
        import onnx

        self.onnx = onnx
        self.model = model
        self.graph = Graph({"title": Path(source).stem, "description": f"imported from {Path(source).name}"})
        self.state: dict[str, torch.Tensor] = {}
        self.values: dict[str, object] = {}
        self.unsupported: list[str] = []
        self._report = None
        self.scopes: dict[str, str] = {}  # block id -> the exporter's name of its node (its module scope)
        uses: dict[str, int] = {}
        for node in model.graph.node:
            for name in node.input:
                uses[name] = uses.get(name, 0) + 1
        self.uses = uses

    # ----- helpers

    def shape(self, block: Block) -> tuple[int, ...]:
        if self._report is None:
            self._report = infer_shapes(self.graph)
        info = self._report.nodes[block.node_id]
        if info.output is None:
            raise OnnxImportError(f"cannot work out the shape after block {self.graph.node(block.node_id).name}: "
                                  f"{info.error or 'an earlier block failed'}")
        return info.output

    def add(self, layer: str, params: dict, sources: list[Block], onnx_node, weights: dict | None = None,
            hint: str | None = None) -> Block:
        name = self._block_name(layer, onnx_node, hint)
        node = self.graph.add_node(layer, params, name=name)
        self.scopes[node.id] = onnx_node.name or ""
        for source in sources:
            self.graph.connect(source.node_id, node.id)
        for key, value in (weights or {}).items():
            self.state[f"{node.name}.{key}"] = torch.from_numpy(np.array(value, copy=True))
        self._report = None
        return Block(node.id)

    def _block_name(self, layer: str, onnx_node, hint: str | None) -> str | None:
        scopes = [s for s in (onnx_node.name or "").split("/") if s][:-1]
        candidates = [hint] if hint else []
        if scopes:
            candidates += [_name(scopes[-1]), _name("_".join(scopes[-2:]))]
        for candidate in candidates:
            if self.graph.name_is_free(candidate) and not clashes_with_torch(candidate):
                return candidate
        return None  # the graph's own naming: conv1, relu2, ...

    def const(self, name: str) -> np.ndarray | None:
        value = self.values.get(name)
        return value if isinstance(value, np.ndarray) else None

    def attrs(self, node) -> dict:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def refuse(self, node, why: str = "") -> None:
        label = node.name or (node.output[0] if node.output else "?")
        self.unsupported.append(f"{node.op_type} ({label}{': ' + why if why else ''})")

    # ----- the walk

    def run(self) -> None:
        graph = self.model.graph
        initializers = {i.name for i in graph.initializer}
        for init in graph.initializer:
            self.values[init.name] = self.onnx.numpy_helper.to_array(init)
        for value in graph.input:
            if value.name not in initializers:
                self._input(value)
        for node in graph.node:
            outputs_before = len(self.unsupported)
            try:
                self._node(node)
            except GraphError as e:
                self.refuse(node, str(e))
            if len(self.unsupported) > outputs_before:
                for name in node.output:
                    self.values.setdefault(name, None)
        if self.unsupported:
            return
        for value in graph.output:
            produced = self.values.get(value.name)
            if not isinstance(produced, Block):
                self.unsupported.append(f"output {value.name} (not made by a block netbuilder can represent)")
                continue
            out = self.graph.add_node("Output", name=self._free(_name(value.name)))
            self.graph.connect(produced.node_id, out.id)

    def _free(self, wanted: str) -> str | None:
        return wanted if self.graph.name_is_free(wanted) else None

    def _input(self, value) -> None:
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        if len(dims) < 2 or any(d is None or d < 1 for d in dims[1:]):
            raise OnnxImportError(f"input {value.name} has shape {dims}: netbuilder needs a batch dimension first "
                                  "and fixed sizes after it")
        dtype = {1: "float32", 7: "int64", 6: "int64"}.get(tensor.elem_type)
        if dtype is None:
            raise OnnxImportError(f"input {value.name}: element type {tensor.elem_type} is not supported "
                                  "(float32 or int64)")
        node = self.graph.add_node("Input", {"shape": dims[1:], "dtype": dtype}, name=self._free(_name(value.name)))
        self.values[value.name] = Block(node.id)

    def _node(self, node) -> None:
        ins = [self.values.get(name) if name else None for name in node.input]
        op = node.op_type
        if op == "Identity" or (op == "Dropout" and isinstance(ins[0], Block) and self._dropout(node, ins)):
            if op == "Identity":
                self.values[node.output[0]] = ins[0]
            return
        if op == "Shape" and isinstance(ins[0], Block):
            a = self.attrs(node)
            full = np.array([BATCH, *self.shape(ins[0])], dtype=np.int64)
            self.values[node.output[0]] = full[a.get("start", 0):a.get("end", len(full))]
            return
        tensors = [v for v, name in zip(ins, node.input) if name]
        if any(isinstance(v, BatchZeros) for v in tensors) and op in ZERO_PRESERVING \
                and all(isinstance(v, (np.ndarray, BatchZeros)) for v in tensors):
            for name in node.output:  # slicing or reshaping zeros (an initial state, per layer) gives zeros
                self.values[name] = BatchZeros()
            return
        if tensors and all(isinstance(v, np.ndarray) for v in tensors) or not tensors and op == "Constant":
            self._fold(node, ins)
            return
        handler = self._simple(*SIMPLE[op]) if op in SIMPLE else getattr(self, f"_op_{op}", None)
        if handler is None:
            self.refuse(node)
            return
        handler(node, ins)

    def _fold(self, node, ins) -> None:
        from onnx.reference import ReferenceEvaluator

        if node.op_type == "ConstantOfShape" and BATCH in ins[0]:
            value = self.attrs(node).get("value")
            if value is None or not self.onnx.numpy_helper.to_array(value).any():
                self.values[node.output[0]] = BatchZeros()
                return
        if node.op_type in ("ConstantOfShape", "Expand", "Tile", "Range") and any(
                isinstance(v, np.ndarray) and BATCH in v for v in ins):
            self.refuse(node, "builds a tensor whose size depends on the batch")
            return
        try:
            feeds = {name: value for name, value in zip(node.input, ins) if name}
            results = ReferenceEvaluator(node).run(None, feeds)
        except Exception as e:  # noqa: BLE001 - the reference evaluator raises many kinds
            self.refuse(node, f"cannot evaluate: {first_line(e)}")
            return
        for name, value in zip(node.output, results):
            self.values[name] = np.asarray(value)

    # ----- activations and friends: one input, one block

    def _simple(self, layer: str, params: dict | None = None):
        def handle(node, ins) -> None:
            if not isinstance(ins[0], Block):
                return self.refuse(node, "its input is not a block's output")
            self.values[node.output[0]] = self.add(layer, params or {}, [ins[0]], node)
        return handle

    def _op_LeakyRelu(self, node, ins) -> None:
        self._simple("LeakyReLU", {"negative_slope": float(self.attrs(node).get("alpha", 0.01))})(node, ins)

    def _op_Elu(self, node, ins) -> None:
        self._simple("ELU", {"alpha": float(self.attrs(node).get("alpha", 1.0))})(node, ins)

    def _op_Gelu(self, node, ins) -> None:
        self._simple("GELU", {"approximate": self.attrs(node).get("approximate", b"none").decode()})(node, ins)

    def _op_Softmax(self, node, ins) -> None:
        self._simple("Softmax", {"dim": int(self.attrs(node).get("axis", -1))})(node, ins)

    def _op_LogSoftmax(self, node, ins) -> None:
        self._simple("LogSoftmax", {"dim": int(self.attrs(node).get("axis", -1))})(node, ins)

    def _op_Clip(self, node, ins) -> None:
        a = self.attrs(node)
        low = self.const(node.input[1]) if len(node.input) > 1 and node.input[1] else a.get("min")
        high = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else a.get("max")
        low = None if low is None else float(np.asarray(low))
        high = None if high is None else float(np.asarray(high))
        if low == 0 and high == 6:
            self._simple("ReLU6")(node, ins)
        elif low == 0 and high is None:
            self._simple("ReLU")(node, ins)
        else:
            self.refuse(node, f"only Clip(0, 6) (ReLU6) is supported, not Clip({low}, {high})")

    def _op_PRelu(self, node, ins) -> None:
        slope = self.const(node.input[1])
        if slope is None:
            return self.refuse(node, "the slope is not a constant")
        per_channel = slope.size > 1
        self.values[node.output[0]] = self.add("PReLU", {"per_channel": per_channel}, [ins[0]], node,
                                               {"weight": slope.reshape(-1).astype(np.float32)})

    def _dropout(self, node, ins) -> bool:
        ratio = self.attrs(node).get("ratio")
        if len(node.input) > 1 and node.input[1] and self.const(node.input[1]) is not None:
            ratio = float(self.const(node.input[1]))
        self.values[node.output[0]] = self.add("Dropout", {"p": float(0.5 if ratio is None else ratio)}, [ins[0]],
                                               node)
        return True

    # ----- layers with weights

    def _pads(self, node, rank: int) -> int | list[int] | None:
        a = self.attrs(node)
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
            self.refuse(node, f"auto_pad {a['auto_pad'].decode()} is not supported")
            return None
        pads = list(a.get("pads", [0] * 2 * rank))
        if pads[:rank] != pads[rank:]:
            self.refuse(node, f"asymmetric padding {pads}")
            return None
        return pads[:rank]

    def _op_Conv(self, node, ins) -> None:
        weight = self.const(node.input[1])
        if weight is None or not isinstance(ins[0], Block) or weight.ndim not in (3, 4):
            return self.refuse(node, "needs constant 1-D or 2-D weights")
        rank = weight.ndim - 2
        pads = self._pads(node, rank)
        if pads is None:
            return
        a = self.attrs(node)
        bias = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        params = {"out_channels": int(weight.shape[0]), "kernel_size": list(weight.shape[2:]),
                  "stride": list(a.get("strides", [1] * rank)), "padding": pads,
                  "dilation": list(a.get("dilations", [1] * rank)), "groups": int(a.get("group", 1)),
                  "bias": bias is not None}
        weights = {"weight": weight} | ({"bias": bias} if bias is not None else {})
        self.values[node.output[0]] = self.add("Conv2d" if rank == 2 else "Conv1d", params, [ins[0]], node, weights,
                                               hint=self._weight_module(node.input[1]))

    def _op_ConvTranspose(self, node, ins) -> None:
        weight = self.const(node.input[1])
        if weight is None or weight.ndim != 4 or not isinstance(ins[0], Block):
            return self.refuse(node, "needs constant 2-D weights")
        pads = self._pads(node, 2)
        if pads is None:
            return
        a = self.attrs(node)
        groups = int(a.get("group", 1))
        bias = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        params = {"out_channels": int(weight.shape[1]) * groups, "kernel_size": list(weight.shape[2:]),
                  "stride": list(a.get("strides", [1, 1])), "padding": pads,
                  "output_padding": list(a.get("output_padding", [0, 0])),
                  "dilation": list(a.get("dilations", [1, 1])), "groups": groups, "bias": bias is not None}
        weights = {"weight": weight} | ({"bias": bias} if bias is not None else {})
        self.values[node.output[0]] = self.add("ConvTranspose2d", params, [ins[0]], node, weights,
                                               hint=self._weight_module(node.input[1]))

    def _weight_module(self, initializer: str) -> str | None:
        """`layer1.0.conv1.weight` -> `layer1_0_conv1`: the exporting module's name, where it survived."""
        if initializer.endswith(".weight"):
            return _name(initializer[: -len(".weight")])
        return None

    def _op_Gemm(self, node, ins) -> None:
        a = self.attrs(node)
        weight = self.const(node.input[1])
        if weight is None or not isinstance(ins[0], Block) or a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 \
                or a.get("beta", 1.0) != 1.0:
            return self.refuse(node, "only x @ W^T + b with a constant W is supported")
        weight = weight if a.get("transB", 0) else weight.T
        bias = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if bias is not None:
            bias = np.broadcast_to(bias, (weight.shape[0],)).astype(np.float32)
        self._linear(node, ins[0], weight, bias)

    def _linear(self, node, source: Block, weight: np.ndarray, bias: np.ndarray | None) -> None:
        weights = {"weight": weight} | ({"bias": bias} if bias is not None else {})
        self.values[node.output[0]] = self.add("Linear", {"out_features": int(weight.shape[0]),
                                                          "bias": bias is not None}, [source], node, weights,
                                               hint=self._weight_module(node.input[1]))

    def _op_MatMul(self, node, ins) -> None:
        weight = self.const(node.input[1])
        if weight is None or weight.ndim != 2 or not isinstance(ins[0], Block):
            return self.refuse(node, "only x @ W with a constant 2-D W is supported")
        self._linear(node, ins[0], weight.T, None)

    def _op_BatchNormalization(self, node, ins) -> None:
        if not isinstance(ins[0], Block):
            return self.refuse(node, "its input is not a block's output")
        scale, bias, mean, var = (self.const(name) for name in node.input[1:5])
        if any(v is None for v in (scale, bias, mean, var)):
            return self.refuse(node, "needs constant statistics")
        rank = len(self.shape(ins[0]))
        a = self.attrs(node)
        params = {"eps": float(a.get("epsilon", 1e-5)), "momentum": round(1.0 - float(a.get("momentum", 0.9)), 6)}
        weights = {"weight": scale, "bias": bias, "running_mean": mean, "running_var": var,
                   "num_batches_tracked": np.array(0, dtype=np.int64)}
        hint = node.input[1][: -len(".weight")] if node.input[1].endswith(".weight") else None
        self.values[node.output[0]] = self.add("BatchNorm2d" if rank == 3 else "BatchNorm1d", params, [ins[0]], node,
                                               weights, hint=_name(hint) if hint else None)

    # ----- pooling

    def _pool(self, node, ins, kind: str) -> None:
        a = self.attrs(node)
        kernel = list(a.get("kernel_shape", []))
        rank = len(kernel)
        if not isinstance(ins[0], Block) or rank not in (1, 2) or any(d != 1 for d in a.get("dilations", [1] * rank)):
            return self.refuse(node, "only 1-D and 2-D pooling without dilation is supported")
        pads = self._pads(node, rank)
        if pads is None:
            return
        if kind == "AvgPool" and any(pads) and not a.get("count_include_pad", 0):
            return self.refuse(node, "average pooling that excludes the padding is not supported")
        layer = f"{kind}{rank}d"
        if layer == "AvgPool1d":
            return self.refuse(node, "1-D average pooling has no block")
        params = {"kernel_size": kernel, "stride": list(a.get("strides", [1] * rank)), "padding": pads,
                  "ceil_mode": bool(a.get("ceil_mode", 0))}
        self.values[node.output[0]] = self.add(layer, params, [ins[0]], node)

    def _op_MaxPool(self, node, ins) -> None:
        if len(node.output) > 1 and node.output[1] and self.uses.get(node.output[1]):
            return self.refuse(node, "its indices output is used")
        self._pool(node, ins, "MaxPool")

    def _op_AveragePool(self, node, ins) -> None:
        self._pool(node, ins, "AvgPool")

    def _op_ReduceMean(self, node, ins) -> None:
        a = self.attrs(node)
        axes = a.get("axes") or (self.const(node.input[1]).tolist() if len(node.input) > 1 else None)
        if not isinstance(ins[0], Block) or axes is None or sorted(int(x) % 4 for x in axes) != [2, 3] \
                or len(self.shape(ins[0])) != 3:
            return self.refuse(node, "only the mean over height and width (global average pooling) is supported")
        keep = a.get("keepdims", 1)
        layer, params = ("AdaptiveAvgPool2d", {"output_size": 1}) if keep else ("GlobalAvgPool2d", {})
        self.values[node.output[0]] = self.add(layer, params, [ins[0]], node)

    # ----- merging

    def _op_Add(self, node, ins) -> None:
        self._merge(node, ins, "Add")

    def _op_Mul(self, node, ins) -> None:
        self._merge(node, ins, "Multiply")

    def _merge(self, node, ins, layer: str) -> None:
        if all(isinstance(v, Block) for v in ins):
            self.values[node.output[0]] = self.add(layer, {"inputs": len(ins)}, ins, node)
            return
        blocks = [v for v in ins if isinstance(v, Block)]
        consts = [v for v in ins if isinstance(v, np.ndarray)]
        if layer == "Add" and len(blocks) == 1 and len(consts) == 1 and self._fuse_bias(blocks[0], consts[0]):
            self.values[node.output[0]] = blocks[0]
            return
        self.refuse(node, f"{node.op_type} with a constant has no block")

    def _fuse_bias(self, block: Block, bias: np.ndarray) -> bool:
        """MatMul then Add(bias) is a Linear layer: give the Linear its bias."""
        node = self.graph.node(block.node_id)
        if node.type != "Linear" or node.params["bias"] or self.graph.output_edges(node.id):
            return False
        out = node.params["out_features"]
        if bias.size not in (1, out):
            return False
        self.graph.set_param(node.id, "bias", True)
        self.state[f"{node.name}.bias"] = torch.as_tensor(np.broadcast_to(bias, (out,)).astype(np.float32).copy())
        self._report = None
        return True

    def _op_Concat(self, node, ins) -> None:
        if not all(isinstance(v, Block) for v in ins):
            return self.refuse(node, "joins constants with tensors")
        axis = int(self.attrs(node).get("axis", 1))
        if axis == 0:
            return self.refuse(node, "joins along the batch dimension")
        self.values[node.output[0]] = self.add("Concat", {"inputs": len(ins), "dim": axis}, ins, node)

    # ----- shapes

    def _op_Flatten(self, node, ins) -> None:
        axis = int(self.attrs(node).get("axis", 1))
        if not isinstance(ins[0], Block) or axis != 1:
            return self.refuse(node, "only flattening everything but the batch is supported")
        self.values[node.output[0]] = self.add("Flatten", {"start_dim": 1}, [ins[0]], node)

    def _op_Reshape(self, node, ins) -> None:
        target = self.const(node.input[1])
        source = ins[0]
        if isinstance(source, RnnOutput) and source.step == "transposed" and target is not None:
            self.values[node.output[0]] = SeqFirst(source.block)  # (seq, batch, dirs * hidden)
            return
        if not isinstance(source, Block) or target is None:
            return self.refuse(node, "needs a constant target shape")
        have = self.shape(source)
        dims = [int(d) for d in target.tolist()]
        size = int(np.prod(have))
        if dims and dims[0] in (BATCH, 0):
            rest = [have[i - 1] if d == 0 and i - 1 < len(have) else d for i, d in enumerate(dims)][1:]
        elif dims and dims[0] == -1 and -1 not in dims[1:] and int(np.prod(dims[1:])) == size:
            rest = dims[1:]  # x.view(-1, features): the batch stays
        else:
            return self.refuse(node, f"reshapes across the batch dimension (to {dims})")
        rest = [-1 if d == BATCH else d for d in rest]
        if rest == [size] or rest == [-1]:
            self.values[node.output[0]] = self.add("Flatten", {"start_dim": 1}, [source], node)
        else:
            self.values[node.output[0]] = self.add("Reshape", {"shape": rest}, [source], node)

    def _op_Transpose(self, node, ins) -> None:
        perm = list(self.attrs(node).get("perm", []))
        source = ins[0]
        if isinstance(source, Block) and perm == [1, 0, 2]:
            self.values[node.output[0]] = SeqFirst(source)
        elif isinstance(source, SeqFirst) and perm == [1, 0, 2]:
            self.values[node.output[0]] = source.block
        elif isinstance(source, RnnOutput) and perm == [0, 2, 1, 3]:
            self.values[node.output[0]] = RnnOutput(source.block, source.directions, "transposed")
        elif isinstance(source, Block) and perm and perm[0] == 0:
            self.values[node.output[0]] = self.add("Permute", {"dims": perm}, [source], node)
        else:
            self.refuse(node, f"moves the batch dimension (perm {perm})")

    def _op_Squeeze(self, node, ins) -> None:
        axes = self.attrs(node).get("axes") or (self.const(node.input[1]).tolist() if len(node.input) > 1 else None)
        source = ins[0]
        if isinstance(source, RnnOutput) and source.directions == 1 and axes == [1]:
            self.values[node.output[0]] = SeqFirst(source.block)
        elif isinstance(source, LastStep) and axes == [1]:
            self.values[node.output[0]] = source.block
        else:
            self.refuse(node, f"squeezes axes {axes}")

    def _op_Gather(self, node, ins) -> None:
        index = self.const(node.input[1])
        axis = int(self.attrs(node).get("axis", 0))
        if isinstance(ins[0], Block) and index is not None and index.ndim == 0 and axis == 1 \
                and self._take_last_step(ins[0], int(index)):
            self.values[node.output[0]] = ins[0]
            return
        self.refuse(node, "only taking an RNN's last step is supported")

    def _op_Slice(self, node, ins) -> None:
        starts, ends = self.const(node.input[1]), self.const(node.input[2])
        axes = self.const(node.input[3]) if len(node.input) > 3 and node.input[3] else None
        if isinstance(ins[0], Block) and starts is not None and ends is not None and axes is not None \
                and axes.tolist() == [1] and self._is_last(ins[0], int(starts[0]), int(ends[0])):
            self.values[node.output[0]] = LastStep(ins[0])
            return
        self.refuse(node, "only taking an RNN's last step is supported")

    def _is_last(self, block: Block, start: int, end: int) -> bool:
        length = self.shape(block)[0]
        return (start == -1 or start == length - 1) and end >= length and self._take_last_step(block, -1)

    def _take_last_step(self, block: Block, index: int) -> bool:
        node = self.graph.node(block.node_id)
        if node.type not in ("RNN", "LSTM", "GRU") or node.params["output"] != "sequence" \
                or self.graph.output_edges(node.id):
            return False
        length = self.shape(block)[0]
        if index not in (-1, length - 1):
            return False
        self.graph.set_param(node.id, "output", "last")
        self._report = None
        return True

    # ----- recurrent layers

    def _op_LSTM(self, node, ins) -> None:
        self._rnn(node, ins, "LSTM", LSTM_GATES, 4)

    def _op_GRU(self, node, ins) -> None:
        if not self.attrs(node).get("linear_before_reset", 0):
            return self.refuse(node, "GRU with linear_before_reset=0 differs from PyTorch's GRU")
        self._rnn(node, ins, "GRU", GRU_GATES, 3)

    def _rnn(self, node, ins, layer: str, gates: list[int], count: int) -> None:
        a = self.attrs(node)
        source = ins[0]
        if a.get("layout", 0) == 1 and isinstance(source, Block):
            source = SeqFirst(source)
        weights = [self.const(name) if name else None for name in list(node.input)[1:4]]
        if not isinstance(source, SeqFirst) or weights[0] is None or weights[1] is None:
            return self.refuse(node, "needs a (sequence, batch, features) input and constant weights")
        if len(node.input) > 4 and node.input[4]:
            return self.refuse(node, "sequence lengths are not supported")
        for extra in list(node.input)[5:]:
            state = self.values.get(extra) if extra else None
            if extra and not isinstance(state, BatchZeros) and not (isinstance(state, np.ndarray) and not state.any()):
                return self.refuse(node, "only zero initial states are supported")
        if any(self.uses.get(name) for name in list(node.output)[1:] if name):
            return self.refuse(node, "its final hidden state output is used")
        hidden = int(a["hidden_size"])
        direction = a.get("direction", b"forward").decode()
        if direction == "reverse":
            return self.refuse(node, "a backward-only RNN has no block")
        dirs = 2 if direction == "bidirectional" else 1
        default = ([b"Sigmoid", b"Tanh", b"Tanh"] if layer == "LSTM" else [b"Sigmoid", b"Tanh"]) * dirs
        if a.get("activations") not in (None, default):
            return self.refuse(node, f"activations {a['activations']} differ from PyTorch's {layer}")
        W, R, B = weights[0], weights[1], weights[2]

        def reorder(matrix: np.ndarray) -> np.ndarray:
            return np.concatenate([matrix[g * hidden:(g + 1) * hidden] for g in gates])

        state = {}
        for d in range(dirs):
            suffix = "_l0" + ("_reverse" if d else "")
            state[f"weight_ih{suffix}"] = reorder(W[d])
            state[f"weight_hh{suffix}"] = reorder(R[d])
            bias = B[d] if B is not None else np.zeros(2 * count * hidden, np.float32)
            state[f"bias_ih{suffix}"] = reorder(bias[: count * hidden])
            state[f"bias_hh{suffix}"] = reorder(bias[count * hidden:])
        block = self.add(layer, {"hidden_size": hidden, "bidirectional": dirs == 2}, [source.block], node, state)
        self.values[node.output[0]] = RnnOutput(block, dirs)


def import_onnx(path: str | os.PathLike) -> Imported:
    """Read an ONNX file into a Graph and its weights, checked against onnxruntime on the file itself.
    OnnxImportError names every problem; nothing is written here."""
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except FileNotFoundError:
        raise OnnxImportError(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001 - protobuf decode errors, checker errors, ...
        raise OnnxImportError(f"{path} is not a valid ONNX model ({first_line(e)[:200]})") from None
    importer = _Importer(model, str(path))
    importer.run()
    if importer.unsupported:
        raise OnnxImportError(f"{path.name}: netbuilder has no block for "
                              f"{len(importer.unsupported)} operator(s): {'; '.join(importer.unsupported)}")
    graph, state = importer.graph, importer.state
    apply_layout(graph)
    add_groups(graph, groups_from_scopes(importer.scopes))
    try:
        module = compile_graph(graph)
        apply_state(module, state, path.name)
    except (CompileError, ValueError) as e:
        raise OnnxImportError(f"{path.name}: the imported graph does not work: {e}") from None
    return Imported(graph, state, _parity(path, graph, module))


def _parity(path: Path, graph: Graph, module: torch.nn.Module) -> float:
    import onnxruntime

    from .onnx_export import max_abs_diff, sample_inputs

    module.eval()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = sample_inputs(graph, module, batch=2, seed=3)
    names = [i.name for i in session.get_inputs()]
    got = session.run(None, dict(zip(names, (t.numpy() for t in inputs))))
    with torch.no_grad():
        diff = max_abs_diff(got, module(*inputs))
    if not diff < TOLERANCE:
        raise OnnxImportError(f"{path.name}: the imported graph differs from onnxruntime by {diff:.3g}")
    return diff


def import_onnx_file(path: str | os.PathLike, graph_path: str | os.PathLike) -> Imported:
    """Import and write GRAPH.json with its weights beside it (GRAPH.pt, referenced by the graph's meta)."""
    imported = import_onnx(path)
    graph_path = Path(graph_path)
    weights_path = graph_path.with_suffix(".pt")
    imported.graph.meta["weights"] = weights_path.name
    module = compile_graph(imported.graph)
    apply_state(module, imported.state, str(path))
    save_weights(module, weights_path)
    atomic_write_text(graph_path, json.dumps(imported.graph.to_dict(), indent=1) + "\n")
    return imported
