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
        lock = database.with_name(database.name + ".lock") if database is not None else None
    for attempt in range(RETRIES):
        try:
            if lock is None:
                return optuna.storages.RDBStorage(url, **kwargs)
            from ...base.locks import exclusive

            with exclusive(lock, what=str(lock)):  # two processes making a new database's tables at once collide
                return optuna.storages.RDBStorage(url, **kwargs)
        except ModuleNotFoundError as e:
            raise SweepError(f"the storage {redact(url)} needs the {e.name} package: pip install {e.name}") from None
        except Exception as e:  # noqa: BLE001 - a URL or database a user gave: said in one line
            if attempt + 1 < RETRIES and _racing(e):  # another machine made the same tables meanwhile
                time.sleep(0.5 * (attempt + 1))
                continue
            raise SweepError(f"cannot open the study storage {redact(url)}: {first_line(e)}") from None
    raise AssertionError("unreachable")


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

