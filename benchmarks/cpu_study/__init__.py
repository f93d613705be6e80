"""CPU-scale ERPO study through verl's real trainer: task, model, regime check, runner, offline evaluation, analysis.

``python -m benchmarks.cpu_study build|run|analyse`` (see ``benchmarks/cpu_study/__main__.py``).
"""
