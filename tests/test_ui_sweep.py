"""The Sweep view (pytest-qt, offscreen, the real window): a finished study of the open network is listed and shown
(a row per trial, sortable; the curves, the parallel coordinates, the importance; the best in bold), Apply writes
the best trial's block parameter and settings as one undo step; a sweep started from the view runs its trials in a
worker process while the window goes on; the dialog refuses a parameter that does not exist."""
import shutil

from PySide6.QtCore import Qt

from netbuilder.core.model.graph import Graph
from netbuilder.core.training.runs import RunStore
from netbuilder.core.training.sweep import Sweep, SweepDefinition, parse_param
from tests.conftest import EXAMPLES

SETTINGS = {"data": "xor:n=200", "epochs": 2, "batch_size": 50}


def finished_study(path, trials: int = 3) -> str:
    graph = Graph.load(path)
    definition = SweepDefinition([parse_param("lr=1e-3:0.3:log"), parse_param("fc1.out_features=2,8")],
                                 trials=trials, seed=4)
    sweep = Sweep(graph, definition, SETTINGS, graph_path=path)
    sweep.run()
    return sweep.study_name


def column(table, name: str) -> int:
    return [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())].index(name)


def test_the_sweep_view_shows_a_finished_study_and_apply_is_one_undo_step(window, qtbot, tmp_path):
    path = tmp_path / "xor.json"
    shutil.copy(EXAMPLES / "mlp_xor.json", path)
    name = finished_study(path)
    assert window.open_path(path, ask=False)
    qtbot.waitUntil(lambda: window.training is not None, timeout=60_000)
    view = window.sweeps.view
    qtbot.waitUntil(lambda: view.snapshot is not None and view.snapshot.study == name, timeout=60_000)
    window.sweeps.show()
    assert window.sweeps.dock.isVisible() and window.sweeps.action.isEnabled()
    train_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Train")
    assert window.sweeps.action in train_menu.actions()  # Train > Sweep…

    snapshot = view.snapshot
    table = view.table
    assert table.rowCount() == 3
    figure = column(table, "val_loss")
    for header in ("trial", "state", "lr", "fc1.out_features", "run"):
        column(table, header)
    table.sortItems(figure, Qt.SortOrder.DescendingOrder)
    shown = [float(table.item(r, figure).text()) for r in range(3)]
    assert shown == sorted(shown, reverse=True)
    table.sortItems(column(table, "trial"), Qt.SortOrder.AscendingOrder)
    assert [table.item(r, 0).text() for r in range(3)] == ["0", "1", "2"]
    best = snapshot.best
    best_row = next(r for r in range(3) if table.item(r, 0).text() == str(best.number))
    assert table.item(best_row, figure).font().bold() and not table.item((best_row + 1) % 3, figure).font().bold()
    assert f"best val_loss {best.value:.4g} (trial {best.number})" in view.status.text()
    assert "3 of 3 trials done" in view.status.text()
    assert set(view.curves.items) == {0, 1, 2} and set(view.parallel.lines) == {0, 1, 2}
    assert set(view.importance.values) == {"lr", "fc1.out_features"} or "importance" in snapshot.importance_note

    graph = window.document.graph
    before_params, before_recipe = dict(graph.find("fc1").params), dict(graph.recipe)
    steps = window.document.undo_stack.count()
    assert view.apply_best(keep_recipe=True)
    assert window.document.undo_stack.count() == steps + 1
    assert graph.find("fc1").params["out_features"] == best.params["fc1.out_features"]
    assert graph.recipe["lr"] == best.params["lr"] and graph.recipe["epochs"] == 2
    assert float(window.training.lr.text()) == float(f"{best.params['lr']:g}")
    window.document.undo_stack.undo()
    assert graph.find("fc1").params == before_params and graph.recipe == before_recipe

    # another network: its own sweeps (none), never this one's
    other = tmp_path / "other.json"
    shutil.copy(EXAMPLES / "mlp_xor.json", other)
    assert window.open_path(other, ask=False)
    assert view.snapshot is None and view.table.rowCount() == 0 and view.studies.count() == 0
    assert not view.apply_button.isEnabled() and "No sweep yet" in view.status.text()


def test_a_sweep_started_in_the_view_trains_its_trials_in_a_worker_process(window, qtbot, tmp_path):
    path = tmp_path / "xor.json"
    shutil.copy(EXAMPLES / "mlp_xor.json", path)
    assert window.open_path(path, ask=False)
    qtbot.waitUntil(lambda: window.training is not None, timeout=60_000)
    window.training.select_dataset("xor:n=200")
    window.training.epochs.setValue(2)
    view = window.sweeps.view

    from netbuilder.ui.sweep_dialog import SweepDialog

    dialog = SweepDialog(window.document.graph, view.settings(), window)
    dialog.rows[0].name.setCurrentText("fc9.out_features")
    dialog.rows[0].values.setText("2,4")
    dialog.accept()
    assert dialog.result() != SweepDialog.DialogCode.Accepted and "no block named 'fc9'" in dialog.error.text()
    dialog.rows[0].name.setCurrentText("fc1.out_features")
    assert dialog.rows[0].values.text() == "2,4,8"  # values offered around the block's own
    dialog.trials.setValue(2)
    dialog.accept()
    assert dialog.definition is not None and [p.text for p in dialog.definition.params] == ["fc1.out_features=2,4,8"]

    assert view.start(dialog.definition, workers=1)
    assert view.is_running and view.stop_button.isEnabled()
    qtbot.waitUntil(lambda: not view.is_running, timeout=180_000)
    rows = view.snapshot.rows
    assert [row.state for row in rows] == ["complete", "complete"], view.status.text()
    runs = RunStore.beside(path).runs()
    assert sorted(run.sweep["trial"] for run in runs) == [0, 1] and {run.status for run in runs} == {"finished"}
    import os

    assert all(run.record["process"]["pid"] != os.getpid() for run in runs)  # not in the window's process
    assert view.table.rowCount() == 2 and view.apply_button.isEnabled()
