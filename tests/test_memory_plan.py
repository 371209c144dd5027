"""The memory plan before training: measured on the meta device, it agrees with what the CPU allocator reports
for real training steps; it names the largest batch that fits; the guard and `netbuilder plan` use it."""
import json
import re

import pytest
import torch

from netbuilder.cli import main
from netbuilder.core.build.compile import compile_graph
from netbuilder.core.checks.memory import HEADROOM, MemoryGuardError
from netbuilder.core.model.graph import Graph
from netbuilder.core.training.config import TrainConfig, make_optimizer
from netbuilder.core.training.memory_plan import check_training_fits, plan_training, trace_training
from tests.conftest import EXAMPLES


def allocated_by_two_real_steps(graph, batch_size, optimizer, tmp_path) -> int:
    """Bytes at the peak of two training steps on the CPU, as the Trainer runs them, by the CPU allocator's own
    count (torch.profiler's memory events: its running total of allocated bytes), plus the weights and the batch
    allocated before."""
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    model = compile_graph(graph, mode="train")
    source = next(n for n in graph.nodes if n.type == "Input")
    x = torch.randn(batch_size, *source.params["shape"])
    opt = make_optimizer(model.parameters(), TrainConfig(optimizer=optimizer))
    before = sum({t.untyped_storage()._cdata: t.untyped_storage().nbytes()
                  for t in (*model.parameters(), *model.buffers(), x)}.values())
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        for _ in range(2):
            out = model(x)
            opt.zero_grad(set_to_none=True)
            out.float().sum().backward()
            opt.step()
            del out
    prof.export_chrome_trace(str(tmp_path / "trace.json"))
    events = json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
    memory = sorted((e for e in events if e.get("name") == "[memory]" and e["args"].get("Device Type") == 0),
                    key=lambda e: e["ts"])
    start = memory[0]["args"]["Total Allocated"] - memory[0]["args"]["Bytes"]  # the count carries over from before
    return before + max(e["args"]["Total Allocated"] for e in memory) - start


@pytest.mark.parametrize("example, batch_size, optimizer", [
    ("mnist_convnet", 100, "adam"),  # the lecture's convnet
    ("resnet18", 8, "sgd"),  # 224x224 images: activations dominate
    ("lstm_classifier", 100, "adam"),  # oneDNN's recurrent workspace on the CPU
])
def test_the_plan_agrees_with_what_real_cpu_steps_allocate_within_25_percent(tmp_path, example, batch_size, optimizer):
    graph = Graph.load(EXAMPLES / f"{example}.json")
    plan = trace_training(graph, batch_size, optimizer, device="cpu")
    assert plan is not None and plan.measured
    real = allocated_by_two_real_steps(graph, batch_size, optimizer, tmp_path)
    assert 0.75 <= plan.total / real <= 1.25, (plan, real)
    weights = sum(p.numel() for p in compile_graph(graph).parameters()) * 4
    assert plan.gradients == weights and plan.optimizer == (2 * weights if optimizer == "adam" else 0)


def test_the_largest_batch_is_the_largest_that_fits():
    graph = Graph.load(EXAMPLES / "mnist_convnet.json")
    plan, available, largest = plan_training(graph, 100, TrainConfig(optimizer="adam"), "cpu")
    assert available and largest and largest > 100
    budget = 2**30  # a machine with 1 GB free
    largest = plan.largest_batch(budget)
    assert trace_training(graph, largest, "adam").total <= HEADROOM * budget * 1.01
    assert trace_training(graph, int(largest * 1.05), "adam").total > HEADROOM * budget
    with pytest.raises(MemoryGuardError, match=rf"; this machine has 1 GB of memory available \(batches of up to "
                                               rf"{largest:,} fit\)$"):
        check_training_fits(graph, 4 * largest, "adam", what="training", available=budget)


def test_netbuilder_plan_prints_each_part_and_the_largest_batch(capsys):
    assert main(["plan", str(EXAMPLES / "resnet18.json"), "--batch-size", "32", "--device", "cpu", "--optimizer",
                 "sgd"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.match(r"training with batches of 32 on cpu needs about [\d.]+ (MB|GB) \(measured on the meta device\):$",
                    out[0])
    assert [line.split()[0] for line in out[1:5]] == ["weights", "gradients", "optimizer", "activations"]
    assert re.search(r"a sample\)$", out[4])
    assert re.match(r"this machine has [\d.,]+ GB of memory available: this fits; batches of up to [\d,]+ fit$", out[5])
    assert main(["plan", str(EXAMPLES / "vgg16.json"), "--batch-size", "1000000"]) == 1
    captured = capsys.readouterr()
    assert "this does NOT fit" in captured.out and captured.err.startswith("netbuilder: error:")


def test_netbuilder_check_with_a_batch_size_adds_the_plan(capsys):
    assert main(["check", str(EXAMPLES / "mnist_convnet.json")]) == 0
    assert "needs about" not in capsys.readouterr().out  # no plan unless asked
    assert main(["check", str(EXAMPLES / "mnist_convnet.json"), "--batch-size", "64", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "training with batches of 64 on cpu needs about" in out and "this fits" in out
    assert main(["check", str(EXAMPLES / "vgg16.json"), "--batch-size", "1000000", "--json"]) == 1
    memory = json.loads(capsys.readouterr().out)["memory"]
    assert memory["fits"] is False and memory["largest_batch"] < 1_000_000 and memory["bytes"] > memory["available"]
