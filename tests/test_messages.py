"""torch's complaints in words: each rule of core/messages.py meets the message today's torch really raises."""
import pytest
import torch
import torch.nn.functional as F

from netbuilder.core.checks.messages import describe, explain, is_bug, translate
from netbuilder.core.checks.shapes import infer_shapes


def raised(work) -> str:
    """The text of the error that `work` makes torch raise."""
    with pytest.raises(Exception) as caught:
        work()
    return str(caught.value)


@pytest.mark.parametrize("layers, words", [
    ([("Input", {"shape": [64, 3, 3]}), ("Conv2d", {"kernel_size": 5})],
     "the 5x5 kernel is larger than its 3x3 input; lower the kernel or the pooling above it"),
    ([("Input", {"shape": [3, 6, 6]}), ("Conv2d", {"kernel_size": 3, "dilation": 3})],
     "the 3x3 kernel (spread to 7x7 by its dilation) is larger than its 6x6 input; lower the kernel or the pooling "
     "above it"),
    ([("Input", {"shape": [3, 4, 4]}), ("Conv2d", {"kernel_size": 7, "padding": 1})],
     "the 7x7 kernel is larger than its 4x4 input (6x6 with padding); lower the kernel or the pooling above it"),
    ([("Input", {"shape": [3, 4]}), ("Conv1d", {"kernel_size": 5})],
     "the kernel of size 5 is larger than its input of length 4; lower the kernel or the pooling above it"),
    ([("Input", {"shape": [6, 8, 8]}), ("Conv2d", {"groups": 3, "out_channels": 16})],
     "its 16 filters cannot be split into 3 groups; make out_channels a multiple of 3"),
    ([("Input", {"shape": [3, 2, 2]}), ("ConvTranspose2d", {"padding": 5})],
     "a padding of 5 removes more than the output has (from a 2x2 input); lower the padding"),
    ([("Input", {"shape": [3, 4, 4]}), ("AvgPool2d", {"kernel_size": 5})],
     "the 5x5 window is larger than its 4x4 input, so nothing is left; lower the kernel size, or the pooling above it"),
    ([("Input", {"shape": [3, 2]}), ("MaxPool1d", {"kernel_size": 4})],
     "the window of size 4 is larger than its input of length 2, so nothing is left; lower the kernel size, or the "
     "pooling above it"),
    ([("Input", {"shape": [3, 8, 8]}), ("MaxPool2d", {"kernel_size": 2, "padding": 2})],
     "a padding of 2 is more than half the 2x2 window; use at most 1"),
    ([("Input", {"shape": [3, 4, 4]}), ("Upsample", {"scale_factor": 0.1})],
     "scale 0.1 makes 4x4 into 0x0; the output needs at least 1x1"),
    ([("Input", {"shape": [3, 4, 4]}), ("Resize", {"by": "factor", "scale_factor": 0.1})],
     "its output would be empty (3x0x0) from its 3x4x4 input; raise its size or scale"),
])
def test_shape_inference_says_what_is_wrong_in_words(chain, layers, words):
    g, ids = chain(*layers)
    info = infer_shapes(g).nodes[ids[-1]]
    assert info.error == words
    assert "Calculated" not in info.message and "torch" not in info.message


@pytest.mark.parametrize("work, words", [
    (lambda: F.linear(torch.zeros(1, 640), torch.zeros(10, 256)), "expects 256 features per sample, receives 640"),
    (lambda: torch.zeros(1, 5) + torch.zeros(1, 4),
     "its inputs differ in size along dimension 1 (5 and 4); they must have the same shape"),
    (lambda: torch.zeros(1, 3).softmax(dim=3), "dimension 3 does not exist here: use -2 to 1 (0 is the batch)"),
    (lambda: torch.zeros(1, 784).reshape(1, 3, 5), "cannot give 784 values the shape 1x3x5"),
    (lambda: torch.nn.BatchNorm1d(4).train()(torch.zeros(1, 4)),
     "a batch of a single sample reached a BatchNorm, which needs at least 2 values per channel to normalize while "
     "training: choose a batch size that does not leave 1 sample in the last batch, or use LayerNorm"),
])
def test_messages_raised_at_run_time_are_translated_without_a_block(work, words):
    text = raised(work)
    assert translate(text) == words


def test_a_translated_runtime_error_is_a_users_error_not_a_bug():
    try:
        torch.nn.BatchNorm1d(4).train()(torch.zeros(1, 4))
    except ValueError as e:  # torch raises this one as a ValueError
        assert describe(e).startswith("a batch of a single sample reached a BatchNorm")
        assert not is_bug(e)
    assert is_bug(RuntimeError("something nobody has seen"))


def test_an_unknown_complaint_keeps_torchs_first_line_and_says_where_it_came_from():
    assert explain("weird thing happened\nat line 3", "Conv2d") == "PyTorch cannot run this block: weird thing happened"

