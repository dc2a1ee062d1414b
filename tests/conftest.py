"""Fixtures reach the tests as plugins (tests/helpers/); helpers are imported from tests.helpers.<noun>."""

pytest_plugins = [
    "tests.helpers.project",
    "tests.helpers.reliability",
    "tests.helpers.container",
    "tests.helpers.sshd",
    "tests.helpers.listening",
    "tests.helpers.tiers",
    "tests.helpers.slurm",
]
