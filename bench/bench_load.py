"""Loading and validating a document is linear in its size.

    python bench/bench_load.py

Writes documents of 1,000 and 10,000 blocks (a chain of Linear and ReLU blocks with a few merges, names and
ids as the editor gives them), and times Graph.load on each (median of 5). Reports the time per block of the
big one against the small one: 1.0 is linear, 10 would be quadratic. Target: 10,000 blocks well under a second,
ratio near 1.
"""
import tempfile
from pathlib import Path

from _common import median_seconds, steady_allocator

steady_allocator()

from netbuilder.core.model.graph import Graph  # noqa: E402


def document(blocks: int) -> Graph:
    graph = Graph({"title": f"{blocks} blocks"})
    previous = graph.add_node("Input", {"shape": [16]}, name="x").id
    for i in range(blocks - 2):
        if i % 50 == 49:
            node = graph.add_node("Add", name=f"add{i}", pos=(0, 10 * i))
            graph.connect(previous, node.id)
            graph.connect(previous, node.id)
        else:
            node = graph.add_node("Linear" if i % 2 else "ReLU", {"out_features": 16} if i % 2 else {},
                                  name=f"b{i}", pos=(0, 10 * i))
            graph.connect(previous, node.id)
        previous = node.id
    graph.connect(previous, graph.add_node("Output", name="y").id)
    return graph


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        times = {}
        for blocks in (1_000, 10_000):
            path = Path(folder) / f"g{blocks}.json"
            document(blocks).save(path)
            times[blocks] = median_seconds(lambda: Graph.load(path), 5)
            print(f"Graph.load, {blocks:>6,} blocks (median of 5): {times[blocks] * 1e3:8.1f} ms")
    per_block = (times[10_000] / 10_000) / (times[1_000] / 1_000)
    print(f"ratio time per block, 10,000 / 1,000: {per_block:.2f} (1.0: linear; 10: quadratic)")


if __name__ == "__main__":
    main()
