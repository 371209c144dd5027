"""File > Export (ONNX, PyTorch code) and File > Import ONNX: run in the background, report in a message box.

Exports use the weights of the last training run when they fit the graph as it is now, else the
weights the graph names (an imported model's), else freshly initialized ones; the message says which.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from .document import Document
from .folders import chosen, start_in


class Exchange(QObject):
    opened = Signal(object)  # the Path of a graph written by an import, to open
    message = Signal(str)

    def __init__(self, document: Document, training, parent: QWidget) -> None:
        """`training`: the training panel, whose last run's weights an export uses (None until it is built)."""
        super().__init__(parent)
        self.document, self.training, self.window = document, training, parent
        self.job = None  # a worker.LoadJob (imported when first needed: it imports torch)
        self.last_result: str | None = None

    def wait(self) -> None:
        """Let a running export or import finish (closing the window)."""
        if self.job is not None:
            self.job.wait()

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.isRunning()

    def export_dialog(self, kind: str) -> None:
        suffix, title, filters = ((".onnx", "Export ONNX model", "ONNX models (*.onnx)") if kind == "onnx"
                                  else (".py", "Export PyTorch code", "Python files (*.py)"))
        stem = (self.document.path.stem if self.document.path else "model")
        start = str(self.document.path.with_suffix(suffix)) if self.document.path else start_in(stem + suffix)
        path, _ = QFileDialog.getSaveFileName(self.window, title, start, filters)
        if chosen(path):
            self.export_to(Path(path).with_suffix(suffix))

    def export_to(self, path: Path) -> bool:
        """Export in the background; the message box says where, how big, and how well it verified."""
        if self.busy:
            return False
        from ..core.build.weights import graph_weights
        from ..core.exchange.codegen import export_code
        from ..core.exchange.onnx_export import export_onnx

        graph = self.document.graph.copy()
        trained = self.training.trained_state() if self.training is not None else None
        named = graph_weights(graph, self.document.path)

        def work():  # on the worker thread: compiling a big graph must not hold up the window
            model, weights, which = _choose_weights(graph, trained, named)
            if path.suffix == ".onnx":
                return export_onnx(graph, path, weights=weights, model=model, overwrite=True), which
            return export_code(graph, path, weights=weights, model=model, save_model_weights=model is not None,
                               overwrite=True), which

        return self._start(work, lambda done: f"{done[0].summary()}; {done[1]}.", "Export failed",
                           f"Exporting {path.name}…")

    def import_dialog(self) -> None:
        source, _ = QFileDialog.getOpenFileName(self.window, "Import ONNX model", start_in(), "ONNX models (*.onnx)")
        if chosen(source):
            self.import_source(Path(source), ask=True)

    def import_source(self, source: Path, ask: bool = False) -> bool:
        """Import an ONNX file as SOURCE.json beside it; asks where instead when `ask` or when that file exists."""
        target = source.with_suffix(".json")
        if ask or target.exists():
            picked, _ = QFileDialog.getSaveFileName(self.window, "Save the imported graph as", str(target),
                                                    "netbuilder graphs (*.json)")
            if not chosen(picked):
                return False
            target = Path(picked).with_suffix(".json")
        return self.import_to(source, target)

    def import_to(self, source: Path, target: Path) -> bool:
        """Import in the background into TARGET.json (+ TARGET.pt), then open it."""
        if self.busy:
            return False
        from ..core.exchange.onnx_import import import_onnx_file

        def done(imported) -> str:
            self.opened.emit(target)
            return (f"Imported {source.name}: {len(imported.graph)} blocks, saved as {target.name} with its weights "
                    f"in {target.with_suffix('.pt').name}; matches onnxruntime to {imported.max_abs_diff:.1e}.")

        return self._start(lambda: import_onnx_file(source, target, overwrite=True), done, "Import failed",
                           f"Importing {source.name}…")

    def _start(self, work, describe, failure_title: str, busy_text: str) -> bool:
        from .worker import LoadJob

        self.job = LoadJob(work)
        self.job.done.connect(lambda result: self._finished(describe(result), None))
        self.job.failed.connect(lambda error: self._finished(error, failure_title))
        self.message.emit(busy_text)
        self.job.start()
        return True

    def _finished(self, text: str, failure_title: str | None) -> None:
        self.last_result = text
        self.message.emit(text)
        if failure_title:
            QMessageBox.warning(self.window, failure_title, text)
        else:
            QMessageBox.information(self.window, "Done", text)


def _choose_weights(graph, trained: dict | None, named: Path | None):
    """(trained model or None, weights file or None, words for the message): the last run's weights when
    they fit the graph as it is now, else the file the graph names, else fresh ones."""
    from ..core.build.weights import fit_state

    model = fit_state(graph, trained)
    if model is not None:
        return model, None, "with the weights of the last training run"
    if named is not None and named.exists():
        return None, named, f"with the weights in {named.name}"
    return None, None, "with freshly initialized weights (train first to export trained ones)"
