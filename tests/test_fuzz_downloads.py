"""Downloads from a hostile mirror: a server on 127.0.0.1 (never the internet) whose every answer is drawn by
hypothesis: its status, its headers (a Content-Length that is not a number, or lies; a Content-Range that does not
fit), its body (cut short, longer than said, garbage, far too long), a connection dropped half way, a body that
trickles. Through core/data/download.py's public functions (ensure, fetch) and through `netbuilder train --data
mnist`.

Whatever the mirror does: the dataset arrives whole and checked, or DownloadError (a NetbuilderError) says why
(the command: exit 1 and its one line); nothing is left but a `.part` that can still complete (a prefix of the
file, for the next try to resume); no folder is left empty. Each example is bounded (a few MB, half a second of
trickle) so that the file runs in well under a minute.
"""
import gzip
import hashlib
import os
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core.base.errors import NetbuilderError
from netbuilder.core.data.download import RemoteDataset, RemoteFile, ensure, fetch
from netbuilder.core.data.transfer import Limits
from tests.conftest import EXAMPLES
from tests.fuzzing import FUZZ, check_cli, folder

FILE = "train-images-idx3-ubyte.gz"
BODY = gzip.compress(bytes(range(256)) * 64)  # 16 KB of "images", a few KB gzipped
MD5 = hashlib.md5(BODY).hexdigest()
LIMITS = Limits(connect_s=2.0, read_s=1.0, deadline_s=4.0, stall_s=0.5)  # short, so that a stall costs little

ANSWERS = st.fixed_dictionaries({
    "status": st.sampled_from([200] * 6 + [206, 206, 301, 302, 204, 304, 403, 404, 416, 500, 503, 299, 999]),
    "length": st.sampled_from(["right"] * 4 + ["none", "abc", "-5", " 12 ", "1e3", "10" * 8, "short", "long",
                                              "12, 12", "0x10", ""]),
    "range": st.sampled_from(["right", "bytes */*", "garbage", "bytes 0-1/abc", "bytes 5-3/10", "bytes 0-0/1",
                              "bytes 0-99999999/100000000"]),
    "body": st.sampled_from(["right"] * 4 + ["half", "garbage", "extra", "empty", "flood", "html"]),
    "drop": st.sampled_from([False] * 4 + [True]),
    "trickle": st.sampled_from([False] * 5 + [True]),
    "location": st.sampled_from(["self", "closed", "file:///etc/passwd", "ftp://127.0.0.1:1/x", "", "http://[::1"]),
    "extra": st.sampled_from([None] * 4 + [("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"),
                                           ("Content-Type", "text/html"), ("Connection", "close")]),
})


class Mirror:
    """A mirror that answers each request as `answers` (a list, one per request; the last repeats) say."""

    def __init__(self) -> None:
        self.answers: list[dict] = []
        self.requests = 0
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                answer = mirror.answers[min(mirror.requests, len(mirror.answers) - 1)]
                mirror.requests += 1
                try:
                    mirror.answer(self, answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, handler: BaseHTTPRequestHandler, a: dict) -> None:
        start = 0
        asked = handler.headers.get("Range")
        if asked and asked.startswith("bytes=") and asked[6:].split("-")[0].isdigit():
            start = min(int(asked[6:].split("-")[0]), len(BODY))
        body = {"right": BODY[start:], "half": BODY[start:start + (len(BODY) - start) // 2],
                "garbage": os.urandom(len(BODY) - start), "extra": BODY[start:] + os.urandom(50_000), "empty": b"",
                "flood": bytes(3 * 2**20), "html": b"<html>mirror moved</html>"}[a["body"]]
        handler.send_response_only(a["status"], "Hostile")
        handler.send_header("Server", "hostile")
        if a["status"] in (301, 302):
            location = {"self": handler.path, "closed": closed_port_url() + FILE}.get(a["location"], a["location"])
            handler.send_header("Location", location)
        if a["status"] == 206:
            total = len(BODY)
            handler.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}" if a["range"] == "right"
                                else a["range"])
        length = {"right": str(len(body)), "short": str(max(len(body) - 100, 0)), "long": str(len(body) + 100),
                  "none": None}.get(a["length"], a["length"])
        if length is not None:
            handler.send_header("Content-Length", length)
        if a["extra"]:
            handler.send_header(*a["extra"])
        handler.end_headers()
        if a["drop"]:
            body = body[: len(body) // 3]
        if a["trickle"]:  # ten pieces over half a second
            step = max(len(body) // 10, 1)
            for i in range(0, len(body), step):
                handler.wfile.write(body[i:i + step])
                handler.wfile.flush()
                time.sleep(0.05)
        else:
            handler.wfile.write(body)
        handler.wfile.flush()
        handler.close_connection = True

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


@pytest.fixture(scope="module")
def mirror():
    server = Mirror()
    yield server
    server.close()


def remote(*mirrors: str, sized: bool = True) -> RemoteDataset:
    return RemoteDataset("mnist", (RemoteFile(FILE, MD5, len(BODY) if sized else None),), tuple(mirrors),
                         page="https://example.org/by-hand")


def check_left(folder: Path, done: bool, complete: bool = True) -> None:
    """What a download leaves in its folder: the file, whole and checked (and .complete for a dataset); or at most a
    .part it can resume (a prefix of the file), and no folder left empty."""
    if done:
        assert (folder / FILE).read_bytes() == BODY
        assert sorted(p.name for p in folder.iterdir()) == sorted([FILE, *([".complete"] if complete else [])])
        return
    if not folder.exists():
        return
    left = sorted(p.name for p in folder.iterdir())
    assert left == [FILE + ".part"], f"left in {folder}: {left}"
    part = (folder / left[0]).read_bytes()
    assert len(part) < len(BODY) and BODY.startswith(part), \
        f"a .part that can never complete was left ({len(part):,} bytes, the file has {len(BODY):,})"


@settings(FUZZ, max_examples=40)
@given(answers=st.lists(ANSWERS, min_size=1, max_size=3), second_mirror=st.sampled_from([None, None, "good", "closed"]),
       how=st.sampled_from(["ensure", "ensure", "ensure unsized", "fetch"]))
def test_hostile_mirrors(mirror, answers, second_mirror, how):
    good = None
    if second_mirror == "good":
        good = Mirror()
        good.answers = [dict(status=200, length="right", range="right", body="right", drop=False, trickle=False,
                             location="self", extra=None)]
    mirrors = [mirror.url, *([good.url] if good else [closed_port_url()] if second_mirror == "closed" else [])]
    mirror.answers, mirror.requests = answers, 0
    try:
        with folder() as tmp:
            home = Path(tmp)
            done = False
            try:
                if how == "fetch":
                    done = fetch(RemoteFile(FILE, MD5, len(BODY)), home / "weights" / FILE, mirrors,
                                 limits=LIMITS) == home / "weights" / FILE
                else:
                    done = ensure(remote(*mirrors, sized=how == "ensure"), home=home, progress=lambda p: p.describe(),
                                  limits=LIMITS) == home / "mnist"
            except NetbuilderError as e:
                assert str(e).strip(), "an empty message"
            check_left(home / ("weights" if how == "fetch" else "mnist"), done, complete=how != "fetch")
            if good is not None:
                assert done, "a good second mirror was not used"
    finally:
        if good is not None:
            good.close()


@settings(FUZZ, max_examples=12)
@given(answer=ANSWERS)
def test_hostile_mirror_through_the_command_line(mirror, answer, monkeypatch):
    """`netbuilder train --data mnist` with the mirror as the only one: exit 1 and one line (the real files'
    checksums cannot match), nothing left in the working folder or the data folder but a resumable .part."""
    mirror.answers, mirror.requests = [answer], 0
    with folder() as tmp:
        area = Path(tmp)
        shutil.copy(EXAMPLES / "mnist_convnet.json", area / "g.json")
        monkeypatch.setenv("NETBUILDER_DATASET_MIRRORS", mirror.url)
        monkeypatch.setenv("NETBUILDER_DATA", str(area / "data"))
        status, _, err = check_cli(area, "train", "g.json", "--data", "mnist", "--epochs", "1", "--out", "run",
                                   kept=("data", "data/mnist", f"data/mnist/{FILE}.part"))
        assert status == 1 and "mnist" in err.splitlines()[-1]
        check_left(area / "data" / "mnist", False)


def test_a_failed_download_leaves_no_folder(mirror):
    mirror.answers, mirror.requests = [dict(status=404, length="right", range="right", body="html", drop=False,
                                            trickle=False, location="self", extra=None)], 0
    with folder() as tmp:
        with pytest.raises(NetbuilderError, match="HTTP 404"):
            ensure(remote(mirror.url), home=Path(tmp), limits=LIMITS)
        assert not (Path(tmp) / "mnist").exists()
