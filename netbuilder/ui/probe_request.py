"""One probe of the Inside view, off the GUI thread: what was asked (a block, a mode, a sample) and what was
found, ready to paint (Shown). No widgets here; the probing itself is core/inside/probe.py."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..core.base.system import cpu_count


@dataclass
class Shown:
    """What one probe found, ready to paint (made off the GUI thread)."""

    blocks: list[str]
    mode: str
    sections: list  # probe_pictures.Tiles or Bars, one or more per block
    input_tile: object | None = None  # H x W x 3 uint8
    prediction: object | None = None  # probe_pictures.Bars
    caption: str = ""
    weights: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@contextmanager
def spare_core():
    """torch on one thread fewer than the cores while probing, as training does: one sample is quicker so on a
    busy machine, and the window keeps a core."""
    import torch

    threads = torch.get_num_threads()
    wanted = max(1, cpu_count() - 1)
    if wanted < threads:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if wanted < threads:
            torch.set_num_threads(threads)


@dataclass
class ProbeRequest:
    """One probe request: what to look at, with which sample; carried to the thread that runs it."""

    graph: object
    blocks: list[str]
    mode: str
    kind: str  # test, file, drawing
    index: int
    spec: object
    val_fraction: float
    test_fraction: float
    seed: int
    picture: Path | None
    drawing: object

    def samples_key(self) -> tuple:
        inputs = tuple((n.name, tuple(n.params["shape"]), n.params["field"]) for n in self.graph.nodes
                       if n.type == "Input")
        return (str(self.spec), self.val_fraction, self.test_fraction, self.seed, inputs)

    def load_samples(self, load):
        from ..core.inside.probe import held_out_samples

        return held_out_samples(self.graph, self.spec, val_fraction=self.val_fraction,
                                test_fraction=self.test_fraction, seed=self.seed, load=load)

    def sample(self, model, samples):
        """({Input: sample}, its label or None, the class names or None, words saying which sample it is)."""
        import torch

        from ..core.inside.probe import ProbeError, fit_sample, read_picture

        first = next((n for n in model.inputs if self.graph.find(n).type == "Input"), None)
        if first is None:
            raise ProbeError("the network reads no Input")
        shape = tuple(self.graph.find(first).params["shape"])
        classes = samples.classes if samples is not None else None
        if self.kind == "test":
            index = min(self.index, len(samples) - 1)
            return samples.sample(index), samples.label(index), classes, f"test sample {index} of {samples.name}"
        if self.kind == "file":
            if self.picture is None:
                raise ProbeError("choose a picture file (Open…)")
            sample = fit_sample(read_picture(self.picture, shape), shape, self.picture.name)
            return {first: sample}, None, classes, self.picture.name
        pixels = self.drawing if self.drawing is not None else torch.zeros(28, 28).numpy()
        sample = fit_sample(torch.from_numpy(pixels).float()[None], shape, "the drawing")
        return {first: sample}, None, classes, "the drawing"

    def probe(self, model, samples, weights: str) -> Shown:
        import time

        from ..core.inside.probe import ProbeError, prediction_of
        from ..core.inside.probe_pictures import filter_view, prediction_bars, saliency_view, sample_image, view_of

        start = time.perf_counter()
        inputs, label, classes, which = (({}, None, None, "") if self.mode == "filters"
                                         else self.sample(model, samples))
        input_tile = prediction = None
        sections, notes = [], []
        if self.mode != "filters":
            first = next(iter(inputs.values()))
            input_tile = sample_image(first)
            found = prediction_of(model.outputs(inputs), classes)
            prediction = prediction_bars(found, label) if found is not None else None
        if self.mode == "saliency":
            saliency = model.saliency(inputs)
            target = classes[saliency.target] if classes and saliency.target < len(classes) else None
            sections.append(saliency_view(saliency, saliency.input, target))
            caption = f"saliency for {which} (the same whichever block is selected)"
        for block in self.blocks if self.mode != "saliency" else []:
            try:
                if self.mode == "filters":
                    sections.append(filter_view(model.filters(block), block))
                else:
                    sections.append(view_of(model.run(block, inputs, with_outputs=False).value, block))
            except ProbeError as e:
                if len(self.blocks) == 1:
                    raise
                notes.append(f"{e}.")
        if self.mode == "filters":
            caption = "filters" + (" (updated after each epoch while training)" if "live" in weights else "")
        elif self.mode == "maps":
            caption = f"what flows out for {which}" + (f" (class {label})" if label is not None else "")
        return Shown(list(self.blocks), self.mode, sections, input_tile, prediction, caption, weights,
                     time.perf_counter() - start, notes)
