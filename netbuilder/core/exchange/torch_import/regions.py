"""Module calls that export as many operators (multi-head attention, transformer layers, local response norm)
and become one block each: the nodes of one call of such a module, found by the call's key on the nodes'
module stacks (the outermost such call: a transformer layer's attention is part of the layer)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .naming import Call
from .values import Param


@dataclass
class Region:
    call: Call
    nodes: list = field(default_factory=list)  # fx nodes, in graph order
    inputs: list = field(default_factory=list)  # fx nodes outside it whose values it reads, in order of first use
    outputs: list = field(default_factory=list)  # its fx nodes whose values are read outside it

    def params(self, values: dict) -> dict[str, Param]:
        """Its module's parameters and buffers by their names within the module (`self_attn.in_proj_weight`)."""
        prefix = self.call.path + "."
        found = {}
        for fx_node in self.inputs:
            value = values.get(fx_node)
            if isinstance(value, Param) and value.name.startswith(prefix):
                found[value.name[len(prefix):]] = value
        return found

    def ops(self, *names: str) -> list:
        """Its operator nodes of the given ATen names (`aten.layer_norm.default`), in order."""
        from .naming import op_name

        return [n for n in self.nodes if op_name(n) in names]

    def tensor_inputs(self, values: dict) -> list:
        """The values it reads that are not its module's own parameters (the tensors it is called on)."""
        own = set(self.params(values).values())
        return [values.get(n) for n in self.inputs if values.get(n) not in own]


def find_regions(graph, imp, readers: dict) -> dict:
    """{fx node: its Region} for every node inside a call of a module that has a reader."""
    regions: dict[str, Region] = {}
    member = {}
    for fx_node in graph.nodes:
        if fx_node.op != "call_function" or not _tensors(fx_node.meta.get("val")):
            continue  # size arithmetic, shared by calls after it, is not part of a call
        call = next((c for c in imp.origin_of(fx_node).calls if c.is_torch and c.class_name in readers), None)
        if call is None:
            continue
        region = regions.setdefault(call.key, Region(call))
        region.nodes.append(fx_node)
        member[fx_node] = region
    for region in regions.values():
        inside = set(region.nodes)
        for fx_node in region.nodes:
            for source in fx_node.all_input_nodes:
                if source not in inside and source not in region.inputs:
                    region.inputs.append(source)
            if any(user not in inside for user in fx_node.users):
                region.outputs.append(fx_node)
    return member


def _tensors(value) -> bool:
    import torch

    if isinstance(value, (list, tuple)):
        return any(_tensors(v) for v in value)
    return isinstance(value, torch.Tensor)
