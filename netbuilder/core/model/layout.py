"""Automatic layout: blocks in rows by data-flow depth, top to bottom."""
from __future__ import annotations

from .graph import Graph

ROW_HEIGHT = 110.0
COLUMN_WIDTH = 210.0


def auto_layout(graph: Graph) -> dict[str, tuple[float, float]]:
    """A position for every block. Row: the longest path from an input. Column: under the blocks that
    feed it (their mean column), pushed apart just enough that blocks in a row do not overlap."""
    index = {node.id: i for i, node in enumerate(graph.nodes)}
    column: dict[str, float] = {}
    positions: dict[str, tuple[float, float]] = {}
    for row, ids in enumerate(graph.generations()):
        wanted = {}
        for node_id in ids:
            feeds = [column[e.src] for e in graph.input_edges(node_id) if e is not None]
            wanted[node_id] = sum(feeds) / len(feeds) if feeds else 0.0
        ids.sort(key=lambda node_id: (wanted[node_id], index[node_id]))
        placed: list[float] = []
        for node_id in ids:
            placed.append(wanted[node_id] if not placed else max(wanted[node_id], placed[-1] + 1))
        shift = sum(wanted[i] - x for i, x in zip(ids, placed)) / len(ids)  # keep the row centred on its wishes
        for node_id, x in zip(ids, placed):
            column[node_id] = x + shift
            positions[node_id] = (column[node_id] * COLUMN_WIDTH, row * ROW_HEIGHT)
    return positions


def apply_layout(graph: Graph) -> None:
    for node_id, pos in auto_layout(graph).items():
        graph.move(node_id, pos)
