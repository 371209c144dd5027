"""The classic datasets on demand, served by a local HTTP server on 127.0.0.1 (never the internet): small files
in the real formats with their own checksums; progress, the cache, a download cut short and resumed, a file that
does not match its checksum, and the message offline."""
import gzip
import hashlib
import io
import re
import socket
import struct
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from netbuilder.cli import main
from netbuilder.core.data import download
from netbuilder.core.data.download import DownloadError, RemoteDataset, RemoteFile, ensure
from netbuilder.core.data.readers import read_cifar10_folder, read_mnist_folder
from netbuilder.core.data.specs import DataSpec
from tests.conftest import EXAMPLES


def idx(array: np.ndarray) -> bytes:
    """An IDX file (gzipped): 0 0 8 ndim, big-endian sizes, unsigned bytes."""
    head = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return gzip.compress(head + array.astype(np.uint8).tobytes())


def fake_mnist(train=30, test=10) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {"train-images-idx3-ubyte.gz": idx(rng.integers(0, 256, (train, 28, 28))),
            "train-labels-idx1-ubyte.gz": idx(rng.integers(0, 10, train)),
            "t10k-images-idx3-ubyte.gz": idx(rng.integers(0, 256, (test, 28, 28))),
            "t10k-labels-idx1-ubyte.gz": idx(rng.integers(0, 10, test))}


def remote_for(files: dict[str, bytes], *mirrors, name="mnist", extract=()) -> RemoteDataset:
    return RemoteDataset(name, tuple(RemoteFile(n, hashlib.md5(b).hexdigest()) for n, b in files.items()),
                         tuple(mirrors), extract=extract, page="https://example.org/by-hand")


class Server:
    """Serves `files` over HTTP with Range requests. `requests` records (name, Range header) of each request.
    Behaviours, each a set of file names:
    - cut: the first response stops half way (the connection drops);
    - corrupt: served with a byte changed;
    - gate: the first response sends half, then waits for `gate` (a threading.Event) before the rest;
    - trickle: after the headers, a byte every `interval` seconds;
    - silent: the headers, then nothing;
    - endless: 200 without a Content-Length, then bytes without end;
    - bad_length: a Content-Length that is not a number;
    - headers: {name: {header: value}} sent instead of the computed ones (and the status in "status")."""

    def __init__(self, files: dict[str, bytes], cut=(), corrupt=(), gate=(), trickle=(), silent=(), endless=(),
                 bad_length=(), headers=None, interval=2.2) -> None:
        self.files, self.cut, self.corrupt, self.requests = files, set(cut), set(corrupt), []
        self.gated, self.trickle, self.silent, self.endless = set(gate), set(trickle), set(silent), set(endless)
        self.bad_length, self.headers, self.interval = set(bad_length), headers or {}, interval
        self.gate, self.stop = threading.Event(), threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                try:
                    self.answer()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: as it should, for most of these

            def answer(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append((name, self.headers.get("Range")))
                if name not in server.files:
                    self.send_error(404)
                    return
                body = server.files[name]
                if name in server.corrupt:
                    body = bytes([body[0] ^ 0xFF]) + body[1:]
                if name in server.endless:
                    self.send_response(200)
                    self.end_headers()
                    block = bytes(range(256)) * 256
                    while not server.stop.is_set():
                        self.wfile.write(block)
                    return
                start = 0
                if name in server.headers:
                    given = dict(server.headers[name])
                    self.send_response(int(given.pop("status", 200)))
                    for key, value in given.items():
                        self.send_header(key, value)
                else:
                    if self.headers.get("Range"):
                        start = int(self.headers["Range"].split("=")[1].split("-")[0])
                        self.send_response(206)
                        self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                    else:
                        self.send_response(200)
                    length = "abc" if name in server.bad_length else str(len(body) - start)
                    self.send_header("Content-Length", length)
                self.end_headers()
                self.wfile.flush()
                rest = body[start:]
                if name in server.silent:
                    server.stop.wait(60)
                    return
                if name in server.trickle:
                    for i in range(len(rest)):
                        self.wfile.write(rest[i:i + 1])
                        self.wfile.flush()
                        if server.stop.wait(server.interval):
                            return
                    return
                if name in server.cut or name in server.gated:  # the connection drops half way (once), or waits
                    gated = name in server.gated
                    server.cut.discard(name)
                    server.gated.discard(name)
                    self.wfile.write(rest[:len(rest) // 2])
                    self.wfile.flush()
                    if not gated:
                        self.close_connection = True
                        return
                    server.gate.wait(60)
                    self.wfile.write(rest[len(rest) // 2:])
                    return
                self.wfile.write(rest)

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that hung up mid-answer is what several tests do

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there any more: connection refused at once


def test_a_classic_dataset_downloads_once_with_progress_and_checksums_then_comes_from_the_cache(tmp_path, serve):
    files = fake_mnist()
    server = serve(files)
    seen = []
    folder = ensure(remote_for(files, server.url), home=tmp_path, progress=seen.append)
    assert folder == tmp_path / "mnist" and (folder / ".complete").is_file()
    train, test = read_mnist_folder(folder)
    assert train.x.shape == (30, 1, 28, 28) and len(test) == 10
    assert {p.file for p in seen} == set(files) and all(p.files == 4 for p in seen)
    last = [p for p in seen if p.file == "train-images-idx3-ubyte.gz"][-1]
    assert last.done == last.total == len(files["train-images-idx3-ubyte.gz"])
    assert last.describe().startswith("downloading mnist: train-images-idx3-ubyte.gz (1/4), ")
    count = len(server.requests)
    assert ensure(remote_for(files, server.url), home=tmp_path) == folder
    assert len(server.requests) == count  # from the cache: nothing fetched again
    assert not list(folder.glob("*.part"))


def test_a_download_cut_short_resumes_where_it_stopped(tmp_path, serve):
    files = fake_mnist(train=200)
    name = "train-images-idx3-ubyte.gz"
    size = len(files[name])
    server = serve(files, cut={name})
    folder = ensure(remote_for(files, server.url), home=tmp_path)
    assert (folder / name).read_bytes() == files[name]
    asked = [header for file, header in server.requests if file == name]
    assert asked == [None, f"bytes={size // 2}-"]  # the second request asks only for the rest

    # a run interrupted earlier left half a file: the next run continues it
    (tmp_path / "again" / "mnist").mkdir(parents=True)
    (tmp_path / "again" / "mnist" / (name + ".part")).write_bytes(files[name][:1000])
    server.requests.clear()
    folder = ensure(remote_for(files, server.url), home=tmp_path / "again")
    assert (folder / name).read_bytes() == files[name]
    assert (name, "bytes=1000-") in server.requests


def test_a_file_that_does_not_match_its_checksum_is_deleted_and_the_next_mirror_tried(tmp_path, serve):
    files = fake_mnist()
    bad = serve(files, corrupt={"t10k-labels-idx1-ubyte.gz"})
    with pytest.raises(DownloadError, match=r"does not match its checksum \(md5 [0-9a-f]{32}, expected [0-9a-f]{32}\)"):
        ensure(remote_for(files, bad.url), home=tmp_path)
    assert not (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    assert not list((tmp_path / "mnist").glob("*.part")) and not (tmp_path / "mnist" / ".complete").exists()
    good = serve(files)
    folder = ensure(remote_for(files, bad.url, good.url), home=tmp_path)
    assert read_mnist_folder(folder)[1].y.tolist() == read_mnist_folder(folder)[1].y.tolist()
    assert ("t10k-labels-idx1-ubyte.gz", None) in good.requests


def test_cifar10_comes_as_an_archive_whose_binary_batches_are_kept(tmp_path, serve):
    rng = np.random.default_rng(1)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name in [*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin", "readme.html"]:
            records = np.concatenate([rng.integers(0, 10, (4, 1)), rng.integers(0, 256, (4, 3072))], 1)
            data = records.astype(np.uint8).tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    files = {"cifar-10-binary.tar.gz": archive.getvalue()}
    server = serve(files)
    remote = remote_for(files, server.url, name="cifar10", extract=download.REMOTE["cifar10"].extract)
    folder = ensure(remote, home=tmp_path)
    assert not (folder / "cifar-10-binary.tar.gz").exists() and not (folder / "readme.html").exists()
    train, test = read_cifar10_folder(folder)
    assert train.x.shape == (20, 3, 32, 32) and len(test) == 4


def test_offline_one_message_says_which_files_to_put_where(tmp_path, monkeypatch, capsys, serve):
    assert DataSpec.parse("mnist").path is None  # no folder: fetched on first use
    monkeypatch.setenv("NETBUILDER_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("NETBUILDER_DATASET_MIRRORS", closed_port_url())  # never the public mirrors in a test
    args = ["train", str(EXAMPLES / "mnist_convnet.json"), "--data", "mnist", "--epochs", "1", "--out",
            str(tmp_path / "run")]
    assert main(args) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1, error
    assert error[0].startswith("netbuilder: error: cannot download mnist (no connection to 127.0.0.1:")
    assert error[0].endswith(
        "); offline, put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        f"t10k-labels-idx1-ubyte.gz (https://ossci-datasets.s3.amazonaws.com/mnist/) in {tmp_path / 'data' / 'mnist'}"
        ", or use mnist:DIR")
    # the real sizes and checksums guard the real names: files that are not MNIST's are refused before a byte is
    # written (their size is not MNIST's)
    server = serve(fake_mnist())
    monkeypatch.setenv("NETBUILDER_DATASET_MIRRORS", server.url)
    assert main(args) == 1
    assert re.search(r"the server announces [\d,]+ bytes; the file has 9,912,422", capsys.readouterr().err)
    assert not (tmp_path / "data" / "mnist").exists()  # the folder it made for the download goes with it
