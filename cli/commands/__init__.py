"""Click glue: each module declares commands that only parse, call one function and format.

Each module listed here exposes COMMANDS, a list of click commands or groups.
"""

COMMAND_MODULES = ("registry", "pipeline", "lifecycle", "docker")
