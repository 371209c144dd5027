"""The training panel's parts from issue 14: the memory plan before Start, the speed settings, and a classic
dataset's download progress (from a local HTTP server; never the internet)."""
from netbuilder.core.data.download import DownloadProgress
from tests.conftest import EXAMPLES
from tests.test_download import Server


def test_the_memory_plan_is_shown_before_start_and_follows_the_batch_size(window, qtbot):
    panel = window.training
    assert window.open_path(EXAMPLES / "resnet18.json")
    qtbot.waitUntil(lambda: panel.memory_plan.text().startswith("Memory: about"), timeout=60_000)
    assert "free; batches up to" in panel.memory_plan.text()
    assert "gradients" in panel.memory_plan.toolTip() and "activations" in panel.memory_plan.toolTip()
    panel.batch_size.setValue(1_000_000)
    qtbot.waitUntil(lambda: panel.memory_plan.text().endswith("this batch does NOT fit"), timeout=60_000)
    assert not panel.is_running


def test_the_speed_settings_reach_the_run(window):
    panel = window.training
    assert panel.config().compile == "auto" and panel.config().tune == "auto"
    panel.compile_box.setChecked(False)
    panel.tune_box.setChecked(False)
    assert panel.config().compile == "off" and panel.config().tune == "off"


def test_a_download_shows_its_progress_and_a_wrong_file_one_message(window, qtbot, tmp_path, monkeypatch):
    # not MNIST's real file: of its size (which the checksum table knows), but its checksum cannot match
    server = Server({"train-images-idx3-ubyte.gz": bytes(9_912_422)})
    try:
        monkeypatch.setenv("NETBUILDER_DATA", str(tmp_path / "data"))
        monkeypatch.setenv("NETBUILDER_DATASET_MIRRORS", server.url)
        panel = window.training
        seen: list[DownloadProgress] = []
        panel._downloads.progress.connect(seen.append)
        panel.select_dataset("mnist")
        panel.show_preview()
        qtbot.waitUntil(lambda: panel.error.isVisible(), timeout=30_000)
        assert seen and seen[0].file == "train-images-idx3-ubyte.gz" and seen[-1].done == seen[-1].total
        assert panel.status.text().startswith("Downloading mnist: train-images-idx3-ubyte.gz (1/4)")
        assert panel.error.text().startswith("cannot download mnist (") and "does not match its checksum" in \
            panel.error.text()
    finally:
        server.close()
