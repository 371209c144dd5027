"""Recording a run while it trains: the trainer's callbacks feed a RunRecorder, which keeps the run's folder up to
date (curves.json at most every `interval` seconds, atomically; TensorBoard events where installed) and writes
its results and final status when it ends. `netbuilder train` and the editor's training thread both use it:

    run = RunStore.beside(graph_path).create(graph, settings)
    with RunRecorder(run) as recorder:              # an exception marks the run failed (Ctrl+C: stopped)
        trainer = Trainer(model, splits, config, on_epoch=..., on_batch=...)
        recorder.attach(trainer)                    # chains onto the trainer's own callbacks
        result = trainer.fit(checkpoint=run.checkpoint_file)
        recorder.finish(trainer, result, data=spec, pictures=lambda folder: write_pictures(folder, ...))
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from ...base.errors import first_line, shorten
from .run import CURVES_FILE, ENDED, Run, RunError, now_text, read_run, write_json
from .store import store_lock, update_record

CURVES_FORMAT = "netbuilder.curves"
RESULT_STATUS = {"finished": "finished", "early_stopped": "finished", "stopped": "stopped", "diverged": "diverged"}


class RunRecorder:
    def __init__(self, run: Run, *, interval: float = 1.0, tensorboard: bool | None = None) -> None:
        """`tensorboard`: write TensorBoard events (None: when the package is installed; True where it is not is
        refused by name)."""
        from .tensorboard import available

        if tensorboard and not available():
            raise RunError('TensorBoard is not installed here: pip install "netbuilder[tensorboard]" (or tensorboard)')
        self.run, self.path = run, run.path
        self.interval = interval
        self.trainer = None
        self.ended = False
        self._tensorboard = available() if tensorboard is None else tensorboard
        self.board = None
        self._start = time.monotonic()
        self._last_write = -float("inf")
        self._batches: int | None = None
        self._lock = threading.Lock()  # the training thread writes; another may end the run (the editor's stop)

    # ----- while it trains

    def attach(self, trainer) -> None:
        """Follow a Trainer: its on_batch and on_epoch callbacks now also feed this recorder (after their own
        work); its device goes into run.json."""
        self.trainer = trainer
        own_batch, own_epoch = trainer.on_batch, trainer.on_epoch

        def on_batch(report) -> None:
            own_batch(report)
            self.on_batch(report)

        def on_epoch(report) -> None:
            own_epoch(report)
            self.on_epoch(report)

        trainer.on_batch, trainer.on_epoch = on_batch, on_epoch
        if self._tensorboard and self.board is None:
            from .tensorboard import BoardWriter

            self.board = BoardWriter(self.path)
        processes = trainer.world.size if getattr(trainer, "world", None) is not None else 1
        self._update(device=str(trainer.device), processes=processes)

    def on_batch(self, report) -> None:
        self._batches = report.batches
        if time.monotonic() - self._last_write >= self.interval:
            self.save_curves()

    def on_epoch(self, report) -> None:
        if self.board is not None and self.trainer is not None and self.trainer.history:
            self.board.epoch(self.trainer.history[-1], self.trainer.metric_name)
        if time.monotonic() - self._last_write >= self.interval or len(self.trainer.history) <= 1:
            self.save_curves()

    def save_curves(self) -> None:
        """Write curves.json now: the per-epoch history and every batch's loss so far (also a sign of life)."""
        trainer = self.trainer
        if trainer is None:
            return
        with self._lock:
            epochs, losses = list(trainer.history), list(trainer.batch_losses)
            write_json(self.path / CURVES_FILE, {"format": CURVES_FORMAT, "epochs": epochs, "batch_losses": losses,
                                                 "batches_per_epoch": self._batches, "metric": trainer.metric_name})
            if self.board is not None:
                self.board.batches(losses)
            self._last_write = time.monotonic()

    # ----- when it ends

    def finish(self, trainer, result, *, data: str, graph_path: str | None = None,
               pictures: Callable[[Path], list[str]] | None = None, status: str | None = None,
               message: str | None = None) -> list[str]:
        """The run has ended (a TrainResult): write weights.pt, metrics.json, curves.json, the pictures
        (`pictures(folder)` writes them and returns their names) and TensorBoard's, then the final status: the
        result's (early_stopped is finished), or `status` and `message` when given (a sweep's `pruned`). The
        names of the files written."""
        from ..experiment import write_outputs

        if status is not None and status not in ENDED:
            raise RunError(f"a run ends as one of {', '.join(ENDED)}, not {str(status)[:30]!r}")
        self.trainer = self.trainer or trainer
        write_outputs(self.path, trainer, result, data, graph_path)
        self.save_curves()
        written = ["weights.pt", "metrics.json", CURVES_FILE]
        problem = None
        try:
            if pictures is not None:
                written += pictures(self.path)
        except Exception as e:  # noqa: BLE001 - the run's results are kept; the failure is said, then raised
            problem = e
        if self.board is not None:
            self._close_board(written, trainer, result)
        status = status or RESULT_STATUS.get(result.status, "finished")
        message = (message or result.message) + (f"; its pictures were not written ({first_line(problem)})" if problem else "")
        self._end(status, message, notes=list(getattr(trainer, "notes", [])))
        if problem is not None:
            raise problem
        return written

    def end(self, status: str, message: str) -> None:
        """End the run without results: `failed` (an error), `stopped`, `pruned` (a sweep gave up on it), ... The
        curves so far are kept; so is the last checkpoint."""
        try:
            self.save_curves()
        except OSError:
            pass
        if self.board is not None:
            self.board.close()
        self._end(status, message)

    def _close_board(self, written: list[str], trainer, result) -> None:
        for name in written:
            if name.endswith(".png"):
                self.board.picture(Path(name).stem, self.path / name)
        figures = {"test_loss": result.test_loss}
        if result.metric_name:
            figures[f"test_{result.metric_name}"] = result.test_metric
        settings = read_run(self.path).settings
        self.board.hparams(settings, figures)
        self.board.close()

    def _end(self, status: str, message: str, **more) -> None:
        if status not in ENDED:
            raise RunError(f"a run ends as one of {', '.join(ENDED)}, not {str(status)[:30]!r}")
        with self._lock:
            if self.ended:
                return
            self.ended = True
        self._update(status=status, message=shorten(message), ended=now_text(),
                     seconds=round(time.monotonic() - self._start, 3), **more)

    def _update(self, **changes) -> None:
        with store_lock(self.path.parent):
            self.run = update_record(self.path, changes)

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self.ended or kind is None:
            if kind is None and not self.ended:
                self.end("stopped", "ended without a result")
            return
        if issubclass(kind, KeyboardInterrupt):
            self.end("stopped", "terminated (SIGTERM)" if type(error).__name__ == "Terminated" or str(error) ==
                     "signal 15" else "interrupted (Ctrl+C)")
        else:
            self.end("failed", first_line(error))
