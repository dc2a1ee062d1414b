"""Where henryvc's own files are: its source tree and the templates it ships (no imports of its own, so any
module may ask: project, codeid, container, envbuild)."""

from __future__ import annotations

from pathlib import Path

# The henryvc source tree (editable install: the Dockerfile's build context).
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # cli/henryvc/paths.py
# The default pipeline and config templates, shipped as package data (any install, the image too).
TEMPLATES = Path(__file__).resolve().parent / "templates"
