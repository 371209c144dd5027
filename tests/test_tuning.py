"""Tuning for the device (issue 22): mixed precision is kept only when the first batches measured it faster and the
loss agreeing with float32's; --bf16 runs on CPUs whose cores have native bfloat16 and is refused by name elsewhere;
a bf16 run resumes exactly from its checkpoint and exports in float32.

The timing a run sees is injected (Probe.timer: the step runs for real, the seconds are the test's), and so is the
CPU's /proc/cpuinfo text (Probe.cpuinfo): a CPU without bf16 is simulated through the detection's own input."""
import json

import onnx
import pytest
import torch

from netbuilder.cli import main
from netbuilder.core.build.weights import read_tensors
from netbuilder.core.exchange.onnx_export import export_onnx
from netbuilder.core.model.graph import Graph
from netbuilder.core.training.config import TrainConfig, TrainingError
from netbuilder.core.training.experiment import prepare_training
from netbuilder.core.training.trainer import Trainer
from netbuilder.core.training.tuning import Probe, native_bf16
from tests.conftest import EXAMPLES

WITH_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni\n"
WITH_AMX = "flags\t\t: fpu avx2 avx512f amx_bf16 amx_tile amx_int8\n"
WITHOUT = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"


def timed(seconds: dict[str, float], seen: list | None = None):
    """A timer that runs each step for real and says it took `seconds[precision]`."""
    def timer(precision, step):
        if seen is not None:
            seen.append(precision)
        return step(), seconds[precision]
    return timer


def convnet_run(spec="digits:size=28", epochs=1, probe=None, **config):
    setup = prepare_training(Graph.load(EXAMPLES / "mnist_convnet.json"), spec, val_fraction=0.0, seed=0)
    settings = dict(epochs=epochs, batch_size=50, optimizer="sgd", lr=0.05, compile="off")
    settings.update(config)
    return Trainer(setup.model, setup.splits, TrainConfig(**settings), probe=probe), setup


def test_the_cpu_flags_say_which_native_bf16_a_cpu_has():
    assert native_bf16(WITH_AMX) == "AMX"
    assert native_bf16(WITH_BF16) == "AVX-512 BF16"
    assert native_bf16("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n") == "Arm BF16"
    assert native_bf16(WITHOUT) is None


def test_bf16_is_kept_when_measured_faster_and_agreeing():
    seen = []
    run, _ = convnet_run(probe=Probe(WITH_BF16, timed({"float32": 0.02, "bf16": 0.01}, seen)))
    result = run.fit()
    assert result.status == "finished" and run.precision.mode == "bf16"
    assert seen == ["float32", "bf16", "bf16", "float32", "float32", "bf16", "bf16", "float32"], "ABBA, after warm-up"
    assert run.precision.speeds == {"float32": pytest.approx(2500), "bf16": pytest.approx(5000)}
    note = next(n for n in run.notes if n.startswith("mixed precision"))
    assert note.startswith("mixed precision: training in bf16 autocast: bf16 autocast ran 5,000 samples/s, float32 "
                           "2,500 (2.00x), and the loss over 2 batches differed by ")
    assert "weights, optimizer state, checkpoints and exports stay float32" in note
    assert all(p.dtype == torch.float32 for p in run.model.parameters())
    assert run.notes[0].startswith("tuned for cpu: channels_last memory format; bf16 autocast or float32, measured")


def test_bf16_measured_slower_leaves_the_run_in_float32():
    run, _ = convnet_run(probe=Probe(WITH_BF16, timed({"float32": 0.02, "bf16": 0.0199})))
    run.fit()
    assert run.precision.mode == "float32" and run.scaler is None
    note = next(n for n in run.notes if n.startswith("mixed precision"))
    assert note.startswith("mixed precision: staying in float32: bf16 autocast ran 2,513 samples/s, float32 2,500 "
                           "(1.01x): it is kept only from 1.05x")


class ShiftedLinear(torch.nn.Module):
    """A linear layer of inputs moved far from zero and back: exact in float32; in bfloat16 (8 bits of mantissa)
    the inputs lose what tells the samples apart, and the loss changes."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(x + 3000.0) - 3000.0 * self.fc.weight.sum(1)


def test_bf16_whose_loss_disagrees_is_not_kept_however_fast():
    setup = prepare_training(Graph.load(EXAMPLES / "mlp_xor.json"), "circles:n=600", val_fraction=0.0, seed=0)
    config = TrainConfig(epochs=2, batch_size=20, optimizer="sgd", lr=0.1, compile="off")
    run = Trainer(ShiftedLinear(), setup.splits, config,
                  probe=Probe(WITH_BF16, timed({"float32": 0.02, "bf16": 0.005})))
    run.fit()
    assert run.precision.mode == "float32"
    note = next(n for n in run.notes if n.startswith("mixed precision"))
    assert note.startswith("mixed precision: staying in float32: with bf16 autocast the loss over 2 batches differed by")
    assert "(tolerance 2%), though bf16 autocast ran 4,000 samples/s, float32 1,000 (4.00x)" in note


def test_no_trial_without_native_bf16_or_with_tune_off_or_in_a_short_run():
    for probe, config in ((Probe(WITHOUT), {}), (Probe(WITH_BF16), {"tune": "off"})):
        run, _ = convnet_run(probe=probe, **config)
        run.fit()
        assert run.precision.mode == "float32" and not any(n.startswith("mixed precision") for n in run.notes)
    short, _ = convnet_run(probe=Probe(WITH_BF16, timed({"float32": 1.0, "bf16": 0.1})), batch_size=200)
    short.fit()  # 7 batches: too short to measure
    assert short.precision.mode == "float32" and "too short to measure" in short.precision.reason


def test_bf16_on_a_cpu_without_it_is_refused_by_name():
    with pytest.raises(TrainingError, match=r"^bf16 on the CPU needs cores with native bfloat16 \(AMX or AVX-512 "
                                            r"BF16\); this CPU has neither: leave bf16 off"):
        convnet_run(probe=Probe(WITHOUT), bf16=True)
    run, _ = convnet_run(probe=Probe(WITH_AMX), bf16=True)  # allowed where the cores have it
    assert run.precision.mode == "bf16" and run.precision.settled


@pytest.mark.skipif(native_bf16() is None, reason="this CPU has no native bfloat16")
def test_bf16_from_the_command_line_trains_on_a_cpu_that_has_it(tmp_path):
    code = main(["train", str(EXAMPLES / "mlp_xor.json"), "--data", "xor:n=200", "--epochs", "2", "--bf16",
                 "--device", "cpu", "--out", str(tmp_path)])
    assert code == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["precision"] == "bf16" and metrics["status"] == "finished"


def test_a_bf16_run_resumes_exactly_from_its_checkpoint_and_exports_in_float32(tmp_path):
    def run(epochs, **config):
        trainer, setup = convnet_run(epochs=epochs, probe=Probe(WITH_BF16), **config)
        return trainer, setup

    straight, _ = run(2, bf16=True)
    straight.fit()
    first, _ = run(1, bf16=True)
    first.fit(checkpoint=tmp_path / "ckpt.pt")
    saved = read_tensors(tmp_path / "ckpt.pt")
    assert saved["precision"] == "bf16"
    assert all(t.dtype == torch.float32 for t in saved["model"].values() if t.is_floating_point())
    resumed, setup = run(2, bf16=True)
    resumed.fit(resume_from=tmp_path / "ckpt.pt")
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    report = export_onnx(setup.graph, tmp_path / "net.onnx", model=resumed.model)  # checked against onnxruntime
    model = onnx.load(str(tmp_path / "net.onnx"))
    assert {i.data_type for i in model.graph.initializer} == {onnx.TensorProto.FLOAT}
    assert report.max_abs_diff < 1e-4


def test_a_tuned_run_resumes_in_the_precision_it_measured(tmp_path):
    faster = timed({"float32": 0.02, "bf16": 0.01})
    straight, _ = convnet_run(epochs=2, probe=Probe(WITH_BF16, faster))
    straight.fit()
    first, _ = convnet_run(epochs=1, probe=Probe(WITH_BF16, faster))
    first.fit(checkpoint=tmp_path / "ckpt.pt")
    seen = []
    resumed, _ = convnet_run(epochs=2, probe=Probe(WITH_BF16, timed({"float32": 0.01, "bf16": 0.02}, seen)))
    resumed.fit(resume_from=tmp_path / "ckpt.pt")
    assert seen == [] and resumed.precision.mode == "bf16", "no second trial: the run goes on as it was tuned"
    assert "resumed in bf16 autocast, as the run was tuned" in resumed.notes
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


def test_background_compilation_starts_once_the_precision_is_chosen_and_compiles_under_it():
    run, _ = convnet_run(probe=Probe(WITH_BF16, timed({"float32": 0.02, "bf16": 0.01})), compile="always",
                         report_interval=0.0)
    run.on_batch = lambda report: run.compiling.job is not None and run.compiling.job.wait()
    run.fit()
    notes = [n for n in run.notes if not n.startswith("tuned")]
    assert notes[0].startswith("mixed precision: training in bf16 autocast")
    assert notes[1].startswith("compiling the model in the background (torch.compile) from epoch 1, batch 9"), notes
    # checked against the eager model under the run's autocast before the switch (its outputs are bf16: a model
    # compiled in float32 would return float32 and be refused)
    assert run.compiling.outcome == "compiled", notes

