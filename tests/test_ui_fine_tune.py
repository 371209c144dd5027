"""The start page's "Fine-tune a pretrained network on your images": the dialog (networks, an image folder and its
classes), then the weights downloaded from a local server, the graph saved beside the folder, opened, and trained."""
import dataclasses

import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QPushButton

import tests.torchvision_like as tv
from netbuilder.core.exchange.pretrained import PRETRAINED
from netbuilder.ui.fine_tune import FineTuneDialog
from tests.test_pretrained import as_published, image_folder


def test_the_start_page_offers_fine_tuning(window, qtbot, tmp_path):
    window.show_start_page()
    button = next(b for b in window.start_page.findChildren(QPushButton) if b.text().startswith("Fine-tune"))
    shown = []

    def close_it():  # the button opens the dialog (modal): look at it, then cancel
        dialog = QApplication.activeModalWidget()
        shown.append(type(dialog).__name__)
        dialog.reject()

    QTimer.singleShot(200, close_it)
    button.click()
    assert shown == ["FineTuneDialog"]
    dialog = FineTuneDialog(window)
    qtbot.addWidget(dialog)
    assert [dialog.network.itemData(i).name for i in range(dialog.network.count())] == list(PRETRAINED)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.folder.setText(str(image_folder(tmp_path / "photos", ("ants", "bees", "wasps"), each=1)))
    assert ok.isEnabled() and dialog.found.text() == "3 classes: ants, bees, wasps"
    dialog.folder.setText(str(tmp_path))
    assert not ok.isEnabled() and "at least two class sub-folders" in dialog.found.text()


def test_fine_tuning_downloads_saves_opens_and_trains(window, qtbot, tmp_path, server):
    torch.manual_seed(0)
    data, file = as_published("resnet18", tv.ResNet18())
    server.files[file] = data
    spec = dataclasses.replace(PRETRAINED["resnet18"], file=file)
    folder = image_folder(tmp_path / "photos")
    (tmp_path / "resnet18_photos.json").write_text("a file of mine")  # never overwritten: a free name is taken
    assert window.fine_tuning.start(spec, folder)
    target = tmp_path / "resnet18_photos_2.json"
    qtbot.waitUntil(lambda: window.document.path == target, timeout=120_000)
    assert (tmp_path / "resnet18_photos.json").read_text() == "a file of mine"
    graph = window.document.graph
    assert graph.find("fc").params["out_features"] == 2 and graph.find("conv1").frozen
    qtbot.waitUntil(lambda: window.training.is_running, timeout=30_000)
    window.training.stop()
    qtbot.waitUntil(lambda: not window.training.is_running, timeout=120_000)
