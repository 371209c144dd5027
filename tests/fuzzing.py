"""What every fuzz test (tests/test_fuzz*.py) checks after each generated input, and how it runs the command line.

The contract of the command line, whatever a user gives it: exit status 0 or 1 (never 70, a bug), no traceback,
every line on stderr short, an error as exactly one line (the last); the files that were there before are as
they were; a command that fails writes nothing (no partial file, no temporary file, no folder); no process is
left behind. The examples are derandomized and bounded: tests/test_fuzz*.py together run in a few minutes on two
cores (the README's reliability section gives the counts).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis.errors import InvalidArgument

from netbuilder.cli import main
from netbuilder.core.base.errors import EXPECTED

FUZZ = settings(deadline=None, database=None, derandomize=True, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
MAX_LINE = 500
LEFTOVER_SUFFIXES = (".tmp", ".part")


def snapshot(folder: Path) -> dict[str, tuple[str, int] | str]:
    """Every file and folder under `folder`: a file's content hash and mode, "folder" for a folder."""
    found: dict[str, tuple[str, int] | str] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_dir() and not path.is_symlink():
            found[name] = "folder"
        elif path.is_file() and not path.is_symlink():
            found[name] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mode)
    return found


def child_processes(parent: int | None = None) -> set[int]:
    """A process's live children (this process's unless `parent`; Linux /proc; empty elsewhere): a DataLoader
    worker or a torchrun worker left running by a command would be one."""
    found = set()
    if not os.path.isdir("/proc"):
        return found
    parent = os.getpid() if parent is None else parent
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rpartition(b")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == parent and fields[0] not in (b"Z", b"X"):
                found.add(int(entry))
    return found


@contextlib.contextmanager
def working_folder(folder: Path):
    """Run a command from `folder` (its default outputs, runs/NAME, land there)."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(before)


@contextlib.contextmanager
def native_stderr():
    """What native code (torch's C++, onnxruntime) writes straight to file descriptor 2 meanwhile, which
    redirecting sys.stderr does not see: yields a list that holds it, as text, afterwards."""
    seen: list[str] = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield seen
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            seen.append(sink.read().decode("utf-8", "replace"))


def run_cli(*args) -> tuple[int, str, str]:
    """The command in this process: (exit status, stdout, stderr: Python's, then what native code wrote)."""
    out, err = io.StringIO(), io.StringIO()
    with native_stderr() as native, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in args])
        except SystemExit as e:  # --help, and nothing else: argparse's errors are one line and status 1
            status = e.code if isinstance(e.code, int) else 1
    assert not native[0].strip(), f"native code wrote to stderr: {native[0][:1000]}"
    return status, out.getvalue(), err.getvalue()


def check_cli(area: Path, *args, outputs: tuple[str, ...] = (), kept: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """Run the command in-process from `area` (a folder holding everything it reads and writes); the contract
    holds. On success only `outputs` (names relative to `area`, files or folders) may be new; on failure only
    `kept` (what a later run resumes from: a download's .part, a run's checkpoint), checked by the caller."""
    before, processes = snapshot(area), child_processes()
    with working_folder(area):
        status, out, err = run_cli(*args)
    assert status in (0, 1), f"exit status {status}: {err[-2000:]}"
    with contextlib.suppress(InvalidArgument):  # (outside a hypothesis test: the harness's own tests)
        event(f"{args[0]} exit {status}: {(err.splitlines() or [''])[-1][19:140]}")  # --hypothesis-show-statistics
    assert "Traceback" not in err and "Traceback" not in out
    # (a name that is not valid UTF-8 reaches the output as a lone surrogate here; the real streams write it
    # escaped: main() reconfigures them with errors="backslashreplace")
    lines = err.splitlines()
    assert all(len(line) <= MAX_LINE for line in lines), max(lines, key=len)[:1000]
    errors = [line for line in lines if line.startswith("netbuilder: error:")]
    if status == 1:
        assert len(errors) == 1 and lines[-1] == errors[0], err[-2000:]
        assert not [line for line in lines if line.startswith("netbuilder:") and line != errors[0]], err[-2000:]
    else:
        assert not errors
    after = snapshot(area)
    changed = [name for name in set(before) | set(after) if before.get(name) != after.get(name)]
    allowed = kept if status == 1 else outputs + kept
    unexpected = [name for name in changed if not any(name == o or name.startswith(o.rstrip("/") + "/")
                                                      for o in allowed)]
    assert not unexpected, f"exit {status}: {'written' if status else 'changed'} besides the outputs: " \
                           f"{sorted(unexpected)[:5]} ({err.splitlines()[-1:] if err else ''})"
    assert not [name for name in after if name.endswith(LEFTOVER_SUFFIXES) and name not in kept], \
        "a temporary or partial file was left"
    assert child_processes() <= processes, "a process was left running"
    return status, out, err


@contextlib.contextmanager
def expected_errors():
    """The API may refuse, but only with an error a user can cause."""
    try:
        yield
    except EXPECTED:
        pass


def folder():
    return tempfile.TemporaryDirectory(prefix="fuzz-")
