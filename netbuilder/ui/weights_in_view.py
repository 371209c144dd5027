"""The weights in view: the one trained model the editor shows and uses — the Inside view probes it, File > Export
writes it, the Results tab is its run's. It is the last run trained, a run chosen in the Runs panel, the weights a
document names (an imported model's), or a file loaded with File > Load Weights. Plain data; the reading runs on
a worker thread (torch)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class WeightsInView:
    state: dict  # names -> tensors: the weights and the input normalization (what weights.pt holds)
    words: str  # what they are, as a message names them: "run 3", "resnet.pt (the imported model's)"
    run: object | None = None  # the runs.Run they belong to, or None
    path: Path | None = None  # the file they were read from, or None (a run that just ended)
    report: str = ""  # how they fit the graph (a file loaded into it), or ""


def read_run_weights(run) -> WeightsInView:
    """A run's weights.pt as the weights in view (on a worker thread: it reads tensors)."""
    from ..core.build.weights import read_state

    path = run.weights_for_use()
    return WeightsInView(read_state(path), run.title if run.name else f"run {run.number}", run, path)


def read_named_weights(graph, path: Path, words: str) -> WeightsInView:
    """A weights file the graph names (an imported model's), exactly as it is."""
    from ..core.build.weights import read_state

    return WeightsInView(read_state(path), words, None, path)


def load_into_graph(graph, path: Path) -> WeightsInView:
    """Any .pt or .safetensors file, loaded into the graph as it is now: every tensor that fits by name and shape,
    the others fresh (as a run starts), with the fit report; its input normalization, where it holds one, kept for
    exports. WeightsError when nothing fits."""
    from ..core.build.compile import compile_graph
    from ..core.build.weights import load_partial, read_shapes, read_state, split_normalization

    model = compile_graph(graph)
    loaded = load_partial(model, path)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    _, normalization = split_normalization(read_shapes(path))
    if normalization:
        state.update({k: v for k, v in read_state(path).items() if k.startswith("normalize_")})
    total = len(model.state_dict())
    if loaded.skipped:
        report = loaded.summary()
    else:
        report = f"{path.name}: all {total} of the graph's tensors loaded"
    return WeightsInView(state, path.name, None, Path(path), report)
