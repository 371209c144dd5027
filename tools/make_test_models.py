"""Write the dynamo exporter's ONNX files of the test families (tests/families.py) to tests/data/dynamo.

    python tools/make_test_models.py

torch.onnx.export(dynamo=True) takes seconds a model, so the suite imports these stored files; the other
exports (opsets 11 and 17, fixed and dynamic batch) are made afresh by the tests themselves.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.exporting import DYNAMO_FILES, export_family  # noqa: E402
from tests.families import FAMILIES  # noqa: E402


def main() -> None:
    DYNAMO_FILES.mkdir(parents=True, exist_ok=True)
    for name in FAMILIES:
        export_family(name, "dynamo", DYNAMO_FILES / f"{name}.onnx")
        print(f"wrote {DYNAMO_FILES / f'{name}.onnx'}")


if __name__ == "__main__":
    main()
