"""Automatic layout: blocks in rows by data-flow depth, top to bottom."""
from __future__ import annotations

from .graph import Graph

ROW_HEIGHT = 110.0
COLUMN_WIDTH = 210.0


def auto_layout(graph: Graph) -> dict[str, tuple[float, float]]:
    """A position for every block: row = longest path from an input, columns ordered so that a
    block sits under the blocks feeding it (barycentre ordering), each row centred on x = 0."""
    index = {node.id: i for i, node in enumerate(graph.nodes)}
    column: dict[str, float] = {}
    positions: dict[str, tuple[float, float]] = {}
    for row, ids in enumerate(graph.generations()):
        def barycentre(node_id: str) -> tuple[float, int]:
            feeds = [column[e.src] for e in graph.input_edges(node_id) if e is not None]
            return (sum(feeds) / len(feeds) if feeds else 0.0, index[node_id])

        ids.sort(key=barycentre)
        for i, node_id in enumerate(ids):
            column[node_id] = i - (len(ids) - 1) / 2
            positions[node_id] = (column[node_id] * COLUMN_WIDTH, row * ROW_HEIGHT)
    return positions


def apply_layout(graph: Graph) -> None:
    for node_id, pos in auto_layout(graph).items():
        graph.move(node_id, pos)
