"""Files fetched over HTTP(S) on first use, checked against their published checksums, kept in a cache: the classic
datasets (MNIST, Fashion-MNIST, CIFAR-10), and any other file with a published checksum (pretrained weights).

Any file (the general API):

    file = RemoteFile("resnet18-f37072fd.pth", sha256="f37072fd...", size=46_830_571)   # name, checksum, size
    path = fetch(file, cache / "resnet18-f37072fd.pth",                                   # its destination
                 mirrors_from("NETBUILDER_WEIGHTS_MIRRORS", ("https://download.pytorch.org/models/",)),
                 what="resnet18's ImageNet weights", progress=callback)
    # cache: any folder (created when missing), e.g. data_home().parent / "weights" beside the datasets'
    # fetch(..., limits=Limits(deadline_s=...)) or the NETBUILDER_DOWNLOAD_* variables set the limits;
    # fetch(..., by_hand="...") replaces the message's ending (what to put where when offline)

- A RemoteFile is a name (appended to each mirror's base URL; `urls`, full addresses, are tried first), a checksum
  (md5= or sha256=, hex), and the size in bytes where known (the cap on what is accepted, the deadline grows with
  it, and the progress shows it before the server says). fetch(file, destination, mirrors, ...) returns the
  destination once it holds the file: at once when it is there already (its checksum checked), else downloaded.
- mirrors_from(VARIABLE, defaults): the mirrors (base URLs), VARIABLE (a space-separated list) replacing the
  defaults; each must be http:// or https://.
- One process at a time: fetch holds `<destination>.lock` (ensure: `<dataset folder>/.lock`); a second process
  waits, its progress saying so (DownloadProgress.waiting), then finds the file there. The operating system
  releases the lock of a process that dies, so a killed download never blocks the next.
- The bytes go to `<destination>.part` (written only by the lock's holder), and a transfer cut short continues
  where it stopped (a Range request) on the next try or the next run; the file appears under its name only once
  its checksum matches. A file that does not match is deleted and fetched again from the next mirror.
- Limits (transfer.Limits, from the environment unless given): a connect and a read timeout, an overall deadline
  per mirror that grows with the size (NETBUILDER_DOWNLOAD_DEADLINE seconds + size / NETBUILDER_DOWNLOAD_MIN_RATE
  KB/s), a size cap (the size plus a little): a server that trickles is given up on (the `.part` kept for the next
  try), a server that sends without end is stopped (the `.part` deleted). Every answer (status, headers, the body's
  length) is checked before use.
- progress(DownloadProgress) several times a second: bytes so far, the size, how long since the last byte (a stall
  shows), or how long it has waited for another process. DownloadProgress.describe() says it in one line.
- Failures raise DownloadError: one line naming the file, the mirror and the problem, and what to put where by hand.

The datasets: ensure(REMOTE["mnist"], progress=...) returns the folder holding its files. Mirrors:
NETBUILDER_DATASET_MIRRORS replaces the datasets' own. The cache is the user's data folder (NETBUILDER_DATA, else
the platform's: ~/.local/share/netbuilder/datasets on Linux); a folder is complete once `.complete` is written
there. Nothing is executed from what is downloaded: CIFAR-10's archive is read member by member and only its
binary batches are written out.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..base.files import atomic_write_text, user_data_dir
from ..base.locks import LockTimeout, exclusive
from .transfer import Cut, DownloadError, Limits, Refused, TooSlow, transfer  # noqa: F401 - TooSlow: for callers

ATTEMPTS = 3  # tries per mirror and file: a cut connection resumes where it stopped
COMPLETE = ".complete"
DATASET_MIRRORS = "NETBUILDER_DATASET_MIRRORS"


@dataclass(frozen=True)
class RemoteFile:
    """A file to fetch: its name (at each mirror, after the base URL), its published checksum (md5 or sha256, hex),
    its size in bytes where known, and full addresses to try before the mirrors'."""

    name: str
    md5: str = ""
    size: int | None = None
    sha256: str = ""
    urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (self.md5 or self.sha256):
            raise ValueError(f"{self.name}: a RemoteFile needs its md5 or sha256")

    @property
    def checksum(self) -> tuple[str, str]:
        """(algorithm, hex digest): sha256 where published, else md5."""
        return ("sha256", self.sha256.lower()) if self.sha256 else ("md5", self.md5.lower())


@dataclass(frozen=True)
class RemoteDataset:
    """A dataset the program can fetch: its files, their checksums, where they are, and what to keep of them."""

    name: str  # the dataset kind: mnist, fashion-mnist, cifar10
    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]  # base URLs, tried in order
    extract: tuple[str, ...] = ()  # from a .tar.gz: the members to keep (by file name); the archive is then deleted
    page: str = ""  # where a person can fetch the files by hand

    def kept(self) -> list[str]:
        """The files the folder holds once complete."""
        return list(self.extract) if self.extract else [f.name for f in self.files]


@dataclass
class DownloadProgress:
    dataset: str  # what is fetched: a dataset's name, or fetch's `what`
    file: str
    done: int  # bytes of this file so far
    total: int | None  # bytes of this file, when known
    index: int  # which file (1-based) of `files`
    files: int
    stalled: float = 0.0  # seconds since the last byte arrived
    waiting: float | None = None  # seconds waited so far for another process fetching the same (None: not waiting)

    def describe(self) -> str:
        if self.waiting is not None:
            return (f"{self.dataset}: waiting for another process to finish downloading it "
                    f"({self.waiting:.0f} s)")
        scale, unit, digits = next(((s, u, d) for s, u, d in ((2**20, "MB", 1), (2**10, "KB", 0), (1, "bytes", 0))
                                     if (self.total or self.done) >= s), (1, "bytes", 0))
        size = f"{self.done / scale:,.{digits}f} of {self.total / scale:,.{digits}f} {unit}" if self.total else \
            f"{self.done / scale:,.{digits}f} {unit}"
        percent = f" ({self.done / self.total:.0%})" if self.total else ""
        stall = f", no data for {self.stalled:.0f} s" if self.stalled >= STALL_SHOWN_S else ""
        return f"downloading {self.dataset}: {self.file} ({self.index}/{self.files}), {size}{percent}{stall}"


STALL_SHOWN_S = Limits.stall_s

_IDX = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz")
REMOTE: dict[str, RemoteDataset] = {
    "mnist": RemoteDataset(
        "mnist", tuple(RemoteFile(n, m, s) for n, m, s in zip(_IDX, (
            "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
            (9_912_422, 28_881, 1_648_877, 4_542))),
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        page="https://ossci-datasets.s3.amazonaws.com/mnist/"),
    "fashion-mnist": RemoteDataset(
        "fashion-mnist", tuple(RemoteFile(n, m, s) for n, m, s in zip(_IDX, (
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
            (26_421_880, 29_515, 4_422_102, 5_148))),
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        page="https://github.com/zalandoresearch/fashion-mnist"),
    "cifar10": RemoteDataset(
        "cifar10", (RemoteFile("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", 170_052_171),),
        ("https://www.cs.toronto.edu/~kriz/",),
        extract=(*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin", "batches.meta.txt"),
        page="https://www.cs.toronto.edu/~kriz/cifar.html"),
}


def data_home() -> Path:
    """Where downloaded datasets are kept: NETBUILDER_DATA, else `datasets` in the user's data folder."""
    if os.environ.get("NETBUILDER_DATA"):
        return Path(os.environ["NETBUILDER_DATA"]).expanduser()
    return user_data_dir() / "datasets"


def cached_folder(remote: RemoteDataset, home: Path | None = None) -> Path | None:
    """The dataset's folder when it is already complete, else None (nothing is fetched)."""
    folder = (home or data_home()) / remote.name
    if (folder / COMPLETE).is_file() and all((folder / name).is_file() for name in remote.kept()):
        return folder
    return None


def mirrors_from(variable: str, defaults: Sequence[str]) -> tuple[str, ...]:
    """Base URLs to fetch from: the environment variable's (a space-separated list) where it is set, else the
    defaults. Only http:// and https:// addresses are accepted."""
    override = os.environ.get(variable, "").split()
    for url in override:
        if not url.lower().startswith(("http://", "https://")):
            raise DownloadError(f"{variable}: {url[:80]!r} is not an http:// or https:// address")
    return tuple(override) if override else tuple(defaults)


def mirrors_for(remote: RemoteDataset) -> tuple[str, ...]:
    return mirrors_from(DATASET_MIRRORS, remote.mirrors)


def verify(path: Path, file: RemoteFile) -> str | None:
    """None when `path` holds the file (its checksum matches), else the digest it has. A published checksum may be
    the digest's first hex digits (torchvision names its weights files after the first 8 of their SHA-256)."""
    algorithm, expected = file.checksum
    digest = hashlib.new(algorithm, usedforsecurity=False) if algorithm == "md5" else hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    found = digest.hexdigest()
    return None if found == expected or (8 <= len(expected) < len(found) and found.startswith(expected)) else found


def fetch(file: RemoteFile, destination: str | os.PathLike, mirrors: Sequence[str] = (), *, what: str = "",
          progress: Callable[[DownloadProgress], None] | None = None, limits: Limits | None = None,
          by_hand: str = "") -> Path:
    """The destination, holding the file: there already (checksum checked), or fetched from `file.urls` then each
    mirror (base URL + file.name) under a lock (a second process waits, then uses the finished file). `what` names
    it in progress and messages (default: the file's name); `by_hand` ends the message when it cannot be fetched
    (default: put the file there). DownloadError says why not, in one line."""
    destination = Path(destination)
    what = what or file.name
    limits = limits or Limits.from_environment()
    report = progress or (lambda p: None)
    with _made_folder(destination.parent, what):
        waiting = (lambda seconds: report(DownloadProgress(what, file.name, 0, file.size, 1, 1, waiting=seconds)))
        try:
            with exclusive(destination.with_name(destination.name + ".lock"), waiting, what=f"downloading {what}",
                           timeout=_wait_limit(limits, [file], mirrors)):
                if destination.is_file() and verify(destination, file) is None:
                    return destination
                _fetch_file(file, destination, [*file.urls, *_urls(mirrors, file)], limits,
                            lambda done, total, stalled:
                            report(DownloadProgress(what, file.name, done, total, 1, 1, stalled)))
        except DownloadError as e:
            folder = destination.parent
            raise DownloadError(f"cannot download {what} ({e}); " + (
                by_hand or f"offline, put {file.name} ({(file.urls or tuple(mirrors) or ('?',))[0]}) in {folder}")) \
                from None
        except LockTimeout as e:
            raise DownloadError(str(e)) from None
        return destination


def ensure(remote: RemoteDataset, home: Path | None = None,
           progress: Callable[[DownloadProgress], None] | None = None, limits: Limits | None = None) -> Path:
    """The folder holding the dataset, fetching (and checking) what is missing, one process at a time.
    DownloadError says why not, and what to put where by hand."""
    folder = (home or data_home()) / remote.name
    done = cached_folder(remote, home)
    if done is not None:
        return done
    limits = limits or Limits.from_environment()
    mirrors = mirrors_for(remote)
    report = progress or (lambda p: None)
    with _made_folder(folder, remote.name):
        return _ensure_locked(remote, home, folder, mirrors, limits, report, len(remote.files))


def _ensure_locked(remote: RemoteDataset, home: Path | None, folder: Path, mirrors: Sequence[str], limits: Limits,
                   report: Callable[[DownloadProgress], None], count: int) -> Path:
    try:
        with exclusive(folder / ".lock", lambda s: report(DownloadProgress(remote.name, "", 0, None, 0, count,
                                                                          waiting=s)),
                       what=f"downloading {remote.name}", timeout=_wait_limit(limits, remote.files, mirrors)):
            done = cached_folder(remote, home)  # another process finished it while this one waited
            if done is not None:
                return done
            _fetch_dataset(remote, folder, mirrors, limits, report)
    except (Refused, Cut) as e:
        raise DownloadError(_by_hand(remote, folder=folder, why=str(e))) from None
    except LockTimeout as e:
        raise DownloadError(str(e)) from None
    return folder


def _fetch_dataset(remote: RemoteDataset, folder: Path, mirrors: Sequence[str], limits: Limits,
                   report: Callable[[DownloadProgress], None]) -> None:
    for index, file in enumerate(remote.files, start=1):
        target = folder / file.name
        if remote.extract and all((folder / name).is_file() for name in remote.extract):
            break  # extracted before (the archive was then deleted)
        if not (target.is_file() and verify(target, file) is None):
            _fetch_file(file, target, [*file.urls, *_urls(mirrors, file)], limits,
                        lambda done, total, stalled, i=index, f=file: report(
                            DownloadProgress(remote.name, f.name, done, total, i, len(remote.files), stalled)))
        if remote.extract:
            _extract(target, folder, remote.extract)
            target.unlink()
    atomic_write_text(folder / COMPLETE, "\n".join(f"{f.checksum[1]}  {f.name}" for f in remote.files) + "\n")


def _fetch_file(file: RemoteFile, target: Path, urls: list[str], limits: Limits,
                progress: Callable[[int, int | None, float], None]) -> None:
    """Download one file to target (through target.part), trying each address in turn, resuming cut transfers.
    The caller holds the lock. Raises Refused or Cut with the last address's problem."""
    part = target.with_name(target.name + ".part")
    if part.exists() and file.size is not None and part.stat().st_size > file.size:
        part.unlink()  # longer than the file: it can never become it
    problems: list[DownloadError] = []
    for url in urls:
        deadline = time.monotonic() + limits.deadline_for(file.size)
        for attempt in range(ATTEMPTS):
            try:
                complete = transfer(url, part, file.size, limits, deadline, progress)
            except Refused as e:  # this address will not do (TooSlow: the .part stays for the next run)
                problems.append(e)
                break
            except Cut as e:
                problems.append(e)
                time.sleep(0.2 * (attempt + 1))
                continue  # try again from where it stopped
            except OSError as e:
                part.unlink(missing_ok=True)
                raise Refused(f"cannot write {part}: {e.strerror or e}") from None
            if not complete:
                problems.append(Cut(f"{url}: the connection closed early"))
                continue
            digest = verify(part, file)
            if digest is None:
                os.replace(part, target)
                return
            part.unlink()
            algorithm, expected = file.checksum
            problems.append(Refused(f"{url}: the file does not match its checksum ({algorithm} {digest}, expected "
                                    f"{expected}); it was deleted"))
            break
    if part.exists() and part.stat().st_size == 0:
        part.unlink()  # nothing worth continuing
    if not problems:
        raise Refused("no address to fetch it from")
    last = problems[-1]
    raise (type(last) if isinstance(last, (Cut, Refused)) else Refused)(str(last))


def _urls(mirrors: Sequence[str], file: RemoteFile) -> list[str]:
    return [base.rstrip("/") + "/" + file.name for base in mirrors]


def _wait_limit(limits: Limits, files: Sequence[RemoteFile], mirrors: Sequence[str]) -> float:
    """How long to wait for another process fetching the same: as long as it may take itself, and a minute more."""
    return 60.0 + sum(limits.deadline_for(f.size) for f in files) * max(1, len(mirrors) + len(files[0].urls))


@contextlib.contextmanager
def _made_folder(folder: Path, what: str):
    """Makes the folder (DownloadError if it cannot be); if this made it and what runs inside fails, the folder
    goes again when empty, so a failed first download leaves nothing behind (a .part worth resuming stays)."""
    made = not folder.exists()
    _make_folder(folder, what)
    try:
        yield
    except BaseException:
        if made:
            try:
                folder.rmdir()
            except OSError:
                pass
        raise


def _make_folder(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create {folder} for {what}: {e.strerror or e}") from None


def _extract(archive: Path, folder: Path, members: tuple[str, ...]) -> None:
    """Write the wanted regular files of a .tar.gz into `folder` by their base names (never a path from the
    archive), each through a temporary file of this process."""
    from ..base.files import atomic_write

    wanted = set(members)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = member.name.rsplit("/", 1)[-1]
                if name in wanted and member.isreg():
                    source = tar.extractfile(member)

                    def copy(temporary: str, source=source) -> None:
                        with source, open(temporary, "wb") as out:
                            shutil.copyfileobj(source, out, 1 << 20)

                    atomic_write(folder / name, copy)
                    wanted.discard(name)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise Refused(f"{archive}: cannot read the archive ({e})") from None
    required = [name for name in wanted if not name.endswith(".txt")]
    if required:
        raise Refused(f"{archive}: the archive lacks {', '.join(sorted(required))}")


def _by_hand(remote: RemoteDataset, folder: Path, why: str) -> str:
    names = ", ".join(f.name for f in remote.files)
    return (f"cannot download {remote.name} ({why}); offline, put {names} ({remote.page or remote.mirrors[0]}) "
            f"in {folder}, or use {remote.name}:DIR")

