"""The README's screenshots of the Inside dock, taken as a person sees the editor (run under Xvfb):

    xvfb-run -a -s "-screen 0 1360x900x24" python tools/inside_screenshots.py [OUT_DIR]

- inside_maps.png: the lecture's convnet after 3 epochs on mnist-5k, the feature maps of conv1 and conv2 for one
  test digit, with the prediction;
- inside_filters.png: the same network's conv1 filters;
- inside_gradients.png: a deep plain network (8 sigmoid layers) after an epoch, its blocks coloured by the std
  of their gradients, which vanish towards the input, and the warning that names them.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netbuilder.core.model.graph import Graph  # noqa: E402
from netbuilder.ui.app import configure  # noqa: E402
from netbuilder.ui.main_window import MainWindow  # noqa: E402

SAMPLE = 3  # a test digit that reads well


def pump(app, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def wait(app, condition, timeout: float = 900) -> None:
    end = time.time() + timeout
    while not condition() and time.time() < end:
        pump(app, 0.05)


def train(app, window, epochs: int) -> None:
    window.training.epochs.setValue(epochs)
    window.training.start()
    wait(app, lambda: not window.training.is_running)


def probed(app, window) -> None:
    probe = window.probe
    wait(app, lambda: probe._job is None and not probe._waiting and not probe._refresh_timer.isActive(), 120)
    pump(app, 0.5)


def deep_plain_network(layers: int = 8) -> Graph:
    """Input, Flatten, then Linear + Sigmoid `layers` times, then the classifier: in two columns."""
    g = Graph(meta={"title": f"deep plain network ({layers} sigmoid layers)"})
    rows = [("Input", {}, "x"), ("Flatten", {}, "flatten")]
    for i in range(1, layers + 1):
        rows += [("Linear", {"out_features": 64}, f"fc{i}"), ("Sigmoid", {}, f"sigmoid{i}")]
    rows += [("Linear", {"out_features": 10}, f"fc{layers + 1}"), ("Output", {}, "logits")]
    prev = None
    for i, (type_name, params, name) in enumerate(rows):
        node = g.add_node(type_name, params, name=name, pos=((i % 2) * 230.0, (i // 2) * 96.0))
        if prev is not None:
            g.connect(prev, node.id)
        prev = node.id
    g.set_recipe({"data": "mnist-5k", "epochs": 1, "optimizer": "sgd", "lr": 0.1})
    return g


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "resources" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    configure(app)
    window = MainWindow(offer_recovery=False)
    window.resize(1360, 900)
    window.show()
    window.open_example(ROOT / "examples" / "mnist_convnet.json")
    wait(app, lambda: window.document.report is not None, 60)
    window.resizeDocks([window.probe_dock], [600], Qt.Orientation.Horizontal)  # room for the maps
    train(app, window, 3)
    window.probe_dock.show()
    window.probe_dock.raise_()
    probe = window.probe
    probe.zoom.setValue(52)
    probe.index.setValue(SAMPLE)
    graph = window.document.graph
    window.scene.select_nodes([graph.find("conv1").id, graph.find("conv2").id])
    window.view.centerOn(graph.find("pool1").pos[0], graph.find("relu1").pos[1])
    probed(app, window)
    probe.index.setValue(SAMPLE)
    probed(app, window)
    window.grab().save(str(out / "inside_maps.png"))
    probe.set_mode("filters")
    window.scene.select_nodes([graph.find("conv1").id])
    probe.zoom.setValue(64)
    probed(app, window)
    window.grab().save(str(out / "inside_filters.png"))

    path = Path(tempfile.mkdtemp()) / "deep_plain.json"
    deep_plain_network().save(path)
    window.document.undo_stack.setClean()
    window.open_path(path, ask=False)
    wait(app, lambda: window.document.report is not None, 60)
    window.training.statistics_every = 5
    train(app, window, 1)
    window.probe_dock.raise_()
    probe.set_mode("maps")
    probe.colour_by.setCurrentIndex(probe.colour_by.findData("grad_std"))
    window.scene.select_nodes([window.document.graph.find("sigmoid1").id])
    probed(app, window)
    window.view.fit_to_view()
    pump(app, 0.5)
    window.grab().save(str(out / "inside_gradients.png"))
    print(f"saved inside_maps.png, inside_filters.png, inside_gradients.png in {out}")


if __name__ == "__main__":
    main()
