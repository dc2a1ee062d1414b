"""Operations: one module per thing a user does (archive, backup, restore, run, submit, ...).

Each returns data and never prints; henryvc.api calls them, and they stand on core and adapters.
"""

from henryvc.adapters import dvcrepo
from henryvc.core import params

# DVC fills dvc.yaml's ${run} from params.yaml: every operation's DVC repository is opened only after
# params.yaml's run passes the run-name grammar (tests/test_params_readers.py).
if params.active_run_or_none not in dvcrepo.BEFORE_OPEN:
    dvcrepo.BEFORE_OPEN.append(params.active_run_or_none)
