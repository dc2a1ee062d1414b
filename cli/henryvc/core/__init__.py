"""The nouns: run names, run folders, run records, params.yaml, configs, verdicts, reviews, environments.

Each module owns one noun. Core imports adapters and henryvc.errors, never ops, api or commands; the
training stages (henryvc_training) stand on core alone."""
