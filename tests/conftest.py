import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def chain():
    """Build a graph from a list of (type, params) as one chain; returns (graph, [node ids])."""
    from netbuilder.core.graph import Graph

    def make(*layers, graph=None):
        graph = graph or Graph()
        ids, prev = [], None
        for type_name, params in layers:
            node = graph.add_node(type_name, params)
            if prev is not None:
                graph.connect(prev, node.id)
            prev = node.id
            ids.append(node.id)
        return graph, ids

    return make
