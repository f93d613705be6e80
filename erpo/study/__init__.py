"""CPU-scale ERPO study through verl's real trainer (issue 12): task, model, runner, analysis.

``python -m erpo.study build|run|analyse`` (see ``erpo/study/__main__.py``).
"""
