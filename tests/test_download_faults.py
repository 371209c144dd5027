"""Downloads against hostile and concurrent conditions, with real HTTP servers on 127.0.0.1 and real processes:
two processes fetching the same dataset at once (one download), a fetch killed mid-file (the next continues it; the
lock it held does not block), a Content-Length that is not a number, a server that trickles (the deadline, with the
stall shown), one that goes silent (the read timeout), one that sends without end (the cap), headers that do not
fit; each ends in one line, and nothing is left behind but a resumable `.part` where that is the point."""
import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from netbuilder.cli import main
from netbuilder.core.data.download import (
    DownloadError,
    Limits,
    RemoteDataset,
    RemoteFile,
    ensure,
    fetch,
    mirrors_from,
)
from netbuilder.core.data.readers import read_mnist_folder
from tests.conftest import EXAMPLES, ROOT
from tests.test_download import fake_mnist


FAST = Limits(connect_s=5, read_s=5, deadline_s=60)
CHILD = """
import json, sys
from netbuilder.core.data.download import RemoteDataset, RemoteFile, ensure
spec = json.loads(sys.argv[1])
remote = RemoteDataset(spec["name"], tuple(RemoteFile(n, m, s) for n, m, s in spec["files"]), ("http://unused/",))
folder = ensure(remote, progress=lambda p: print(p.describe(), flush=True))
print("DONE", folder, flush=True)
"""


def sized_remote(files: dict[str, bytes], *mirrors, name="mnist") -> RemoteDataset:
    """A dataset whose checksum table knows each file's size (as the real ones do)."""
    return RemoteDataset(name, tuple(RemoteFile(n, hashlib.md5(b).hexdigest(), len(b)) for n, b in files.items()),
                         tuple(mirrors), page="https://example.org/by-hand")


def leftovers(folder: Path) -> list[str]:
    """What a download may not leave: partial files, locks, temporary files."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name.endswith((".part", ".lock", ".tmp")))


class Child:
    """A process fetching a dataset (its own interpreter), its output lines collected as they come."""

    def __init__(self, remote: RemoteDataset, home: Path, mirror: str) -> None:
        spec = json.dumps({"name": remote.name, "files": [[f.name, f.md5, f.size] for f in remote.files]})
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NETBUILDER_DATA": str(home),
               "NETBUILDER_DATASET_MIRRORS": mirror}
        self.process = subprocess.Popen([sys.executable, "-c", CHILD, spec], env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(self.process.stdout.readline, "")),
                                       daemon=True)
        self.reader.start()

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def finish(self) -> int:
        code = self.process.wait(timeout=120)
        self.reader.join(timeout=10)
        return code


def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, f"never happened: {what}"
        time.sleep(0.05)


def test_two_processes_fetching_one_dataset_download_it_once(tmp_path, serve):
    files = fake_mnist(train=300)
    first = "train-images-idx3-ubyte.gz"
    server = serve(files, gate={first})  # the first process's first file stops half way until the gate opens
    remote = sized_remote(files, server.url)
    home = tmp_path / "home"
    one = Child(remote, home, server.url)
    wait_for(lambda: (first, None) in server.requests, "the first process asks for the file")
    two = Child(remote, home, server.url)
    wait_for(lambda: two.said("mnist: waiting for another process to finish downloading it"),
             "the second process says it waits")
    server.gate.set()
    assert one.finish() == 0, one.lines
    assert two.finish() == 0, two.lines
    folder = home / "mnist"
    assert one.lines[-1] == two.lines[-1] == f"DONE {folder}\n"
    assert sorted(name for name, _ in server.requests) == sorted(files)  # each file fetched once, by one process
    assert all((folder / name).read_bytes() == data for name, data in files.items())
    assert leftovers(home) == [] and sorted(os.listdir(folder)) == sorted([*files, ".complete"])
    assert len(read_mnist_folder(folder)[0]) == 300


def test_a_killed_fetch_leaves_a_lock_that_does_not_block_and_a_part_the_next_continues(tmp_path, serve):
    files = fake_mnist(train=300)
    first = "train-images-idx3-ubyte.gz"
    server = serve(files, gate={first})
    remote = sized_remote(files, server.url)
    home = tmp_path / "home"
    part = home / "mnist" / (first + ".part")
    child = Child(remote, home, server.url)
    half = len(files[first]) // 2
    wait_for(lambda: part.exists() and part.stat().st_size == half, "half of the file arrives")
    child.process.kill()  # SIGKILL: no clean-up of its own
    child.finish()
    assert (home / "mnist" / ".lock").exists(), "the killed process left its lock file"
    server.requests.clear()
    folder = ensure(remote, home=home, limits=FAST)
    assert (folder / first).read_bytes() == files[first]
    assert (first, f"bytes={half}-") in server.requests  # continued where the killed process stopped
    assert leftovers(home) == []


def test_a_file_with_a_sha256_goes_where_it_is_asked_once(tmp_path, serve, monkeypatch):
    """The general API (pretrained weights will use it): a file, its sha256 and size, a destination, mirrors from
    an environment variable."""
    data = os.urandom(300_000)
    server = serve({"weights.pth": data})
    file = RemoteFile("weights.pth", sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    monkeypatch.setenv("NETBUILDER_TEST_MIRRORS", server.url)
    mirrors = mirrors_from("NETBUILDER_TEST_MIRRORS", ("https://example.org/never/",))
    assert mirrors == (server.url,)
    seen = []
    target = fetch(file, tmp_path / "cache" / "weights.pth", mirrors, what="a model's weights", progress=seen.append)
    assert target.read_bytes() == data and seen[-1].done == seen[-1].total == len(data)
    assert seen[-1].describe().startswith("downloading a model's weights: weights.pth (1/1), ")
    assert fetch(file, target, mirrors) == target and len(server.requests) == 1  # there already: checked, not fetched
    assert leftovers(tmp_path) == []
    wrong = RemoteFile("weights.pth", sha256="0" * 64, size=len(data))
    with pytest.raises(DownloadError, match=r"^cannot download weights.pth \(.*does not match its checksum \(sha256 "
                                            r"[0-9a-f]{64}, expected 0{64}\); it was deleted\); offline, put "):
        fetch(wrong, tmp_path / "other" / "weights.pth", mirrors, limits=FAST)
    assert leftovers(tmp_path) == [] and not (tmp_path / "other" / "weights.pth").exists()
    monkeypatch.setenv("NETBUILDER_TEST_MIRRORS", "file:///etc/")
    with pytest.raises(DownloadError, match="NETBUILDER_TEST_MIRRORS: 'file:///etc/' is not an http"):
        mirrors_from("NETBUILDER_TEST_MIRRORS", ())


def test_a_trickle_passes_the_deadline_with_the_stall_shown_and_the_part_kept_for_the_next_try(tmp_path, serve):
    files = fake_mnist()
    name = "t10k-labels-idx1-ubyte.gz"
    slow = serve(files, trickle={name}, interval=2.6)  # bytes at 0, 2.6 and 5.2 s
    seen = []
    limits = Limits(connect_s=5, read_s=5, deadline_s=6.5, min_rate=1e12)  # the deadline: 6.5 s for any size
    with pytest.raises(DownloadError) as caught:
        ensure(sized_remote(files, slow.url), home=tmp_path, progress=seen.append, limits=limits)
    message = str(caught.value)
    part = tmp_path / "mnist" / (name + ".part")
    arrived = part.stat().st_size
    assert 1 <= arrived < len(files[name]) and part.read_bytes() == files[name][:arrived]
    assert "\n" not in message and f"{name}: too slow, {arrived} bytes of {len(files[name])} bytes after" in message
    assert "what arrived is kept, and the next try continues it" in message
    stalls = [p.describe() for p in seen if p.file == name and p.stalled >= 2]
    assert stalls and all(re.search(r"bytes \(\d+%\), no data for [23] s$", s) for s in stalls), stalls  # as it happens
    assert not (tmp_path / "mnist" / ".lock").exists()
    good = serve(files)
    folder = ensure(sized_remote(files, good.url), home=tmp_path, limits=limits)
    assert (name, f"bytes={arrived}-") in good.requests and (folder / name).read_bytes() == files[name]
    assert leftovers(tmp_path) == []


def test_a_silent_server_is_dropped_after_the_read_timeout(tmp_path, serve):
    files = fake_mnist()
    server = serve(files, silent={"train-labels-idx1-ubyte.gz"})
    with pytest.raises(DownloadError, match=r"\(no data from 127\.0\.0\.1:\d+ for 1 s\); offline, put "):
        ensure(sized_remote(files, server.url), home=tmp_path, limits=Limits(connect_s=5, read_s=1, deadline_s=60))
    assert [n for n, _ in server.requests].count("train-labels-idx1-ubyte.gz") == 3  # tried again, then given up
    assert leftovers(tmp_path) == []


def test_a_cache_file_is_filled_once_when_asked_for_at_once(tmp_path, monkeypatch):
    """The stream cache's decompressed copies: threads (each its own lock, as processes have) asking for the same
    file at once get one complete copy; no temporary or lock file is left."""
    from concurrent.futures import ThreadPoolExecutor

    from netbuilder.core.data.stream import cache_folder, raw_copy

    monkeypatch.setenv("NETBUILDER_DATA", str(tmp_path / "data" / "datasets"))
    raw = os.urandom(1 << 20) * 8
    source = tmp_path / "images.gz"
    source.write_bytes(gzip.compress(raw, compresslevel=1))
    with ThreadPoolExecutor(4) as pool:
        copies = list(pool.map(lambda _: raw_copy(source), range(4)))
    assert len(set(copies)) == 1 and copies[0].read_bytes() == raw
    assert os.listdir(cache_folder()) == [copies[0].name]


def test_a_server_sending_without_end_is_capped_and_its_part_deleted(tmp_path, serve):
    files = fake_mnist()
    server = serve(files, endless={"train-images-idx3-ubyte.gz"})
    with pytest.raises(DownloadError, match=r"the server sent more than [\d,]+ bytes \(the file has [\d,]+\); "
                                            r"stopped, and the partial file deleted"):
        ensure(sized_remote(files, server.url), home=tmp_path, limits=FAST)
    assert leftovers(tmp_path) == []
    # without a size in the table, the announced length is the cap; without either, the unknown-size cap
    unsized = RemoteDataset("mnist", tuple(RemoteFile(n, hashlib.md5(b).hexdigest()) for n, b in files.items()),
                            (server.url,))
    with pytest.raises(DownloadError, match=r"the server sent more than 100,000 bytes \(nobody says how big"):
        ensure(unsized, home=tmp_path / "unsized", limits=Limits(unknown_cap=100_000))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("headers, problem", [
    ({"Content-Length": "99999999"}, r"the server announces 99,999,999 bytes; the file has [\d,]+"),
    ({"Content-Length": "1_0"}, r"a Content-Length that is not a number \('1_0'\)"),
    ({"Content-Length": "-5"}, r"a Content-Length that is not a number \('-5'\)"),
    ({"Content-Encoding": "gzip"}, r"the server sent the file encoded \(gzip\), which was not asked for"),
    ({"status": 206, "Content-Range": "bytes 0-9/10"}, r"HTTP 206 \(a part of the file\) to a request for all of it"),
    ({"status": 204}, r"HTTP 204 instead of the file"),
    ({"status": 500}, r"HTTP 500 Internal Server Error"),
])
def test_headers_that_do_not_fit_the_file_are_refused_before_a_byte_is_written(tmp_path, serve, headers, problem):
    files = fake_mnist()
    server = serve(files, headers={"train-images-idx3-ubyte.gz": headers})
    with pytest.raises(DownloadError, match=problem):
        ensure(sized_remote(files, server.url), home=tmp_path, limits=FAST)
    assert leftovers(tmp_path) == []


def test_a_resumed_transfer_whose_range_does_not_fit_starts_nowhere(tmp_path, serve):
    files = fake_mnist()
    name = "train-images-idx3-ubyte.gz"
    server = serve(files, headers={name: {"status": 206, "Content-Range": "bytes 5-9/10", "Content-Length": "5"}})
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / (name + ".part")).write_bytes(files[name][:100])
    with pytest.raises(DownloadError, match=r"the server sent bytes from 5, asked from 100"):
        ensure(sized_remote(files, server.url), home=tmp_path, limits=FAST)


def run_cli(tmp_path, capsys, monkeypatch, mirror: str, **environment) -> str:
    monkeypatch.setenv("NETBUILDER_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("NETBUILDER_DATASET_MIRRORS", mirror)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    tmp_path.mkdir()  # the run's parent folder exists: the command gets as far as the download
    code = main(["train", str(EXAMPLES / "mnist_convnet.json"), "--data", "mnist", "--epochs", "1", "--out",
                 str(tmp_path / "run")])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(error) == 1, error
    assert not (tmp_path / "run").exists() and leftovers(tmp_path / "data") == []
    return error[0]


def test_the_command_line_fails_in_one_line_on_a_hostile_mirror(tmp_path, capsys, monkeypatch, serve):
    """Through the real command and the real MNIST table (sizes and checksums): exit 1, one line, nothing left."""
    mnist = {name: b"" for name in ("train-images-idx3-ubyte.gz",)}
    line = run_cli(tmp_path / "a", capsys, monkeypatch, serve(mnist, bad_length=set(mnist)).url)
    assert line.startswith("netbuilder: error: cannot download mnist (http://127.0.0.1:")
    assert "train-images-idx3-ubyte.gz: the server sent a Content-Length that is not a number ('abc'))" in line
    line = run_cli(tmp_path / "b", capsys, monkeypatch, serve(mnist, endless=set(mnist)).url)
    assert "the server sent more than 9,977,958 bytes (the file has 9,912,422); stopped" in line
    line = run_cli(tmp_path / "c", capsys, monkeypatch, "http://127.0.0.1:1/", NETBUILDER_DOWNLOAD_DEADLINE="soon")
    assert line == "netbuilder: error: NETBUILDER_DOWNLOAD_DEADLINE must be a positive number of seconds, got 'soon'"
    monkeypatch.delenv("NETBUILDER_DOWNLOAD_DEADLINE")
    line = run_cli(tmp_path / "d", capsys, monkeypatch, "ftp://127.0.0.1/")
    assert line == "netbuilder: error: NETBUILDER_DATASET_MIRRORS: 'ftp://127.0.0.1/' is not an http:// or https:// " \
                   "address"


def test_the_command_line_gives_up_on_a_trickle_by_the_deadline_it_is_given(tmp_path, capsys, monkeypatch, serve):
    files = {"train-images-idx3-ubyte.gz": b"\0" * 9_912_422}
    server = serve(files, trickle=set(files), interval=1.0)
    monkeypatch.setenv("NETBUILDER_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("NETBUILDER_DATASET_MIRRORS", server.url)
    monkeypatch.setenv("NETBUILDER_DOWNLOAD_DEADLINE", "2")
    monkeypatch.setenv("NETBUILDER_DOWNLOAD_MIN_RATE", "1000000000")
    code = main(["train", str(EXAMPLES / "mnist_convnet.json"), "--data", "mnist", "--epochs", "1", "--out",
                 str(tmp_path / "run")])
    captured = capsys.readouterr()
    error = captured.err.strip().splitlines()
    assert code == 1 and error[-1].startswith("netbuilder: error: cannot download mnist (")
    assert "train-images-idx3-ubyte.gz: too slow, " in error[-1] and not (tmp_path / "run").exists()
    part = tmp_path / "data" / "mnist" / "train-images-idx3-ubyte.gz.part"
    assert 1 <= part.stat().st_size <= 4  # kept: the next run continues it
