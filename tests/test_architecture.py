"""The house: core in rooms by concern, no circles of imports, no module past what one person holds.

The import contracts between the rooms are import-linter's (pyproject.toml; `lint-imports` runs in CI); these
tests keep what it does not check: the tree's shape, module sizes and cycles between single modules."""
import tomllib

import grimp
import networkx as nx

from tests.conftest import ROOT

CORE = ROOT / "netbuilder" / "core"
ROOMS = {"base", "layers", "model", "data", "checks", "build", "training", "exchange", "inside"}
MAX_LINES = 600


def test_core_holds_only_its_rooms():
    modules = sorted(p.name for p in CORE.glob("*.py") if p.name != "__init__.py")
    assert modules == [], f"modules directly in core/ beside the rooms: {modules}; put each in its room"
    rooms = {p.name for p in CORE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert rooms == ROOMS
    for room in rooms:
        doc = (CORE / room / "__init__.py").read_text(encoding="utf-8")
        assert doc.startswith('"""') and "import" in doc.split('"""')[1], f"core/{room}: say what it may import"


def test_every_room_boundary_has_a_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contracts = config["contracts"]
    assert len(contracts) >= 6
    rooms = next(c for c in contracts if c["type"] == "layers" and c["containers"] == ["netbuilder.core"])
    named = {name.strip() for layer in rooms["layers"] for name in layer.split("|")}
    assert named == ROOMS and rooms.get("exhaustive") is True


def test_no_module_is_past_what_one_person_holds():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "netbuilder").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"modules over {MAX_LINES} lines: split them"


def test_no_import_cycle_between_modules():
    graph = grimp.build_graph("netbuilder", exclude_type_checking_imports=True)
    imports = nx.DiGraph()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith("netbuilder"):
                imports.add_edge(module, imported)
    cycles = [sorted(c) for c in nx.strongly_connected_components(imports) if len(c) > 1]
    assert cycles == [], f"modules importing each other: {cycles}"


def test_the_readme_names_stay_importable_from_core_without_torch():
    import subprocess
    import sys

    code = ("import sys\nfrom netbuilder.core import Graph\nassert 'torch' not in sys.modules\n"
            "from netbuilder.core import compile_graph, infer_shapes\n"
            "graph = Graph.load(sys.argv[1])\nprint(type(compile_graph(graph, infer_shapes(graph))).__name__)")
    run = subprocess.run([sys.executable, "-c", code, str(ROOT / "examples" / "mnist_convnet.json")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "Net"
