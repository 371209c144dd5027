"""The window's files: New, Open (an .onnx or .pt2 file is offered for import), examples, Save, recent files,
autosave and recovery. A part of MainWindow (a mixin), kept in its own module to stay readable."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..core.model.graph import Graph, GraphError
from .folders import chosen, start_in
from .recovery import left_behind

FILE_FILTER = ("netbuilder graphs (*.json);;ONNX models, to import (*.onnx);;torch.export files, to import (*.pt2);;"
               "All files (*)")
MAX_RECENT = 8


class WindowFiles:
    """Needs: document, view, exchange, recovery, training (or None), show_message, show_canvas."""

    def _training_blocks(self) -> bool:
        """A run trains the open graph: another document cannot replace it until the run ends."""
        if self.training is not None and self.training.is_running:
            self.show_message("Stop the training run before opening another graph")
            return True
        return False

    def maybe_save(self) -> bool:
        """Ask before unsaved changes are lost (or the runs of a network never saved would stay behind). True: go
        ahead (saved or discarded); False: cancelled."""
        runs = self.unsaved_runs()
        if not self.document.is_modified() and not runs:
            return True
        buttons = QMessageBox.StandardButton
        text = f"Save the changes to {self.document.display_name}?" if self.document.is_modified() else \
            f"Save {self.document.display_name}?"
        if runs:
            text += (f" Its {runs} training run{'s' if runs != 1 else ''} move beside it when it is saved (else they "
                     f"stay in {self.document_runs.store.path}).")
        answer = QMessageBox.question(self, "Unsaved changes", text, buttons.Save | buttons.Discard | buttons.Cancel,
                                      buttons.Save)
        if answer == buttons.Save:
            return self.save()
        return answer == buttons.Discard

    def new_document(self) -> None:
        if not self._training_blocks() and self.maybe_save():
            self.document.replace(Graph(), None)
            self.show_canvas()

    def open_dialog(self) -> None:
        if self._training_blocks() or not self.maybe_save():
            return
        start = start_in(fallback=self.document.path.parent if self.document.path else None)
        path, _ = QFileDialog.getOpenFileName(self, "Open graph", start, FILE_FILTER)
        if chosen(path):
            self.open_path(Path(path), ask=False)

    def open_path(self, path: Path, ask: bool = True) -> bool:
        """Open a graph file (an ONNX model is offered for import instead). A file that fails to load leaves the
        current document untouched."""
        path = Path(path)
        if path.suffix.lower() in (".onnx", ".pt2"):
            return self.offer_import(path)
        if self._training_blocks() or (ask and not self.maybe_save()):
            return False
        if not self._open(path, path, None):
            return False
        self._remember(path)
        return True

    def import_dialog(self) -> None:
        """File > Import ONNX Model: unsaved changes are dealt with first, then the file is chosen."""
        if self._training_blocks() or not self.maybe_save():
            return
        self._import_asked_at = self.document.undo_stack.index()  # the imported graph opens without asking again
        self.exchange.import_dialog()

    def _imported(self, path: Path) -> None:
        """An import wrote its graph: open it (asking about unsaved changes only if edits came since asking)."""
        asked_at, self._import_asked_at = getattr(self, "_import_asked_at", None), None
        self.open_path(path, ask=asked_at != self.document.undo_stack.index())

    def offer_import(self, path: Path) -> bool:
        buttons = QMessageBox.StandardButton
        kind = "an ONNX model" if path.suffix.lower() == ".onnx" else "a torch.export file"
        answer = QMessageBox.question(
            self, f"{kind[0].upper()}{kind[1:]}",
            f"{path.name} is {kind}, not a netbuilder graph. Import it as an editable graph (saved beside "
            f"it as {path.with_suffix('.json').name}, with its weights)?", buttons.Yes | buttons.No, buttons.Yes)
        return answer == buttons.Yes and self.exchange.import_source(path)

    def open_example(self, path: Path) -> bool:
        """Open an example as a new, unsaved document, so that Save asks where to keep the copy."""
        if self._training_blocks() or not self.maybe_save():
            return False
        return self._open(path, None, "{title} (example)")

    def _open(self, path: Path, document_path: Path | None, name: str | None) -> bool:
        try:
            graph = Graph.load(path)
        except GraphError as e:
            QMessageBox.warning(self, "Cannot open file", f"Could not open {path.name}:\n\n{e}")
            return False
        display = name.format(title=graph.meta.get("title", path.stem)) if name else None
        self.document.replace(graph, document_path, display)
        self.document.suggested_name = path.name if document_path is None else None  # Save As proposes it
        self.document_opened()  # its own runs (an example's are found by its name)
        self.show_canvas()
        QTimer.singleShot(0, self.view.show_graph)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        """Ask where to save: beside the document, or (a new one, an example) in the last folder used, under the
        example's own name."""
        if self.document.path is not None:
            start = str(self.document.path)
        else:
            start = start_in(self.document.suggested_name or "untitled.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save graph", start, "netbuilder graphs (*.json)",
                                              options=QFileDialog.Option.DontConfirmOverwrite)  # asked below
        if not chosen(path):
            return False
        path = Path(path)
        path = path if path.suffix else path.with_suffix(".json")
        if path.exists() and path != self.document.path:
            buttons = QMessageBox.StandardButton
            answer = QMessageBox.question(self, "Replace the file?", f"{path} already exists. Replace it?",
                                          buttons.Yes | buttons.No, buttons.No)
            if answer != buttons.Yes:
                return False
        return self.save_to(path)

    def save_to(self, path: Path) -> bool:
        """Save the document to `path` (replacing a file there: Save As has asked); an unsaved network's runs move
        beside it."""
        old_store = self.document_runs.store
        try:
            self.document.graph.save(path)  # core's atomic writer
        except OSError as e:
            QMessageBox.warning(self, "Cannot save", f"Could not save {path.name}:\n\n{e.strerror or e}")
            return False
        self.document.set_path(path)
        self.runs_saved(old_store)
        self.document.undo_stack.setClean()
        self.recovery.discard()
        self._remember(path)
        self.show_message(f"Saved {path}")
        return True

    def _remember(self, path: Path) -> None:
        settings = QSettings()
        recent = [str(path.resolve())] + [p for p in self.recent_files() if p != str(path.resolve())]
        settings.setValue("recent_files", recent[:MAX_RECENT])

    @staticmethod
    def recent_files() -> list[str]:
        value = QSettings().value("recent_files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self.open_path(Path(p)))
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    # ----- autosave and recovery

    def autosave(self) -> None:
        if not self.document.is_modified():
            self.recovery.discard()
        else:
            try:
                self.recovery.write(self.document.graph, self.document.path)
            except OSError as e:
                self.show_message(f"Autosave failed: {e.strerror or e}")

    def offer_recovery(self) -> bool:
        found = left_behind(self.recovery.directory)
        if not found:
            return False
        newest = found[0]
        name = newest.path.name if newest.path else "an unsaved graph"
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, "Recover unsaved work",
            f"netbuilder did not close cleanly. Restore the unsaved changes to {name}?",
            buttons.Yes | buttons.No, buttons.Yes)
        if answer == buttons.Yes:
            self.document.replace(newest.graph, newest.path,
                                  (newest.path.name if newest.path else "untitled") + " (recovered)")
            self.document.undo_stack.resetClean()  # unsaved until the user saves it
            self._update_title()
            self.autosave()
            self.show_canvas()
            QTimer.singleShot(0, self.view.show_graph)
        newest.file.unlink(missing_ok=True)
        return answer == buttons.Yes
