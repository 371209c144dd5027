"""The Analysis checks the graph against the dataset as soon as one is chosen (or an opened graph's recipe names
one), not only after Preview: the dataset is read off the GUI thread (the training panel's cache keeps it for the
run and the preview), and the document is told its shapes and classes. A classic dataset that would have to be
downloaded first is not fetched for this: it is checked once a preview or a run has it."""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from .worker import LoadJob

DELAY_MS = 350  # typing a path or options: checked once the typing pauses


class DataCheck(QObject):
    """Owned by the training panel: `schedule()` whenever the chosen dataset may have changed."""

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.job: LoadJob | None = None
        self.checked = None  # the spec (and input shape) the document's facts are about
        self.chosen = False  # a dataset was chosen for this graph (its recipe names one, or the user picked one)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DELAY_MS)
        self._timer.timeout.connect(self.check)
        panel.document.replaced.connect(self._forget)

    def _forget(self) -> None:
        """Another graph: checked against the dataset its recipe names; without one, once the user picks one."""
        self.checked = None
        self.chosen = "data" in self.panel.document.graph.recipe
        self.schedule()

    def dataset_chosen(self, *_args) -> None:
        self.chosen = True
        self.schedule()

    def schedule(self, *_args) -> None:
        if self.chosen:
            self._timer.start()

    def check(self) -> bool:
        """Read the chosen dataset in the background; False when there is nothing (new) to read."""
        panel = self.panel
        if self.job is not None and self.job.isRunning():
            self._timer.start()  # again once this one is done
            return False
        try:
            spec, shape = panel.spec(), panel._input_shape()
        except ValueError:
            return False  # a spec still being typed: Start or Preview will say what is wrong with it
        key = (str(spec), shape)
        if key == self.checked:
            return False
        if panel.document.data_source is not None:
            panel.document.set_data_context(None, None)  # no findings about the dataset chosen before
        self.checked = None
        if not self._readable(spec):
            return False
        cache = panel.datasets
        self.job = LoadJob(lambda: cache.load(spec, shape))
        self.job.key = key
        self.job.done.connect(self._read)  # a method of this object: never called once the panel is gone
        self.job.start()
        return True

    @staticmethod
    def _readable(spec) -> bool:
        """Whether reading it needs no download."""
        from ..core.data.download import REMOTE, cached_folder
        from ..core.data.specs import KINDS

        kind = KINDS.get(spec.kind)
        if kind is None or kind.needs in ("folder", "file") and not spec.path and not kind.downloads:
            return False
        if kind.downloads and spec.path is None:
            return spec.kind in REMOTE and cached_folder(REMOTE[spec.kind]) is not None
        return True

    def _read(self, source) -> None:
        key = self.sender().key
        panel = self.panel
        try:
            now = (str(panel.spec()), panel._input_shape())
        except ValueError:
            return
        if now != key:
            self.schedule()  # chosen another meanwhile
            return
        self.checked = key
        panel.document.set_data_context(source, panel.batch_size.value())

    def wait(self) -> None:
        if self.job is not None:
            self.job.wait()
