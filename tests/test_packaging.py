"""A regular (non-editable) install ships the examples, the icons and the style sheet, and finds them."""
import shutil
import subprocess
import sys

from tests.conftest import ROOT

CHECK = """
import json, sys
from pathlib import Path
import netbuilder
from netbuilder.core.base.files import list_examples
from netbuilder.ui import style
assert str(Path(netbuilder.__file__).resolve()).startswith(sys.argv[1]), netbuilder.__file__
print(json.dumps({"examples": [p.name for p, _ in list_examples()], "qss": len(style.style_sheet()),
                  "icons": sorted(p.name for p in (style.RESOURCES / "icons").glob("*.svg"))}))
"""


def test_a_non_editable_install_finds_examples_icons_and_style(tmp_path):
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT / "netbuilder", source / "netbuilder", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True)
    shutil.rmtree(source)  # nothing may be found beside a source checkout
    run = subprocess.run([sys.executable, "-c", CHECK, str(target.resolve())], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": str(target), "QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert run.returncode == 0, run.stderr
    import json

    found = json.loads(run.stdout)
    shipped = sorted(p.name for p in (ROOT / "netbuilder" / "examples").glob("*.json"))
    assert sorted(found["examples"]) == shipped and len(shipped) >= 10
    assert found["qss"] > 100 and "netbuilder.svg" in found["icons"] and "undo.svg" in found["icons"]
