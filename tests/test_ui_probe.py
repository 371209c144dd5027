"""The Inside dock: selecting a block or a wire shows what flows there, computed off the GUI thread with the
weights the user is looking at (fresh, a paused run's, the last run's); the canvas is coloured by per-block
training statistics; digits can be drawn."""
import numpy as np
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from netbuilder.core.inside.probe import fresh_model, held_out_samples, trained_model
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES


def small_mlp(tmp_path):
    g = Graph(meta={"title": "small"})
    prev = g.add_node("Input", {"shape": [1, 8, 8]}, name="x").id
    for type_name, params, name in [("Conv2d", {"out_channels": 4}, "conv"), ("ReLU", {}, "relu"),
                                    ("Flatten", {}, "flatten"), ("Linear", {"out_features": 10}, "fc"),
                                    ("Output", {}, "logits")]:
        node = g.add_node(type_name, params, name=name, pos=(0, 100 * len(g.nodes))).id
        g.connect(prev, node)
        prev = node
    g.set_recipe({"data": "digits", "epochs": 2, "batch_size": 64})
    g.save(tmp_path / "small.json")
    return tmp_path / "small.json"


def show_inside(window, qtbot):
    window.probe_dock.show()
    window.probe_dock.raise_()
    qtbot.waitUntil(window.probe.isVisible, timeout=5_000)
    return window.probe


def wait_shown(probe, qtbot, blocks, mode="maps", timeout=60_000):
    qtbot.waitUntil(lambda: probe.shown is not None and probe.shown.blocks == blocks and probe.shown.mode == mode
                    and probe._job is None and not probe._waiting, timeout=timeout)
    return probe.shown


def test_selecting_a_block_or_a_wire_shows_its_maps_for_a_test_sample(window, qtbot):
    assert window.open_path(EXAMPLES / "mnist_convnet.json")
    probe = show_inside(window, qtbot)
    graph = window.document.graph
    window.scene.select_nodes([graph.find("conv1").id])
    shown = wait_shown(probe, qtbot, ["conv1"])
    samples = held_out_samples(graph, "mnist-5k")
    expected = fresh_model(graph, 0).run("conv1", samples.sample(0)).value  # what a run with seed 0 starts from
    maps = shown.sections[0]
    assert len(maps.images) == 32 and len(probe.grids) == 1 and len(probe.grids[0].images) == 32
    low, high = float(expected[5].min()), float(expected[5].max())
    assert maps.captions[5] == f"5: {low:.2g}..{high:.2g}"
    assert "untrained" in probe.weights.text() and f"(class {samples.label(0)})" in probe.target.text()
    assert shown.prediction is not None and len(probe.prediction.values) == 10

    window.scene.clearSelection()
    wire = window.scene.wires[(graph.find("relu2").id, "in")]  # pool2 -> relu2 carries pool2's output
    wire.setSelected(True)
    shown = wait_shown(probe, qtbot, ["pool2"])
    assert "pool2: 64x2x2" in shown.sections[0].title

    probe.index.setValue(7)
    qtbot.waitUntil(lambda: f"test sample 7 of {samples.name} (class {samples.label(7)})" in probe.shown.caption,
                    timeout=30_000)

    probe.set_mode("filters")
    window.scene.select_nodes([graph.find("conv1").id, graph.find("fc1").id])
    shown = wait_shown(probe, qtbot, ["conv1", "fc1"], "filters")
    assert len(shown.sections) == 1 and len(shown.sections[0].images) == 32
    assert "fc1 (Linear) has no filters" in probe.weights.text()
    window.scene.select_nodes([graph.find("fc1").id])
    qtbot.waitUntil(lambda: probe.error.isVisible(), timeout=30_000)
    assert "fc1 (Linear) has no filters: only convolutions do" in probe.error.text()

    probe.set_mode("saliency")
    window.scene.select_nodes([graph.find("conv1").id])
    shown = wait_shown(probe, qtbot, ["conv1"], "saliency")
    assert [c for c in shown.sections[0].captions][0] == "input" and len(shown.sections[0].images) == 3


def test_a_paused_run_is_probed_on_its_thread_then_the_finished_runs_weights_are_shown(window, qtbot, tmp_path):
    try:
        _paused(window, qtbot, tmp_path)
    finally:  # a run left going (a failure) would make closing the window ask about it
        window.training.wait()


def _paused(window, qtbot, tmp_path):
    assert window.open_path(small_mlp(tmp_path))
    probe = show_inside(window, qtbot)
    panel = window.training
    panel.statistics_every = 1
    panel.epochs.setValue(100)  # far more than it gets to: the run is paused long before its end, then stopped
    graph = window.document.graph
    batches = []
    assert panel.start()
    qtbot.waitUntil(lambda: panel.worker.trainer is not None, timeout=60_000)
    panel.worker.batch.connect(lambda report: batches.append(report))
    qtbot.waitUntil(lambda: bool(batches), timeout=60_000)
    panel.pause_button.setChecked(True)
    trainer = panel.worker.trainer
    window.scene.select_nodes([graph.find("conv").id])
    shown = wait_shown(probe, qtbot, ["conv"])
    assert trainer.paused and "the live run's (paused, after" in shown.weights
    done = trainer._progress[0]
    qtbot.wait(200)
    assert trainer._progress[0] == done, "still paused: the probe did not resume it"
    epochs = []
    panel.worker.epoch.connect(lambda report: epochs.append(report.epoch))
    panel.pause_button.setChecked(False)
    qtbot.waitUntil(lambda: len(epochs) >= 2, timeout=120_000)
    panel.stop()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=120_000)

    shown = wait_shown(probe, qtbot, ["conv"])
    qtbot.waitUntil(lambda: probe.shown.weights.startswith("those of the last training run (run "), timeout=60_000)
    samples = held_out_samples(graph, "digits")
    expected = trained_model(graph, panel.trained_state()).run("conv", samples.sample(0)).value
    low, high = float(expected[0].min()), float(expected[0].max())
    assert probe.shown.sections[0].captions[0] == f"0: {low:.2g}..{high:.2g}"

    # the statistics of the run colour the blocks with parameters, the brightest where gradients are largest
    assert probe.record is not None and probe.record["epoch"] == max(epochs)
    probe.colour_by.setCurrentIndex(probe.colour_by.findData("grad_std"))
    blocks = window.scene.blocks
    tinted = {name for name in ("x", "conv", "relu", "flatten", "fc", "logits")
              if blocks[graph.find(name).id].tint is not None}
    assert tinted == {"conv", "fc"}
    values = {name: probe.record["blocks"][name]["grad_std"] for name in ("conv", "fc")}
    high_name = max(values, key=values.get)
    assert blocks[graph.find(high_name).id].tint_text == f"{values[high_name]:.2g}"
    assert blocks[graph.find(high_name).id].tint.lightness() > blocks[graph.find(min(values, key=values.get)).id].tint.lightness()
    probe.colour_by.setCurrentIndex(probe.colour_by.findData("dead"))
    assert blocks[graph.find("relu").id].tint is not None and blocks[graph.find("conv").id].tint is None
    probe.colour_by.setCurrentIndex(0)
    assert all(item.tint is None for item in blocks.values())


def test_a_drawn_digit_is_centred_like_mnist_and_probed(window, qtbot):
    assert window.open_path(EXAMPLES / "mnist_convnet.json")
    probe = show_inside(window, qtbot)
    graph = window.document.graph
    window.scene.select_nodes([graph.find("conv1").id])
    probe.source.setCurrentIndex(probe.source.findData("drawing"))
    pad = probe.pad
    assert pad.isVisible()
    QTest.mousePress(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(20, 30))
    for y in range(30, 140, 10):  # a "1" drawn off to the left
        QTest.mouseMove(pad, QPoint(24, y))
    QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(24, 140))
    digit = probe.drawing
    assert digit.shape == (28, 28) and 0 <= digit.min() and digit.max() <= 1
    rows, cols = np.nonzero(digit > 0.1)
    assert rows.max() - rows.min() >= 17  # scaled to fill 20 pixels of height
    mass = digit.sum()
    assert abs((np.arange(28) @ digit.sum(0)) / mass - 13.5) < 1.5  # centred by its centre of mass
    shown = wait_shown(probe, qtbot, ["conv1"])
    assert "the drawing" in shown.caption
    expected = fresh_model(graph, 0).run("conv1", torch.from_numpy(digit)[None]).value
    assert shown.sections[0].captions[0] == f"0: {float(expected[0].min()):.2g}..{float(expected[0].max()):.2g}"
