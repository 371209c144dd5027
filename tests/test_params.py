"""Typed params: every kind accepts what it should, refuses the rest with a readable reason."""
import math

import pytest

from netbuilder.core.layers import LAYERS, ParamError
from netbuilder.core.layers.spec import Bool, Choice, Float, Int, Ints


@pytest.mark.parametrize("param, value, expected", [
    (Int("n", 1, 1, 10), 5, 5),
    (Float("p", 0.5, 0.0, 1.0), 1, 1.0),
    (Bool("bias", True), False, False),
    (Choice("mode", "a", ("a", "b")), "b", "b"),
    (Ints("kernel_size", 3, 2, 1, 9), 5, 5),
    (Ints("kernel_size", 3, 2, 1, 9), [3, 5], [3, 5]),
    (Ints("kernel_size", 3, 2, 1, 9), (3, 5), [3, 5]),
    (Ints("padding", 0, 2, 0, 9, words=("same",)), "same", "same"),
    (Ints("shape", [1], min=1), 7, [7]),
    (Ints("stride", None, 2, 1, 9, optional=True), None, None),
])
def test_accepted_values_are_normalised(param, value, expected):
    assert param.check(value) == expected


@pytest.mark.parametrize("param, value, message", [
    (Int("n", 1, 1, 10), 0, "'n' must be between 1 and 10, got 0"),
    (Int("n", 1, 1), 0, "'n' must be at least 1, got 0"),
    (Int("n", 1), True, "'n' must be a whole number, got True"),
    (Int("n", 1), 2.5, "'n' must be a whole number, got 2.5"),
    (Int("n", 1), "3", "'n' must be a whole number, got '3'"),
    (Float("p", 0.5, 0.0, 1.0), 1.5, "'p' must be between 0 and 1, got 1.5"),
    (Float("p", 0.5), math.nan, "'p' must be a number, got nan"),
    (Float("p", 0.5), "x", "'p' must be a number, got 'x'"),
    (Bool("bias", True), 1, "'bias' must be true or false, got 1"),
    (Choice("mode", "a", ("a", "b")), "c", "'mode' must be one of a, b; got 'c'"),
    (Ints("kernel_size", 3, 2, 1, 9), [3, 3, 3], "'kernel_size' must have 2 values, got 3"),
    (Ints("kernel_size", 3, 2, 1, 9), [3, 0], "'kernel_size' must be between 1 and 9, got 0"),
    (Ints("kernel_size", 3, 2, 1, 9), "same", "'kernel_size' must be a whole number or a list of 2 whole numbers"),
    (Ints("kernel_size", 3, 2, 1, 9), [True, 1], "'kernel_size' must be a whole number or a list"),
    (Ints("shape", [1], min=1), [], "'shape' must be a list of whole numbers"),
    (Ints("shape", [1], min=1), list(range(1, 11)), "'shape' has 10 values; at most 8 are allowed"),
    (Ints("stride", None, 2, 1, 9), None, "'stride' must be set"),
])
def test_refused_values_say_why(param, value, message):
    with pytest.raises(ParamError) as caught:
        param.check(value)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("spec", LAYERS.values(), ids=list(LAYERS))
def test_every_default_passes_its_own_check(spec):
    for param in spec.params:
        assert param.check(param.default) == param.default, (spec.type, param.name)
    assert spec.help and spec.prefix, spec.type
