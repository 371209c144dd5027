"""The run store: every training run of a network kept beside it (`NAME.runs/`), listed, compared and reused.

    store = RunStore.beside("net.json")            # or RunStore.unsaved(document_id) for a network never saved
    run = store.create(graph, settings)            # a new folder NNN-LABEL, status running (store.py)
    with RunRecorder(run) as recorder:             # curves while it trains, results and status when it ends
        recorder.attach(trainer)                   #   (recorder.py)
        recorder.finish(trainer, trainer.fit(checkpoint=run.checkpoint_file), data=spec)
    store.runs()                                   # [Run]: status (a killed writer reads `killed`), figures,
                                                   #   headline (headline.py), files (run.py)
    compare_runs([store.run(1), store.run("last")])  # settings, figures, graph differences (compare.py,
                                                     #   graph_diff.py)

Everything here but the recorder's end (which saves weights) reads and writes plain files without torch.
May import the rooms below training, and training itself; never exchange or inside (pictures come in through
the recorder's `pictures` callable).
"""
from .compare import Comparison, FigureRow, SettingRow, changed_settings, compare_runs
from .graph_diff import BlockChange, BlockRef, GraphDiff, graph_diff
from .headline import Headline, headline
from .recorder import RunRecorder
from .run import ENDED, STATUSES, Run, RunError, read_run
from .store import RunStore, new_document_id, store_path

__all__ = [
    "ENDED", "STATUSES", "BlockChange", "BlockRef", "Comparison", "FigureRow", "GraphDiff", "Headline", "Run",
    "RunError", "RunRecorder", "RunStore", "SettingRow", "changed_settings", "compare_runs", "graph_diff",
    "headline", "new_document_id", "read_run", "store_path",
]
