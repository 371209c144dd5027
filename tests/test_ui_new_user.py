"""What a new user met in the editor (issue 21): the dataset checked as soon as it is chosen, Preview in view, and
the smaller things (fixes offered, icons, texts, dialogs, files)."""
import pytest

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
    window.document.undo_stack.setClean()
    assert window.open_example(EXAMPLES / "googlenet.json")  # no recipe: no dataset chosen for it yet
    qtbot.wait(800)
    assert window.document.data_source is None and "checked against" not in window.analysis.summary.text()


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


# ----- the smaller things

@pytest.fixture
def modal_then():
    """modal_then(act) runs `act(widget)` on each modal dialog met from then on (a message box, a file dialog) and
    returns a list of what `act` returned for each, in order."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    timers = []

    def arrange(act):
        seen, met = [], []
        timer = QTimer()

        def poll():
            widget = QApplication.activeModalWidget()
            if widget is not None and all(widget is not w for w in met):
                met.append(widget)
                seen.append(act(widget))

        timer.timeout.connect(poll)
        timer.start(20)
        timers.append(timer)
        return seen

    yield arrange
    for timer in timers:
        timer.stop()


def test_a_kernel_larger_than_its_input_and_integers_into_linear_have_a_fix(window, qtbot):
    from netbuilder.core.model.graph import Graph

    for layers, label, words in ((("Input", {"shape": [1, 4, 4]}), ("Conv2d", {"out_channels": 4, "kernel_size": 5})),
                                 "Lower conv1's kernel to 4x4", "larger than"), \
                                ((("Input", {"shape": [6], "dtype": "int64"}), ("Linear", {"out_features": 4})),
                                 "Insert an Embedding before fc1", "integer ids"):
        g = Graph()
        prev = None
        for i, (type_name, params) in enumerate(layers + (("Output", {}),)):
            node = g.add_node(type_name, params, pos=(0.0, 110.0 * i))
            if prev is not None:
                g.connect(prev.id, node.id)
            prev = node
        window.document.replace(g, None)
        qtbot.waitUntil(lambda: window.document.report is not None and bool(window.document.findings))
        row = next(i for i, f in enumerate(window.analysis.findings) if words in f.message)
        button = window.analysis.fix_button(row)
        assert button is not None and button.text() == f"Fix: {label}"
        button.click()
        window.document.refresh_shapes()
        assert not window.document.report.errors, "one click and it fits"
        window.document.undo_stack.setClean()


def test_the_analysis_signs_are_drawn_and_every_character_is_in_the_font(window, qtbot):
    from PySide6.QtGui import QFontMetrics

    assert window.open_example(EXAMPLES / "gan_mnist.json")  # an info finding
    from netbuilder.core.model.graph import Graph

    g = Graph()
    g.add_node("Linear")  # an error (not connected) and a warning (reaches no Output)
    window.document.replace(g, None)
    qtbot.waitUntil(lambda: len(window.analysis.findings) >= 2)
    tree = window.analysis.tree
    metrics = QFontMetrics(tree.font())
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        assert not item.icon(0).isNull() and not item.icon(0).pixmap(16, 16).isNull()
        for column in (0, 1):
            missing = [ch for ch in item.text(column) if not metrics.inFontUcs4(ord(ch))]
            assert not missing, f"no glyph for {missing}: an empty box"
    bar = window.message_bar
    for kind in ("error", "info"):
        bar.show_message("x", kind)
        assert all(QFontMetrics(bar.icon.font()).inFontUcs4(ord(ch)) for ch in bar.icon.text())


def test_start_page_cards_end_their_words_with_an_ellipsis_and_recent_says_it_all(window, qtbot):
    from netbuilder.ui.start_page import THUMB

    window.resize(1366, 768)
    window.show_start_page()
    qtbot.wait(50)
    page = window.start_page
    for card in page.cards:
        assert card.picture.size() == THUMB and card.picture.pixmap().size() == THUMB, "the picture whole"
        assert card.title.heightForWidth(card.title.width()) <= card.title.height(), f"{card.title.text()} cut"
        about = card.about
        shown = about.text()
        metrics = about.fontMetrics()
        from PySide6.QtCore import Qt

        used = metrics.boundingRect(0, 0, about.width(), 10_000, Qt.TextFlag.TextWordWrap, shown).height()
        assert used <= about.height(), f"{card.title.text()}: the description runs past its card"
        assert shown == about.full or shown.endswith("…")
    label = page.no_recent
    assert label.isVisible() and label.heightForWidth(label.width()) <= label.height()
    assert label.text() == "None yet: the graphs you open or save appear here."


def test_the_empty_canvas_hint_names_menu_items_that_exist_and_about_says_the_version(window, qtbot):
    import re

    from netbuilder import __version__
    from netbuilder.ui.canvas.view import EMPTY_HINT
    from netbuilder.ui.main_window import about_text

    menus = {}
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        menus[menu_action.text().replace("&", "")] = {a.text().replace("&", "").rstrip("…") for a in menu.actions()}
    for top, item in re.findall(r"<b>(\w+) ▸ ([\w ]+)</b>", EMPTY_HINT):
        assert item in menus[top], f"{top} ▸ {item}"
    assert f"netbuilder {__version__}" in about_text()


def test_the_inspector_shows_only_what_applies_and_names_fields_as_labelled(window, qtbot):
    assert window.open_example(EXAMPLES / "mnist_convnet.json")
    g = window.document.graph
    window.document.refresh_shapes()
    inspector = window.inspector
    window.scene.select_nodes([g.find("relu1").id])
    assert not inspector.settings.has_weights and not inspector.settings.frozen.isVisibleTo(inspector)
    window.scene.select_nodes([g.find("conv1").id])
    assert inspector.settings.has_weights and inspector.settings.frozen.isVisibleTo(inspector)
    editor = inspector.editors["kernel_size"]
    editor.widget.setText("0")
    editor.widget.textEdited.emit("0")
    assert editor.error.isVisibleTo(inspector) and "kernel size" in editor.error.text()
    assert "kernel_size" not in editor.error.text()
    panel = window.training
    panel.optimizer.setCurrentText("adam")
    assert not panel.momentum.isVisibleTo(panel)
    panel.optimizer.setCurrentText("momentum")
    assert panel.momentum.isVisibleTo(panel)


def test_a_first_input_is_not_told_to_go_and_a_lone_one_is_offered_a_wire(window, qtbot):
    from PySide6.QtCore import QPointF

    window.new_document()
    window.add_layer("Input", QPointF(0, 0))
    window.document.refresh_shapes()
    assert window.document.findings == [], "a network being started"
    window.add_layer("Linear", QPointF(0, 110))
    window.document.refresh_shapes()
    unused = next(f for f in window.document.findings if f.code == "unused" and f.block == "input1")
    assert unused.fix.label == "Wire input1 to fc1"


def test_file_dialogs_start_in_the_last_folder_and_an_example_is_saved_under_its_name(window, qtbot, tmp_path,
                                                                                        modal_then):
    from netbuilder.ui.folders import chosen

    folder = tmp_path / "mine"
    folder.mkdir()

    def look(dialog):
        seen = (type(dialog).__name__, dialog.directory().absolutePath(), dialog.selectedFiles())
        dialog.reject()
        return seen

    dialogs = modal_then(look)
    chosen(folder / "first.json")  # what a dialog records when the user picks a file there
    assert window.open_example(EXAMPLES / "lenet5.json")
    window.save_as()
    kind, directory, files = dialogs[-1]
    assert kind == "QFileDialog" and directory == str(folder.resolve())
    assert files[0].endswith("lenet5.json"), "an example proposes its own name"
    window.open_dialog()
    kind, directory, _ = dialogs[-1]
    assert kind == "QFileDialog" and directory == str(folder.resolve())


def test_import_asks_about_unsaved_changes_before_the_file_is_chosen(window, qtbot, modal_then):
    from PySide6.QtWidgets import QMessageBox

    assert window.open_example(EXAMPLES / "mlp_xor.json")
    g = window.document.graph
    assert window.document.push(SetParam(g, g.find("fc1").id, "out_features", 5))

    def answer(dialog):
        kind = type(dialog).__name__
        dialog.button(QMessageBox.StandardButton.Cancel).click() if kind == "QMessageBox" else dialog.reject()
        return kind

    dialogs = modal_then(answer)
    window.import_dialog()
    assert dialogs == ["QMessageBox"], "asked first; cancelled: no file to choose"


def test_folding_groups_is_undoable_and_leaves_the_document_unmodified(window, qtbot):
    assert window.open_path(EXAMPLES / "resnet18.json")
    window.set_all_collapsed(True)
    assert not window.isWindowModified() and not window.document.is_modified()
    assert any(group.collapsed for group in window.document.graph.groups)
    window.document.undo_stack.undo()
    assert not any(group.collapsed for group in window.document.graph.groups)
    g = window.document.graph
    window.set_all_collapsed(True)
    assert window.document.push(SetParam(g, g.find("fc").id, "out_features", 7))
    assert window.isWindowModified(), "a real change still counts"


def test_the_inside_buttons_stay_in_place_whatever_the_mode_shows(window, qtbot):
    assert window.open_example(EXAMPLES / "mnist_convnet.json")
    probe = window.probe
    window.probe_dock.raise_()
    window.scene.select_nodes([window.document.graph.find("conv1").id])
    places = []
    for mode in ("maps", "filters", "saliency", "maps"):
        probe.set_mode(mode)
        qtbot.waitUntil(lambda: probe._job is None and not probe._waiting and not probe._refresh_timer.isActive(),
                        timeout=60_000)
        qtbot.wait(20)
        places.append([button.geometry().getRect() for button in probe.mode_buttons.buttons()]
                      + [probe.source.geometry().getRect()])
    assert all(place == places[0] for place in places), "the row does not jump"


def test_a_regression_shows_its_predictions_against_the_truth(window, qtbot):
    assert window.open_example(EXAMPLES / "mlp_regression.json")
    panel = window.training
    panel.epochs.setValue(2)
    window.start_training()
    qtbot.waitUntil(lambda: not panel.is_running, timeout=120_000)
    results = panel.results
    assert results.pages.currentWidget() is results.scatter and results.matrix.counts == []
    assert len(results.scatter.plotItem.listDataItems()) == 2, "the points and the line where they agree"
    assert "mean squared error" in results.summary.text()
