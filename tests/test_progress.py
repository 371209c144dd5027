"""The command line's progress (tqdm) in a real pseudo-terminal 60 columns wide: nothing it writes is wider than the
terminal, a note printed while the bar is up stands on lines of its own; piped to a file, no carriage returns."""
import os
import re
import select
import struct
import subprocess
import sys
import time

import pytest

from tests.conftest import EXAMPLES, ROOT

termios = pytest.importorskip("termios", reason="pseudo-terminals are POSIX's")
fcntl = pytest.importorskip("fcntl")
pty = pytest.importorskip("pty")
COLUMNS = 60
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NOTE = "note: not compiling: TORCHDYNAMO_DISABLE is set; training eagerly"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TORCHDYNAMO_DISABLE": "1", "TERM": "xterm"}
TRAIN = [sys.executable, "-m", "netbuilder.cli", "train", str(EXAMPLES / "mlp_xor.json"), "--epochs", "3",
         "--compile", "always", "--out", "run"]  # compile always: a note at the first batch, with the bar up


def in_terminal(command: list[str], cwd, columns: int = COLUMNS, timeout: float = 300, stdout=None) -> str:
    """Everything `command` writes to a pseudo-terminal of `columns` columns (its stderr, and its stdout unless
    another file is given)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen(command, stdin=slave, stdout=stdout or slave, stderr=slave, cwd=cwd, env=ENV)
    os.close(slave)
    out, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # the other end closed (Linux)
                break
            if not data:
                break
            out += data
        elif process.poll() is not None:
            break
    if process.poll() is None:
        process.kill()
    assert process.wait() == 0, out.decode(errors="replace")[-2000:]
    os.close(master)
    return out.decode()


def pieces(raw: str) -> list[str]:
    """What the terminal draws between line ends and carriage returns (escape sequences taken out)."""
    return [ANSI.sub("", piece) for line in raw.split("\n") for piece in line.split("\r")]


def screen(raw: str) -> list[str]:
    """The lines the terminal shows at the end (a carriage return goes back to the line's start; what is written
    then overwrites it)."""
    lines, line, column = [], [], 0
    for char in ANSI.sub("", raw):
        if char == "\n":
            lines.append("".join(line).rstrip())
            line, column = [], 0
        elif char == "\r":
            column = 0
        else:
            line[column:column + 1] = [char] if column < len(line) else line[column:] + [char]
            column += 1
    return [*lines, "".join(line).rstrip()]


def test_training_progress_fits_a_narrow_terminal_and_notes_stand_above_the_bar(tmp_path):
    raw = in_terminal(TRAIN, tmp_path)
    widest = max(pieces(raw), key=len)
    assert len(widest) <= COLUMNS, f"{len(widest)} columns: {widest!r}"
    assert "%|" in raw and raw.index("epoch 1/3") < raw.index("note: not compiling"), "the bar was up when the note came"
    lines = screen(raw)
    start = next(i for i, line in enumerate(lines) if line.startswith("note: not compiling"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    "))
    assert " ".join(line.strip() for line in lines[start:end]) == NOTE  # the whole note, on lines of its own
    summaries = [line for line in lines if line.startswith("epoch ") and "  loss " in line]
    assert [s.split()[1] for s in summaries] == ["1/3", "2/3", "3/3"] and not any("%|" in s for s in summaries)
    assert any(line.startswith("trained 3 epochs") for line in lines[-3:])
    assert not any("%|" in line for line in lines), "the bar is gone at the end"


def test_training_output_to_a_file_is_plain_lines(tmp_path):
    """`netbuilder train ... > log.txt` on a terminal: the bar stays on the terminal, the log gets each epoch's
    summary and the result as plain lines; all of it piped to a file: plain lines, no carriage returns."""
    with open(tmp_path / "log.txt", "wb") as log:
        terminal = in_terminal(TRAIN, tmp_path, stdout=log)
    text = (tmp_path / "log.txt").read_text()
    assert "\r" not in text and "\x1b" not in text and "%|" in terminal
    lines = text.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == ["1/3", "2/3", "3/3"]
    assert lines[-1].startswith("trained 3 epochs")
    with open(tmp_path / "all.txt", "wb") as log:
        subprocess.run(TRAIN, stdout=log, stderr=log, cwd=tmp_path, env=ENV, check=True, timeout=300)
    text = (tmp_path / "all.txt").read_text()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert NOTE in lines and sum(line.startswith("epoch ") for line in lines) == 3
    assert lines[-1].startswith("trained 3 epochs")


SHOW_DOWNLOADS = """
from netbuilder.cli.progress import ProgressLine
from netbuilder.core.data.download import DownloadProgress
progress = ProgressLine()
progress.download(DownloadProgress("fashion-mnist", "", 0, None, 0, 4, waiting=3.0))
for done in range(0, 26_421_881, 2_000_000):
    progress.download(DownloadProgress("fashion-mnist", "train-images-idx3-ubyte.gz", done, 26_421_880, 1, 4,
                                       stalled=12.0 if done == 6_000_000 else 0.0))
progress.note("note: the dataset is here")
progress.download(DownloadProgress("fashion-mnist", "train-images-idx3-ubyte.gz", 26_421_880, 26_421_880, 1, 4))
progress.close()
"""


def test_download_progress_fits_a_narrow_terminal_and_shows_a_stall(tmp_path):
    raw = in_terminal([sys.executable, "-c", SHOW_DOWNLOADS], tmp_path)
    assert max(len(piece) for piece in pieces(raw)) <= COLUMNS
    assert "waiting for another" in raw and "no data for 12 s" in raw.replace("\r", "")
    assert "note: the dataset is here" in screen(raw)
