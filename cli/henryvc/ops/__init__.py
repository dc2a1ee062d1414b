"""Operations: one module per thing a user does (archive, backup, restore, run, submit, ...).

Each returns data and never prints; henryvc.api calls them, and they stand on core and adapters.
"""

from henryvc import exits
from henryvc.adapters import dvcfiles, dvcrepo
from henryvc.core import params

# DVC fills dvc.yaml's ${run} from params.yaml: every operation's DVC repository is opened only after
# params.yaml's run passes the run-name grammar (tests/cli/test_params_readers.py).
if params.active_run_or_none not in dvcrepo.BEFORE_OPEN:
    dvcrepo.BEFORE_OPEN.append(params.active_run_or_none)

# DVC refusing one of the user's files (.dvc/config, dvc.lock, a .dvc file) is bad input, exit 2, named with its
# file and line, from every entry point (henryvc and `python -m henryvc...`): tests/cli/test_user_files.py.
if dvcfiles.user_error not in exits.USER_ERRORS:
    exits.USER_ERRORS.append(dvcfiles.user_error)

