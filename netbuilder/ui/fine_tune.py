"""The start page's "Fine-tune a pretrained network on your images": pick a network and an image folder; its
ImageNet weights are downloaded (first time, with progress), its head resized to the folder's classes and its body
frozen (core/exchange/fine_tune.py), the graph saved beside the folder, opened, and its training started."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)


class FineTuneDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        from ..core.exchange.pretrained import PRETRAINED

        super().__init__(parent)
        self.setWindowTitle("Fine-tune a pretrained network on your images")
        self.network = QComboBox()
        for spec in PRETRAINED.values():
            self.network.addItem(f"{spec.title} (ImageNet weights, {spec.megabytes} MB to download once)", spec)
        self.network.setCurrentIndex(list(PRETRAINED).index("resnet18"))
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a folder with one sub-folder of images per class")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        self.found = QLabel()
        self.found.setObjectName("help")
        self.folder.textChanged.connect(self._look)
        note = QLabel("The network keeps what it learned on ImageNet: its body is frozen, and only a new last layer, "
                      "one output per class of your folder, learns. Images are resized to 224x224 and normalized as "
                      "the weights expect.")
        note.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(note)
        form.addRow("Network:", self.network)
        form.addRow("Image folder:", row)
        form.addRow("", self.found)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Fine-tune")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self._look()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Image folder (one sub-folder per class)")
        if folder:
            self.folder.setText(folder)

    def _look(self) -> None:
        from ..core.base.errors import NetbuilderError
        from ..core.exchange.fine_tune import image_classes

        ok = False
        text = self.folder.text().strip()
        if not text:
            self.found.setText("")
        else:
            try:
                classes = image_classes(text)
                self.found.setText(f"{len(classes)} classes: {', '.join(classes[:6])}{', …' if len(classes) > 6 else ''}")
                ok = True
            except (NetbuilderError, OSError) as e:
                self.found.setText(str(e))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def choice(self):
        return self.network.currentData(), Path(self.folder.text().strip())


class _Job(QThread):
    progress = Signal(object)  # a DownloadProgress
    done = Signal(object)  # the graph's Path
    failed = Signal(str)

    def __init__(self, spec, folder: Path, target: Path) -> None:
        super().__init__()
        self.spec, self.folder, self.target = spec, folder, target

    def run(self) -> None:
        from ..core.checks.messages import describe
        from ..core.exchange.fine_tune import write_fine_tune

        try:
            self.done.emit(write_fine_tune(self.spec, self.folder, self.target, self.progress.emit))
        except Exception as e:  # noqa: BLE001 - each error becomes its one line
            self.failed.emit(describe(e))


class FineTuning(QObject):
    """Asks, prepares on a thread, then hands the graph's path over (`ready`) to be opened and trained."""

    ready = Signal(object)  # the Path of the graph to open and train
    message = Signal(str)

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self.job: _Job | None = None

    def ask(self) -> None:
        dialog = FineTuneDialog(self.window)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.start(*dialog.choice())

    def start(self, spec, folder: Path) -> bool:
        """Prepare SPEC's network for FOLDER's classes; the graph goes beside the folder, under a free name."""
        from ..core.exchange.fine_tune import free_name

        if self.job is not None and self.job.isRunning():
            return False
        folder = Path(folder).resolve()
        target = free_name(folder.parent, f"{spec.name}_{folder.name}")
        self.job = _Job(spec, folder, target)
        self.job.progress.connect(lambda p: self.message.emit(p.describe()))
        self.job.done.connect(self._done)
        self.job.failed.connect(self._failed)
        self.message.emit(f"Preparing {spec.title} for the images in {folder.name}…")
        self.job.start()
        return True

    def _done(self, path: Path) -> None:
        self.message.emit(f"Saved {path.name} (and its weights {path.with_suffix('.pt').name}) beside the images; "
                          "training starts")
        self.ready.emit(path)

    def _failed(self, error: str) -> None:
        self.message.emit(error)
        QMessageBox.warning(self.window, "Cannot fine-tune", error)

    def wait(self) -> None:
        if self.job is not None:
            self.job.wait()
