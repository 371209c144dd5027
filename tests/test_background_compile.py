"""Background compilation: a run starts eagerly, switches to the torch.compile'd model between two batches, and
keeps its weights, its optimizers' state, its frozen blocks and its checkpoints; a compiler that fails leaves the
run eager with one note."""
import threading

import torch

from netbuilder.core.model.graph import Graph
from netbuilder.core.training import background_compile
from netbuilder.core.training.config import TrainConfig
from netbuilder.core.training.experiment import prepare_training
from netbuilder.core.training.trainer import Trainer


def frozen_body_with_a_loss_block():
    """x -> body (frozen Linear) -> bn (BatchNorm1d, trained) -> relu -> head -> cross-entropy with the labels:
    the forward returns the objective's dict of losses and terms."""
    g = Graph()
    x = g.add_node("Input", {"shape": [2]}, name="x")
    y = g.add_node("Input", {"shape": [], "field": "y", "dtype": "int64", "normalize": "none"}, name="y")
    body = g.add_node("Linear", {"out_features": 16}, name="body", settings={"frozen": True})
    bn = g.add_node("BatchNorm1d", name="bn")
    act = g.add_node("ReLU", name="act")
    head = g.add_node("Linear", {"out_features": 2}, name="head")
    loss = g.add_node("CrossEntropyLoss", name="xent")
    for src, dst in ((x, body), (body, bn), (bn, act), (act, head), (head, loss), (y, loss)):
        g.connect(src.id, dst.id)
    return g


def trainer(compile_mode, epochs=3, **hooks):
    setup = prepare_training(frozen_body_with_a_loss_block(), "moons:n=500", val_fraction=0.2, seed=0)
    config = TrainConfig(epochs=epochs, batch_size=50, optimizer="adam", lr=0.01, compile=compile_mode,
                         report_interval=0.0)
    return Trainer(setup.model, setup.splits, config, objective=setup.objective, **hooks)


def test_a_run_switches_to_the_compiled_model_between_two_batches_keeping_weights_and_optimizer_state(tmp_path):
    eager = trainer("off")
    eager_result = eager.fit()
    assert eager.notes == []

    notes = []
    run = trainer("always", on_log=notes.append)
    params = {name: p for name, p in run.model.named_parameters()}
    first_batch = []

    def hold_until_compiled(report):
        """The first batch's report waits for the compile, so the switch comes at batch 2 (not at a time)."""
        first_batch.append({k: v.clone() for k, v in run.model.state_dict().items()})
        if run.compiling.job is not None:
            run.compiling.job.wait()

    run.on_batch = hold_until_compiled
    result = run.fit(checkpoint=tmp_path / "ckpt.pt")
    assert notes[0].startswith("compiling the model in the background (torch.compile) from epoch 1, batch 1")
    assert notes[1].startswith("switched to the compiled model at epoch 1, batch 2"), notes
    assert run.compiling.compiled is not None
    # the same parameter objects were trained, by the same optimizer (Adam's state kept across the switch)
    assert {name: p for name, p in run.model.named_parameters()} == params
    adam = run.optimizers["all"]
    steps = 3 * -(-len(run.data.train) // 50)
    assert all(int(adam.state[p]["step"]) == steps for p in adam.param_groups[0]["params"])
    # the frozen body never changed; BatchNorm's statistics kept moving after the switch
    assert torch.equal(run.model.body.weight, first_batch[0]["body.weight"])
    assert not torch.equal(run.model.bn.running_mean, first_batch[1]["bn.running_mean"])
    # the compiled run is the eager run, to rounding
    for key, value in eager.model.state_dict().items():
        torch.testing.assert_close(run.model.state_dict()[key], value, rtol=1e-3, atol=1e-4)
    assert abs(result.test_metric - eager_result.test_metric) <= 0.02
    # checkpoints hold the model's own state_dict, and a compiled run resumes from them
    saved = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert list(saved["model"]) == list(eager.model.state_dict())
    resumed = trainer("always", epochs=4)
    resumed.fit(resume_from=tmp_path / "ckpt.pt")
    assert [e["epoch"] for e in resumed.history] == [1, 2, 3, 4]


def test_a_compiler_that_fails_leaves_the_run_eager_with_one_note(monkeypatch):
    import torch._dynamo
    import torch._inductor.compile_fx as inductor

    def broken(*args, **kwargs):
        raise RuntimeError("the C++ compiler failed")

    torch._dynamo.reset()  # forget what earlier tests compiled for this network
    monkeypatch.setattr(inductor, "compile_fx", broken)  # torch.compile's backend fails, whatever the network
    eager = trainer("off", epochs=2)
    eager.fit()
    notes = []
    run = trainer("always", epochs=2, on_log=notes.append)
    run.on_batch = lambda report: run.compiling.job is not None and run.compiling.job.wait()
    run.fit()
    failures = [n for n in notes if n.startswith("the compiled model is not used")]
    assert len(failures) == 1 and "training goes on eagerly" in failures[0]
    assert run.compiling.compiled is None
    for key, value in eager.model.state_dict().items():  # the eager run (to rounding: torch ran compiled kernels
        torch.testing.assert_close(run.model.state_dict()[key], value, rtol=1e-5, atol=1e-6)  # on another thread)


def test_auto_compiles_only_runs_long_enough_to_gain(chain):
    graph, _ = chain(("Input", {"shape": [2]}), ("Linear", {"out_features": 2}), ("Output", {}))
    from netbuilder.core.build.compile import compile_graph

    model, cpu = compile_graph(graph), torch.device("cpu")
    guess = background_compile.expected_compile_seconds(model, cpu)
    assert not background_compile.worth_compiling(guess, model, cpu)  # a run shorter than compiling itself
    assert background_compile.worth_compiling(100 * guess, model, cpu)
    # a short run (the default, auto) never compiles: it is exactly the eager run
    short = trainer("auto", epochs=1)
    short.fit()
    assert short.compiling.job is None and short.compiling.compiled is None and short.notes == []


def test_each_run_compiles_once_and_the_switch_compiles_nothing_more(monkeypatch):
    """torch.compile guards on whether the tensors given alias the module's, and keeps its compiled versions per
    code object: warmed up on the copy's own weights, the switch to the run's compiled again, on the training
    thread, and every run in one process counted towards torch's recompilation limit."""
    import torch._inductor.compile_fx as inductor

    real, calls = inductor.compile_fx, []

    def counted(*args, **kwargs):
        calls.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(inductor, "compile_fx", counted)
    for number in (1, 2, 3):
        run = trainer("always", epochs=2)
        run.on_batch = lambda report, run=run: run.compiling.job is not None and run.compiling.job.wait()
        run.fit()
        assert run.compiling.outcome == "compiled"
        assert calls == ["netbuilder-compile"] * number, "one compile a run, on the compiling thread"
