"""The walk over an ONNX graph: constants are folded, every other node becomes blocks through its handler.

Values: a constant is a numpy array (or `Batched`), a tensor computed by blocks is a `View` of a block's
output (views.py), a node that could not be imported leaves a `Refused`. Handlers (ops/) read their
node's inputs, make blocks with `add`, and return the values of the node's outputs.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from ...base.errors import first_line
from ...checks.shapes import clashes_with_torch, evaluate_block
from ...model.graph import Graph, GraphError
from . import views
from .folding import Batched, fold
from .reading import ModelFile
from .refusals import OnnxImportError, Refusal, Refusals, Refused, inferred
from .views import View


@dataclass(frozen=True)
class Port:
    """An output port of a block."""

    node_id: str
    port: str = "out"


@dataclass
class Canonical:
    """A view as one block output, batch first, the other axes in the view's order: `axes[j]` is where ONNX
    axis j went (torch numbering, the batch is 0), None for an axis that was the batch alone. `side` says
    where the batch sat in its ONNX axis: "alone", "first" or "last" (merged with others), or "middle"."""

    port: Port
    axes: list[int | None]
    batch_axis: int
    side: str

    def without(self, onnx_axis: int) -> Canonical:
        """The layout after an operator removed an ONNX axis (and its block axis)."""
        gone = self.axes[onnx_axis]
        axes = [a - (a > gone) if a is not None else None for i, a in enumerate(self.axes) if i != onnx_axis]
        return Canonical(self.port, axes, self.batch_axis - (self.batch_axis > onnx_axis), self.side)


class OnnxNode:
    """One ONNX node as its handler sees it: inputs as values, attributes as Python values."""

    def __init__(self, proto, values: dict, opset: int, aliases: dict | None = None) -> None:
        from onnx import helper

        self.proto, self.op, self.opset = proto, proto.op_type, opset
        self.aliases = aliases or {}
        self.label = proto.name or (proto.output[0] if proto.output else "?")
        self.ins = [values.get(name) if name else None for name in proto.input]
        self.attrs = {}
        for a in proto.attribute:
            value = helper.get_attribute_value(a)
            if isinstance(value, list):
                value = [v.decode() if isinstance(v, bytes) else v for v in value]
            self.attrs[a.name] = value.decode() if isinstance(value, bytes) else value

    def attr(self, name: str, default=None):
        return self.attrs.get(name, default)

    def input(self, i: int):
        return self.ins[i] if i < len(self.ins) else None

    def const(self, i: int) -> np.ndarray | None:
        value = self.input(i)
        return value if isinstance(value, np.ndarray) else None

    def view(self, i: int = 0) -> View:
        value = self.input(i)
        if not isinstance(value, View):
            raise Refusal("its input is not computed by the network" if value is not None else "an input is missing")
        return value

    def weight_name(self, i: int) -> str | None:
        return self.proto.input[i] if i < len(self.proto.input) and self.proto.input[i] else None

    def weight_source(self, i: int) -> str | None:
        """The initializer an input is, through the Identity nodes an exporter puts on weights it deduplicated
        (one initializer for equal tensors: the layers of a TransformerEncoder start alike)."""
        name = self.weight_name(i)
        return self.aliases.get(name, name) if name else None


def block_name(raw: str) -> str:
    name = re.sub(r"\W", "_", raw).strip("_")
    return name if name and not name[0].isdigit() else f"n_{name}"


class Importer:
    def __init__(self, file: ModelFile) -> None:
        self.file = file
        self.graph = Graph({"title": file.path.stem, "description": f"imported from {file.path.name}"})
        self.state: dict[str, torch.Tensor] = {}
        self.values: dict[str, object] = {}
        self.refusals = Refusals()
        self.shapes: dict[str, object] = {}  # node id -> NodeShapes
        self.weight_users: dict[str, tuple[str, str]] = {}  # initializer -> (ONNX node, block id) holding it
        self.scopes: dict[str, str] = {}  # block id -> the exporter's name of its node (its module scope)
        self.later: list[tuple[str, str, str]] = []  # (owner, block, node): sharing decided after the walk
        self.aliases: dict[str, str] = {}  # an Identity's output -> the initializer it passes on
        self._read = {id(array) for array in file.weights.values()}  # the initializers read apart (wire.py)

    @property
    def batch(self) -> int:
        return self.file.batch

    # ----- blocks

    def add(self, layer: str, params: dict, sources: list, node: OnnxNode | None, weights: dict | None = None,
            hint: str | None = None, shares: str | None = None) -> Port:
        """A block fed by `sources` (Ports, in its input ports' order), its weights (key -> array; "" for a
        block whose weight is a tensor of its own). `shares`: the initializer of its main weight: a block made
        earlier from the same initializer lends it its weights (one tensor, as in the file: a Siamese tower, a
        discriminator applied twice). Refusal when the block cannot work on these inputs."""
        owner = self._owner(shares, node, layer, weights or {}) if shares is not None else None
        created = self.graph.add_node(layer, params, name=self._name(node, hint))
        try:
            if owner is not None and owner.params != created.params:
                # as made so far (its bias may come with the next node): decided once the walk is over
                self.later.append((owner.id, created.id, node.label if node is not None else "?"))
                owner = None
            elif owner is not None:
                self.graph.set_setting(created.id, "shares", owner.id)
            for source, port in zip(sources, created.input_ports()):
                self.graph.connect(source.node_id, created.id, src_port=source.port, dst_port=port)
            info = self._infer(created.id)
        except (GraphError, Refusal):
            self.graph.remove_node(created.id)
            raise
        self.scopes[created.id] = (node.proto.name if node is not None else "") or ""
        if owner is None:
            for key, value in (weights or {}).items():
                self.state[f"{created.name}.{key}" if key else created.name] = self._tensor(
                    value, np.int64 if key == "num_batches_tracked" else np.float32)
            if shares is not None:
                self.weight_users.setdefault(shares, (node.label if node is not None else "?", created.id))
        return Port(created.id, next(iter(info.outputs), "out"))

    def share_later(self) -> None:
        """Blocks made from the same initializer as an earlier block, but with other settings while they were made
        (a MatMul's bias added by the next node): shared now if they became the same, refused if not."""
        for owner_id, block_id, label in self.later:
            owner, block = self.graph.node(owner_id), self.graph.node(block_id)
            own = {k[len(block.name) + 1:]: v for k, v in self.state.items() if k.startswith(f"{block.name}.")}
            theirs = {k[len(owner.name) + 1:]: v for k, v in self.state.items() if k.startswith(f"{owner.name}.")}
            if owner.type != block.type or owner.params != block.params or own.keys() != theirs.keys() or \
                    not all(torch.equal(own[k], theirs[k]) for k in own):
                self.refusals.add(block.type, label,
                                  f"uses weights of {owner.name} in part (another bias or other settings): a block "
                                  "shares all of another block's weights or none")
                continue
            for key in own:
                del self.state[f"{block.name}.{key}"]
            self.graph.set_setting(block.id, "shares", owner.id)

    def _tensor(self, value, dtype) -> torch.Tensor:
        """A weight as a tensor of its own; an initializer as read from the file (wire.py: an array of its own,
        aligned) is used as it is, not copied: the import never changes an array in place."""
        if id(value) in self._read and value.dtype == dtype and value.flags.c_contiguous:
            return torch.from_numpy(value)
        return torch.from_numpy(np.array(value, dtype=dtype, copy=True))

    def _owner(self, initializer: str, node: OnnxNode | None, layer: str, weights: dict):
        """The block that already holds this initializer's weights, when this node uses the same ones; None
        for the first user. Refusal when the weights are only partly the same (a shared matrix, its own bias)."""
        array = self.values.get(initializer)
        first = self.weight_users.get(initializer)
        label = node.label if node is not None else "?"
        if first is None or first[0] == label or not isinstance(array, np.ndarray) or array.ndim < 2:
            return None
        owner = self.graph.node(first[1])
        same = owner.type == layer and all(
            f"{owner.name}.{key}" in self.state and np.array_equal(self.state[f"{owner.name}.{key}"].numpy(),
                                                                   np.asarray(value, dtype=np.float32))
            for key, value in weights.items() if key)
        if not same:
            raise Refusal(f"weights shared in part by nodes {first[0]} and {label}: a block shares all of another "
                          "block's weights or none")
        return owner

    def _infer(self, node_id: str):
        return inferred(self.graph, self.shapes, node_id)

    def refresh(self, node_id: str) -> None:
        """Recompute a block's shapes after a change of its params (a fused bias)."""
        self.shapes[node_id] = self._infer(node_id)

    def set_weight(self, port: Port, key: str, value: np.ndarray) -> None:
        name = self.graph.node(port.node_id).name
        self.state[f"{name}.{key}" if key else name] = self._tensor(value, np.float32)

    def weight(self, port: Port, key: str) -> np.ndarray:
        name = self.graph.node(port.node_id).name
        return self.state[f"{name}.{key}" if key else name].numpy()

    def shape_of(self, port: Port) -> tuple[int, ...]:
        return self.shapes[port.node_id].outputs[port.port]

    def dtype_of(self, port: Port) -> str:
        return self.shapes[port.node_id].dtypes[port.port]

    def consumers(self, port: Port) -> int:
        return sum(1 for e in self.graph.output_edges(port.node_id) if e.src_port == port.port)

    def _name(self, node: OnnxNode | None, hint: str | None) -> str | None:
        scopes = [s for s in ((node.proto.name if node else "") or "").split("/") if s][:-1]
        candidates = [hint] if hint else []
        if scopes:
            candidates += [block_name(scopes[-1]), block_name("_".join(scopes[-2:]))]
        for candidate in candidates:
            if self.graph.name_is_free(candidate) and not clashes_with_torch(candidate):
                return candidate
        return None  # the graph's own naming: conv1, relu2, ...

    # ----- views

    def view_of(self, port: Port) -> View:
        return views.plain(port, self.shape_of(port), self.batch, self.dtype_of(port))

    def block(self, view: View, node: OnnxNode | None = None) -> Port:
        """The view as a block output that is exactly the ONNX tensor (batch first); Refusal if its batch
        is elsewhere."""
        canon = self.canonical(view, node)
        if canon.batch_axis != 0 or canon.side != "alone":
            raise Refusal(f"needs the batch first, gets a tensor with the batch at axis {canon.batch_axis}")
        return canon.port

    def canonical(self, view: View, node: OnnxNode | None = None) -> Canonical:
        """The view as one block output, batch first, the other axes in the view's order (blocks: a Reshape
        to cut axes, a Permute to reorder, a Reshape to merge), made once per view."""
        if "canonical" in view.cache:
            return view.cache["canonical"]
        batch = view.batch
        grouped = {id(a) for g in view.groups for a in g}
        live = [[a for a in axis if id(a) in grouped or a is batch] for axis in view.axes]
        order = [a for axis in live for a in axis]
        wanted = [batch] + [a for g in view.groups for a in g if a is not batch]
        axes, dims = [], []
        for g in view.groups:
            rest = [a for a in g if a is not batch]
            if batch in g and not rest:
                axes.append(None)
                continue
            dims.append(math.prod(a.size for a in rest))
            axes.append(len(dims))
        j = view.batch_axis()
        group = [a for a in view.groups[j] if a.size != 1 or a is batch]
        side = "alone" if group == [batch] else "first" if group[0] is batch else "last" if group[-1] is batch \
            else "middle"
        port = view.port if view.is_plain() else self._materialize(view, live, order, wanted, dims)
        canon = view.cache["canonical"] = Canonical(port, axes, j, side)
        return canon

    def _materialize(self, view: View, live, order, wanted, dims) -> Port:
        """Blocks named after an nn.Flatten that made the tensor, else by the graph (reshape1, permute1): the
        scope of a Transpose inside an LSTM or an attention layer is that layer's name, not theirs."""
        node = view.origin if view.origin is not None and view.origin.op == "Flatten" else None
        port = view.port
        shuffle = self._channel_shuffle(view, live, dims)
        if shuffle:
            return self.add("ChannelShuffle", {"groups": shuffle}, [port], node)
        perm = [order.index(a) for a in wanted]
        if perm != list(range(len(perm))):  # cut the axes, reorder them, merge them again
            cut = [a.size for a in order[1:]]
            if cut != list(self.shape_of(port)):
                port = self.add("Reshape", {"shape": cut}, [port], node)
            port = self.add("Permute", {"dims": perm}, [port], node)
        if dims != list(self.shape_of(port)):
            port = self.add("Flatten", {"start_dim": 1}, [port], node) if len(dims) == 1 else \
                self.add("Reshape", {"shape": dims}, [port], node)
        return port

    @staticmethod
    def _channel_shuffle(view: View, live, dims) -> int | None:
        """Channels cut into groups x per-group, swapped and merged again: ShuffleNet's channel shuffle."""
        if len(live) < 2 or len(live[1]) != 2 or len(view.groups) != len(live):
            return None
        first, second = live[1]
        same_rest = all(g == a for g, a in zip(view.groups[2:], live[2:]))
        if view.groups[0] == live[0] and view.groups[1] == [second, first] and same_rest:
            return first.size
        return None

    def rewrap(self, port: Port, canon: Canonical) -> View:
        """A block output laid out as `canon` says (batch first, ONNX axes in order) seen as the ONNX tensor."""
        shape = self.shape_of(port)
        batch = views.Atom(self.batch)
        atoms = [views.Atom(d) for d in shape]
        groups = []
        for j, axis in enumerate(canon.axes):
            own = [atoms[axis - 1]] if axis is not None else []
            if j == canon.batch_axis:
                if canon.side == "middle":
                    raise Refusal("merges the batch with axes on both sides of it")
                own = own + [batch] if canon.side == "last" else [batch] + own
            groups.append(own)
        return views.simplify(View(port, [[batch]] + [[a] for a in atoms], groups, self.dtype_of(port)))

    def unary(self, view: View, layer: str, params: dict, node: OnnxNode, weights: dict | None = None) -> View:
        """An elementwise block: it runs on the view's block output as it is, whatever the view's order."""
        port = self.add(layer, params, [view.port], node, weights)
        return View(port, view.axes, view.groups, self.dtype_of(port))

    # ----- the walk

    def run(self, handler_for) -> None:
        """Walk the graph; handler_for(node) gives each node's handler (ops/), or raises Refusal."""
        from .patterns import fuse

        graph = self.file.model.graph
        for init in graph.initializer:
            self.values[init.name] = self.file.initializer(init)
        for proto in graph.node:  # weights passed on by Identity nodes keep their initializer's name for sharing
            if proto.op_type == "Identity" and proto.input and (proto.input[0] in self.values or
                                                                 proto.input[0] in self.aliases):
                self.aliases[proto.output[0]] = self.aliases.get(proto.input[0], proto.input[0])
        for spec in self.file.inputs:
            # the file's model takes its inputs as they come: training it further must not normalize them again
            node = self.graph.add_node("Input", {"shape": spec.shape, "dtype": spec.dtype, "normalize": "none"},
                                       name=self._free(block_name(spec.name)))
            info = evaluate_block(node, [])
            if info.error:  # an input no block can take: the whole file is refused, naming the input
                raise OnnxImportError(f"{self.file.path.name}: input {spec.name!r}: {info.error}")
            self.shapes[node.id] = info
            self.values[spec.name] = self.view_of(Port(node.id))
        for proto in fuse(list(graph.node), self.values, {o.name for o in graph.output}):
            node = OnnxNode(proto, self.values, self.file.opset, self.aliases)
            refused = [v for v in node.ins if isinstance(v, Refused)]
            try:
                if refused:
                    outputs = [self.refusals.depends(refused[0])] * len(proto.output)
                else:
                    outputs = self._outputs(node, handler_for)
            except (Refusal, GraphError) as e:
                reason = e.reason if isinstance(e, Refusal) else str(e)
                outputs = [self.refusals.add(node.op, node.label, reason)] * len(proto.output)
            except (ValueError, TypeError, KeyError, IndexError) as e:  # a node unlike any we were shown
                reason = f"netbuilder could not read it ({type(e).__name__}: {first_line(e)[:100]}); please report this"
                outputs = [self.refusals.add(node.op, node.label, reason)] * len(proto.output)
            for name, value in zip(proto.output, outputs):
                if name:
                    self.values[name] = value
        if self.refusals:
            return
        for value in graph.output:
            produced = self.values.get(value.name)
            if not isinstance(produced, View):
                self.refusals.add("output", value.name, "is not computed by the network (a constant?)")
                continue
            try:
                port = self.block(produced)
            except Refusal as e:
                self.refusals.add("output", value.name, e.reason)
                continue
            out = self.graph.add_node("Output", name=self._free(block_name(value.name)))
            self.graph.connect(port.node_id, out.id, src_port=port.port)

    def _free(self, wanted: str) -> str | None:
        return wanted if self.graph.name_is_free(wanted) and not clashes_with_torch(wanted) else None

    def _outputs(self, node: OnnxNode, handler_for) -> list:
        present = [v for v, name in zip(node.ins, node.proto.input) if name]
        unmade = next((v for v in present if isinstance(v, Unmade)), None)
        if unmade is not None:
            raise Refusal(f"reads output {unmade.index + 1} of a {unmade.op} node, which netbuilder does not make")
        if all(isinstance(v, (np.ndarray, Batched)) for v in present) and (present or node.op == "Constant"):
            return fold(node.proto, node.ins, self.file.opset)
        result = handler_for(node)(self, node)
        if isinstance(result, list):
            return result
        return [result] + [Unmade(node.op, k) for k in range(1, len(node.proto.output))]


@dataclass(frozen=True)
class Unmade:
    """An output of a node that its handler does not make (Dropout's mask, MaxPool's indices)."""

    op: str
    index: int

