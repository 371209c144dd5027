"""One run of a store, as it is on disk: a folder of plain files, read without ever failing half-way.

    NNN-LABEL/
      run.json         what, when, how: settings, dataset, status, times, device, versions, name, note, star,
                       a sweep trial's parameters, the process writing it (pid, host)
      graph.json       the graph as it was trained (a snapshot)
      curves.json      per-epoch history and every batch's loss, kept up to date while the run goes
      metrics.json     the results (core/training/experiment.py: settings, epochs, test figures, ...)
      weights.pt       the trained state (weights and input normalization); checkpoint.pt: the last epoch's
      samples.png ...  pictures (core/inside/pictures.py); events.out.tfevents.* where TensorBoard is installed

`read_run(folder)` never raises for what it finds: a file that is missing, cut short or not ours gives the run a
`problem` (one line), and every other run still lists. A run whose run.json says `running` but whose process is
gone (killed, a power cut) is read as `killed`. No torch here: listing runs is quick and Qt's thread may do it.
"""
from __future__ import annotations

import json
import math
import os
import re
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ...base.errors import NetbuilderError, first_line
from ...base.files import atomic_write_text

RUN_FORMAT = "netbuilder.run"
RUN_VERSION = 1
STATUSES = ("running", "finished", "stopped", "failed", "killed", "diverged", "pruned")
ENDED = tuple(s for s in STATUSES if s != "running")
RUN_FILE, GRAPH_FILE, METRICS_FILE, CURVES_FILE = "run.json", "graph.json", "metrics.json", "curves.json"
WEIGHTS_FILE, CHECKPOINT_FILE = "weights.pt", "checkpoint.pt"
FOLDER = re.compile(r"(?P<number>\d{1,9})(?:-(?P<label>[A-Za-z0-9._-]*))?")
STALE_SECONDS = 600  # a running run on another machine that has said nothing for this long is taken as killed
MAX_JSON_BYTES = 256 * 2**20


class RunError(NetbuilderError):
    """A run that is not there, cannot be used for what was asked, or a store that cannot be written."""


def now_text() -> str:
    """This moment as run.json writes it: ISO 8601, local time with its offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def parse_time(text: Any) -> float | None:
    """Seconds since the epoch of an ISO 8601 time, or None."""
    try:
        return datetime.fromisoformat(text).timestamp() if isinstance(text, str) else None
    except ValueError:
        return None


def write_json(path: Path, document: Any) -> None:
    """A JSON file, written atomically; numbers that are not finite (a diverged loss) become null."""
    atomic_write_text(path, json.dumps(finite(document), indent=1, allow_nan=False) + "\n")


def finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def read_json(path: Path, what: str) -> dict:
    """A JSON object from a file; RunError naming the file and what is wrong with it."""
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise RunError(f"{what} is {size:,} bytes: too large to be ours")
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{what} is missing") from None
    except json.JSONDecodeError as e:
        raise RunError(f"{what} is damaged (not valid JSON: line {e.lineno}, column {e.colno}: {e.msg})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RunError(f"{what} cannot be read ({first_line(e)})") from None
    if not isinstance(document, dict):
        raise RunError(f"{what} is damaged (not a JSON object)")
    return document


# ----- the process writing a run, and whether it is still there

def process_identity() -> dict:
    """This process as run.json records it: pid, host, and when the process started (to tell a reused pid)."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": _started(os.getpid())}


def _started(pid: int) -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    try:
        return round(psutil.Process(pid).create_time(), 2)
    except (psutil.Error, OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def gone(process: Any, heartbeat: float | None) -> str | None:
    """Why a run's writer is gone (a sentence), or None while it may still be writing. On this machine: its
    pid is not running (or now belongs to a process that started later); elsewhere: no sign of life for
    STALE_SECONDS."""
    if not isinstance(process, dict) or not isinstance(process.get("pid"), int):
        return "the process writing it is not recorded"
    if process.get("host") != socket.gethostname():
        if heartbeat is not None and time.time() - heartbeat > STALE_SECONDS:
            minutes = (time.time() - heartbeat) / 60
            return f"no sign of life from {process.get('host')} for {minutes:,.0f} minutes"
        return None
    pid = process["pid"]
    if not _alive(pid):
        return f"its process ({pid}) ended without finishing it (killed?)"
    recorded, now = process.get("started"), _started(pid)
    if isinstance(recorded, (int, float)) and now is not None and abs(now - recorded) > 2:
        return f"its process ({pid}) ended without finishing it (killed?)"
    return None


# ----- a run

@dataclass
class Run:
    """A run as read from its folder. `record` is run.json (empty when unreadable), `metrics` metrics.json
    (None until the run ends), `epochs` the per-epoch history so far; `problem` says what could not be read."""

    path: Path
    number: int
    record: dict = field(default_factory=dict)
    status: str = "running"
    problem: str | None = None
    metrics: dict | None = None
    epochs: list[dict] = field(default_factory=list)
    heartbeat: float | None = None

    # what run.json says
    @property
    def id(self) -> int:
        return self.number

    @property
    def folder(self) -> str:
        return self.path.name

    @property
    def name(self) -> str:
        return str(self.record.get("name") or "")

    @property
    def title(self) -> str:
        """How a person calls it: its name, else `run N`."""
        return self.name or f"run {self.number}"

    @property
    def note(self) -> str:
        return str(self.record.get("note") or "")

    @property
    def starred(self) -> bool:
        return bool(self.record.get("starred"))

    @property
    def message(self) -> str:
        return str(self.record.get("message") or "")

    @property
    def started(self) -> str | None:
        return self.record.get("started")

    @property
    def ended(self) -> str | None:
        return self.record.get("ended")

    @property
    def settings(self) -> dict:
        settings = self.record.get("settings")
        return dict(settings) if isinstance(settings, dict) else {}

    @property
    def data(self) -> str | None:
        return self.settings.get("data")

    @property
    def device(self) -> str | None:
        return self.record.get("device")

    @property
    def sweep(self) -> dict | None:
        return self.record.get("sweep") if isinstance(self.record.get("sweep"), dict) else None

    @property
    def seconds(self) -> float | None:
        """How long it trained: as recorded when it ended; so far while it runs; until its last sign of life when
        it was killed."""
        if isinstance(self.record.get("seconds"), (int, float)):
            return float(self.record["seconds"])
        start = parse_time(self.started)
        if start is None:
            return None
        end = time.time() if self.status == "running" else self.heartbeat
        return max(0.0, end - start) if end is not None else None

    @property
    def test(self) -> dict:
        """The test split's figures as metrics.json holds them ({} until the run ends)."""
        test = (self.metrics or {}).get("test")
        return dict(test) if isinstance(test, dict) else {}

    @property
    def final(self) -> dict:
        """The last epoch's train_loss, val_loss, train_metric, val_metric (those it has)."""
        last = self.epochs[-1] if self.epochs else {}
        return {k: last.get(k) for k in ("train_loss", "val_loss", "train_metric", "val_metric") if k in last}

    @property
    def headline(self):
        """The figure that sums up this kind of network (runs/headline.py), or None."""
        from .headline import headline

        return headline(self.metrics, self._snapshot_document()) if self.metrics else None

    # its files
    @property
    def graph_file(self) -> Path:
        return self.path / GRAPH_FILE

    @property
    def weights_file(self) -> Path:
        return self.path / WEIGHTS_FILE

    @property
    def checkpoint_file(self) -> Path:
        return self.path / CHECKPOINT_FILE

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def curves_file(self) -> Path:
        return self.path / CURVES_FILE

    @property
    def pictures(self) -> list[Path]:
        """Its PNG pictures (samples.png, reconstructions.png), by name."""
        return sorted(self.path.glob("*.png"))

    def has_weights(self) -> bool:
        return self.weights_file.is_file()

    def graph(self):
        """The graph it trained (its snapshot) as a Graph; RunError when the snapshot cannot be read."""
        from ...model.graph import Graph, GraphError

        try:
            return Graph.load(self.graph_file)
        except GraphError as e:
            raise RunError(f"run {self.number}: its graph snapshot: {e}") from None

    def _snapshot_document(self) -> dict | None:
        try:
            return read_json(self.graph_file, GRAPH_FILE)
        except RunError:
            return None

    def curves(self) -> dict:
        """{"epochs": [per-epoch history], "batch_losses": [every batch's loss]}, as far as the run has come."""
        try:
            curves = read_json(self.curves_file, CURVES_FILE)
        except RunError:
            curves = {}
        epochs = curves.get("epochs") if isinstance(curves.get("epochs"), list) else self.epochs
        losses = curves.get("batch_losses") if isinstance(curves.get("batch_losses"), list) else []
        return {"epochs": epochs, "batch_losses": losses}

    def weights_for_use(self) -> Path:
        """Its weights file, for exports and probes; RunError saying why there is none."""
        if self.has_weights():
            return self.weights_file
        if self.status == "running":
            raise RunError(f"run {self.number} is still training: it has no weights yet")
        why = f" ({self.status})" if self.status in ("killed", "failed") else ""
        resume = " resume it (train --run) to finish it" if self.checkpoint_file.is_file() else ""
        raise RunError(f"run {self.number}{why} has no weights.pt;{resume or ' train it again'}")

    def to_dict(self) -> dict:
        """What `netbuilder runs --json` prints for it: plain JSON values."""
        headline = self.headline
        return {
            "id": self.number, "folder": self.folder, "name": self.name, "note": self.note, "starred": self.starred,
            "status": self.status, "message": self.message, "problem": self.problem,
            "started": self.started, "ended": self.ended, "seconds": self.seconds, "epochs": len(self.epochs),
            "device": self.device, "settings": self.settings, "test": self.test, "final": self.final,
            "headline": headline.to_dict() if headline else None, "sweep": self.sweep,
            "resumed_from": self.record.get("resumed_from"), "weights_from": self.record.get("weights_from"),
            "versions": self.record.get("versions"), "graph": self.record.get("graph"),
            "path": str(self.path), "weights": str(self.weights_file) if self.has_weights() else None,
        }


def folder_number(name: str) -> int | None:
    """The number a run folder's name starts with (`007-adam-lr0.01` -> 7), or None for anything else."""
    match = FOLDER.fullmatch(name)
    return int(match["number"]) if match else None


def read_run(path: Path) -> Run:
    """The run in `path`, as far as it can be read (see the module's doc); never raises for its contents."""
    path = Path(path)
    run = Run(path, folder_number(path.name) or 0)
    stamps = [p.stat().st_mtime for p in (path / RUN_FILE, path / CURVES_FILE) if p.exists()]
    run.heartbeat = max(stamps) if stamps else None
    try:
        record = read_json(path / RUN_FILE, RUN_FILE)
        if record.get("format") != RUN_FORMAT:
            raise RunError(f"{RUN_FILE} is not a netbuilder run record")
        if not isinstance(record.get("version"), int) or record["version"] > RUN_VERSION:
            raise RunError(f"{RUN_FILE} was written by a newer netbuilder (version {record.get('version')!s:.20})")
        run.record = record
    except RunError as e:
        run.status, run.problem = "unknown", str(e)
        return run
    status = record.get("status")
    run.status = status if status in STATUSES else "unknown"
    if run.status == "unknown":
        run.problem = f"{RUN_FILE} holds an unknown status {str(status)[:30]!r}"
    if run.status == "running":
        why = gone(record.get("process"), run.heartbeat)
        if why is not None:
            run.status = "killed"
            run.record = {**record, "message": why}
    problems = []
    if (path / METRICS_FILE).exists() or run.status in ("finished", "diverged"):
        try:
            run.metrics = read_json(path / METRICS_FILE, METRICS_FILE)
        except RunError as e:
            problems.append(str(e))
    history = (run.metrics or {}).get("epochs")
    if not isinstance(history, list):
        try:
            history = read_json(path / CURVES_FILE, CURVES_FILE).get("epochs")
        except RunError as e:
            if (path / CURVES_FILE).exists():
                problems.append(str(e))
    run.epochs = [e for e in history if isinstance(e, dict)] if isinstance(history, list) else []
    if not (path / GRAPH_FILE).is_file():
        problems.append(f"{GRAPH_FILE} (the graph it trained) is missing")
    if run.status in ("finished", "diverged") and not (path / WEIGHTS_FILE).is_file():
        problems.append(f"{WEIGHTS_FILE} is missing")
    if problems and run.problem is None:
        run.problem = "; ".join(problems)
    return run
