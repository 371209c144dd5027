"""TensorBoard event files in a run's folder, where the `tensorboard` package is installed (`pip install
"netbuilder[tensorboard]"`), so that `tensorboard --logdir NAME.runs` shows every run of a network:

    loss/train, loss/val, <metric>/train, <metric>/val, lr     per epoch
    losses/<block>/train, losses/<block>/val                  per epoch, each loss block
    batch/loss                                                every batch (step: the batch's number in the run)
    samples, reconstructions                                  the run's pictures, as images
    hparams                                                   the settings, with the test figures as its metrics

Without the package nothing is written and nothing fails. Written with torch.utils.tensorboard's SummaryWriter.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def available() -> bool:
    """Whether TensorBoard's writer can be imported here."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return False
    return True


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class BoardWriter:
    """Writes one run's events; every method is cheap (SummaryWriter buffers and flushes on its own thread)."""

    def __init__(self, folder: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder))
        self.batches_written = 0

    def batches(self, losses: list[float]) -> None:
        """Every batch loss since the last call (the run's batch_losses list, as it grows)."""
        for step, value in enumerate(losses[self.batches_written:], start=self.batches_written + 1):
            if _finite(value):
                self.writer.add_scalar("batch/loss", value, step)
        self.batches_written = len(losses)

    def epoch(self, entry: dict, metric: str | None) -> None:
        """One epoch of the history (core/training/config.py's EpochReport as a dict)."""
        step = int(entry.get("epoch", 0))
        scalars = {"loss/train": entry.get("train_loss"), "loss/val": entry.get("val_loss"), "lr": entry.get("lr")}
        if metric:
            scalars.update({f"{metric}/train": entry.get("train_metric"), f"{metric}/val": entry.get("val_metric")})
        for split, key in (("train", "losses"), ("val", "val_losses")):
            for block, value in (entry.get(key) or {}).items():
                scalars[f"losses/{block}/{split}"] = value
        for tag, value in scalars.items():
            if _finite(value):
                self.writer.add_scalar(tag, value, step)

    def picture(self, name: str, png: Path) -> None:
        """A PNG the run wrote, as an image."""
        import numpy as np
        from PIL import Image

        with Image.open(png) as image:
            pixels = np.asarray(image.convert("RGB"))
        self.writer.add_image(name, pixels, dataformats="HWC")

    def hparams(self, settings: dict, figures: dict[str, float]) -> None:
        """The run's settings as hyperparameters, its test figures as their metrics (`hparam/<figure>`)."""
        from torch.utils.tensorboard.summary import hparams

        values = {k: (v if isinstance(v, (bool, str)) or _finite(v) else str(v)) for k, v in settings.items()
                  if v is not None}
        metrics = {f"hparam/{k}": float(v) for k, v in figures.items() if _finite(v)}
        for summary in hparams(values, metrics):
            self.writer.file_writer.add_summary(summary)
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value)

    def close(self) -> None:
        self.writer.close()
