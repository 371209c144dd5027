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

import os
import sys
from dataclasses import dataclass

from ..base.errors import NetbuilderError
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
        if not rdzv_endpoint or ":" not in rdzv_endpoint:
            raise DistributedError("a run over several machines needs --rdzv-endpoint HOST:PORT (a machine every "
                                   "node reaches, e.g. the first node's address and a free port)")
        command += ["--nnodes", str(nnodes), "--rdzv-backend", "c10d", "--rdzv-endpoint", rdzv_endpoint,
                    "--rdzv-id", "netbuilder"]
    else:
        command += ["--standalone", "--nnodes", "1"]
    return [*command, "-m", "netbuilder.cli", *worker_argv]


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


def launch(argv: list[str], nproc_per_node: int, nnodes: int = 1, rdzv_endpoint: str | None = None) -> int:
    """Run `netbuilder <argv>` in `nproc_per_node` processes here (x `nnodes` machines) under torchrun (in this
    process: it starts and watches the workers); the run's exit status (0 when every process succeeded). A worker's
    own error is its one line; SIGTERM or Ctrl+C here stops every worker (they stop cleanly, as one run does)."""
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    command = launch_command(worker_argv(argv), nproc_per_node, nnodes, rdzv_endpoint)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cpu_count() // max(nproc_per_node, 1))))
    for name in list(logging.Logger.manager.loggerDict):  # torchrun's notes on starting and stopping workers
        if name.startswith(("torch.distributed.elastic", "torch.distributed.run", "torch.distributed.launcher")):
            logging.getLogger(name).setLevel(logging.ERROR)
    try:
        run(get_args_parser().parse_args(command[3:]))
    except ChildFailedError:
        return 1  # the failing worker said why
    except SignalException as e:
        raise KeyboardInterrupt(f"signal {e.sigval}") from None
    return 0
