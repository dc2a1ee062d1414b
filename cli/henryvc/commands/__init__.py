"""Click glue: each module declares commands that only parse, call one function and format.

Each module listed here exposes COMMANDS, a list of click commands or groups. COMMAND_MODULES names,
for every top-level command, the module that declares it, so that the root group imports only the
module of the command being run (`henryvc list` does not pay for the lifecycle or docker glue).
"""

COMMAND_MODULES = {
    "init": "project", "validate": "project",
    "new-run": "runs", "list": "runs", "show": "runs", "diff": "runs",
    "tag-run": "runtag",
    "restore": "restore", "verify": "restore",
    "run": "pipeline", "resume": "pipeline",
    "archive": "maintenance", "cleanup-failed": "maintenance", "reset": "maintenance",
    "backup": "backup", "snapshot": "backup", "schedule": "backup",
    "logs": "monitor", "tensorboard": "monitor", "status": "monitor", "doctor": "monitor",
    "docker": "docker",
    "review": "review", "report": "review",
    "recreate": "recreate", "env": "recreate",
    "submit": "cluster", "jobs": "cluster", "cancel": "cluster",
}
