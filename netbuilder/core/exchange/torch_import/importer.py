"""The walk over an ExportedProgram's graph: each ATen operator through its family's handler (ops/), each call
of a module that exports as many operators (attention, transformer layers) through its reader, constants folded.

Values are described in values.py. Handlers read their node's arguments as values, make blocks with `add`,
and return the values of the node's outputs. A node that cannot become a block leaves a `Refused`, and the
nodes that depend on it are only counted (refusals.py of the ONNX import: one line per root cause).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ...base.errors import first_line
from ...checks.shapes import clashes_with_torch, evaluate_block
from ...model.graph import Graph, GraphError
from ..onnx_import.refusals import Refusal, Refusals, Refused, inferred
from . import naming
from .naming import op_name
from .values import BATCH, FROM_BATCH, Batched, Param, Port, Val, is_constant, plain

DTYPES = {torch.float32: "float32", torch.int64: "int64"}
PASS_THROUGH = {"aten.contiguous.default", "aten.clone.default", "aten.alias.default", "aten.detach.default",
                "aten.lift_fresh_copy.default", "aten._assert_tensor_metadata.default"}
FACTORIES = {"aten.zeros.default", "aten.ones.default", "aten.full.default", "aten.empty.memory_format",
             "aten.new_zeros.default", "aten.new_ones.default", "aten.new_full.default"}


@dataclass
class InputSpec:
    name: str
    shape: list[int]  # without the batch
    dtype: str


class OpNode:
    """One operator as its handler sees it: its arguments as values, its output's shape, where it came from."""

    def __init__(self, imp: Importer, fx_node, args: tuple, kwargs: dict) -> None:
        self.imp, self.fx = imp, fx_node
        self.op = op_name(fx_node)
        self.args, self.kwargs = args, kwargs
        self.origin = imp.origin_of(fx_node)

    def arg(self, index: int, name: str | None = None, default=None):
        if index < len(self.args):
            return self.args[index]
        return self.kwargs.get(name, default) if name else default

    def val(self, index: int = 0, name: str | None = None) -> Val:
        value = self.arg(index, name)
        if not isinstance(value, Val):
            raise Refusal("its input is not computed by the network" if value is not None else "an input is missing")
        return value

    @property
    def shape(self) -> tuple:
        return self.imp.meta_shape(self.fx)

    @property
    def label(self) -> str:
        return self.imp.label(self.fx)


class Importer:
    def __init__(self, program, title: str, module: torch.nn.Module | None = None,
                 conventions: naming.Conventions | None = None, own_files: set[str] | None = None,
                 where=None) -> None:
        self.program, self.module = program, module
        self.conventions = conventions or naming.Conventions()
        self.own_files = own_files
        self.where = where  # fx node -> a label for messages (the code view: "line 12")
        self.graph = Graph({"title": title, "description": f"imported from {title}"})
        self.state: dict[str, torch.Tensor] = {}
        self.values: dict[object, object] = {}  # fx node -> value
        self.refusals = Refusals()
        self.shapes: dict[str, object] = {}  # block id -> NodeShapes
        self.inputs: list[InputSpec] = []
        self.owners: dict[str, str] = {}  # parameter name -> id of the block holding it
        self.groups: dict[str, str] = {}  # block id -> group name
        self.parameters: set[str] = set()  # state_dict names of the parameters (not buffers)
        self.trainable: set[str] = set()  # of those, the ones that train (requires_grad)
        self.batch_expr = None  # the batch size's symbol, when it is dynamic
        self.static_batch: int | None = None
        self._origins: dict[object, naming.Origin] = {}
        self.regions: dict[object, object] = {}  # fx node -> the Region it belongs to (attention and the like)
        self.normalization: dict[str, dict] = {}  # Input name -> {"mean": tensor, "std": tensor} it normalizes by

    # ----- where nodes came from

    def origin_of(self, fx_node) -> naming.Origin:
        if fx_node not in self._origins:
            self._origins[fx_node] = naming.origin(fx_node, self.own_files)
        return self._origins[fx_node]

    def label(self, fx_node) -> str:
        if self.where is not None:
            return self.where(fx_node)
        found = self.origin_of(fx_node)
        path = found.innermost.path if found.innermost else ""
        return f"{fx_node.name}" + (f" in {path}" if path else "") + (f", line {found.line}" if found.line else "")

    def live(self, call: naming.Call) -> torch.nn.Module | None:
        """The module instance of a call, when the import has the live model (a .py file) rather than a file."""
        if self.module is None:
            return None
        try:
            return self.module.get_submodule(call.path)
        except AttributeError:
            return None

    def region_op(self, region) -> OpNode:
        """An OpNode standing for a whole module call: its blocks are named and grouped after the module."""
        node = OpNode(self, region.nodes[-1], (), {})
        calls = node.origin.calls
        keep = next(i for i, c in enumerate(calls) if c.key == region.call.key)
        node.origin = naming.Origin(calls[:keep + 1], node.origin.file, node.origin.line, node.origin.target)
        return node

    def meta_shape(self, fx_node) -> tuple:
        value = fx_node.meta.get("val")
        if not isinstance(value, torch.Tensor):
            raise Refusal("its result is not one tensor")
        return tuple(self.dim(d) for d in value.shape)

    def dim(self, d):
        if isinstance(d, torch.SymInt):
            expr = d.node.expr
            if self.batch_expr is not None and expr == self.batch_expr:
                return BATCH
            if getattr(expr, "is_number", False):
                return int(expr)
            raise Refusal(f"a size depends on the inputs' sizes other than the batch ({expr})")
        return int(d)

    def is_batch(self, d) -> bool:
        return d is BATCH or (self.static_batch is not None and d == self.static_batch)

    # ----- blocks

    def add(self, layer: str, params: dict, sources: list[Port], node: OpNode | None, weights: dict | None = None,
            shares: Param | None = None, name: str | None = None) -> Port:
        """A block fed by `sources` (Ports, in its input ports' order) with its weights ({key: tensor or Param};
        "" for a block whose weight is a tensor of its own). `shares`: the parameter that is its main weight: a
        block made earlier from it lends this one its weights (a module called twice). Refusal when the block
        cannot work on these inputs."""
        owner = self._owner(shares, layer, params) if shares is not None else None
        settings = {"shares": owner.id} if owner is not None else {}
        parameters = [w for w in (weights or {}).values() if isinstance(w, Param) and w.name in self.parameters]
        if owner is None and parameters and not any(w.name in self.trainable for w in parameters):
            settings["frozen"] = True  # requires_grad_(False): a frozen body
        created = self.graph.add_node(layer, params, name=name or self._name(node, layer, owner is not None),
                                      settings=settings or None)
        try:
            for source, port in zip(sources, created.input_ports()):
                self.graph.connect(source.node_id, created.id, src_port=source.port, dst_port=port)
            info = self._infer(created.id)
        except (GraphError, Refusal):
            self.graph.remove_node(created.id)
            raise
        if node is not None:
            group = naming.group_of(node.origin)
            if group:
                self.groups[created.id] = group
        if owner is None:
            for key, value in (weights or {}).items():
                tensor = value.tensor if isinstance(value, Param) else value
                self.state[f"{created.name}.{key}" if key else created.name] = torch.as_tensor(tensor).detach().clone()
            if shares is not None:
                self.owners.setdefault(shares.name, created.id)
        return Port(created.id, next(iter(info.outputs), "out"))

    def _owner(self, shares: Param, layer: str, params: dict):
        owner_id = self.owners.get(shares.name)
        if owner_id is None:
            return None
        owner = self.graph.node(owner_id)
        if owner.type != layer or owner.params != {**owner.params, **params}:
            raise Refusal(f"it uses the weights of {owner.name} ({shares.name}) with other settings")
        return owner

    def _name(self, node: OpNode | None, layer: str, second: bool) -> str | None:
        """The module's path for a torch.nn module's operator, else the name the line of code gives it."""
        if node is None:
            return None
        found = node.origin
        call = found.innermost
        candidates = []
        if call is not None and call.is_torch and not second:
            candidates.append(naming.module_name(call.path, call.index))
        if found.target and found.line is not None and self._last_on_line(node.fx):
            candidates.append(found.target if call is None or call.is_torch else
                              naming.module_name(f"{call.path}.{found.target}"))
        if call is not None and call.is_torch and second:
            candidates.append(naming.module_name(call.path, call.index))
        for candidate in candidates:
            if self.graph.name_is_free(candidate) and not clashes_with_torch(candidate):
                return candidate
        return None  # the graph's own naming: conv1, relu2, ...

    def _last_on_line(self, fx_node) -> bool:
        """Whether no later operator comes from the same line of the user's code (`y = (a - b).abs()` names
        the Abs, not the Subtract)."""
        found = self.origin_of(fx_node)
        return self.last_on_line.get((found.file, found.line)) is fx_node

    def _infer(self, node_id: str):
        return inferred(self.graph, self.shapes, node_id)

    def refresh(self, node_id: str) -> None:
        self.shapes[node_id] = self._infer(node_id)

    def shape_of(self, port: Port) -> tuple[int, ...]:
        return self.shapes[port.node_id].outputs[port.port]

    def shape_of_port(self, node_id: str, port: str) -> tuple[int, ...]:
        return self.shapes[node_id].outputs[port]

    def dtype_of(self, port: Port) -> str:
        return self.shapes[port.node_id].dtypes[port.port]

    def val(self, port: Port) -> Val:
        return plain(port, len(self.shape_of(port)) + 1)

    def port(self, value: Val, node: OpNode | None = None) -> Port:
        """The value as a block output in torch's own order, batch first: a Permute block where its axes are
        another order of the block's."""
        if value.plain:
            return value.port
        if value.axes[0] != 0:
            raise Refusal(f"needs the batch first, gets a tensor with the batch at axis {value.batch_axis}")
        key = ("permuted", value)
        if key not in self.values:
            self.values[key] = self.add("Permute", {"dims": list(value.axes)}, [value.port], node)
        return self.values[key]

    def unary(self, value: Val, layer: str, params: dict, node: OpNode, weights: dict | None = None) -> Val:
        """An elementwise block: it runs on the value's block output as it is, whatever torch's order."""
        return Val(self.add(layer, params, [value.port], node, weights), value.axes)

    # ----- the walk

    def run(self, handlers: dict, readers: dict) -> None:
        """Walk the graph with the operator handlers and module readers of ops/."""
        from .regions import find_regions

        program = self.program
        graph = program.graph
        self._read_placeholders()
        self.regions = find_regions(graph, self, readers)
        self.last_on_line = {}
        for fx_node in graph.nodes:
            if fx_node.op == "call_function":
                found = self.origin_of(fx_node)
                if found.line is not None:
                    self.last_on_line[(found.file, found.line)] = fx_node
        for fx_node in graph.nodes:
            if fx_node.op != "call_function":
                continue
            region = self.regions.get(fx_node)
            if region is not None:
                if fx_node is region.nodes[-1]:
                    self._region(region, readers)
                continue
            args = self._resolve(fx_node.args)
            kwargs = {k: self._resolve(v) for k, v in fx_node.kwargs.items()}
            self.values[fx_node] = self._evaluate(fx_node, args, kwargs, handlers)
        if not self.refusals:
            self._outputs()

    def _read_placeholders(self) -> None:
        from torch.export.graph_signature import InputKind

        program = self.program
        state, constants = program.state_dict, program.constants
        kinds = {spec.arg.name: spec for spec in program.graph_signature.input_specs if hasattr(spec.arg, "name")}
        self.parameters = {spec.target for spec in kinds.values() if spec.kind == InputKind.PARAMETER}
        self.trainable = {name for name in self.parameters if state[name].requires_grad}
        users = [n for n in program.graph.nodes if n.op == "placeholder" and kinds[n.name].kind == InputKind.USER_INPUT]
        for node in users:  # the batch size: dynamic (a symbol) or fixed
            value = node.meta.get("val")
            if isinstance(value, torch.Tensor) and value.dim() >= 1:
                first = value.shape[0]
                if isinstance(first, torch.SymInt):
                    self.batch_expr = first.node.expr
                else:
                    self.static_batch = int(first)
                break
        for node in program.graph.nodes:
            if node.op != "placeholder":
                continue
            spec = kinds[node.name]
            if spec.kind in (InputKind.PARAMETER, InputKind.BUFFER):
                tensor = state[spec.target] if spec.target in state else constants[spec.target]
                self.values[node] = Param(spec.target, tensor)
            elif spec.kind == InputKind.CONSTANT_TENSOR:
                self.values[node] = constants[spec.target]
            elif spec.kind == InputKind.USER_INPUT:
                self.values[node] = self._input(node)
            else:
                self.values[node] = self.refusals.add("input", node.name, f"is a {spec.kind.name.lower()}, which "
                                                      "netbuilder cannot import")

    def _input(self, node) -> Val:
        value = node.meta.get("val")
        name = node.name
        if not isinstance(value, torch.Tensor) or value.dim() < 1:
            raise GraphError(f"input {name} is not a tensor with a batch dimension first")
        dtype = DTYPES.get(value.dtype)
        if dtype is None:
            raise GraphError(f"input {name} holds {str(value.dtype).removeprefix('torch.')} values (float32 and int64 "
                             "inputs have blocks)")
        shape = [self.dim(d) for d in value.shape[1:]]
        written = self.conventions.inputs.get(name, {})
        params = {"shape": shape, "dtype": dtype, "field": written.get("field", "x"),
                  "normalize": written.get("normalize", "none")}
        block = self.graph.add_node("Input", params, name=name if self.graph.name_is_free(name)
                                    and not clashes_with_torch(name) else None)
        self.shapes[block.id] = evaluate_block(block, [])
        self.inputs.append(InputSpec(name, shape, dtype))
        return plain(Port(block.id), len(shape) + 1)

    def _resolve(self, arg):
        from torch import fx

        if isinstance(arg, fx.Node):
            return self.values.get(arg)
        if isinstance(arg, (list, tuple)):
            return type(arg)(self._resolve(a) for a in arg)
        if isinstance(arg, torch.SymInt):
            return self.dim(arg)
        return arg

    def _evaluate(self, fx_node, args: tuple, kwargs: dict, handlers):
        flat = _flatten(args) + _flatten(list(kwargs.values()))
        refused = next((v for v in flat if isinstance(v, Refused)), None)
        if refused is not None:
            return self.refusals.depends(refused)
        node = None
        try:
            node = OpNode(self, fx_node, args, kwargs)
            if node.op in PASS_THROUGH:
                return args[0]
            if not isinstance(fx_node.target, torch._ops.OpOverload) and any(v is BATCH or v is FROM_BATCH
                                                                               for v in flat):
                return FROM_BATCH  # size arithmetic on the batch size (an attention's batch x heads)
            if all(is_constant(v) for v in flat) and not any(v is BATCH or isinstance(v, Batched) for v in flat):
                return _fold(fx_node, args, kwargs)
            if node.op in FACTORIES and any(v is BATCH for v in flat):
                return _batched_factory(fx_node, args, kwargs)
            if node.op not in handlers:
                node.op = _out_of_place(node.op)
            handler = handlers.get(node.op)
            if handler is None:
                raise Refusal("netbuilder has no block for this operator")
            return handler(self, node)
        except (Refusal, GraphError) as e:
            reason = e.reason if isinstance(e, Refusal) else str(e)
            return self.refusals.add(op_name(fx_node), self.label(fx_node), reason)
        except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as e:  # a node unlike any we were shown
            reason = f"netbuilder could not read it ({type(e).__name__}: {first_line(e)[:100]})"
            return self.refusals.add(op_name(fx_node), self.label(fx_node), reason)

    def _region(self, region, readers) -> None:
        inputs = [self.values.get(n) for n in region.inputs]
        refused = next((v for v in inputs if isinstance(v, Refused)), None)
        if refused is not None:
            results = {n: self.refusals.depends(refused) for n in region.outputs}
        else:
            try:
                results = readers[region.call.class_name](self, region)
            except (Refusal, GraphError) as e:
                reason = e.reason if isinstance(e, Refusal) else str(e)
                cause = self.refusals.add(region.call.class_name, f"{region.call.path}", reason)
                results = {n: cause for n in region.outputs}
        for fx_node in region.nodes:
            self.values[fx_node] = results.get(fx_node)
        self.values.update(results)

    def _outputs(self) -> None:
        output = next(n for n in self.program.graph.nodes if n.op == "output")
        results = output.args[0] if isinstance(output.args[0], (tuple, list)) else (output.args[0],)
        names = list(self.conventions.outputs)
        for i, fx_node in enumerate(results):
            value = self.values.get(fx_node)
            label = f"output {i + 1}"
            if not isinstance(value, Val):
                self.refusals.add("output", label, "is not computed by the network (a constant?)")
                continue
            try:
                port = self.port(value)
            except Refusal as e:
                self.refusals.add("output", label, e.reason)
                continue
            wanted = names[i] if i < len(names) else ("output" if len(results) == 1 else f"output{i + 1}")
            out = self.graph.add_node("Output", name=wanted if self.graph.name_is_free(wanted)
                                      and not clashes_with_torch(wanted) else None)
            self.graph.connect(port.node_id, out.id, src_port=port.port)


def _out_of_place(op: str) -> str:
    """aten.relu_.default -> aten.relu.default: an in-place operator (ReLU(inplace=True)) as the one it
    stands for (the check against the module's outputs would show the difference, were there one)."""
    parts = op.split(".")
    if len(parts) == 3 and parts[1].endswith("_") and not parts[1].startswith("_"):
        return ".".join([parts[0], parts[1][:-1], parts[2]])
    return op


def _flatten(values) -> list:
    out = []
    for v in values:
        if isinstance(v, (list, tuple)):
            out.extend(_flatten(v))
        else:
            out.append(v)
    return out


def _real(value):
    if isinstance(value, Param):
        return value.tensor.detach()
    if isinstance(value, (list, tuple)):
        return type(value)(_real(v) for v in value)
    return value


def _fold(fx_node, args, kwargs):
    """An operator on constants alone, computed now (a sinusoidal position table, a causal mask)."""
    with torch.no_grad():
        result = fx_node.target(*_real(args), **{k: _real(v) for k, v in kwargs.items()})
    return result


def _batched_factory(fx_node, args, kwargs):
    """zeros(1, batch, 5) (an RNN's first state): its values for one sample, and where the batch is."""
    size = args[0] if args and isinstance(args[0], (list, tuple)) else None
    if size is None:
        raise Refusal("makes a tensor from the batch size in a way netbuilder does not know")
    axis = next(i for i, d in enumerate(size) if d is BATCH)
    one = [1 if d is BATCH else d for d in size]
    with torch.no_grad():
        return Batched(fx_node.target(one, *args[1:], **kwargs), axis)
