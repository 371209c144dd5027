"""What a new user met in the editor (issue 21): the dataset checked as soon as it is chosen, Preview in view, and
the smaller things (fixes offered, icons, texts, dialogs, files)."""
from netbuilder.ui.commands import SetParam
from tests.conftest import EXAMPLES


def test_the_analysis_checks_the_chosen_dataset_without_a_preview(window, qtbot):
    assert window.open_example(EXAMPLES / "mnist_convnet.json")  # its recipe: mnist-5k, 10 classes
    g = window.document.graph
    fc2 = g.find("fc2")
    assert window.document.push(SetParam(g, fc2.id, "out_features", 5))
    qtbot.waitUntil(lambda: any(f.code == "output-size" for f in window.document.findings), timeout=30_000)
    assert "No problems found" not in window.analysis.summary.text()
    assert "checked against mnist-5k" in window.analysis.summary.text()
    assert window.training.tabs.currentWidget() is not window.training.preview, "no preview was needed"
    window.training.select_dataset("xor")  # another dataset: checked again, its own facts
    qtbot.waitUntil(lambda: "checked against xor" in window.analysis.summary.text(), timeout=30_000)


def test_preview_shows_its_pictures_where_the_user_is_looking(window, qtbot):
    assert window.open_example(EXAMPLES / "mlp_xor.json")
    window.analysis_dock.raise_()
    window.training_dock.raise_()
    window.training.preview_button.click()
    panel = window.training
    assert panel.tabs.currentWidget() is panel.preview
    qtbot.wait(50)
    assert window.curves_dock.isVisible() and panel.preview.isVisible()
    assert panel.preview.height() > 150, "room for the pictures"
    qtbot.waitUntil(lambda: panel._preview_job is not None and not panel._preview_job.isRunning(), timeout=30_000)
