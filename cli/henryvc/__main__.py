"""`python -m henryvc`: the same entry point, and the same exit codes, as the `henryvc` console script."""

from henryvc.main import entry

entry()
