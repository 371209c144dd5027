"""Probing a block of ResNet-18 on one 224x224 image, against one forward pass of the whole network.

    python bench/bench_probe.py [--repeats N] [--threads N]

What the Inside dock does when a block is selected, step by step: run the network up to the block
(ProbeModel.run, on a worker thread), turn its output into tiles (probe_pictures.view_of, same thread), then
on the GUI thread make the tiles' QImages and paint them (TileGrid, rendered offscreen). Prints per block the
median milliseconds of each step and of the whole update, and the update's ratio to one forward pass of the
whole network (eval mode, no autograd, same image), measured in the same process. Target: the update under
100 ms. The prediction (the full forward) is computed once per sample and weights, not per block.
"""
import argparse
import os
import statistics
import time

from _common import EXAMPLES, median_seconds, steady_allocator

steady_allocator()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from netbuilder.core.inside.probe import fresh_model  # noqa: E402
from netbuilder.core.inside.probe_pictures import view_of  # noqa: E402
from netbuilder.core.model.graph import Graph  # noqa: E402
from netbuilder.ui.tiles import BarChart, TileGrid  # noqa: E402

BLOCKS = ("conv1", "layer1_1_relu2", "layer2_1_relu2", "layer3_1_relu2", "layer4_1_relu2", "fc")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    app = QApplication([])
    model = fresh_model(Graph.load(EXAMPLES / "resnet18.json"))
    image = torch.rand(3, 224, 224, generator=torch.Generator().manual_seed(0))
    batch = image[None]
    grid, bars = TileGrid(), BarChart()
    grid.resize(520, 400)
    bars.resize(520, 140)

    def forward() -> None:
        with torch.no_grad():
            model.module.eval()(batch)

    for block in BLOCKS:  # warm-up: the first call of each probe builds its module
        model.run(block, image, with_outputs=False)
    forward()
    rows = []
    for block in BLOCKS:
        reference = median_seconds(forward, args.repeats)
        found = {}
        probe = median_seconds(lambda: found.update(value=model.run(block, image, with_outputs=False).value),
                               args.repeats)
        tiles = median_seconds(lambda: found.update(view=view_of(found["value"], block)), args.repeats)
        widget = grid if found["view"].kind == "tiles" else bars

        def paint() -> None:
            if found["view"].kind == "tiles":
                grid.show_tiles(found["view"])
                grid.resize(520, max(grid.heightForWidth(520), 1))
            else:
                bars.show_bars(found["view"])
            widget.grab()
            app.processEvents()

        painted = median_seconds(paint, args.repeats)
        total = probe + tiles + painted
        rows.append((block, tuple(found["value"].shape), probe, tiles, painted, total, reference))
    print(f"ResNet-18 (examples/resnet18.json), one 3x224x224 image, {torch.get_num_threads()} torch threads, "
          f"median of {args.repeats}")
    print(f"{'block':16} {'output':>13} {'probe':>8} {'tiles':>8} {'paint':>8} {'update':>8} {'forward':>8} "
          f"{'ratio':>6}")
    for block, shape, probe, tiles, painted, total, reference in rows:
        print(f"{block:16} {'x'.join(map(str, shape)):>13} {probe * 1e3:7.1f}ms {tiles * 1e3:7.1f}ms "
              f"{painted * 1e3:7.1f}ms {total * 1e3:7.1f}ms {reference * 1e3:7.1f}ms {total / reference:6.2f}")
    worst = max(r[5] for r in rows)
    print(f"worst update {worst * 1e3:.0f} ms (target < 100 ms): {'met' if worst < 0.1 else 'NOT met'}; "
          f"median ratio to a forward pass {statistics.median(r[5] / r[6] for r in rows):.2f}")
    time.sleep(0)


if __name__ == "__main__":
    main()
