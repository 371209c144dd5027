"""Where a sweep's study lives: an Optuna RDB storage named by an SQLAlchemy URL (`sqlite:///FILE.db` on one
machine; a database server every machine reaches), by default an SQLite file in the network's run store."""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from ...base.errors import first_line
from ..runs import RunStore
from .space import SweepError

STORAGE_FILE = "sweeps.db"
RETRIES = 4  # opening a storage another process is making: tries before giving up


def default_storage(store: RunStore) -> str:
    """The study storage of a network's sweeps: an SQLite file in its run store."""
    store.path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(store.path / STORAGE_FILE).resolve()}"


def redact(url: str) -> str:
    """A storage URL as it may be shown and kept: without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: shown as given (open_storage says why)
        return str(url)


def open_storage(url: str):
    """Optuna's storage for a URL; SweepError saying why it cannot be used."""
    import optuna

    quiet()
    if not isinstance(url, str) or "://" not in url:
        raise SweepError(f"{str(url)[:80]!r} is not a storage URL: use sqlite:///FILE.db on one machine, or a "
                         "database URL (postgresql://USER@HOST/DB, mysql://...) that every machine reaches")
    kwargs: dict[str, Any] = {}
    lock = None
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}  # processes wait for each other's writes
        database = _sqlite_file(url)
        if database is None:  # each connection of an in-memory database is another, empty one
            raise SweepError(f"the storage {redact(url)} is a database in memory, which a study cannot use: give "
                             "sqlite:///FILE.db")
        if not database.parent.is_dir():  # (a typing slip must not make folders)
            raise SweepError(f"the storage {redact(url)}: the folder {database.parent} does not exist; make it first")
        lock = database.with_name(database.name + ".lock")
    for attempt in range(RETRIES):
        try:
            if lock is None:
                return optuna.storages.RDBStorage(url, **kwargs)
            from ...base.locks import exclusive

            with exclusive(lock, what=str(lock)):  # two processes making a new database's tables at once collide
                return _quick_commits(optuna.storages.RDBStorage(url, **kwargs))
        except ModuleNotFoundError as e:
            raise SweepError(f"the storage {redact(url)} needs the {e.name} package: pip install {e.name}") from None
        except Exception as e:  # noqa: BLE001 - a URL or database a user gave: said in one line
            if attempt + 1 < RETRIES and _racing(e):  # another machine made the same tables meanwhile
                time.sleep(0.5 * (attempt + 1))
                continue
            raise SweepError(f"cannot open the study storage {redact(url)}: {first_line(e)}") from None
    raise AssertionError("unreachable")


def _quick_commits(storage):
    """An SQLite study written through a write-ahead log, synced at checkpoints rather than at every commit: a
    trial reports its figure every epoch, and each commit's fsync cost more than a short trial's epochs (136 ms a
    trial of 10 epochs, 58 ms so). The database stays whole after a crash; a power cut may lose its last reports.
    WAL serves the processes of one machine, as the SQLite storage does; where the file system cannot hold it,
    the database stays as it was."""
    from sqlalchemy import event

    try:
        with storage.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    except Exception:  # noqa: BLE001 - a file system without shared memory: the rollback journal, as before
        return storage

    def on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()  # connections opened so far reopen with it
    return storage


def _sqlite_file(url: str) -> Path | None:
    """The file an sqlite URL names (None: in memory)."""
    try:
        from sqlalchemy.engine import make_url

        database = make_url(url).database
    except Exception:  # noqa: BLE001 - RDBStorage says what is wrong with the URL
        return None
    return Path(database).resolve() if database and database != ":memory:" else None


def _racing(error: BaseException) -> bool:
    text = str(error).lower()
    return "already exists" in text or "unique constraint" in text or "duplicate" in text or "locked" in text


def quiet() -> None:
    """Optuna says only what goes wrong (the sweep says what it does)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

