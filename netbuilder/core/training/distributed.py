"""Multi-process training on torch.distributed: the same run, in several processes, on one machine or several.

    netbuilder train GRAPH --nproc-per-node 2                       # two processes on this machine
    netbuilder train GRAPH --nproc-per-node 4 --nnodes 2 --rdzv-endpoint host:29400   # on each of two machines

`launch` starts the run under torch.distributed.run (torchrun), which starts the worker processes and gives each
its rank; each worker is `netbuilder train` again. In a worker, `init` joins the process group (NCCL on GPUs,
Gloo on CPUs) and the Trainer wraps the model in DistributedDataParallel. Every process holds the same weights
(the same seed; DDP also broadcasts rank 0's) and walks the same seeded order of samples; each global batch of
batch size x processes samples is cut into one shard per process, and each process reads only its shard. DDP
averages the gradients, and each process's loss is weighted by its share of the batch, so that N processes with
batches of B learn what one process learns with batches of N x B (to rounding; BatchNorm normalizes over each
process's shard). Only rank 0 writes weights, metrics and checkpoints; every process evaluates the whole
validation and test splits, so that all take the same early-stopping decisions.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass

from ..base.errors import NetbuilderError, brief
from ..base.system import cpu_count

LAUNCH_OPTIONS = ("--nproc-per-node", "--nnodes", "--rdzv-endpoint")


class DistributedError(NetbuilderError):
    """A multi-process run that cannot start as asked; the message says why."""


@dataclass(frozen=True)
class World:
    """This process's place in a multi-process run."""

    rank: int
    size: int
    local_rank: int
    backend: str  # "gloo" or "nccl"
    device: object  # torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch, total: int):
        """This process's part of a global batch of sample indices: one of `size` near-equal contiguous parts."""
        import torch

        return torch.tensor_split(batch, self.size)[self.rank]

    def all_sum(self, tensor):
        """The tensor summed over every process (in place, and returned)."""
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor


_world: World | None = None

REPORTS = "NETBUILDER_WORKER_REPORTS"  # the folder where each worker of a run leaves why it failed
LAUNCHER = "NETBUILDER_LAUNCHER_PID"  # the launcher that started the run's workers on this machine


class PeerLost(DistributedError):
    """This process lost its connection to another process of the run (that one stopped or died)."""


_LOST = re.compile(r"(?i)connection (reset|closed|refused)|broken pipe|peer|socket timeout|timed out|"
                   r"end of file|transport|\bgloo\b|\bnccl\b|\bc10d\b|store|unexpected eof")


def lost_peer(error: BaseException) -> bool:
    """Whether `error`, raised in a worker, is the process group failing under it (Gloo's "Connection reset by
    peer", NCCL's DistBackendError, a store that went away) rather than a problem of this process's own."""
    if _world is None or isinstance(error, NetbuilderError):
        return False
    try:
        import torch.distributed as dist

        if isinstance(error, getattr(dist, "DistError", ())):
            return True
    except ImportError:
        pass
    return isinstance(error, (RuntimeError, ConnectionError, TimeoutError)) and bool(_LOST.search(str(error)))


def report(line: str, kind: str) -> bool:
    """In a worker of a launched run: leave `line` (one line: why this process stops) for the launcher, which
    says the run's one line; kind is "own" (this process's error: bad data, say), "bug", "peer" (it lost
    another process) or "stopped" (a signal asked it to). False where there is no launcher to tell (the line is
    then printed as usual)."""
    folder, launcher = os.environ.get(REPORTS), os.environ.get(LAUNCHER)
    if not folder or not in_worker():
        return False
    if launcher and launcher.isdigit() and launcher_gone(int(launcher)):  # nobody to tell, and its folder (it
        shutil.rmtree(folder, ignore_errors=True)  # could not remove it) would be left behind by no one
        return True
    if not os.path.isdir(folder):
        return True  # the launcher has finished (and said the run's line): nothing more to say
    text = json.dumps({"line": line, "kind": kind, "time": time.time(), "pid": os.getpid()})
    path = os.path.join(folder, f"{int(os.environ['RANK'])}.json")
    try:
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    except OSError:
        return not os.path.isdir(folder)  # gone: the launcher has finished; else the line is printed here
    return True


def launcher_gone(pid: int) -> bool:
    """Whether this worker's launcher has died: it is no longer the parent, or it is a zombie (killed, not yet
    reaped: its threads die one by one, and until the last has, the kernel keeps it as the parent)."""
    if os.getppid() != pid:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def stop_with_launcher() -> None:
    """In a worker: stop when the launcher that started it dies, even by SIGKILL (which it cannot pass on). On
    Linux the kernel sends this process SIGTERM at once (prctl PR_SET_PDEATHSIG); elsewhere, and should the
    process not stop on SIGTERM (blocked in a collective), a watchdog thread that sees its parent gone kills it
    a few seconds later."""
    import signal
    import threading

    expected = os.environ.get(LAUNCHER)
    if not expected or not in_worker():
        return
    launcher = int(expected)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while not launcher_gone(launcher):
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # (again, where the kernel did not) to stop as a run stops
        time.sleep(GRACE_S)
        folder = os.environ.get(REPORTS)  # the dead launcher's folder: no one else is left to remove it
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="netbuilder-launcher-watch", daemon=True).start()


GRACE_S = 5.0  # seconds a worker whose launcher died has to stop cleanly before it is killed


def in_worker() -> bool:
    """Whether this process was started by torchrun as one worker of a run."""
    return all(key in os.environ for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR"))


def current() -> World | None:
    return _world


def init(device: str = "auto") -> World:
    """Join the run's process group: NCCL when training on CUDA GPUs (one per process, by local rank), else Gloo."""
    global _world
    import torch
    import torch.distributed as dist

    if _world is not None:
        return _world
    rank, size, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise DistributedError("device cuda is not available on this machine (use auto or cpu)")
    if device == "mps":
        raise DistributedError("multi-process training runs on CUDA GPUs or CPUs, not on mps")
    if cuda:
        if local >= torch.cuda.device_count():
            raise DistributedError(f"process {local} on this machine has no GPU of its own ({torch.cuda.device_count()} "
                                   "GPUs): ask for at most one process per GPU with --nproc-per-node")
        torch.cuda.set_device(local)
        where, backend = torch.device("cuda", local), "nccl"
    else:
        where, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend=backend)
    _world = World(rank, size, local, backend, where)
    return _world


def barrier() -> None:
    """Wait until every process of the run gets here."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def shutdown(together: bool = False) -> None:
    """Leave the process group. `together` (a run that ended well in every process): wait for the others first, so
    that no process tears its connections down while another still uses them (Gloo then aborts the other)."""
    global _world
    if _world is not None:
        import torch.distributed as dist

        if dist.is_initialized():
            if together:
                dist.barrier()
                dist.destroy_process_group()
            else:
                try:
                    dist.destroy_process_group()
                except Exception:  # noqa: BLE001 - a group whose peers are gone; this process is stopping anyway
                    pass
        _world = None


def launch_command(worker_argv: list[str], nproc_per_node: int, nnodes: int = 1,
                   rdzv_endpoint: str | None = None) -> list[str]:
    """The torchrun command line that runs `netbuilder <worker_argv>` in each worker process."""
    if not 1 <= nproc_per_node <= 1024:
        raise DistributedError(f"--nproc-per-node must be 1..1024, got {nproc_per_node}")
    if not 1 <= nnodes <= 10_000:
        raise DistributedError(f"--nnodes must be 1..10000, got {nnodes}")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc_per_node)]
    if nnodes > 1 or rdzv_endpoint:
        if not rdzv_endpoint:
            raise DistributedError("a run over several machines needs --rdzv-endpoint HOST:PORT (a machine every "
                                   "node reaches, e.g. the first node's address and a free port)")
        check_endpoint(rdzv_endpoint)
        command += ["--nnodes", str(nnodes), "--rdzv-backend", "c10d", "--rdzv-endpoint", rdzv_endpoint,
                    "--rdzv-id", "netbuilder"]
    else:
        command += ["--standalone", "--nnodes", "1"]
    return [*command, "-m", "netbuilder.cli", *worker_argv]


_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\]")


def check_endpoint(endpoint: str) -> tuple[str, int]:
    """(host, port) of a rendezvous endpoint `HOST:PORT` (an IPv6 address in brackets); DistributedError naming
    what is wrong, before any process starts."""
    host, colon, port = endpoint.rpartition(":")
    if not colon or not host:
        raise DistributedError(f"--rdzv-endpoint {brief(endpoint)}: write HOST:PORT, e.g. node0:29400")
    if not _HOST.fullmatch(host):
        raise DistributedError(f"--rdzv-endpoint {brief(endpoint)}: {brief(host)} is not a host name or address")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise DistributedError(f"--rdzv-endpoint {brief(endpoint)}: the port must be a whole number from 1 to 65535, "
                               f"got {brief(port)}")
    return host, int(port)


def worker_argv(argv: list[str]) -> list[str]:
    """The command line without the launch options (the workers run the rest)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0].replace("_", "-")
        if name in LAUNCH_OPTIONS:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


class WorkerBug(RuntimeError):
    """A worker of the run failed for a reason that is a bug in netbuilder; the message is the worker's."""


def launch(argv: list[str], nproc_per_node: int, nnodes: int = 1, rdzv_endpoint: str | None = None,
           resume=None) -> int:
    """Run `netbuilder <argv>` in `nproc_per_node` processes here (x `nnodes` machines) under torchrun (in this
    process: it starts and watches the workers); 0 when every process succeeded. A failed run raises one error
    for the run (DistributedError; WorkerBug for a bug): a worker's own error as it said it, else which worker
    died and how, or that the run lost a process on another machine, and how to resume (`resume()`, called once
    the workers have stopped: the options that resume the run, e.g. "--resume DIR/checkpoint.pt", or None).
    SIGTERM or Ctrl+C here stops every worker (they stop cleanly, as one run does); should this
    process be killed outright, its workers stop too (stop_with_launcher)."""
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import RendezvousError
    from torch.distributed.run import get_args_parser, run

    command = launch_command(worker_argv(argv), nproc_per_node, nnodes, rdzv_endpoint)
    if rdzv_endpoint:
        host, port = check_endpoint(rdzv_endpoint)
        try:
            socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as e:
            raise DistributedError(f"--rdzv-endpoint {brief(rdzv_endpoint)}: no machine is known by the name "
                                   f"{brief(host)} ({getattr(e, 'strerror', None) or e})") from None
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cpu_count() // max(nproc_per_node, 1))))
    quiet = logging.getLogger("torch.distributed")  # torchrun's notes on starting and stopping workers, and its
    saved = quiet.propagate, list(quiet.handlers)  # own lines on a failure (ours says it): they stop here
    quiet.propagate, quiet.handlers = False, [logging.NullHandler()]
    try:
        with tempfile.TemporaryDirectory(prefix="netbuilder-run-") as reports:
            os.environ[REPORTS], os.environ[LAUNCHER] = reports, str(os.getpid())
            try:
                # torchrun's own folder of logs inside ours, so that it goes too (it leaves one in /tmp each run)
                run(get_args_parser().parse_args(["--log-dir", os.path.join(reports, "logs"), *command[3:]]))
            except ChildFailedError as e:
                raise failure(e.failures, _read_reports(reports), nproc_per_node * nnodes, resume) from None
            except SignalException as e:
                raise KeyboardInterrupt(f"signal {e.sigval}") from None
            except RendezvousError as e:  # the meeting point (another machine's launcher hosts it) went away
                raise _rendezvous_failure(e, rdzv_endpoint, _read_reports(reports), resume) from None
            finally:
                os.environ.pop(REPORTS, None)
                os.environ.pop(LAUNCHER, None)
    finally:
        quiet.propagate, quiet.handlers = saved
    return 0


def _rendezvous_failure(error, endpoint, reports: dict[int, dict], resume) -> DistributedError:
    from torch.distributed.elastic.rendezvous.api import RendezvousTimeoutError

    own = sorted((r["time"], rank, r["line"]) for rank, r in reports.items() if r.get("kind") == "own")
    if own:  # a worker here failed first, for a reason of its own
        return DistributedError(own[0][2])
    if isinstance(error, RendezvousTimeoutError):
        return DistributedError(f"the other machines did not all come to {endpoint} in time; start the same command "
                                "on each machine, with the same --nnodes and --rdzv-endpoint")
    return DistributedError(f"lost the connection to the run's meeting point {endpoint} (its machine stopped, or "
                            f"the network went?); the run stopped{_resume_words(resume)}")


def _read_reports(folder: str) -> dict[int, dict]:
    found = {}
    for name in os.listdir(folder):
        if name.endswith(".json") and name[:-5].isdigit():
            try:
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    found[int(name[:-5])] = json.load(f)
            except (OSError, ValueError):
                continue
    return found


def failure(failures: dict, reports: dict[int, dict], size: int, resume=None) -> Exception:
    """The run's one error from what torchrun saw of each failed worker (`failures`: global rank -> its
    ProcessFailure: exit code, pid) and what the workers reported (global rank -> line, kind, time). The root
    cause comes first: a worker's own error (the earliest), else a worker that died without a word (a signal, a
    crash), else a worker that lost another process (one on another machine: this launcher does not see it)."""
    own = sorted(((r["time"], rank, r) for rank, r in reports.items() if r.get("kind") in ("own", "bug")),
                 key=lambda item: item[:2])
    if own:
        _, rank, r = own[0]
        if r["kind"] == "bug":
            return WorkerBug(f"worker {rank}: {r['line']}")
        return DistributedError(r["line"])  # as the worker said it (every worker meets bad data alike)
    resume = _resume_words(resume)
    silent = sorted((rank, f) for rank, f in failures.items() if rank not in reports and f.exitcode != 0)
    dead = [(rank, f) for rank, f in silent if f.exitcode > 0 or f.exitcode not in (-15, -2)] or silent
    if dead:
        rank, f = dead[0]
        return DistributedError(f"worker {rank} of {size} (pid {f.pid}) {_exit_words(f.exitcode)}; the run stopped"
                                f"{resume}")
    peers = sorted((r["time"], rank) for rank, r in reports.items() if r.get("kind") == "peer")
    if peers:
        return DistributedError(f"worker {peers[0][1]} of {size} lost its connection to the others (a process of "
                                f"the run on another machine stopped or died?); the run stopped{resume}")
    return DistributedError(f"the run's workers stopped{resume}")


def _exit_words(code: int) -> str:
    import signal

    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        oom = " (by hand, or by the system's out-of-memory killer)" if -code == signal.SIGKILL else ""
        return f"was killed by {name}{oom}"
    return f"exited with status {code} without a word (a crash?)"


def _resume_words(resume) -> str:
    if resume is None:
        return ""
    try:
        how = resume()
    except Exception:  # noqa: BLE001 - a hint; the run's line is said without it
        return ""
    if how:
        return f"; resume from its last checkpoint with {how}"
    return "; no checkpoint was written yet (one is written after every epoch)"
