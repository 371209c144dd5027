"""Tidying the imported graph: what reads better as a param than as a block of its own."""
from __future__ import annotations

RECURRENT = ("RNN", "LSTM", "GRU")


def last_steps(importer) -> None:
    """A recurrent block whose whole output sequence feeds only a Select of its last step gives that step
    itself (output="last")."""
    graph = importer.graph
    for node in list(graph.nodes):
        if node.type != "Select" or node.params["dim"] != 1:
            continue
        (edge,) = [e for e in graph.input_edges(node.id) if e]
        source = graph.node(edge.src)
        length = importer.shapes[source.id].outputs["out"][0] if source.type in RECURRENT else None
        if length is None or edge.src_port != "out" or source.params["output"] != "sequence" \
                or node.params["index"] not in (-1, length - 1) \
                or [e for e in graph.output_edges(source.id) if e.src_port == "out"] != [edge]:
            continue
        consumers = graph.output_edges(node.id)
        graph.remove_node(node.id)
        graph.set_param(source.id, "output", "last")
        for e in consumers:
            graph.connect(source.id, e.dst, src_port="out", dst_port=e.dst_port)
        importer.refresh(source.id)
