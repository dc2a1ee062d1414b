"""Click glue: each module declares commands that only parse, call one function and format.

Each module listed here exposes COMMANDS, a list of click commands or groups. COMMAND_MODULES names,
for every top-level command, the module that declares it, so that the root group imports only the
module of the command being run (`henryvc list` does not pay for the lifecycle or docker glue).
"""

COMMAND_MODULES = {
    "init": "registry", "validate": "registry", "new-run": "registry", "tag-run": "registry",
    "list": "registry", "show": "registry", "diff": "registry", "restore": "registry", "verify": "registry",
    "run": "pipeline", "resume": "pipeline",
    "archive": "lifecycle", "cleanup-failed": "lifecycle", "reset": "lifecycle", "backup": "lifecycle",
    "snapshot": "lifecycle", "schedule": "lifecycle", "logs": "lifecycle", "tensorboard": "lifecycle",
    "status": "lifecycle", "doctor": "lifecycle",
    "docker": "docker",
    "review": "review", "report": "review",
    "recreate": "recreate", "env": "recreate",
}
