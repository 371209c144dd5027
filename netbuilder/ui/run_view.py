"""A run of the store shown again as it was when it ended: its curves on the plots, its results in the Results tab,
its picture in Samples, its weights in the Inside view (and in exports), its block statistics on the canvas.

When a run from the editor ends, what the Results and Samples tabs show is kept in its folder (`shown.pt`: texts,
counts, the few test samples shown, the regression's values, the picture as PNG; read back with weights_only). A
run made by `netbuilder train` has no shown.pt: its results are read from metrics.json and its pictures from its
PNG files.
"""
from __future__ import annotations

import html

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage

from ..core.training.runs import Run
from .weights_in_view import read_run_weights
from .worker import LoadJob

SHOWN_FILE = "shown.pt"
SHOWN_FORMAT = "netbuilder.shown"
MAX_POINTS = 20_000  # a regression's values kept for its scatter plot
PICTURE_CAPTIONS = {"samples.png": "Generated from new noise, after the last epoch",
                    "reconstructions.png": "Test samples (left) beside their reconstructions (right)"}


def save_shown(run: Run, results: dict | None, made) -> bool:
    """Keep what the Results tab (result_view's data) and the Samples tab (`made`, a MadeSamples) show of a run that
    has just ended, in its folder. A failure to write is not the run's: False."""
    from ..core.build.weights import atomic_torch_save

    shown: dict = {"format": SHOWN_FORMAT, "results": None, "picture": None}
    if results is not None:
        shown["results"] = {k: (v[:MAX_POINTS] if k in ("predicted", "true") else v) for k, v in results.items()}
    image = made.picture.image
    if image is not None and not image.isNull():
        shown["picture"] = {"png": _png(image), "caption": made.caption.text()}
    try:
        atomic_torch_save(shown, run.path / SHOWN_FILE)
    except Exception:  # noqa: BLE001 - the run is kept whatever happens to this view of it
        return False
    return True


def read_shown(run: Run) -> dict | None:
    """A run's shown.pt, or None when it has none or it cannot be read (its results come from metrics.json)."""
    from ..core.build.weights import read_tensors

    path = run.path / SHOWN_FILE
    if not path.is_file():
        return None
    try:
        shown = read_tensors(path)
    except Exception:  # noqa: BLE001 - damaged or not ours: read the run's own files instead
        return None
    return shown if isinstance(shown, dict) and shown.get("format") == SHOWN_FORMAT else None


def _png(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data)


def view_from_metrics(run: Run) -> dict:
    """What the Results tab can show of a run from its metrics.json: its test figures, its confusion matrix."""
    metrics = run.metrics or {}
    test = run.test
    parts = []
    headline = run.headline
    if headline is not None:
        parts.append(f"test {html.escape(headline.text)}")
    if isinstance(test.get("loss"), (int, float)):
        losses = test.get("losses") or {}
        parts.append(f"test loss {test['loss']:.4g}" + (" (" + ", ".join(f"{html.escape(k)} {v:.4g}" for k, v in
                                                                       losses.items() if isinstance(v, (int, float)))
                                                         + ")" if len(losses) > 1 else ""))
    summary = " · ".join(parts) + ("<br>" if parts else "") + html.escape(run.message or f"run {run.status}")
    view = {"summary": summary, "tip": "", "page": "note", "weights": run.has_weights(),
            "note": "" if test else f"Run {run.number} has no test figures ({run.status})."}
    counts, classes = test.get("confusion_matrix"), metrics.get("classes")
    if isinstance(counts, list) and isinstance(classes, list) and len(counts) == len(classes):
        view.update(page="classes", counts=counts, classes=classes, samples=[],
                    caption="Confusion matrix: true class down, predicted across")
    return view


def picture_of(run: Run, shown: dict | None) -> tuple[QImage, str] | None:
    """The picture the Samples tab showed when the run ended (else its samples or reconstructions PNG)."""
    picture = (shown or {}).get("picture")
    if isinstance(picture, dict) and isinstance(picture.get("png"), bytes):
        image = QImage.fromData(picture["png"], "PNG")
        if not image.isNull():
            return image, str(picture.get("caption", ""))
    for path in run.pictures:
        if path.name in PICTURE_CAPTIONS:
            image = QImage(str(path))
            if not image.isNull():
                return image, PICTURE_CAPTIONS[path.name]
    return None


def show_run(panel, probe, run: Run, on_error=None) -> LoadJob | None:
    """Show `run` in the training panel's tabs (curves, results, samples) and make its weights the weights in view
    (read on a worker thread: the returned job; None when it has none). `probe` (the Inside view, or None) gets its
    block statistics."""
    curves = run.curves()
    panel.reset_results()
    panel.plots.show_history(curves["epochs"], curves["batch_losses"], (run.metrics or {}).get("metric")
                             or _metric_of(curves))
    shown = read_shown(run)
    results = (shown or {}).get("results") if shown else None
    view = results if isinstance(results, dict) and "summary" in results else view_from_metrics(run)
    view["weights"] = run.has_weights()
    panel.results.show_view(view)
    picture = picture_of(run, shown)
    if picture is not None:
        panel.made.show_saved(*picture)
    panel.status.setText(f"Run {run.number} ({run.status}): {run.message or 'no result'}"[:300])
    if probe is not None:
        blocks = (run.metrics or {}).get("blocks")
        probe.set_statistics(blocks[-1] if isinstance(blocks, list) and blocks and isinstance(blocks[-1], dict)
                             else None)
    if not run.has_weights():
        return None
    job = LoadJob(lambda: read_run_weights(run))
    job.done.connect(panel.set_in_view)
    if on_error is not None:
        job.failed.connect(on_error)
    job.start()
    return job


def _metric_of(curves: dict) -> str | None:
    epochs = curves.get("epochs") or []
    return "accuracy" if epochs and epochs[-1].get("train_metric") is not None else None


def resumed_settings(run: Run, epochs: int | None = None) -> dict:
    """The settings to continue `run` with, as TrainingPanel.start takes them: its own, to its planned epochs when
    it stopped short of them, else for as many epochs again (or `epochs`)."""
    from dataclasses import fields

    from ..core.training.config import TrainConfig

    settings = run.settings
    known = {f.name for f in fields(TrainConfig)}
    config = {k: v for k, v in settings.items() if k in known}
    done, planned = len(run.epochs), int(config.get("epochs", TrainConfig().epochs))
    config["epochs"] = epochs or (planned if done < planned else done + planned)
    if "data" not in settings:
        raise ValueError(f"run {run.number} does not record its dataset")
    return {"config": config, "data": settings["data"], "val_fraction": float(settings.get("val_fraction", 0.1)),
            "test_fraction": float(settings.get("test_fraction", 0.2))}
