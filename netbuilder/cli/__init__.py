"""The `netbuilder` command: the editor, and headless access to everything in core.

    netbuilder [gui [GRAPH]]           open the editor
    netbuilder info GRAPH [--json]     layers, output shapes, parameter and MAC counts
    netbuilder check GRAPH [--data SPEC] [--json]  errors and warnings, each with its fix (exit 1 on errors)
    netbuilder train GRAPH --data SPEC [options]   train headless; writes weights.pt and metrics.json
    netbuilder plan GRAPH [--batch-size N] [--device D]   the memory training takes; the largest batch that fits
    netbuilder export GRAPH [--weights W.pt] -o MODEL.onnx|model.py [--opset N]
    netbuilder export GRAPH --training-script -o DIR  model.py + train.py: torch only, torchrun-ready
    netbuilder import MODEL.onnx -o GRAPH.json        an editable graph; its weights beside it (GRAPH.pt)
    netbuilder inspect GRAPH [--weights W.pt] --data SPEC --sample N --block NAME -o maps.png

Bad input (a missing, corrupt or invalid file) exits with status 1 and one line on stderr; a bug in
netbuilder exits with status 70 and one line saying so (NETBUILDER_DEBUG=1 shows its traceback).
"""
import os

# torch's C++ side logs its warnings straight to stderr (c10d: "[W... TCPStore.cpp] recvValue failed ... frame #0"
# when a process of a multi-process run goes): a command says what failed in one line of its own. Read when torch
# loads, so set before it is imported; a person who wants them sets TORCH_CPP_LOG_LEVEL themselves.
os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")

from .main import main  # noqa: E402

__all__ = ["main"]
