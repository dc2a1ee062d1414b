"""henryvc.errors: one base, and the exit code each kind of failure carries (henryvc.exits maps from it)."""

from __future__ import annotations

import inspect

import pytest

from henryvc import errors

KINDS = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]


def test_every_error_is_a_henryvc_error():
    assert len(KINDS) > 5
    assert all(issubclass(kind, errors.HenryvcError) for kind in KINDS)


@pytest.mark.parametrize(("kind", "code"), [(errors.HenryvcError, 1), (errors.BadInput, 2), (errors.RunNotFound, 2),
                                            (errors.NotAProject, 1), (errors.RunExists, 1), (errors.Busy, 1)])
def test_bad_input_is_2_and_a_failure_is_1(kind, code):
    assert kind("x").exit_code == code


def test_reported_may_be_silent_and_carries_its_own_code():
    assert str(errors.Reported()) == "" and errors.Reported().exit_code == 1
    done = errors.Reported("2 checks failed", exit_code=4)
    assert (str(done), done.exit_code) == ("2 checks failed", 4)
    assert errors.HenryvcError.exit_code == 1  # setting one instance's code leaves the class alone
