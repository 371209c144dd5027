"""Where a sweep's study lives: an Optuna RDB storage named by an SQLAlchemy URL (`sqlite:///FILE.db` on one
machine; a database server every machine reaches), by default an SQLite file in the network's run store."""
from __future__ import annotations

import warnings
from typing import Any

from ...base.errors import first_line
from ..runs import RunStore
from .space import SweepError

STORAGE_FILE = "sweeps.db"


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
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}  # processes wait for each other's writes
    try:
        return optuna.storages.RDBStorage(url, **kwargs)
    except ModuleNotFoundError as e:
        raise SweepError(f"the storage {redact(url)} needs the {e.name} package: pip install {e.name}") from None
    except Exception as e:  # noqa: BLE001 - a URL or database a user gave: said in one line
        raise SweepError(f"cannot open the study storage {redact(url)}: {first_line(e)}") from None


def quiet() -> None:
    """Optuna says only what goes wrong (the sweep says what it does)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

