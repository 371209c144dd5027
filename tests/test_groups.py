"""Groups in the document: events, JSON, undo through a Journal, names from an exporter's scopes, folding."""
import pytest
import torch
import torch.nn as nn

from netbuilder.core.model.graph import Graph, GraphError
from netbuilder.core.model.groups import (
    add_groups,
    box_position,
    group_ports,
    groups_from_scopes,
    module_path,
    set_all_collapsed,
    set_collapsed,
)
from netbuilder.core.model.journal import Journal
from tests.conftest import EXAMPLES


def three(chain):
    g, ids = chain(("Input", {"shape": [4]}), ("Linear", {"out_features": 4}), ("ReLU", {}),
                   ("Linear", {"out_features": 2}), ("Output", {}))
    return g, ids


def test_groups_announce_their_changes_and_round_trip_through_json(chain):
    g, (x, fc1, relu, fc2, out) = three(chain)
    seen = []
    g.group_added.connect(lambda group: seen.append(("added", group.name)))
    g.group_changed.connect(lambda group: seen.append(("changed", group.name, group.collapsed, list(group.nodes))))
    g.group_removed.connect(lambda group: seen.append(("removed", group.name)))
    group = g.add_group([relu, fc1], "hidden")
    assert group.nodes == [fc1, relu], "kept in document order"
    g.rename_group(group.id, "block")
    g.set_collapsed(group.id, True)
    g.set_group_nodes(group.id, [fc1, relu, fc2])
    assert seen == [("added", "hidden"), ("changed", "block", False, [fc1, relu]),
                    ("changed", "block", True, [fc1, relu]), ("changed", "block", True, [fc1, relu, fc2])]
    data = g.to_dict()
    assert data["groups"] == [{"id": "g1", "name": "block", "nodes": [fc1, relu, fc2], "collapsed": True}]
    assert Graph.from_dict(data) == g
    g.remove_group(group.id)
    assert seen[-1] == ("removed", "block") and "groups" not in g.to_dict()


@pytest.mark.parametrize("groups, problem", [
    ([{"id": "g1", "name": "a", "nodes": ["n9"]}], "groups[0]: no block with id 'n9'"),
    ([{"id": "g1", "name": "a", "nodes": ["n2"]}, {"id": "g2", "name": "b", "nodes": ["n2"]}],
     "groups[1]: fc1 (Linear) is already in group 'a'"),
    ([{"id": "g1", "name": "a", "nodes": ["n2"]}, {"id": "g2", "name": "a", "nodes": ["n3"]}],
     "groups[1]: a group named 'a' already exists"),
    ([{"id": "g1", "name": "", "nodes": ["n2"]}], "groups[0]: '' is not a valid group name"),
    ([{"id": "g1", "name": "a", "nodes": []}], "groups[0]: a group needs at least one block"),
    ([{"id": "g1", "name": "a", "nodes": ["n2"], "collapsed": "yes"}], "groups[0]: 'collapsed' must be true or false"),
    ([{"id": "g1", "name": "a", "nodes": ["n2"], "colour": "red"}], "groups[0]: unknown field 'colour'"),
    ({"g1": ["n2"]}, "'groups' must be a list"),
])
def test_a_bad_groups_field_is_refused_with_the_first_problem(chain, groups, problem):
    g, _ = three(chain)
    data = g.to_dict() | {"groups": groups}
    with pytest.raises(GraphError) as error:
        Graph.from_dict(data)
    assert str(error.value).startswith(problem)


def test_removing_a_block_takes_it_out_of_its_group_and_the_last_one_takes_the_group(chain):
    g, (x, fc1, relu, fc2, out) = three(chain)
    group = g.add_group([fc1, relu], "hidden")
    g.remove_node(relu)
    assert group.nodes == [fc1] and g.group_of(fc1) is group
    g.remove_node(fc1)
    assert g.groups == [] and g.group_of(fc1) is None
    assert "groups" not in g.fragment([x])


def test_a_journal_takes_back_any_work_exactly_and_makes_it_again(chain):
    g, (x, fc1, relu, fc2, out) = three(chain)
    g.add_group([fc1, relu], "hidden")
    before = g.to_dict()

    def work(graph):
        graph.remove_node(relu)  # leaves the group, drops its wires
        flat = graph.add_node("Tanh", name="squash", pos=(5, 5))
        graph.connect(fc1, flat.id)
        graph.connect(flat.id, fc2)
        graph.set_param(fc2, "out_features", 3)
        graph.rename(fc1, "dense")
        graph.move(x, (10, -20))
        graph.add_group([fc2, flat.id], "head")
        graph.set_collapsed(graph.groups[0].id, True)

    journal = Journal.record(g, work)
    after = g.to_dict()
    assert after != before and journal.changes_model
    journal.undo()
    assert g.to_dict() == before
    journal.redo()
    assert g.to_dict() == after
    journal.undo()
    assert g.to_dict() == before


def test_work_that_fails_half_way_changes_nothing(chain):
    g, (x, fc1, relu, fc2, out) = three(chain)
    before = g.to_dict()

    def work(graph):
        graph.remove_node(relu)
        graph.connect(fc1, fc2)
        graph.connect(x, fc2)  # taken: refused

    with pytest.raises(GraphError):
        Journal.record(g, work)
    assert g.to_dict() == before


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.relu, self.conv2 = nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv2(self.relu(self.conv1(x))) + x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.layer1 = nn.Sequential(Residual(), Residual())
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.layer1(self.conv1(x)).mean((2, 3)))


def test_an_imported_model_is_grouped_by_its_module_scopes(tmp_path):
    from netbuilder.core.exchange.onnx_import import import_onnx
    from tests.test_import import torch_export

    graph = import_onnx(torch_export(Net(), torch.zeros(1, 3, 8, 8), tmp_path / "net.onnx")).graph
    groups = {group.name: sorted(graph.node(i).type for i in group.nodes) for group in graph.groups}
    assert groups == {"layer1.0": ["Add", "Conv2d", "Conv2d", "ReLU", "ReLU"],
                      "layer1.1": ["Add", "Conv2d", "Conv2d", "ReLU", "ReLU"]}


def test_scope_names_become_group_names():
    assert module_path("/layer1/layer1.0/downsample/downsample.0/Conv") == "layer1.0.downsample.0"
    assert module_path("/inception3a/branch2/branch2.0/conv/Conv") == "inception3a.branch2.0.conv"
    assert groups_from_scopes({"a": "layer1.0.conv1", "b": "/layer1/layer1.0/Add", "c": "fc", "d": "",
                               "e": "inception3a.branch1.conv", "f": "inception3a"}) == {
        "layer1.0": ["a", "b"], "inception3a": ["e", "f"]}


def test_collapsing_folds_the_rows_below_and_expanding_opens_them_again():
    graph = Graph.load(EXAMPLES / "resnet18.json")
    before = graph.to_dict()
    for group in graph.groups:
        assert group.nodes
    layer = next(group for group in graph.groups if group.name == "layer2.0")
    ys = sorted(graph.node(i).pos[1] for i in layer.nodes)
    fc = graph.find("fc")
    y_fc = fc.pos[1]
    set_collapsed(graph, layer.id, True)
    assert graph.group(layer.id).collapsed and fc.pos[1] == y_fc - (ys[-1] - ys[0])
    assert box_position(graph, layer)[1] == ys[0]
    set_collapsed(graph, layer.id, False)
    assert graph.to_dict() == before
    set_all_collapsed(graph, True)
    assert all(group.collapsed for group in graph.groups)
    set_all_collapsed(graph, False)
    assert graph.to_dict() == before


def test_a_collapsed_group_knows_the_wires_that_cross_its_border():
    graph = Graph.load(EXAMPLES / "resnet18.json")
    layer = next(group for group in graph.groups if group.name == "layer2.0")
    ports = group_ports(graph, layer)
    assert [graph.node(src).name for src, _ in ports.sources()] == ["layer1_1_relu2"]
    assert [graph.node(src).name for src, _ in ports.exits()] == ["layer2_0_relu2"]


def test_add_groups_skips_blocks_already_grouped(chain):
    g, (x, fc1, relu, fc2, out) = three(chain)
    g.add_group([fc1], "first")
    made = add_groups(g, {"more": [fc1, relu, fc2]})
    assert [group.nodes for group in made] == [[relu, fc2]]


def test_undo_puts_a_removed_group_back_in_its_place_among_the_groups(chain):
    g, (x, fc1, relu, fc2, out) = three(chain)
    for name, node_id in (("a", fc1), ("b", relu), ("c", fc2)):
        g.add_group([node_id], name)
    before = g.to_dict()
    journal = Journal.record(g, lambda graph: graph.remove_node(relu))  # takes group "b", the middle one, with it
    assert [group.name for group in g.groups] == ["a", "c"]
    journal.undo()
    assert g.to_dict() == before and [group.name for group in g.groups] == ["a", "b", "c"]
