"""Evaluation harness: avg@k and unbiased pass@k per benchmark (``python -m erpo.eval``)."""
