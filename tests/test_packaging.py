"""examples/ and resources/ sit at the top of the repository, one copy each, and ship inside every wheel and sdist
as package data: a wheel installed into a fresh virtual environment outside the checkout finds every example, icon
and the style sheet, imports every module, and `netbuilder info` opens an example by the path the start page gives."""
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile

from tests.conftest import ROOT

SOURCE = ("netbuilder", "examples", "resources", "pyproject.toml", "README.md")


def shipped_files() -> dict[str, list[str]]:
    """The repository's examples and resources, by folder, as paths below that folder."""
    return {folder: sorted(str(p.relative_to(ROOT / folder)) for p in (ROOT / folder).rglob("*") if p.is_file())
            for folder in ("examples", "resources")}


def modules() -> list[str]:
    return sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for p in (ROOT / "netbuilder").rglob("*.py") if p.name != "__main__.py")


BUILD = """
import sys
from setuptools import build_meta
print(getattr(build_meta, sys.argv[1])(sys.argv[2]))
"""  # one build a process: setuptools keeps state between them

CHECK = """
import importlib, json, sys
from pathlib import Path
import netbuilder
from netbuilder.core.base.files import list_examples
from netbuilder.ui import style
assert str(Path(netbuilder.__file__).resolve()).startswith(sys.argv[1]), netbuilder.__file__
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
print(json.dumps({"examples": [str(p) for p, _ in list_examples()], "qss": len(style.style_sheet()),
                  "icons": sorted(p.name for p in (style.RESOURCES / "icons").glob("*.svg"))}))
"""


def test_wheel_and_sdist_ship_every_example_and_resource_and_a_fresh_environment_finds_them(tmp_path):
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the checkout
    for name in SOURCE:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    names = []
    for kind in ("build_wheel", "build_sdist"):
        built = subprocess.run([sys.executable, "-c", BUILD, kind, str(dist)], cwd=source, capture_output=True,
                               text=True)
        assert built.returncode == 0, built.stderr[-2000:]
        names.append(built.stdout.split()[-1])
    wheel_name, sdist_name = names
    wanted = shipped_files()
    in_wheel = set(zipfile.ZipFile(dist / wheel_name).namelist())
    in_sdist = {name.split("/", 1)[1] for name in tarfile.open(dist / sdist_name).getnames() if "/" in name}
    for folder, files in wanted.items():
        assert files, folder
        for name in files:
            assert f"netbuilder/{folder}/{name}" in in_wheel, f"{folder}/{name} is not in the wheel"
            assert f"{folder}/{name}" in in_sdist, f"{folder}/{name} is not in the sdist"

    env = tmp_path / "env"  # outside the checkout; the dependencies (torch, Qt, ...) come from this interpreter's
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env)], check=True)
    python, netbuilder = env / "bin" / "python", env / "bin" / "netbuilder"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(dist / wheel_name)],
                   check=True, capture_output=True)
    shutil.rmtree(source)  # nothing may be found beside a source checkout
    run = subprocess.run([python, "-c", CHECK, str(env.resolve()), json.dumps(modules())], cwd=tmp_path,
                         capture_output=True, text=True, env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert run.returncode == 0, run.stderr[-2000:]
    found = json.loads(run.stdout)
    assert sorted(p.rsplit("/", 1)[1] for p in found["examples"]) == [n for n in wanted["examples"] if n.endswith(".json")]
    assert all(p.startswith(str(env.resolve())) for p in found["examples"])
    assert found["qss"] > 100 and sorted(found["icons"]) == [n.split("/")[1] for n in wanted["resources"]
                                                             if n.startswith("icons/")]
    lenet = next(p for p in found["examples"] if p.endswith("/lenet5.json"))  # the path the start page opens
    info = subprocess.run([netbuilder, "info", lenet], cwd=tmp_path, capture_output=True, text=True,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert info.returncode == 0, info.stderr
    assert "61,706 parameters" in info.stdout


def test_the_repository_keeps_one_copy_of_each_example_and_resource():
    assert not (ROOT / "netbuilder" / "examples").exists() and not (ROOT / "netbuilder" / "resources").exists()
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    seen: dict[str, str] = {}
    for name in filter(None, (n.decode() for n in tracked)):
        path = ROOT / name
        if not path.is_file() or path.stat().st_size < 64:  # empty __init__ files and the like
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest not in seen, f"{name} is a second copy of {seen[digest]}"
        seen[digest] = name


def test_an_editable_install_reads_them_from_the_checkout():
    from netbuilder.core.base.files import EXAMPLES_DIR
    from netbuilder.ui.style import RESOURCES

    assert EXAMPLES_DIR == ROOT / "examples" and RESOURCES == ROOT / "resources"
