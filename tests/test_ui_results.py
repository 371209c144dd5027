"""Results belong to their network (issue 19, item 5) and fit its kind (issue 21): opening another document clears
every view of the previous run; a generator shows no confusion matrix, its loss parts add up, its scatter has a
legend and its epoch; stale messages go when their cause does."""
import pytest

from netbuilder.ui.plots import TITLES
from netbuilder.ui.results import HINT
from tests.conftest import EXAMPLES


def train(window, qtbot, epochs=1, data=None):
    panel = window.training
    if data:
        panel.select_dataset(data)
    panel.epochs.setValue(epochs)
    window.start_training()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=180_000)


def test_opening_the_vae_after_training_the_gan_ring_shows_nothing_of_the_ring(window, qtbot):
    assert window.open_example(EXAMPLES / "gan_ring.json")
    panel, probe = window.training, window.probe
    train(window, qtbot, 2, "ring:n=2000")
    graph = window.document.graph
    window.probe_dock.show()
    window.probe_dock.raise_()
    window.scene.select_nodes([graph.find("g1").id])
    qtbot.waitUntil(lambda: probe.shown is not None or probe.error.isVisible(), timeout=60_000)
    probe.colour_by.setCurrentIndex(probe.colour_by.findData("grad_std"))
    probe._show_error("a probe's red message")
    panel.lr.setText("fast")
    assert not panel.start() and panel.error.isVisible()  # a red refusal of the ring's
    window.show_problem("a problem of the ring's")
    # what the ring's run left everywhere
    assert panel.plots.runs and panel.made.picture.image is not None and panel.results.save_button.isEnabled()
    assert panel.plots.metric.isHidden(), "a generator has no metric: its plot makes room"
    assert panel.trained_state() is not None and window.message_bar.isVisible()

    assert window.open_example(EXAMPLES / "vae.json")
    plots = panel.plots
    assert plots.runs == [] and not plots.metric.isHidden()
    for name, title in TITLES.items():
        widget = getattr(plots, name)
        assert widget.plotItem.listDataItems() == [] and widget.plotItem.legend.items == []
        assert widget.plotItem.titleLabel.text == title, "no 'No metric for this objective' of the ring's"
        assert widget.plotItem.vb.viewRange() == [[0, 1], [0, 1]], "no axes of the ring's run"
    results = panel.results
    assert results.summary.text() == HINT and not results.save_button.isEnabled() and results.summary.toolTip() == ""
    assert results.matrix.counts == [] and results.samples.items == [] and results.scatter.plotItem.listDataItems() == []
    assert panel.made.picture.image is None and panel.made.caption.text() == "" and panel.made.hint.isVisibleTo(panel.made)
    assert not panel.raw_parts_button.isEnabled()
    assert panel.status.text() == "Ready." and not panel.error.isVisibleTo(panel) and panel.progress.value() == 0
    assert "Preview" in panel.preview.findChild(type(panel.status)).text(), "the Data tab waits for a preview"
    assert panel.trained_state() is None, "the ring's trained model is not the VAE's"
    assert probe.blocks == [] and probe.shown is None and probe.grids == [] and probe.record is None
    assert not probe.error.isVisibleTo(probe) and not probe.warnings.isVisibleTo(probe)
    no_statistics = "No statistics yet: train with “record while training” on."
    assert probe.weights.text() == "" and probe.legend.text() in ("", no_statistics)
    assert all(block.tint is None for block in window.scene.blocks.values())
    assert not window.message_bar.isVisible() and window.statusBar().currentMessage() == ""
    assert not window.progress.isVisible()
    assert window.runs_panel.listed == [] and window.runs_panel.table.rowCount() == 0, "the ring's runs are its own"
    assert window.document_runs.store.path.name == "example-vae.runs"

    # and the ring, opened again, shows its own last run as it ended (kept in the example's run store)
    assert window.open_example(EXAMPLES / "gan_ring.json")
    qtbot.waitUntil(lambda: panel.trained_state() is not None, timeout=30_000)
    assert [run.status for run in window.runs_panel.listed] == ["finished"]
    assert plots.current.epochs["epoch"] == [1.0, 2.0] and plots.metric.isHidden()
    assert panel.made.picture.image is not None and "Generated from new noise" in panel.made.caption.text()
    assert panel.results.save_button.isEnabled() and panel.in_view.words == "run 1"


def test_a_generator_shows_its_loss_parts_as_they_count_and_no_confusion_matrix(window, qtbot):
    assert window.open_example(EXAMPLES / "gan_ring.json")
    panel = window.training
    train(window, qtbot, 2, "ring:n=2000")
    results = panel.results
    assert results.pages.currentWidget() is results.note_page and "Samples" in results.note.text()
    assert results.made.image is not None and "generated" in results.made_caption.text(), "what it makes, too"
    assert results.matrix.counts == [] and not results.matrix.isVisibleTo(results)
    assert "predicted" not in results.note.text()
    made = panel.made
    assert "after epoch 2 of 2" in made.caption.text()
    assert "generated" in made.caption.text() and "real data" in made.caption.text(), "a legend for the colours"
    run = panel.plots.current
    assert not any(item is run.curves["val_loss"] for item, _ in panel.plots.epoch_loss.plotItem.legend.items), \
        "no validation split: no 'validation' in the legend"


def test_the_vaes_loss_parts_add_up_and_raw_values_are_shown_on_demand(window, qtbot):
    assert window.open_example(EXAMPLES / "vae.json")
    panel = window.training
    train(window, qtbot, 1, "digits:size=28")
    text = panel.results.summary.text()
    assert "= reconstruction_loss" in text and "+ kl" in text
    assert "784 ×" in panel.results.summary.toolTip(), "the raw value and its weight on demand"
    run = panel.plots.current
    qtbot.waitUntil(lambda: all(curve.yData is not None for curve in run.terms.values()))  # drawn a moment later
    parts = {name: curve.yData[-1] for name, curve in run.terms.items()}
    total = run.epochs["train_loss"][-1]
    assert sum(parts.values()) == pytest.approx(total, rel=1e-2), "the parts add up to the loss"
    assert parts["reconstruction_loss"] > 0.5 * total, "not flat at 0: it is most of the objective"
    panel.raw_parts_button.setChecked(True)
    assert run.terms["reconstruction_loss"].yData[-1] == pytest.approx(parts["reconstruction_loss"] / 784)
    assert "raw" in panel.plots.epoch_loss.plotItem.titleLabel.text


def test_a_red_refusal_goes_once_its_cause_is_fixed_and_the_lock_message_once_the_run_ends(window, qtbot):
    g = window.document.graph
    assert window.open_example(EXAMPLES / "mlp_xor.json")
    g = window.document.graph
    panel = window.training
    panel.lr.setText("fast")
    window.start_training()
    assert panel.error.isVisible() and window.message_bar.isVisible()
    panel.lr.setText("0.05")
    panel.lr.textEdited.emit("0.05")
    assert not panel.error.isVisibleTo(panel) and not window.message_bar.isVisible()
    window.document.lock("a training run is using the graph: stop it to change the network")
    window.scene.select_nodes([g.nodes[1].id])
    window.delete_selection()
    assert window.message_bar.isVisible() and window.message_bar.text.text().startswith("A training run")
    window.document.unlock()
    assert not window.message_bar.isVisible(), "no word of a run that has ended"
