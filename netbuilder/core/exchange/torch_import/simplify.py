"""Tidying the imported graph where one block says what torch wrote as several operators: an RNN's last step
(`out[:, -1]`) as its output setting, `a + b + c` as one Add of three inputs, `x * f + o` as one Scale."""
from __future__ import annotations

from ..onnx_import.simplify import last_steps

CHAINS = ("Add", "Multiply")


def simplify(imp) -> None:
    last_steps(imp.graph, lambda node_id: imp.shape_of_port(node_id, "out"), imp.refresh)
    _chains(imp)
    _scales(imp)


def _only_consumer(graph, node_id: str, port: str = "out"):
    edges = [e for e in graph.output_edges(node_id) if e.src_port == port]
    return edges[0] if len(edges) == 1 else None


def _chains(imp) -> None:
    """An Add whose output only feeds another Add becomes part of it (the same for Multiply)."""
    graph = imp.graph
    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            if node.type not in CHAINS:
                continue
            edge = _only_consumer(graph, node.id)
            if edge is None or graph.node(edge.dst).type != node.type:
                continue
            outer = graph.node(edge.dst)
            wires = [e for e in graph.input_edges(outer.id)]
            inner = [e for e in graph.input_edges(node.id)]
            sources = []
            for e in wires:
                sources.extend((x.src, x.src_port) for x in inner) if e.src == node.id else sources.append(
                    (e.src, e.src_port))
            if len(sources) > 16:
                continue
            for e in wires:
                graph.disconnect(outer.id, e.dst_port)
            graph.remove_node(node.id)
            graph.set_param(outer.id, "inputs", len(sources))
            for (src, port), dst_port in zip(sources, outer.input_ports()):
                graph.connect(src, outer.id, src_port=port, dst_port=dst_port)
            imp.refresh(outer.id)
            changed = True
            break


def _scales(imp) -> None:
    """x * f then + o: one Scale."""
    graph = imp.graph
    for node in list(graph.nodes):
        if node.id not in graph or node.type != "Scale" or node.params["offset"] != 0.0:
            continue
        edge = _only_consumer(graph, node.id)
        if edge is None:
            continue
        after = graph.node(edge.dst)
        if after.type != "Scale" or after.params["factor"] != 1.0:
            continue
        offset = after.params["offset"]
        consumers = graph.output_edges(after.id)
        graph.remove_node(after.id)
        graph.set_param(node.id, "offset", offset)
        for e in consumers:
            graph.connect(node.id, e.dst, src_port="out", dst_port=e.dst_port)
        imp.refresh(node.id)
