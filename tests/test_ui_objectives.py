"""Objectives in the editor: an example's recipe fills the panel, loss blocks set the objective, a GAN trains
from one click with a curve per loss block and pictures of what it generates, and block settings are undoable."""
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES


def test_an_example_brings_its_recipe_and_trains_with_one_click(window, qtbot):
    assert window.open_example(EXAMPLES / "gan_ring.json")
    panel = window.training
    recipe = Graph.load(EXAMPLES / "gan_ring.json").recipe
    assert str(panel.spec()) == recipe["data"] and panel.epochs.value() == recipe["epochs"]
    assert panel.batch_size.value() == recipe["batch_size"] and float(panel.lr.text()) == recipe["lr"]
    assert not panel.loss.isEnabled(), "the graph's loss blocks decide the loss"
    assert panel.objective.text().startswith("Objective: d_real + d_fake + g_loss")
    panel.epochs.setValue(3)
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=120_000)
    run = panel.plots.runs[-1]
    assert set(run.terms) == {"d_real", "d_fake", "g_loss"}
    assert all(len(values) == 3 for values in run.term_values.values())
    assert panel.made.picture.image is not None and not panel.made.picture.image.isNull()
    assert "Generated from new noise" in panel.made.caption.text()
    assert "test loss" in panel.results.summary.text()


def test_a_graph_without_loss_blocks_says_its_loss_is_automatic(window):
    assert window.open_example(EXAMPLES / "mnist_convnet.json")
    assert window.training.loss.isEnabled()
    assert window.training.objective.text().startswith("Loss: automatic")
    assert str(window.training.spec()) == "mnist-5k" and window.training.epochs.value() == 6


def test_block_settings_in_the_inspector_are_undoable_edits(window, qtbot):
    assert window.open_example(EXAMPLES / "siamese_mnist.json")
    g = window.document.graph
    conv = g.find("conv1")
    window.scene.select_nodes([conv.id])
    settings = window.inspector.settings
    settings.frozen.setChecked(True)
    assert conv.frozen and "frozen" in window.scene.blocks[conv.id].summary
    window.document.undo_stack.undo()
    assert not conv.frozen and not settings.frozen.isChecked()
    twin = g.find("conv1_b")
    window.scene.select_nodes([twin.id])
    settings = window.inspector.settings
    assert settings.shares.currentText() == "conv1"
    assert "shares conv1" in window.scene.blocks[twin.id].summary
    settings.shares.setCurrentIndex(settings.shares.findData(None))
    settings.shares.activated.emit(settings.shares.currentIndex())
    assert twin.shares is None
    window.document.undo_stack.undo()
    assert twin.shares == conv.id


def test_keep_in_graph_stores_the_panel_settings_as_the_recipe(window):
    assert window.open_example(EXAMPLES / "mlp_xor.json")
    panel = window.training
    panel.epochs.setValue(77)
    assert panel.keep_recipe()
    from netbuilder.core.data.specs import DataSpec

    recipe = window.document.graph.recipe
    assert recipe["epochs"] == 77 and DataSpec.parse(recipe["data"]) == DataSpec.parse("xor:noise=0:margin=0.2")
    window.document.undo_stack.undo()
    assert window.document.graph.recipe["epochs"] == 150
