"""`netbuilder runs GRAPH [--json]`: the runs kept beside a graph (GRAPH.runs), listed, compared (`--compare ID ID`),
renamed, noted, starred, deleted into the store's trash and restored (core/training/runs)."""
from __future__ import annotations

import argparse
import json
import os
from datetime import datetime

from .common import fail


def register(commands) -> None:
    runs = commands.add_parser(
        "runs", help="list, compare and annotate the runs kept beside a graph (GRAPH.runs)",
        description="The runs of a graph, kept in the store beside it (GRAPH.runs/NNN-LABEL, one folder per run). ID: "
                    "a run's number, its folder's name, or last.")
    runs.add_argument("graph", metavar="GRAPH", help="a graph document (.json)")
    runs.add_argument("--json", action="store_true", help="print JSON (an array of runs; with --compare an object)")
    act = runs.add_mutually_exclusive_group()
    act.add_argument("--compare", nargs="+", metavar="ID", help="two or more runs side by side: the settings that "
                     "differ, the figures, and how each run's graph differs from the first's")
    act.add_argument("--trash", action="store_true", help="list the deleted runs (restore one with --restore)")
    act.add_argument("--delete", metavar="ID", help="move a run to the store's trash")
    act.add_argument("--restore", metavar="ID", help="bring a run back from the trash")
    act.add_argument("--empty-trash", action="store_true", help="delete the trashed runs for good")
    act.add_argument("--rename", nargs=2, metavar=("ID", "NAME"), help="name a run ('' to clear)")
    act.add_argument("--note", nargs=2, metavar=("ID", "TEXT"), help="write a run's note ('' to clear)")
    act.add_argument("--star", metavar="ID", help="star a run")
    act.add_argument("--unstar", metavar="ID", help="take a run's star away")
    runs.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..core.training.runs import RunStore, compare_runs

    store = RunStore.beside(args.graph)
    if not os.path.exists(args.graph) and not store.path.exists():
        return fail(f"{args.graph}: no such file (and no {store.path.name} beside it)")
    if args.compare:
        if len(args.compare) < 2:
            return fail("--compare needs two or more runs (ID ID ...)")
        comparison = compare_runs([store.run(ref) for ref in args.compare])
        print(json.dumps(comparison.to_dict(), indent=1) if args.json else "\n".join(comparison.lines()))
        return 0
    changed = None
    if args.delete:
        changed, did = store.delete(args.delete), "moved to the trash (--restore {n} brings it back)"
    elif args.restore:
        changed, did = store.restore(args.restore), "restored"
    elif args.empty_trash:
        print(f"deleted {store.empty_trash()} trashed runs for good")
        return 0
    elif args.rename:
        changed, did = store.rename(*args.rename), "renamed"
    elif args.note:
        changed, did = store.set_note(*args.note), "noted"
    elif args.star or args.unstar:
        changed, did = store.set_starred(args.star or args.unstar, bool(args.star)), \
            "starred" if args.star else "unstarred"
    if changed is not None:
        print(json.dumps(changed.to_dict(), indent=1) if args.json else
              f"run {changed.number} ({changed.folder}) {did.format(n=changed.number)}")
        return 0
    listed = store.trashed() if args.trash else store.runs()
    if args.json:
        print(json.dumps([r.to_dict() for r in listed], indent=1))
        return 0
    if not listed:
        print(f"{store.path.name}: no {'trashed ' if args.trash else ''}runs" +
              ("" if args.trash else f" yet (netbuilder train {args.graph} makes one)"))
        return 0
    print("\n".join(table(listed)))
    return 0


def _started(text: str | None) -> str:
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M") if text else "-"
    except ValueError:
        return "-"


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    return f"{minutes:.1f} min" if minutes < 60 else f"{minutes / 60:.1f} h"


def _losses(run) -> str:
    final = run.final
    shown = [f"{final[k]:.4g}" if isinstance(final.get(k), (int, float)) else "-" for k in ("train_loss", "val_loss")]
    return " / ".join(shown) if any(s != "-" for s in shown) else "-"


def table(runs) -> list[str]:
    """The runs as a table, a run a line (its note and any problem on lines of their own below it)."""
    rows = [["", "run", "name", "status", "started", "time", "epochs", "device", "result", "loss train/val"]]
    extra: dict[int, list[str]] = {}
    for i, r in enumerate(runs, start=1):
        headline = r.headline
        rows.append(["*" if r.starred else "", str(r.number), r.name or r.folder.split("-", 1)[-1], r.status,
                     _started(r.started), _seconds(r.seconds), str(len(r.epochs)), r.device or "-",
                     headline.text if headline else "-", _losses(r)])
        extra[i] = ([f"note: {' '.join(r.note.split())[:150]}"] if r.note else []) + \
                   ([f"problem: {r.problem}"] if r.problem else []) + \
                   ([r.message] if r.status in ("failed", "killed", "diverged") and r.message else [])
    width = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.rjust(width[c]) if c == 1 else cell.ljust(width[c])
                               for c, cell in enumerate(row)).rstrip())
        lines += [" " * (width[0] + width[1] + 4) + text for text in extra.get(i, [])]
    return lines
