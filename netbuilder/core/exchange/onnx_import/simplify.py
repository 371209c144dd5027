"""Tidying the imported graph: what reads better as a param than as a block of its own."""
from __future__ import annotations

RECURRENT = ("RNN", "LSTM", "GRU")


def last_steps(graph, shape_of, refresh) -> None:
    """A recurrent block whose whole output sequence feeds only a Select of its last step (`out[:, -1]`, dim 1, or
    dim -2 of a batch of 2-D sequences) gives that step itself (output="last"); a block sharing its weights keeps
    its settings. `shape_of(node_id)`: a block's "out" shape without the batch; `refresh(node_id)`: its shapes
    computed again. Both importers (ONNX and PyTorch) tidy their graphs with this."""
    for node in list(graph.nodes):
        if node.type != "Select" or node.params["dim"] not in (1, -2):
            continue
        (edge,) = [e for e in graph.input_edges(node.id) if e]
        source = graph.node(edge.src)
        if source.type not in RECURRENT or edge.src_port != "out" or source.params["output"] != "sequence" \
                or [e for e in graph.output_edges(source.id) if e.src_port == "out"] != [edge] \
                or source.shares or graph.sharers(source.id):
            continue
        shape = shape_of(source.id)
        if node.params["index"] not in (-1, shape[0] - 1) or (node.params["dim"] == -2 and len(shape) != 2):
            continue
        consumers = graph.output_edges(node.id)
        graph.remove_node(node.id)
        graph.set_param(source.id, "output", "last")
        for e in consumers:
            graph.connect(source.id, e.dst, src_port="out", dst_port=e.dst_port)
        refresh(source.id)
