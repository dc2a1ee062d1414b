"""The run-name grammar: round trips, ordering and hostile input."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from henryvc.core import runname
from henryvc.errors import BadInput

stamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda d: d.replace(microsecond=0))
names = st.builds(runname.build, st.integers(0, runname.MAX_MAJOR), st.sampled_from(runname.VARIANTS), stamps)


@given(names)
def test_parse_of_build_is_identity(name):
    assert runname.parse(str(name)) == name
    assert runname.is_run_name(str(name))
    assert len(str(name)) <= runname.MAX_LENGTH


@given(names, names)
def test_order_follows_creation_time(a, b):
    if a.stamp != b.stamp:
        assert (a < b) == (a.stamp < b.stamp)


# Any text, and every string of the name's shape (digits that may not make a date, years below 1000):
# parse either refuses it or gives back a name that prints as exactly that text.
@given(st.one_of(st.text(max_size=60), st.from_regex(runname._PATTERN)))
def test_parse_accepts_only_what_build_makes(text):
    try:
        name = runname.parse(text)
    except BadInput:
        return
    assert str(name) == text


def test_example():
    name = runname.parse("henry_v2_stable_20261124_101500")
    assert (name.major, name.variant, name.stamp) == (2, "stable", datetime(2026, 11, 24, 10, 15))


@pytest.mark.parametrize("text", [
    "henry_v2_stable_20261124_101500/..", "../henry_v2_stable_20261124_101500", "-henry_v2_stable_20261124_101500",
    "henry_v2_stable_20261124_101500 ", "henry v2_stable_20261124_101500", "henry_v2_stäble_20261124_101500",
    "henry_v2_stable_20261124_101500\n", "henry_v02_stable_20261124_101500", "henry_v2_nightly_20261124_101500",
    "henry_v2_stable_20261324_101500", "henry_v2_stable_20261124_246000", "henry_v2_stable_2026112_101500",
    "henry_v2_stable_20261124_101500" + "x" * 270, "", "henry_v1000_stable_20261124_101500",
    "HENRY_V2_STABLE_20261124_101500", "henry_v2_stable_20260230_101500",
    "henry_v2_stable_09991124_101500", "henry_v2_stable_00001124_101500",
])
def test_hostile_or_malformed_names_are_refused(text):
    with pytest.raises(BadInput):
        runname.parse(text)


@pytest.mark.parametrize("major,variant", [(-1, "stable"), (1000, "stable"), (True, "debug"), (2, "nightly"), (2, "")])
def test_build_refuses_bad_parts(major, variant):
    with pytest.raises(BadInput):
        runname.build(major, variant, datetime(2026, 1, 1))


@given(stamps)
def test_snapshot_names_never_parse_as_run_names(stamp):
    name = runname.snapshot_name(stamp)
    assert runname.is_snapshot_name(name) and not runname.is_run_name(name)
