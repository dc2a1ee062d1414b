"""henryvc: version control and reproducibility for Henry Voice training runs."""

__version__ = "0.1.0"
