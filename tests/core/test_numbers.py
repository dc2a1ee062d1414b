"""henryvc.core.numbers: what counts as a number in configs, metrics and tool output."""

from __future__ import annotations

import math

import pytest

from henryvc.core.numbers import as_float, as_int, is_number, parse_float


@pytest.mark.parametrize(("value", "number"), [(1, True), (1.5, True), (float("nan"), True), (True, False),
                                               (False, False), ("1", False), (None, False), ([1], False)])
def test_is_number_never_takes_a_bool_or_a_string(value, number):
    assert is_number(value) is number
    assert (as_float(value) is not None) is number


def test_as_float_converts_ints():
    assert as_float(3) == 3.0 and isinstance(as_float(3), float)


@pytest.mark.parametrize(("value", "expected"), [("1.25", 1.25), (2, 2.0), ("inf", math.inf), (None, None),
                                                 (True, None), ("loss", None), ({}, None)])
def test_parse_float_reads_strings_as_json_carries_them(value, expected):
    assert parse_float(value) == expected


def test_parse_float_reads_nan():
    assert math.isnan(parse_float("nan"))


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("81920", 81920), ("[N/A]", None), ("-1", None), ("", None)])
def test_as_int_takes_digits_only(text, expected):
    assert as_int(text) == expected
