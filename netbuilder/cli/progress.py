"""The CLI's progress: a line redrawn on a terminal, plain lines otherwise."""
from __future__ import annotations

import sys


class ProgressLine:
    """A progress bar on a terminal (one line, redrawn); a line per epoch when output is not a terminal."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream, self.tty = stream, stream.isatty()

    def batch(self, r) -> None:
        if not self.tty:
            return
        width = 24
        filled = round(width * r.progress)
        loss = sum(r.losses) / len(r.losses)
        self.stream.write(f"\repoch {r.epoch} [{'#' * filled}{'.' * (width - filled)}] {r.progress:4.0%}  "
                          f"loss {loss:.4f}  {r.samples_per_s:,.0f} samples/s  ETA {r.eta_s:.0f} s   ")
        self.stream.flush()

    def download(self, p) -> None:
        """A dataset being fetched: the line redrawn on a terminal; a line per finished file otherwise."""
        if self.tty:
            self.stream.write("\r" + p.describe().ljust(90))
            if p.total is not None and p.done >= p.total and p.index == p.files:
                self.stream.write("\n")
            self.stream.flush()
        elif p.total is not None and p.done >= p.total:
            print(p.describe(), file=self.stream, flush=True)

    def epoch(self, r) -> None:
        train = f"  train {r.train_metric:.4f}" if r.train_metric is not None else ""
        val = f"  val loss {r.val_loss:.4f}" if r.val_loss is not None else ""
        val += f"  val {r.val_metric:.4f}" if r.val_metric is not None else ""
        parts = r.weighted_losses()  # as they count in the objective (weight x loss)
        terms = "".join(f"  {name} {value:.4f}" for name, value in parts.items()) if len(parts) > 1 else ""
        line = f"epoch {r.epoch}/{r.epochs}  loss {r.train_loss:.4f}{terms}{train}{val}  {r.seconds:.1f} s"
        print(("\r" + line.ljust(100)) if self.tty else line, file=self.stream if self.tty else sys.stdout,
              flush=True)
