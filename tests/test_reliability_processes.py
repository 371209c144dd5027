"""Multi-process runs that fail (issue 24): the launcher of `netbuilder train --nproc-per-node` says in one line
which worker died and how, or that the run lost a process on another machine, and where to resume from; a
worker's own error is said once; killing the launcher outright (kill -9) stops its workers; nothing is left
behind (no processes, no torchrun folders in the temporary folder)."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.fuzzing import child_processes as children

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux's")

GRAPH = str(EXAMPLES / "mlp_xor.json")
LONG = ["--data", "circles:n=6000", "--epochs", "500", "--batch-size", "50"]


def launch(tmp_path: Path, *args: str) -> subprocess.Popen:
    """`netbuilder train` with its temporary folder inside tmp_path (to see that nothing is left in it)."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path / "tmp")}
    return subprocess.Popen([sys.executable, "-m", "netbuilder.cli", "train", GRAPH, *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def rank_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
    except OSError:
        return None
    return int(env[b"RANK"]) if b"RANK" in env else None


def wait_for(path: Path, run: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists() and run.poll() is None, run.communicate(timeout=60)[1][-3000:]


def leftovers(folder: Path) -> list[str]:
    """What a run left in its temporary folder, besides torch's compile cache (kept between runs on purpose)."""
    return [name for name in os.listdir(folder) if not name.startswith("torchinductor_")]


def the_error(err: str) -> str:
    """The run's one error line, last; no worker repeats it, no torchrun log, no traceback."""
    lines = err.splitlines()
    errors = [line for line in lines if "error" in line.lower() or line.startswith(("E", "[rank"))]
    assert errors == [lines[-1]] and lines[-1].startswith("netbuilder: error: "), err[-3000:]
    assert "Traceback" not in err and "unexpected error" not in err
    return lines[-1]


def test_a_worker_s_own_error_is_said_once(tmp_path):
    run = launch(tmp_path, "--nproc-per-node", "2", "--data", "csv:missing.csv:label=y", "--out", "run")
    _, err = run.communicate(timeout=300)
    assert run.returncode == 1
    assert the_error(err) == "netbuilder: error: cannot read missing.csv: No such file or directory"
    assert sorted(os.listdir(tmp_path)) == ["tmp"] and leftovers(tmp_path / "tmp") == []


def test_a_worker_killed_mid_run_is_named_by_the_launcher_with_the_checkpoint_to_resume_from(tmp_path):
    run = launch(tmp_path, "--nproc-per-node", "2", *LONG, "--out", "run")
    try:
        wait_for(tmp_path / "run" / "checkpoint.pt", run)
        workers = {rank_of(pid): pid for pid in children(run.pid)}
        assert set(workers) == {0, 1}, workers
        os.kill(workers[1], signal.SIGKILL)
        _, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1
    assert the_error(err) == (f"netbuilder: error: worker 1 of 2 (pid {workers[1]}) was killed by SIGKILL (by hand, or "
                              "by the system's out-of-memory killer); the run stopped; resume from its last checkpoint "
                              "with --resume run/checkpoint.pt")
    assert not running(workers[0]) and leftovers(tmp_path / "tmp") == []
    assert not [name for name in os.listdir(tmp_path / "run") if name.endswith(".tmp")]


def test_a_run_over_two_machines_whose_other_machine_dies_says_it_lost_a_process(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    meet = ["--nproc-per-node", "1", "--nnodes", "2", "--rdzv-endpoint", f"127.0.0.1:{port}", *LONG]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = launch(tmp_path / "a", *meet, "--out", "run"), launch(tmp_path / "b", *meet, "--out", "run")
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not any((tmp_path / n / "run" / "checkpoint.pt").exists() for n in "ab"):
            assert first.poll() is None and second.poll() is None, (first.communicate()[1], second.communicate()[1])
            time.sleep(0.05)
        survivor = first if (tmp_path / "a" / "run" / "checkpoint.pt").exists() else second  # rank 0's machine
        victim = second if survivor is first else first
        os.kill(victim.pid, signal.SIGKILL)  # the other machine goes: its launcher, and with it its worker
        _, err = survivor.communicate(timeout=240)
    finally:
        for run in (first, second):
            if run.poll() is None:
                run.kill()
            run.wait()
    assert survivor.returncode == 1, err[-3000:]
    # what this machine sees first: its worker losing the other, or its launcher losing the meeting point (the
    # other machine's launcher hosted it)
    assert re.fullmatch(r"netbuilder: error: (worker 0 of 2 lost its connection to the others \(a process of the run "
                        r"on another machine stopped or died\?\)|lost the connection to the run's meeting point "
                        rf"127\.0\.0\.1:{port} \(its machine stopped, or the network went\?\)); the run stopped; "
                        r"resume from its last checkpoint with --resume run/checkpoint\.pt", the_error(err))
    # the other machine's worker, orphaned, removes its dead launcher's folder as it stops (within its grace)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(leftovers(tmp_path / name / "tmp") for name in "ab"):
        time.sleep(0.1)
    for name in "ab":
        assert leftovers(tmp_path / name / "tmp") == []


def test_killing_the_launcher_outright_stops_its_workers(tmp_path):
    run = launch(tmp_path, "--nproc-per-node", "2", *LONG, "--out", "run")
    try:
        wait_for(tmp_path / "run" / "checkpoint.pt", run)
        workers = children(run.pid)
        assert len(workers) == 2, workers
        os.kill(run.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30  # a worker stops within a few seconds; this is only how long to look
        while any(running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in workers if running(pid)]
    finally:
        run.kill()
        run.wait()
        for pid in workers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
    assert left == [], "the workers of a killed launcher kept running"
    assert leftovers(tmp_path / "tmp") == []  # the run's folder of reports and torchrun's logs went with them
    assert not [name for name in os.listdir(tmp_path / "run") if name.endswith(".tmp")]
