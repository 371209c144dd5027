"""The Inside view's picture strip: the sections one probe found (feature maps, filters, saliency, bars), the
input and the prediction, zoomed and saved as PNG. Mixed into ProbeView, which owns the widgets it fills."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFileDialog, QLabel

from .folders import chosen, start_in
from .probe_request import Shown
from .tiles import BarChart, TileGrid, to_qimage
from .worker import LoadJob


class PictureStrip:
    """Painting what a probe found into the view's scroll area (ProbeView's half that shows)."""

    def reset(self) -> None:
        """Another network: nothing of the previous one's is shown or kept (blocks, pictures, samples, models,
        statistics and their colours, messages)."""
        self._revision += 1
        self._asked += 1  # an answer still on its way belongs to the previous network
        self.blocks = []
        self.record = None
        self._samples = None
        self._models = {}
        self._live = None
        self.index.setRange(0, 0)
        self.error.hide()
        self.error.setText("")
        self.clear()
        self.colour_blocks()
        self.schedule()

    def clear(self) -> None:
        """Show nothing (the blocks shown are gone: another graph, or deleted)."""
        self.shown = None
        self._show_sections([])
        self.top_row.hide()
        self.input_picture.clear()
        self.prediction.clear()
        self.prediction_caption.setText("")
        self.weights.setText("")
        self.save_button.setEnabled(False)

    def _zoom(self, size: int) -> None:
        self.tile_size = size
        for grid in self.grids:
            grid.set_tile_size(size)

    def _show_sections(self, sections: list) -> None:
        for widget in self.section_widgets:
            self.body.removeWidget(widget)
            widget.setParent(None)  # gone from the view now, not when the event loop next deletes it
            widget.deleteLater()
        self.section_widgets, self.grids = [], []
        for section in sections:
            caption = QLabel(section.title + (f" ({section.note})" if section.note else ""))
            caption.setWordWrap(True)
            if section.kind == "tiles":
                view = TileGrid()
                view.set_tile_size(self.tile_size)
                view.show_tiles(section)
                self.grids.append(view)
            else:
                view = BarChart(140)
                view.show_bars(section)
            for widget in (caption, view):
                self.body.insertWidget(len(self.section_widgets) + 1, widget)  # after the input and prediction
                self.section_widgets.append(widget)

    def _show(self, shown: Shown) -> None:
        self.shown = shown
        self.error.hide()
        self.target.setText(f"<b>{', '.join(shown.blocks)}</b>: {shown.caption}")
        self.weights.setText(f"Weights: {shown.weights}." + (" " + " ".join(shown.notes) if shown.notes else ""))
        self._show_sections(shown.sections)
        self.top_row.setVisible(shown.input_tile is not None or shown.prediction is not None)
        if shown.input_tile is not None:
            image = to_qimage(shown.input_tile)
            self.input_picture.setPixmap(QPixmap.fromImage(image).scaled(
                64, 64, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))
        else:
            self.input_picture.clear()
        if shown.prediction is not None:
            self.prediction.show()
            self.prediction.show_bars(shown.prediction)
            self.prediction_caption.setText(shown.prediction.title)
        else:
            self.prediction.clear()
            self.prediction.hide()
            self.prediction_caption.setText("")
        self.save_button.setEnabled(True)

    def _show_error(self, message: str) -> bool:
        self.error.setText(message)
        self.error.show()
        if self.blocks:
            self.target.setText(f"<b>{', '.join(self.blocks)}</b>")
        return False

    def _save_png(self) -> None:
        shown = self.shown
        if shown is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the picture", start_in(f"{shown.blocks[0]}-{shown.mode}.png"),
                                              "PNG images (*.png)")
        if chosen(path):
            self.save_png(Path(path))

    def save_png(self, path: Path) -> None:
        """Write what the view shows as one PNG (on a worker thread)."""
        from ..core.inside.probe_pictures import Picture, Tiles, write_picture

        shown = self.shown
        sections = ([Tiles("input", [shown.input_tile], [""])] if shown.input_tile is not None else [])
        sections += ([shown.prediction] if shown.prediction is not None else []) + list(shown.sections)
        picture = Picture(f"{', '.join(shown.blocks)}: {shown.caption}; weights: {shown.weights}", sections)
        job = LoadJob(lambda: write_picture(picture, path))
        job.done.connect(lambda _r: self.message.emit(f"Saved {path}"))
        job.failed.connect(self._show_error)
        job.finished.connect(lambda: setattr(self, "_save_job", None))
        self._save_job = job
        job.start()
