"""The layer reference is written from the registry: every layer has one, with its params and worked examples."""
import pytest

from netbuilder.core.checks.reference import all_references, layer_reference
from netbuilder.core.layers import LAYERS, get_layer


@pytest.mark.parametrize("type_name", sorted(LAYERS))
def test_every_layer_is_documented(type_name):
    ref = layer_reference(type_name)
    assert len(ref.doc) > 40 and ref.doc != ref.summary
    assert [row.name for row in ref.params] == [p.name for p in LAYERS[type_name].params]
    assert len(ref.examples) == len(LAYERS[type_name].cases)


def test_conv2d_reference_reads_as_a_person_would_write_it():
    ref = layer_reference("Conv2d")
    assert ref.category == "Convolution" and ref.accepts == "channels x height x width (batch excluded)"
    assert ref.formula.startswith("H_out = floor((H + 2·padding")
    kernel = next(row for row in ref.params if row.name == "kernel_size")
    assert (kernel.kind, kernel.default, kernel.allowed) == ("2 whole numbers (one for all)", "3", "1 to 256")
    padding = next(row for row in ref.params if row.name == "padding")
    assert padding.kind == "2 whole numbers (one for all), or same / valid"
    assert ref.examples[0] == "3x16x16 → 16x14x14, 448 weights"
    assert ref.examples[1] == "1x28x28 → 6x28x28, 156 weights  (out_channels=6, kernel_size=5, padding=same)"


def test_merges_say_how_many_inputs_they_take_and_the_reference_is_in_palette_order():
    most = get_layer("Concat").param("inputs").max
    assert layer_reference("Concat").inputs == f"2 to {most} inputs (in1, in2, …), set by 'inputs'"
    assert layer_reference("Input").accepts == "nothing: data enters here"
    refs = all_references()
    assert len(refs) == len(LAYERS) and refs[0].type == "Input"
