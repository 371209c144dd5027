"""The augmentations of the training settings: one row per kind (on or off, its strength, its probability), and a
preview of 16 augmented samples of the chosen dataset, masks drawn over their images, redrawn on request with a
new draw. The preview is made on a worker thread (core/inside/augment_preview.py); this widget never trains."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.data.augment import KINDS, parse_augment
from .worker import LoadJob

WORDS = {  # what each strength is, as the row's tooltip says it
    "flip": "mirror left-right; strength: how often", "vflip": "turn upside down; strength: how often",
    "crop": "pad by this many pixels and cut a random window (a shift of up to as many pixels)",
    "translate": "shift by up to this fraction of the size", "rotate": "rotate by up to this many degrees",
    "scale": "zoom by a factor in 1 ± this", "brightness": "multiply by a factor in 1 ± this",
    "contrast": "stretch around the mean grey by a factor in 1 ± this",
    "colour": "saturation by a factor in 1 ± this, hue by up to a quarter of it (3-channel images)",
    "noise": "add Gaussian noise of this std (normalized units); the network's input only",
    "erase": "erase a box of this fraction of the height and width (cut-out); the network's input only",
}


class AugmentationEditor(QWidget):
    """Rows of augmentations with their strengths; steps() is what a run and a recipe take. `context()` gives (the
    graph, the dataset spec, a loader) for the preview; `show(widget)` puts the preview page where it is seen."""

    changed = Signal()

    def __init__(self, context: Callable[[], tuple], show: Callable[[QWidget], None]) -> None:
        super().__init__()
        self.context, self.show_page = context, show
        self.rows: dict[str, tuple[QCheckBox, QSpinBox | QDoubleSpinBox, QDoubleSpinBox | None]] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        for row, (name, (key, default, low, high, default_p, _family)) in enumerate(KINDS.items()):
            box = QCheckBox(name)
            box.setToolTip(WORDS.get(name, name))
            strength = QSpinBox() if key == "padding" else QDoubleSpinBox()
            if isinstance(strength, QDoubleSpinBox):
                strength.setDecimals(0 if key == "degrees" else 2)
                strength.setSingleStep(5 if key == "degrees" else 0.05)
            strength.setRange(low, high)
            strength.setValue(default)
            strength.setPrefix("p " if key == "p" else f"{key} ")
            strength.setToolTip(WORDS.get(name, name))
            chance = None
            if key != "p":
                chance = QDoubleSpinBox()
                chance.setRange(0, 1)
                chance.setSingleStep(0.1)
                chance.setDecimals(2)
                chance.setValue(default_p)
                chance.setPrefix("p ")
                chance.setToolTip("the probability that a sample gets it")
            for widget in (box, strength, chance):
                if widget is not None:
                    signal = widget.toggled if widget is box else widget.valueChanged
                    signal.connect(lambda *_: self.changed.emit())
            grid.addWidget(box, row, 0)
            grid.addWidget(strength, row, 1)
            if chance is not None:
                grid.addWidget(chance, row, 2)
            self.rows[name] = (box, strength, chance)
        self.preview_button = QPushButton("Preview augmentation")
        self.preview_button.setToolTip("16 samples of the chosen dataset as training will see them, masks drawn "
                                       "over their images")
        self.preview_button.clicked.connect(lambda: self.preview())
        grid.addWidget(self.preview_button, len(KINDS), 0, 1, 3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)
        self.seed = 0
        self.image = None  # the last preview (a Pillow image), for whoever wants it
        self.note = ""  # what the preview page says instead of a picture
        self.page: QWidget | None = None
        self._job: LoadJob | None = None

    # ----- the settings

    def steps(self) -> list[str]:
        """The checked rows as a run's settings record them: ["flip", "rotate=20", "erase=0.2:p=0.8"]."""
        items = []
        for name, (box, strength, chance) in self.rows.items():
            if box.isChecked():
                item = {"name": name, KINDS[name][0]: strength.value()}
                if chance is not None:
                    item["p"] = round(chance.value(), 4)
                items.append(item)
        return [step.text() for step in parse_augment(items)]

    def set_steps(self, spec) -> None:
        """Show a recipe's augmentation (rows it does not name are off, at their defaults)."""
        steps = {step.name: step for step in parse_augment(spec or [])}
        for name, (box, strength, chance) in self.rows.items():
            key, default, _low, _high, default_p, _family = KINDS[name]
            step = steps.get(name)
            box.setChecked(step is not None)
            strength.setValue(step.strength if step is not None else default)
            if chance is not None:
                chance.setValue(step.p if step is not None else default_p)

    # ----- the preview

    def preview(self, redraw: bool = False) -> bool:
        """Make the grid of the chosen dataset in the background (a new draw when `redraw`); False when a preview
        is being made or there is nothing to show."""
        if self._job is not None and self._job.isRunning():
            return False
        from ..core.checks.messages import describe

        try:
            steps = self.steps()
            graph, spec, load = self.context()
        except ValueError as e:
            self._show_text(describe(e))
            return False
        if not steps:
            self._show_text("Tick an augmentation to see what it does to the samples.")
            return False
        self.seed = self.seed + 1 if redraw else self.seed

        def make():
            from ..core.inside.augment_preview import augment_preview

            return augment_preview(graph, spec, steps, seed=self.seed, load=load)

        self._job = LoadJob(make)
        self._job.done.connect(self._show_image)
        self._job.failed.connect(self._show_text)
        self._show_text("Drawing augmented samples…")
        self._job.start()
        return True

    def _show_image(self, image) -> None:
        import io

        self.image, self.note = image, ""
        data = io.BytesIO()
        image.save(data, format="PNG")
        pixmap = QPixmap()
        pixmap.loadFromData(data.getvalue(), "PNG")
        picture = QLabel()
        picture.setPixmap(pixmap)
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        caption = QLabel(image.info.get("caption", ""))
        caption.setObjectName("help")
        caption.setWordWrap(True)
        self._show_page(picture, caption)

    def _show_text(self, text: str) -> None:
        self.image, self.note = None, text
        label = QLabel(text)
        label.setWordWrap(True)
        self._show_page(label)

    def _show_page(self, *widgets: QWidget) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        for widget in widgets:
            layout.addWidget(widget)
        buttons = QHBoxLayout()
        self.redraw_button = QPushButton("Redraw")
        self.redraw_button.setToolTip("another random draw of the same augmentation")
        self.redraw_button.clicked.connect(lambda: self.preview(redraw=True))
        buttons.addStretch(1)
        buttons.addWidget(self.redraw_button)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.page = page
        self.show_page(page)
