"""The classic datasets on demand: MNIST, Fashion-MNIST and CIFAR-10, downloaded on first use.

    folder = ensure(REMOTE["mnist"], progress=print)   # the folder holding the four IDX files

Files come from the datasets' public mirrors (NETBUILDER_DATASET_MIRRORS, a space-separated list of base URLs,
replaces them: a site's own mirror), go to `<file>.part` while they arrive, and a download that is cut short
continues where it stopped (an HTTP Range request) on the next try or the next run. Each file is checked against
its published MD5 checksum before it is used; a file that does not match is deleted and fetched again from the
next mirror. The cache is the user's data folder (NETBUILDER_DATA, else the platform's: ~/.local/share/netbuilder/
datasets on Linux); a folder is complete once `.complete` is written there. Offline, one message says which files
to put where. Nothing is executed from what is downloaded: CIFAR-10's archive is read member by member and only
its binary batches are written out.
"""
from __future__ import annotations

import hashlib
import os
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..base.files import user_data_dir
from .dataset import DataError

CHUNK = 1 << 16
ATTEMPTS = 3  # tries per mirror and file: a cut connection resumes where it stopped
TIMEOUT_S = 30
COMPLETE = ".complete"


class DownloadError(DataError):
    """A dataset that could not be fetched: no connection, a file that does not match its checksum."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str
    size: int | None = None  # bytes, where published (for the progress before the server says)


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
    dataset: str
    file: str
    done: int  # bytes of this file so far
    total: int | None  # bytes of this file, when known
    index: int  # which file (1-based) of `files`
    files: int

    def describe(self) -> str:
        size = f"{self.done / 2**20:.1f} of {self.total / 2**20:.1f} MB" if self.total else \
            f"{self.done / 2**20:.1f} MB"
        percent = f" ({self.done / self.total:.0%})" if self.total else ""
        return f"downloading {self.dataset}: {self.file} ({self.index}/{self.files}), {size}{percent}"


_IDX = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz")
REMOTE: dict[str, RemoteDataset] = {
    "mnist": RemoteDataset(
        "mnist", tuple(RemoteFile(n, m) for n, m in zip(_IDX, (
            "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        page="https://ossci-datasets.s3.amazonaws.com/mnist/"),
    "fashion-mnist": RemoteDataset(
        "fashion-mnist", tuple(RemoteFile(n, m) for n, m in zip(_IDX, (
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
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


def mirrors_for(remote: RemoteDataset) -> tuple[str, ...]:
    override = os.environ.get("NETBUILDER_DATASET_MIRRORS", "").split()
    return tuple(override) if override else remote.mirrors


def ensure(remote: RemoteDataset, home: Path | None = None,
           progress: Callable[[DownloadProgress], None] | None = None) -> Path:
    """The folder holding the dataset, fetching (and checking) what is missing. DownloadError says why not, and
    what to put where by hand."""
    folder = (home or data_home()) / remote.name
    done = cached_folder(remote, home)
    if done is not None:
        return done
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create {folder} for {remote.name}: {e.strerror or e}") from None
    report = progress or (lambda p: None)
    for index, file in enumerate(remote.files, start=1):
        target = folder / file.name
        if remote.extract and all((folder / name).is_file() for name in remote.extract):
            break  # extracted before (the archive was then deleted)
        if not (target.is_file() and _md5(target) == file.md5):
            _fetch(remote, file, target, lambda done, total, i=index, f=file: report(
                DownloadProgress(remote.name, f.name, done, total, i, len(remote.files))))
        if remote.extract:
            _extract(target, folder, remote.extract)
            target.unlink()
    (folder / COMPLETE).write_text("\n".join(f"{f.md5}  {f.name}" for f in remote.files) + "\n")
    return folder


def _fetch(remote: RemoteDataset, file: RemoteFile, target: Path, progress: Callable[[int, int | None], None]) -> None:
    """Download one file to target (through target.part), trying each mirror in turn, resuming cut downloads."""
    part = target.with_name(target.name + ".part")
    problems = []
    for base in mirrors_for(remote):
        url = base.rstrip("/") + "/" + file.name
        for _ in range(ATTEMPTS):
            try:
                complete = _download(url, part, progress, file.size)
            except urllib.error.HTTPError as e:
                problems.append(f"{url}: HTTP {e.code} {e.reason}")
                break  # this mirror does not have it; the next may
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                reason = getattr(e, "reason", None) or e
                reason = getattr(reason, "strerror", None) or str(reason)
                problems.append(f"no connection to {urllib.parse.urlsplit(url).netloc}: {reason}")
                time.sleep(0.2)
                continue  # a cut connection: try again from where it stopped
            if not complete:
                problems.append(f"{url}: the connection closed early")
                continue
            digest = _md5(part)
            if digest == file.md5:
                os.replace(part, target)
                return
            part.unlink()
            problems.append(f"{url}: the file does not match its checksum (md5 {digest}, expected {file.md5}); "
                            "it was deleted")
            break
    raise DownloadError(_by_hand(remote, folder=target.parent, why=problems[-1] if problems else "no mirror"))


def _download(url: str, part: Path, progress: Callable[[int, int | None], None], size: int | None) -> bool:
    """Append what the server sends to `part` (asking for the rest when part has a start); True when the whole file
    arrived."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "netbuilder", **(
        {"Range": f"bytes={have}-"} if have else {})})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - http(s) mirrors only
        if have and response.status != 206:  # the server sends the whole file again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else size
        if have and response.status == 206:
            content_range = response.headers.get("Content-Range", "")
            if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
                total = int(content_range.rsplit("/", 1)[1])
        done, last = have, 0.0
        with open(part, "ab" if have else "wb") as out:
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                now = time.monotonic()
                if now - last >= 0.1:
                    progress(done, total)
                    last = now
        progress(done, total)
    return total is None or done >= total


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _extract(archive: Path, folder: Path, members: tuple[str, ...]) -> None:
    """Write the wanted regular files of a .tar.gz into `folder` by their base names (never a path from the
    archive)."""
    wanted = set(members)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = member.name.rsplit("/", 1)[-1]
                if name in wanted and member.isreg():
                    source = tar.extractfile(member)
                    temporary = folder / (name + ".part")
                    with source, open(temporary, "wb") as out:
                        for block in iter(lambda: source.read(1 << 20), b""):
                            out.write(block)
                    os.replace(temporary, folder / name)
                    wanted.discard(name)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DownloadError(f"{archive}: cannot read the archive ({e})") from None
    required = [name for name in wanted if not name.endswith(".txt")]
    if required:
        raise DownloadError(f"{archive}: the archive lacks {', '.join(sorted(required))}")


def _by_hand(remote: RemoteDataset, folder: Path, why: str) -> str:
    names = ", ".join(f.name for f in remote.files)
    return (f"cannot download {remote.name} ({why}); offline, put {names} ({remote.page or remote.mirrors[0]}) "
            f"in {folder}, or use {remote.name}:DIR")
