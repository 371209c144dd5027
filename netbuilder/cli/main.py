"""The `netbuilder` command line: one parser, a subcommand per module, and the one place an error becomes its
line and exit status."""
from __future__ import annotations

import os
import signal
import sys
import threading

from ..core.base.errors import first_line
from ..core.base.files import OverwriteError
from ..core.checks.messages import describe, is_bug
from . import augment, check, export, gui, import_model, info, inspect, plan, pretrained, runs, sweep, train
from .common import BUG_STATUS, Parser, fail, fail_once, to_launcher

COMMANDS = (gui, info, check, train, runs, sweep, augment, plan, export, inspect, import_model,
            pretrained)  # in the order `--help` lists them


def build_parser() -> Parser:
    parser = Parser(prog="netbuilder", description="Build neural networks by drawing them.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def _in_worker() -> bool:
    from ..core.training import distributed

    return distributed.in_worker()


def _finish_compiles() -> None:
    """A background compile still running (a run that ended early) must end before the process does."""
    if "netbuilder.core.training.background_compile" in sys.modules:
        sys.modules["netbuilder.core.training.background_compile"].finish()


def _exit_now(code: int) -> int:
    """Stopped by a signal: exit at once, even while a background compile runs (torch would abort at the usual
    exit, and the compile cannot be interrupted). Only from the command line's own process."""
    module = sys.modules.get("netbuilder.core.training.background_compile")
    if module is not None and not module.finish(timeout=0) and threading.current_thread() is threading.main_thread():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `kill`, a scheduler's time limit) while a command runs: it stops as Ctrl+C does."""


def _terminate(signum, frame) -> None:
    # stopping from here on: a second SIGTERM (a worker's watchdog says it again when its launcher dies) must not cut
    # short what the stop does (the run marked stopped, the dead launcher's folder removed); SIGKILL still ends it
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    command = gui.run if args.command is None else args.run
    for stream in (sys.stdout, sys.stderr):  # a name that is not valid UTF-8 is shown escaped, not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    headless = command is not gui.run and threading.current_thread() is threading.main_thread()
    if headless and "RANK" in os.environ and _in_worker():
        from ..core.training import distributed

        distributed.stop_with_launcher()  # a launcher killed outright must not leave this worker running
    previous = signal.signal(signal.SIGTERM, _terminate) if headless else None
    try:
        code = _run(command, args)
    finally:
        if headless:
            signal.signal(signal.SIGTERM, previous)
    if headless and args.command == "train" and "RANK" in os.environ and _in_worker():
        # a torchrun worker whose run is over (files written, process group left, or its failure told to the
        # launcher): exit without the interpreter's teardown, where torch's compiler threads (imported for
        # compile=auto) and a broken process group's threads can abort a worker at random (SIGABRT, "terminate
        # called without an active exception": 3 runs in 8 here)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _run(command, args) -> int:
    """The command's exit status; every error it raises as its one line."""
    try:
        code = command(args)
        _finish_compiles()
        return code
    except Terminated:
        return _exit_now(fail_once("terminated (SIGTERM); files being written were left as they were"))
    except KeyboardInterrupt as e:
        return _exit_now(fail_once("terminated (SIGTERM); files being written were left as they were"
                                    if str(e) == "signal 15" else "interrupted"))
    except OverwriteError as e:  # export, import: a file in the way
        return fail(f"{e.path} is there already; give --force to replace it")
    except Exception as e:  # noqa: BLE001 - the one place the CLI turns an error into its line
        if is_bug(e) and os.environ.get("NETBUILDER_DEBUG"):
            raise
        if is_bug(e):
            if not to_launcher(f"{type(e).__name__}: {first_line(e)}", "bug"):
                print(f"netbuilder: {describe(e)}", file=sys.stderr)
            return BUG_STATUS
        return fail(describe(e), "peer" if type(e).__name__ == "PeerLost" else "own")

