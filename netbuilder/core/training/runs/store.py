"""The run store of one network: `NAME.runs/` beside `NAME.json`, a folder per run, plain files throughout.

    NAME.runs/
      store.json           the last run number given (numbers are never given twice)
      001-adam-lr0.05/     a run (runs/run.py lists its files)
      002-sgd-lr0.1/
      .trash/003-.../      deleted runs, until restored or the trash is emptied
      .lock                held for an instant while a run is created, renamed, noted, starred or deleted

A network that was never saved keeps its runs in the user's data folder (`RunStore.unsaved(document_id)`:
~/.local/share/netbuilder/unsaved/ID.runs) until `move_to(graph_path)` puts them beside the document.

A run is created whole or not at all: its folder is filled under a hidden temporary name, then renamed to
`NNN-LABEL` with the next number. Nothing overwrites a run. No torch here.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ...base.errors import brief_text
from ...base.files import user_data_dir
from .run import (
    GRAPH_FILE,
    RUN_FILE,
    RUN_FORMAT,
    RUN_VERSION,
    Run,
    RunError,
    folder_number,
    now_text,
    process_identity,
    read_json,
    read_run,
    write_json,
)

STORE_SUFFIX = ".runs"
STORE_FILE = "store.json"
TRASH = ".trash"
_NEW = ".new-"
ANNOTATIONS = ("name", "note", "starred")  # what a person may change on a run after it was made
MAX_NOTE = 20_000


def store_path(graph_path: str | os.PathLike) -> Path:
    """Where the runs of the document at `graph_path` live: `NAME.runs` beside `NAME.json`; for an example netbuilder
    ships (its folder is the program's, not the user's: inside the installed package, or the checkout's examples/),
    the user's data folder under the example's name (`unsaved/example-NAME.runs`), as the editor keeps them."""
    path = Path(graph_path)
    if is_shipped_example(path):
        return unsaved_root() / f"{example_store_id(path)}{STORE_SUFFIX}"
    return path.with_name(path.stem + STORE_SUFFIX) if path.suffix.lower() == ".json" else \
        path.with_name(path.name + STORE_SUFFIX)


def is_shipped_example(path: str | os.PathLike) -> bool:
    """Whether a document is one of the examples netbuilder ships."""
    from ...base.files import EXAMPLES_DIR

    try:
        return Path(path).resolve().parent == EXAMPLES_DIR.resolve()
    except OSError:
        return False


def example_store_id(path: str | os.PathLike) -> str:
    """The unsaved-store id of a shipped example's runs: `example-NAME`."""
    return f"example-{slug(Path(path).stem)}"[:60]


def unsaved_root() -> Path:
    return user_data_dir() / "unsaved"


def new_document_id() -> str:
    """A name for the runs of a network not saved yet (the editor keeps it while the document is open)."""
    from datetime import datetime

    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def label_of(settings: dict[str, Any]) -> str:
    """A short readable folder suffix from a run's settings: `adam-lr0.05`."""
    optimizer, lr = settings.get("optimizer"), settings.get("lr")
    parts = [str(optimizer)] if optimizer else []
    if isinstance(lr, (int, float)) and not isinstance(lr, bool):
        parts.append(f"lr{lr:g}")
    return "-".join(parts)


def slug(text: str, limit: int = 32) -> str:
    """`Adam, lr 0.05!` -> `adam-lr-0.05`: what a folder name may hold on every system."""
    text = re.sub(r"[^a-z0-9._-]+", "-", str(text).lower()).strip("-.")
    return text[:limit].rstrip("-.")


class RunStore:
    """The runs of one network. Every method that takes a run takes `ref`: its number (3 or "3"), its folder's
    name ("003-adam-lr0.05"), "last", or a Run."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    @classmethod
    def beside(cls, graph_path: str | os.PathLike) -> RunStore:
        """The store of the document at `graph_path` (it need not exist yet: the first run makes it)."""
        return cls(store_path(graph_path))

    @classmethod
    def unsaved(cls, document_id: str) -> RunStore:
        """The store of a network not saved yet, in the user's data folder (see new_document_id)."""
        if not slug(document_id) or slug(document_id) != document_id:
            raise RunError(f"not a document id: {brief_text(document_id)}")
        return cls(unsaved_root() / f"{document_id}{STORE_SUFFIX}")

    @classmethod
    def of_document(cls, graph_path: str | os.PathLike | None, document_id: str) -> RunStore:
        """The store of an open document: beside it once it has a file, else the unsaved store of `document_id`."""
        return cls.beside(graph_path) if graph_path else cls.unsaved(document_id)

    @property
    def trash_path(self) -> Path:
        return self.path / TRASH

    # ----- reading

    def runs(self) -> list[Run]:
        """Every run in the store (not the trash), by number; each as far as it can be read."""
        return self._read(self.path)

    def trashed(self) -> list[Run]:
        """The deleted runs that can still be restored, by number."""
        return self._read(self.trash_path)

    def _read(self, folder: Path) -> list[Run]:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as e:
            raise RunError(f"{folder}: cannot be read ({e.strerror})") from None
        found = [read_run(Path(e.path)) for e in entries if folder_number(e.name) is not None and e.is_dir()]
        return sorted(found, key=lambda run: (run.number, run.folder))

    def run(self, ref: Any) -> Run:
        """One run (see the class's doc); RunError naming what is there when it is not."""
        return self._find(ref, self.path, "")

    def last(self) -> Run | None:
        runs = self.runs()
        return runs[-1] if runs else None

    def _find(self, ref: Any, folder: Path, where: str) -> Run:
        if isinstance(ref, Run):
            ref = ref.folder
        text = str(ref).strip()
        runs = self._read(folder)
        if text == "last" and runs:
            return runs[-1]
        number = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None  # ("７", 5,000 digits)
        for run in runs:
            if run.folder == text or run.number == number:
                return run
        have = f"runs {runs[0].number}..{runs[-1].number}" if len(runs) > 1 else \
            f"run {runs[0].number}" if runs else "no runs"
        raise RunError(f"{self.path}{where}: no run {brief_text(text, 40)} (it has {have})")

    # ----- making a run

    def create(self, graph, settings: dict[str, Any], *, label: str | None = None, source: str = "netbuilder train",
               graph_path: str | os.PathLike | None = None, sweep: dict | None = None,
               resumed_from: int | None = None, weights_from: str | None = None) -> Run:
        """A new run, status `running`, holding the graph's snapshot and the settings it trains with (TrainConfig's
        and `data`, `val_fraction`, `test_fraction`). `label` (default: optimizer and learning rate) names its
        folder after the number; `sweep` holds a sweep trial's study, number and the parameters it changed;
        `source` says what made it (`netbuilder train`, `editor`, `sweep`)."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._clear_abandoned()
        temp = self.path / f"{_NEW}{os.getpid()}-{secrets.token_hex(4)}"
        temp.mkdir()
        try:
            write_json(temp / GRAPH_FILE, graph.to_dict())
            record = {
                "format": RUN_FORMAT, "version": RUN_VERSION, "status": "running", "message": "",
                "name": "", "note": "", "starred": False, "started": now_text(), "ended": None, "seconds": None,
                "device": None, "versions": versions(), "settings": dict(settings), "source": source,
                "graph": str(graph_path) if graph_path is not None else None, "sweep": sweep,
                "resumed_from": resumed_from, "weights_from": str(weights_from) if weights_from else None,
                "process": process_identity(),
            }
            write_json(temp / RUN_FILE, record)
            with self._locked():
                number = self._next_number()
                suffix = slug(label if label is not None else label_of(settings))
                target = self.path / (f"{number:03d}-{suffix}" if suffix else f"{number:03d}")
                os.rename(temp, target)  # a fresh number: nothing is there to be replaced
                write_json(self.path / STORE_FILE, {"format": "netbuilder.runs", "version": 1, "last": number})
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return read_run(target)

    def _next_number(self) -> int:
        try:
            last = read_json(self.path / STORE_FILE, STORE_FILE).get("last", 0)
        except RunError:
            last = 0
        numbers = [folder_number(p.name) or 0 for folder in (self.path, self.trash_path) if folder.is_dir()
                   for p in folder.iterdir()]
        return max([last if isinstance(last, int) else 0, *numbers]) + 1

    def _clear_abandoned(self) -> None:
        """Remove the half-made folders of runs whose creating process was killed before it named them."""
        from .run import _alive

        for entry in self.path.glob(f"{_NEW}*"):
            pid = entry.name[len(_NEW):].split("-")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)

    def _locked(self):
        return store_lock(self.path)

    # ----- changing a run: annotations, status (the recorder), trash

    def update(self, ref: Any, **changes: Any) -> Run:
        """Change fields of a run's run.json (read, changed and written back under the store's lock, so that a
        note written while the run trains is kept). People change only name, note and starred."""
        run = self.run(ref) if not isinstance(ref, Run) else ref
        with self._locked():
            return update_record(run.path, changes)

    def rename(self, ref: Any, name: str) -> Run:
        name = " ".join(str(name).split())
        if len(name) > 200:
            raise RunError(f"a run's name is at most 200 characters, got {len(name)}")
        return self.update(self._writable(ref), name=name)

    def set_note(self, ref: Any, note: str) -> Run:
        if len(str(note)) > MAX_NOTE:
            raise RunError(f"a note is at most {MAX_NOTE:,} characters, got {len(str(note)):,}")
        return self.update(self._writable(ref), note=str(note))

    def set_starred(self, ref: Any, starred: bool = True) -> Run:
        return self.update(self._writable(ref), starred=bool(starred))

    def _writable(self, ref: Any) -> Run:
        run = self.run(ref) if not isinstance(ref, Run) else ref
        if run.problem and not run.record:
            raise RunError(f"run {run.number}: {run.problem}; fix or delete it")
        return run

    def delete(self, ref: Any) -> Run:
        """Move a run into the store's trash (restore brings it back). A running run is refused."""
        run = self.run(ref)
        if run.status == "running":
            raise RunError(f"run {run.number} is still training; stop it before deleting it")
        with self._locked():
            self.trash_path.mkdir(exist_ok=True)
            target = self.trash_path / run.folder
            if target.exists():
                shutil.rmtree(target)  # a run of the same number and name can only be an older copy
            os.rename(run.path, target)
        return read_run(target)

    def restore(self, ref: Any) -> Run:
        """Bring a deleted run back from the trash, under its own number."""
        run = self._find(ref, self.trash_path, f"/{TRASH}")
        with self._locked():
            target = self.path / run.folder
            if target.exists():
                raise RunError(f"{target} is there already; not replaced")
            os.rename(run.path, target)
        return read_run(target)

    def empty_trash(self) -> int:
        """Delete the trashed runs for good; how many."""
        runs = self.trashed()
        with self._locked():
            for run in runs:
                shutil.rmtree(run.path)
        return len(runs)

    # ----- the store itself

    def move_to(self, graph_path: str | os.PathLike) -> RunStore:
        """Move every run (and the trash) to the store beside the document at `graph_path`: an unsaved network's
        runs when it is first saved. Runs the target already has stay; moved runs get the next numbers there
        when theirs are taken. Returns the target store."""
        target = RunStore.beside(graph_path)
        if target.path.resolve() == self.path.resolve():
            return target
        if any(run.status == "running" for run in self.runs()):
            raise RunError("a run is still training; move its runs after it ends")
        if not self.path.exists():
            return target
        if not target.path.exists():
            target.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(self.path, target.path)
                return target
            except OSError:
                pass  # another file system: run by run below
        target.path.mkdir(parents=True, exist_ok=True)
        for folder, into in ((self.path, target.path), (self.trash_path, target.trash_path)):
            for run in self._read(folder):
                with target._locked():
                    number = target._next_number()
                    label = run.folder.split("-", 1)[1] if "-" in run.folder else ""
                    into.mkdir(exist_ok=True)
                    shutil.move(str(run.path), str(into / (f"{number:03d}-{label}" if label else f"{number:03d}")))
                    write_json(target.path / STORE_FILE, {"format": "netbuilder.runs", "version": 1, "last": number})
        shutil.rmtree(self.path, ignore_errors=True)
        return target


@contextmanager
def store_lock(path: Path) -> Iterator[None]:
    """The store's lock (a file lock, `.lock`), held while its runs are numbered, moved or their run.json
    rewritten, by this process or another."""
    from filelock import FileLock, Timeout

    path.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(path / ".lock"), timeout=30):
            yield
    except Timeout:
        raise RunError(f"{path}: another process holds the store's lock (.lock) for more than 30 s") from None


def update_record(run_path: Path, changes: dict[str, Any]) -> Run:
    """run.json with `changes` applied, written atomically; the caller holds the store's lock."""
    record = read_json(run_path / RUN_FILE, f"{run_path.name}/{RUN_FILE}")
    record.update(changes)
    write_json(run_path / RUN_FILE, record)
    return read_run(run_path)


def versions() -> dict[str, str | None]:
    """netbuilder's, torch's and Python's versions (torch's from its metadata: it is not imported here)."""
    from importlib import metadata

    from .... import __version__

    try:
        torch_version = sys.modules["torch"].__version__ if "torch" in sys.modules else metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = None
    return {"netbuilder": __version__, "torch": str(torch_version) if torch_version else None,
            "python": sys.version.split()[0]}
