"""Adapters: the only code that calls git (GitPython), DVC, the container engine (Docker API) and SLURM.

They speak in commits, tags, outputs, objects, images and jobs, and import nothing of henryvc above them
(only the exception base, henryvc.errors, and each other)."""
