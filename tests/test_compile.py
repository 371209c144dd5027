"""Compilation: Graph -> torch.fx.GraphModule, checked against networks written by hand."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from netbuilder.core.build.compile import CompileError, compile_graph
from netbuilder.core.model.graph import Graph
from tests.conftest import EXAMPLES
from tests.torchvision_like import ResNet18


class LectureNet(nn.Module):
    """The convnet of the EE-559 lecture, as written there."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=5)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=5)
        self.fc1 = nn.Linear(256, 200)
        self.fc2 = nn.Linear(200, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), kernel_size=3, stride=3))
        x = F.relu(F.max_pool2d(self.conv2(x), kernel_size=2, stride=2))
        x = F.relu(self.fc1(x.view(-1, 256)))
        x = self.fc2(x)
        return x


def test_mnist_convnet_equals_the_lecture_network_with_the_same_weights():
    torch.manual_seed(0)
    reference = LectureNet()
    model = compile_graph(Graph.load(EXAMPLES / "mnist_convnet.json"))
    assert list(model.state_dict()) == list(reference.state_dict())
    model.load_state_dict(reference.state_dict())
    x = torch.randn(16, 1, 28, 28)
    assert torch.equal(model(x), reference(x))


def test_resnet18_example_computes_what_torchvision_resnet18_computes():
    torch.manual_seed(0)
    reference = ResNet18().eval()
    model = compile_graph(Graph.load(EXAMPLES / "resnet18.json")).eval()
    ours = {key.replace("downsample.0", "downsample_conv").replace("downsample.1", "downsample_bn")
            .replace(".", "_", 2) if key.startswith("layer") else key: value
            for key, value in reference.state_dict().items()}
    assert sorted(ours) == sorted(model.state_dict())
    model.load_state_dict(ours)
    x = torch.randn(2, 3, 224, 224)
    torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-5)


def test_the_forward_is_generated_code_calling_submodules_by_block_name():
    model = compile_graph(Graph.load(EXAMPLES / "resnet18.json"))
    assert isinstance(model, torch.fx.GraphModule)
    code = model.code
    assert "self.layer1_0_conv1(" in code and " + " in code  # a residual Add is a plain addition
    assert "for " not in code and "while " not in code


def two_branch_graph():
    """Two inputs; a Concat whose port order differs from the document order; two outputs."""
    g = Graph()
    a = g.add_node("Input", {"shape": [3]}, name="a")
    b = g.add_node("Input", {"shape": [2]}, name="b")
    fa = g.add_node("Linear", {"out_features": 4}, name="fa")
    fb = g.add_node("Linear", {"out_features": 5}, name="fb")
    cat = g.add_node("Concat", {"inputs": 2, "dim": 1}, name="cat")
    g.connect(a.id, fa.id)
    g.connect(b.id, fb.id)
    g.connect(fb.id, cat.id, dst_port="in1")
    g.connect(fa.id, cat.id, dst_port="in2")
    g.connect(cat.id, g.add_node("Output", name="joined").id)
    g.connect(fa.id, g.add_node("Output", name="side").id)
    return g


def test_several_inputs_and_outputs_and_merge_port_order():
    model = compile_graph(two_branch_graph())
    a, b = torch.randn(6, 3), torch.randn(6, 2)
    joined, side = model(a, b)
    assert joined.shape == (6, 9) and side.shape == (6, 4)
    torch.testing.assert_close(joined[:, :5], model.fb(b))  # in1 comes first
    torch.testing.assert_close(joined[:, 5:], model.fa(a))
    torch.testing.assert_close(side, model.fa(a))


def test_blocks_that_feed_no_output_are_left_out():
    g = two_branch_graph()
    stray = g.add_node("Conv2d", name="stray")  # unconnected: an error, but it feeds no output
    g.connect(g.find("fa").id, g.add_node("Linear", name="dangling").id)
    model = compile_graph(g)
    assert not hasattr(model, "stray") and not hasattr(model, "dangling")
    assert stray.id in g


@pytest.mark.parametrize("edit, message", [
    (lambda g: (g.remove_node(g.find("joined").id), g.remove_node(g.find("side").id)),
     "the graph has no Output block; add one after the last layer"),
    (lambda g: (g.remove_node(g.find("a").id), g.remove_node(g.find("b").id)), "the graph has no Input block"),
    (lambda g: g.set_param(g.find("a").id, "shape", [4, 4]),
     "cat (Concat): inputs must match except along dim 1: in1 is 5, in2 is 4x4"),
    (lambda g: g.disconnect(g.find("cat").id, "in2"), "cat (Concat): input in2 is not connected"),
    (lambda g: (g.set_param(g.find("fa").id, "out_features", 1_000_000), g.set_param(g.find("a").id, "shape", [4000])),
     "the model has 4,001,000,015 parameters (15 GB); at most 2,000,000,000 can be built"),
])
def test_a_graph_that_cannot_compile_says_why(edit, message):
    g = two_branch_graph()
    edit(g)
    with pytest.raises(CompileError) as caught:
        compile_graph(g)
    assert str(caught.value).startswith(message)


def test_compile_error_lists_every_problem():
    g = two_branch_graph()
    g.disconnect(g.find("fb").id, "in")
    g.set_param(g.find("a").id, "shape", [4, 4])
    g.connect(g.find("a").id, g.find("fb").id)  # fb now reads a (4x4): fine, but cat gets 4x5 and 4x4
    g.disconnect(g.find("side").id, "in")
    with pytest.raises(CompileError) as caught:
        compile_graph(g)
    assert caught.value.errors == ["cat (Concat): inputs must match except along dim 1: in1 is 4x5, in2 is 4x4",
                                   "side (Output): its input is not connected"]
    assert str(caught.value) == caught.value.errors[0] + " (and 1 more problem)"
