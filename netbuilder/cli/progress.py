"""The CLI's progress, through tqdm.

On a terminal (standard error): one bar for the run (epoch, percentage, loss, speed, time left) and one per file
downloaded, redrawn in place and never wider than the terminal (a narrow one gets a shorter bar, then a cut line);
notes, Python warnings raised meanwhile and epoch summaries stand on lines of their own above the bar, folded
between words to the terminal's width. Epoch summaries and the result go to standard output, so that
`netbuilder train ... > log.txt` keeps them, as plain lines. Without a terminal (a log file, a pipe): plain lines,
no carriage returns: one per epoch, per file downloaded, when a download waits for another process or stalls, and
each note.
"""
from __future__ import annotations

import os
import sys
import textwrap
import warnings
from contextlib import contextmanager

from tqdm import tqdm

RUN_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {stats}"
FILE_FORMAT = "{desc}{stats} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}B {rate_fmt}"  # a stall before the bar
WAIT_FORMAT = "{desc} ({elapsed})"
STALL_SHOWN_S = 2.0  # seconds without data before the bar says so
STALL_LINE_S = 10.0  # ... before a plain line says so (once per stall)


class _Bar(tqdm):
    """A tqdm bar with a `stats` text of ours in its format (tqdm's own postfix comes with a comma before it)."""

    stats = ""

    @property
    def format_dict(self):
        return {**super().format_dict, "stats": self.stats}


class ProgressLine:
    """A bar on a terminal (tqdm, sized to the terminal), plain lines otherwise."""

    def __init__(self, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream)
        self.run_bar: _Bar | None = None
        self.file_bar: _Bar | None = None
        self.file_key: tuple | None = None
        self.epochs = 0
        self.said: set[tuple] = set()  # what was said already as a plain line (a wait, a stall)

    # ----- training

    def start(self, epochs: int) -> None:
        """Show the run's bar at 0% (a terminal), so that what is said from the first batch on stands above it."""
        self.epochs = epochs
        if self.tty:
            self._run_bar(f"epoch 1/{epochs}")

    def batch(self, r) -> None:
        if not self.tty:
            return
        bar = self._run_bar()
        loss = sum(r.losses) / len(r.losses) if r.losses else float("nan")
        bar.set_description_str(f"epoch {r.epoch}/{self.epochs}" if self.epochs else f"epoch {r.epoch}",
                                refresh=False)
        bar.stats = f"loss {loss:.4f}, {r.samples_per_s:,.0f} samples/s, ETA {_duration(r.eta_s)}"
        bar.n = round(1000 * min(max(r.progress, 0.0), 1.0))
        bar.refresh()

    def epoch(self, r) -> None:
        """An epoch's summary: a line on standard output (above the bar, when that is the same terminal)."""
        train = f"  train {r.train_metric:.4f}" if r.train_metric is not None else ""
        val = f"  val loss {r.val_loss:.4f}" if r.val_loss is not None else ""
        val += f"  val {r.val_metric:.4f}" if r.val_metric is not None else ""
        parts = r.weighted_losses()  # as they count in the objective (weight x loss)
        terms = "".join(f"  {name} {value:.4f}" for name, value in parts.items()) if len(parts) > 1 else ""
        line = f"epoch {r.epoch}/{r.epochs}  loss {r.train_loss:.4f}{terms}{train}{val}  {r.seconds:.1f} s"
        self.epochs = r.epochs
        if self.tty:  # written through tqdm, which takes the bar away meanwhile
            tqdm.write(_fold(line, sys.stdout) if _isatty(sys.stdout) else line, file=sys.stdout)
            sys.stdout.flush()
        else:
            print(line, file=sys.stdout, flush=True)

    def note(self, text: str) -> None:
        """A line of its own (above the bars on a terminal)."""
        if self.tty:
            tqdm.write(self._fit(text), file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def result(self, text: str) -> None:
        """What the run wrote, on standard output (folded to the width of a terminal there, by words)."""
        self.close()
        print(_fold(text, sys.stdout) if _isatty(sys.stdout) else text, flush=True)

    def _fit(self, text: str) -> str:
        """A line folded by words to the terminal's width, so that the terminal never wraps it (nor cuts a word)."""
        return _fold(text, self.stream)

    @contextmanager
    def warnings_as_notes(self):
        """Python warnings raised meanwhile are notes ("warning: ..."), one line each, not drawn over the bar."""
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            self.note(f"warning: {message}")

        warnings.showwarning = show
        try:
            yield self
        finally:
            warnings.showwarning = shown

    def close(self) -> None:
        """Take the bars away (a terminal): what follows is printed on a clean line."""
        for bar in (self.file_bar, self.run_bar):
            if bar is not None:
                bar.close()
        self.run_bar = self.file_bar = self.file_key = None

    def _run_bar(self, desc: str = "epoch") -> _Bar:
        if self.run_bar is None:
            self.run_bar = _Bar(total=1000, desc=desc, file=self.stream, dynamic_ncols=True, bar_format=RUN_FORMAT,
                                leave=False, mininterval=0.1)
        return self.run_bar

    # ----- downloads

    def download(self, p) -> None:
        """A file being fetched (data.download.DownloadProgress): a bar per file on a terminal (kept when the file
        is complete); otherwise a line per file finished, and one when it starts waiting or stalls."""
        if not self.tty:
            self._download_lines(p)
            return
        waiting = p.waiting is not None
        key = (p.dataset, p.file, waiting)
        if key != self.file_key:
            if self.file_bar is not None:
                self.file_bar.close()
            self.file_key = key
            self.file_bar = _Bar(total=None if waiting else p.total, file=self.stream, dynamic_ncols=True,
                                 unit="B", unit_scale=True, unit_divisor=1024, leave=not waiting, mininterval=0.1,
                                 bar_format=WAIT_FORMAT if waiting else FILE_FORMAT if p.total else None,
                                 desc=f"{p.dataset}: waiting for another process" if waiting
                                 else f"{p.file} ({p.index}/{p.files})")
        bar = self.file_bar
        if waiting:
            bar.refresh()
            return
        if p.total and bar.total != p.total:
            bar.total = p.total
        bar.n = p.done
        bar.stats = f", no data for {p.stalled:.0f} s" if p.stalled >= STALL_SHOWN_S else ""
        bar.refresh()
        if p.total is not None and p.done >= p.total:
            bar.close()
            self.file_bar = self.file_key = None

    def _download_lines(self, p) -> None:
        if p.waiting is not None:
            key = ("wait", p.dataset)
        elif p.stalled >= STALL_LINE_S:
            key = ("stall", p.dataset, p.file, p.done)  # once per stall
        elif p.total is not None and p.done >= p.total:
            key = ("done", p.dataset, p.file)
        else:
            return
        if key not in self.said:
            self.said.add(key)
            print(p.describe(), file=self.stream, flush=True)


def _isatty(stream) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def _fold(text: str, stream) -> str:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 80
    width = max(columns - 1, 20)  # the last column left free: some terminals wrap on reaching it
    return "\n".join(_fold_line(line, width) for line in text.split("\n"))


def _fold_line(line: str, width: int) -> str:
    """Break between fields (two spaces: "loss 0.41  val 0.52") where possible, else between words."""
    lines: list[str] = []
    for field in line.split("  "):
        joined = f"{lines[-1]}  {field}" if lines else field
        if lines and len(joined) <= width:
            lines[-1] = joined
            continue
        indent = "    " if lines else ""
        lines += textwrap.wrap(field, width, initial_indent=indent, subsequent_indent="    ", break_long_words=False,
                               break_on_hyphens=False) or [indent + field]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if not seconds < 1e7:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"
