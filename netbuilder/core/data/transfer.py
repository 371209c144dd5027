"""One HTTP(S) transfer of one file into its `.part`, under limits, every answer of the server checked before use.

download.py decides what to fetch, from where, and what to do when a transfer fails; this module does one try:

    complete = transfer(url, part, size, limits, deadline, progress)

- a connect timeout, and a read timeout: no byte for `read_s` seconds drops the connection (Cut: try again, the
  next try resumes where this one stopped);
- an overall deadline (an absolute time on the monotonic clock, download.py's, which grows with the file's size):
  past it the transfer stops (TooSlow), and what arrived stays in the `.part` for the next run to continue;
- the status (200, or 206 for a resumed transfer, whose Content-Range must start where the `.part` ends), the
  Content-Length (a number, and the file's size when that is known), the Content-Range and the Content-Encoding
  (none: the bytes must be the file's) are checked before a byte is written (Refused: this mirror will not do);
- a size cap: the file's size (or the announced length) plus SLACK; a server sending more is stopped, and the
  `.part`, which can never be right, deleted (Refused);
- progress(done, total, stalled_s) several times a second, also while nothing arrives (how long since the last
  byte), so that a stall shows.

The socket is read on a thread of its own, so that the deadline and the read timeout are kept to the second
whatever the server does (trickling the headers, a byte at a time, or nothing at all), and the connection is shut
down the moment a limit is passed.
"""
from __future__ import annotations

import math
import os
import queue
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from .dataset import DataError

CHUNK = 1 << 16
TICK_S = 0.25  # how often progress is reported while nothing arrives
ENVIRONMENT = {  # Limits' fields that the environment can set, and in which unit
    "connect_s": ("NETBUILDER_DOWNLOAD_CONNECT_TIMEOUT", "seconds", 1.0),
    "read_s": ("NETBUILDER_DOWNLOAD_READ_TIMEOUT", "seconds", 1.0),
    "deadline_s": ("NETBUILDER_DOWNLOAD_DEADLINE", "seconds", 1.0),
    "min_rate": ("NETBUILDER_DOWNLOAD_MIN_RATE", "KB/s", 1000.0),
}


class DownloadError(DataError):
    """A file that could not be fetched: no connection, a server whose answer is not the file, a file that does not
    match its checksum; the message says which, where, and what to do by hand."""


class Cut(DownloadError):
    """The transfer stopped short (no connection, the connection closed or went silent): worth another try, which
    continues from the `.part`."""


class Refused(DownloadError):
    """This mirror's answer is not the file (an HTTP error, headers that do not fit, too many bytes): the next
    mirror may do better."""


class TooSlow(Refused):
    """The overall deadline passed; what arrived is kept in the `.part`."""


@dataclass(frozen=True)
class Limits:
    """How long a download may take and how much it may write. The environment sets them (from_environment):
    NETBUILDER_DOWNLOAD_CONNECT_TIMEOUT and _READ_TIMEOUT (seconds), NETBUILDER_DOWNLOAD_DEADLINE (seconds, the
    deadline's fixed part) and NETBUILDER_DOWNLOAD_MIN_RATE (KB/s: the deadline grows by the size over this)."""

    connect_s: float = 15.0  # to connect and to hear the answer's headers
    read_s: float = 30.0  # the longest silence in the middle of a file before the connection is dropped (and resumed)
    deadline_s: float = 120.0  # the overall deadline for a file from one mirror: this, plus its size / min_rate
    min_rate: float = 50_000.0  # bytes a second: slower than this, the deadline passes
    slack: int = 1 << 16  # bytes accepted past the expected size before a transfer is cut off
    unknown_cap: int = 16 << 30  # the cap on a file whose size nobody states
    stall_s: float = 2.0  # seconds without a byte after which progress says the transfer stalls

    @classmethod
    def from_environment(cls, **fixed) -> Limits:
        values = dict(fixed)
        for name, (variable, unit, scale) in ENVIRONMENT.items():
            text = os.environ.get(variable, "").strip()
            if not text or name in fixed:
                continue
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                raise DownloadError(f"{variable} must be a positive number of {unit}, got {text[:40]!r}")
            values[name] = value * scale
        return cls(**values)

    def deadline_for(self, size: int | None) -> float:
        """Seconds a file of this size may take from one mirror (a file of unknown size: the fixed part only, and
        progress must keep up with min_rate: see transfer)."""
        return self.deadline_s + (size or 0) / self.min_rate


def transfer(url: str, part: Path, size: int | None, limits: Limits, deadline: float,
             progress: Callable[[int, int | None, float], None]) -> bool:
    """Append the rest of the file at `url` to `part` (asking for the rest with a Range request when part has a
    start); True when the whole file is there. Raises Cut, Refused or TooSlow with the reason in words, and OSError
    when the `.part` cannot be written."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "netbuilder", "Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
    reader = _Reader(urllib.request.Request(url, headers=headers), limits.connect_s)
    host = urllib.parse.urlsplit(url).netloc
    reader.start()
    try:
        response = _answer(reader, url, host, have, limits, deadline)
        start, total = _check_answer(response, url, part, have, size)
        return _receive(reader, url, host, part, start, total, size, limits, deadline, progress)
    finally:
        reader.abort()


def _answer(reader: _Reader, url: str, host: str, have: int, limits: Limits, deadline: float):
    """The response (its status and headers), within the connect timeout and the deadline."""
    waited_from = time.monotonic()
    while True:
        try:
            kind, value = reader.events.get(timeout=TICK_S)
            break
        except queue.Empty:
            now = time.monotonic()
            if now > deadline:
                raise TooSlow(f"{url}: no answer before the deadline") from None
            if now - waited_from > limits.connect_s:
                raise Cut(f"no answer from {host} within {limits.connect_s:g} s") from None
    if kind == "error":
        if isinstance(value, urllib.error.HTTPError):
            value.close()
            if value.code == 416 and have:  # the .part is longer than the file there: start again
                raise Cut(f"{url}: HTTP 416, the partial file does not fit; starting again") from None
            reason = value.reason if isinstance(value.reason, str) else ""
            raise Refused(f"{url}: HTTP {value.code} {_printable(reason)}".rstrip()) from None
        raise _failure(value, url, host) from None
    return value


def _check_answer(response, url: str, part: Path, have: int, size: int | None) -> tuple[int, int | None]:
    """(where the body starts in the file, the file's total size if the server says) from a response whose every
    header is checked; the `.part` is emptied when the server sends the whole file again."""
    status = getattr(response, "status", None)
    if status not in (200, 206) or not hasattr(response, "read1"):
        raise Refused(f"{url}: HTTP {status} instead of the file")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise Refused(f"{url}: the server sent the file encoded ({_printable(encoding)}), which was not asked for")
    lengths = response.headers.get_all("Content-Length") or []
    if len(set(lengths)) > 1:
        raise Refused(f"{url}: the server sent {len(lengths)} different Content-Lengths")
    length = None
    if lengths:
        if not re.fullmatch(r"\d{1,19}", lengths[0].strip()):
            raise Refused(f"{url}: the server sent a Content-Length that is not a number "
                          f"({_printable(lengths[0])!r})")
        length = int(lengths[0].strip())
    if status == 206:
        if not have:
            raise Refused(f"{url}: HTTP 206 (a part of the file) to a request for all of it")
        ranges = response.headers.get("Content-Range", "")
        match = re.fullmatch(r"bytes (\d{1,19})-(\d{1,19})/(\d{1,19}|\*)", ranges.strip())
        if not match or int(match[1]) > int(match[2]):
            raise Refused(f"{url}: the server's Content-Range is not one ({_printable(ranges)!r})")
        first, last = int(match[1]), int(match[2])
        if first != have:
            raise Refused(f"{url}: the server sent bytes from {first:,}, asked from {have:,}")
        if length is not None and length != last - first + 1:
            raise Refused(f"{url}: the server's Content-Length ({length:,}) and Content-Range ({ranges}) disagree")
        total = int(match[3]) if match[3] != "*" else None
        if total is not None and last >= total:
            raise Refused(f"{url}: the server's Content-Range ends past the file's size ({ranges})")
        start = have
    else:
        start, total = 0, length
        if have:  # the server sends the whole file again: it starts over
            part.write_bytes(b"")
    if size is not None and total is not None and total != size:
        if start:
            part.unlink(missing_ok=True)  # a file of another size there: what the .part holds may be of it
        raise Refused(f"{url}: the server announces {total:,} bytes; the file has {size:,}")
    return start, total


def _receive(reader: _Reader, url: str, host: str, part: Path, start: int, total: int | None, size: int | None,
             limits: Limits, deadline: float, progress: Callable[[int, int | None, float], None]) -> bool:
    expected = size if size is not None else total
    shown = total if total is not None else size
    cap = expected + limits.slack if expected is not None else limits.unknown_cap
    done, began = start, time.monotonic()
    last_byte = last_report = began
    with open(part, "ab") as out:
        while True:
            try:
                kind, value = reader.events.get(timeout=TICK_S)
            except queue.Empty:
                kind, value = "tick", None
            now = time.monotonic()
            if kind == "error":
                out.flush()
                progress(done, shown, now - last_byte)
                raise _failure(value, url, host) from None
            if kind == "data":
                if not value:
                    break
                out.write(value)
                done += len(value)
                last_byte = now
                if done > cap:
                    out.close()
                    part.unlink(missing_ok=True)
                    what = f"the file has {expected:,}" if expected is not None else "nobody says how big it is"
                    raise Refused(f"{url}: the server sent more than {cap:,} bytes ({what}); stopped, and the "
                                  "partial file deleted")
            stalled = now - last_byte
            if now - last_report >= 0.1 or kind == "tick":
                progress(done, shown, stalled)
                last_report = now
            if stalled > limits.read_s:
                raise Cut(f"no data from {host} for {limits.read_s:g} s")
            slow = expected is None and now - began > limits.deadline_s + (done - start) / limits.min_rate
            if now > deadline or slow:
                out.flush()
                progress(done, shown, stalled)
                raise TooSlow(f"{url}: too slow, {_size(done)} of {_size(shown)} after {now - began:.0f} s (past the "
                              f"deadline: {limits.deadline_s:g} s and {limits.min_rate / 1000:g} KB/s, "
                              "NETBUILDER_DOWNLOAD_DEADLINE and NETBUILDER_DOWNLOAD_MIN_RATE); what arrived is kept, "
                              "and the next try continues it")
    progress(done, shown, 0.0)
    return expected is None or done >= expected


def _size(n: int | None) -> str:
    if n is None:
        return "an unknown size"
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in str(text)[:60])


def _failure(error: BaseException, url: str, host: str) -> DownloadError:
    """A failure of the connection in words: worth another try (Cut), unless the address itself is wrong."""
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, str):
        return Refused(f"{url}: {_printable(error.reason)}")  # unknown url type, a redirect elsewhere, ...
    if isinstance(error, ValueError):
        return Refused(f"{url}: not an address netbuilder can fetch ({_printable(str(error))})")
    reason = getattr(error, "reason", None) or error
    reason = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    if isinstance(error, HTTPException):
        return Cut(f"{host} broke off the transfer ({type(error).__name__}: {_printable(reason)})")
    return Cut(f"no connection to {host}: {_printable(reason)}")


def _opener() -> urllib.request.OpenerDirector:
    """HTTP and HTTPS only (with the environment's proxies and redirects): never file:, ftp: or data:."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(), urllib.request.HTTPHandler(),
                    urllib.request.HTTPSHandler(), urllib.request.HTTPDefaultErrorHandler(),
                    urllib.request.HTTPRedirectHandler(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


class _Reader(threading.Thread):
    """Opens the request and reads the body, handing each event to `events`: ("response", r), ("data", bytes; b""
    at the end) or ("error", exception). abort() shuts the connection down, which ends a blocked read at once."""

    def __init__(self, request: urllib.request.Request, timeout: float) -> None:
        super().__init__(daemon=True, name="netbuilder-download")
        self.request, self.timeout = request, timeout
        self.events: queue.Queue = queue.Queue(maxsize=64)
        self.stopping = threading.Event()
        self.response = None
        self._lock = threading.Lock()

    def run(self) -> None:
        try:
            response = _opener().open(self.request, timeout=self.timeout)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting thread, which says what it was
            self._put(("error", e))
            return
        with self._lock:
            self.response = response
        if self.stopping.is_set():
            response.close()
            return
        self._put(("response", response))
        try:
            while not self.stopping.is_set():
                chunk = response.read1(CHUNK)
                self._put(("data", chunk))
                if not chunk:
                    break
        except BaseException as e:  # noqa: BLE001
            self._put(("error", e))
        finally:
            with self._lock:  # abort() never shuts down a descriptor that another file has taken over since
                self.response = None
                response.close()

    def _put(self, event) -> None:
        while not self.stopping.is_set():
            try:
                self.events.put(event, timeout=0.2)
                return
            except queue.Full:
                continue

    def abort(self) -> None:
        self.stopping.set()
        with self._lock:
            if self.response is not None:
                try:
                    with socket.fromfd(self.response.fileno(), socket.AF_INET, socket.SOCK_STREAM) as connection:
                        connection.shutdown(socket.SHUT_RDWR)  # the reading thread's blocked read ends now
                except (OSError, ValueError, AttributeError):
                    pass  # already closed
        self.join(timeout=1.0)
