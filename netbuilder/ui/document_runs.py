"""The runs of the open document: which store they are in, and word when that store changes.

A saved document's runs are beside it (`NAME.runs/`). An example (opened as an unsaved copy, or its shipped file
opened as it is, in a folder that may not be written to) keeps its runs in the user's data folder under the
example's name (opening the example again shows them); a new network under a name of its own for as long as it is
open. When the document is first saved, its runs move beside it (`move_to`); a run
still training then moves once it has ended.

`changed` is emitted when runs are added, removed or renamed (a QFileSystemWatcher on the store's folder, so that
runs from `netbuilder train` appear too) and, while a run is training, every POLL_MS (its epochs and status; less
often when listing takes long: a long run's curves.json).
Listing a store reads small JSON files and never imports torch.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from ..core.training.runs import Run, RunError, RunStore, new_document_id
from ..core.training.runs.store import example_store_id, is_shipped_example

POLL_MS = 1500


class DocumentRuns(QObject):
    changed = Signal()  # the store's runs (or the store itself) changed: list them again
    message = Signal(str)

    def __init__(self, document) -> None:
        super().__init__(document)
        self.document = document
        document.runs = self  # what the Sweep view asks for its store, too
        self.unsaved_id = new_document_id()
        self._pending_move: Path | None = None  # saved while a run trained: its runs move once it ends
        self._runs: list[Run] | None = None  # the last listing (None: to be read again)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._folder_changed)
        self._settle = QTimer(self)  # a burst of file events lists the runs once
        self._settle.setSingleShot(True)
        self._settle.setInterval(120)
        self._settle.timeout.connect(self._announce)
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._announce)
        document.replaced.connect(self._replaced)
        self._watch()

    # ----- which store

    @property
    def key(self) -> str:
        """The name of an unsaved document's store: an example's own (example-NAME), else this document's."""
        path = self.document.path
        example = path.name if path is not None and is_shipped_example(path) else getattr(self.document, "suggested_name", None)
        if example:
            return example_store_id(example) or self.unsaved_id
        return self.unsaved_id

    @property
    def store(self) -> RunStore:
        path = self.document.path
        return RunStore.of_document(path if path is not None and not is_shipped_example(path) else None, self.key)

    def runs(self) -> list[Run]:
        """The document's runs, by number (listed again after a change)."""
        if self._runs is None:
            try:
                self._runs = self.store.runs()
            except RunError as e:
                self.message.emit(str(e))
                self._runs = []
        return self._runs

    def last(self) -> Run | None:
        runs = self.runs()
        return runs[-1] if runs else None

    def refresh(self) -> None:
        """The store as it is now (the document was opened, saved, or a run was added or annotated)."""
        self._watch()
        self._announce()

    def _replaced(self) -> None:
        self.unsaved_id = new_document_id()
        self._pending_move = None
        self.refresh()

    # ----- moving an unsaved document's runs beside it

    def saved(self, old_store: RunStore, running: bool) -> None:
        """The document was saved to its path: an unsaved one's runs move beside it (once no run trains)."""
        if old_store.path == self.store.path or self.document.path is None or not old_store.path.exists() \
                or not _is_unsaved(old_store):  # Save As of a saved document: its runs stay beside the old file
            self.refresh()
            return
        if running:
            self._pending_move = old_store
            self.message.emit("Its runs move beside it once the run in progress ends")
            return
        self._move(old_store)

    def run_ended(self) -> None:
        """A run of the editor's ended: runs waiting to move beside the saved document move now."""
        if self._pending_move is not None:
            old, self._pending_move = self._pending_move, None
            self._move(old)
        else:
            self.refresh()

    def _move(self, old_store: RunStore) -> None:
        try:
            count = len(old_store.runs())
            moved = old_store.move_to(self.document.path)
        except (RunError, OSError) as e:
            self.message.emit(f"the runs could not move beside the document: {e}")
        else:
            if count:
                self.message.emit(f"Its {count} run{'s' if count != 1 else ''} moved to {moved.path}")
        self.refresh()

    # ----- watching the store's folder

    def _watch(self) -> None:
        store = self.store.path
        wanted = [str(store)] if store.is_dir() else [str(p) for p in _existing_parent(store)]
        current = self.watcher.directories()
        if current != wanted:
            if current:
                self.watcher.removePaths(current)
            if wanted:
                self.watcher.addPaths(wanted)

    def _folder_changed(self, _path: str) -> None:
        self._settle.start()

    def _announce(self) -> None:
        import time

        self._watch()
        self._runs = None
        start = time.perf_counter()
        runs = self.runs()
        # a long run's curves take a while to read: never more than a thirtieth of the time on the window's thread
        self.poll.setInterval(max(POLL_MS, int(30_000 * (time.perf_counter() - start))))
        running = any(run.status == "running" for run in runs)
        if running and not self.poll.isActive():
            self.poll.start()
        elif not running:
            self.poll.stop()
        self.changed.emit()


def _is_unsaved(store: RunStore) -> bool:
    from ..core.training.runs.store import unsaved_root

    try:
        return store.path.resolve().parent == unsaved_root().resolve()
    except OSError:
        return False


def _existing_parent(path: Path) -> list[Path]:
    """The nearest folder above `path` that exists (its creation is seen there)."""
    for parent in path.parents:
        if parent.is_dir():
            return [parent]
    return []
