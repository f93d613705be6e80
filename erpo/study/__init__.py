"""CPU-scale ERPO study through verl's real trainer: task, model, regime check, runner, offline evaluation, analysis.

``python -m erpo.study build|run|analyse`` (see ``erpo/study/__main__.py``).
"""
