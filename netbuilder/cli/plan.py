"""`netbuilder plan GRAPH [--batch-size N] [--device D] [--optimizer O]`: the memory training takes and the
largest batch that fits; `netbuilder check` prints the same with those options."""
from __future__ import annotations

import argparse

from ..core.model.graph import Graph
from .common import add_graph, fail, load_graph


def register(commands) -> None:
    plan = commands.add_parser("plan", help="the memory training takes, and the largest batch that fits",
                               description="The memory a training run takes (weights, gradients, optimizer state, "
                                           "activations, measured on the meta device) and the largest batch that "
                                           "fits the device's free memory. Exits with status 1 when it does not fit.")
    add_graph(plan)
    add_plan_options(plan)
    plan.set_defaults(run=run)


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    """The memory plan's options (`netbuilder plan`; the same fit `netbuilder check`)."""
    from ..core.training.config import DEVICES, OPTIMIZERS

    parser.add_argument("--batch-size", type=int, help="the batch size to plan for (default: the recipe's, else 100)")
    parser.add_argument("--device", choices=DEVICES, help="the device to plan for (default auto)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="its state counts too (default: the recipe's, else adam)")


def memory_plan(args: argparse.Namespace, graph: Graph):
    """The memory a training run of `graph` takes (weights, gradients, optimizer state, activations) and the
    largest batch that fits the device: (plan, available, largest, lines, fits)."""
    from dataclasses import replace

    from ..core.checks.memory import HEADROOM
    from ..core.model.recipe import check_recipe
    from ..core.training.config import TrainConfig, pick_device
    from ..core.training.memory_plan import plan_lines, plan_training

    recipe = check_recipe(graph.recipe)
    config = TrainConfig(**{k: v for k, v in recipe.items() if k in ("batch_size", "optimizer")})
    config = replace(config, **{k: getattr(args, k) for k in ("batch_size", "optimizer") if getattr(args, k)})
    config.check()
    device = str(pick_device(args.device or "auto"))
    plan, available, largest = plan_training(graph, config.batch_size, config, device)
    lines = plan_lines(plan, available, largest, device, config.optimizer)
    return plan, available, largest, lines, available is None or plan.total <= HEADROOM * available


def print_memory_plan(args: argparse.Namespace, graph: Graph) -> bool:
    """Print the memory plan; True when the asked batch fits."""
    *_, lines, fits = memory_plan(args, graph)
    print("\n".join(lines))
    return fits


def run(args: argparse.Namespace) -> int:
    graph = load_graph(args.graph)
    if not print_memory_plan(args, graph):
        return fail(f"{args.graph}: training with this batch does not fit in memory")
    return 0
