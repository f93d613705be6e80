"""A W&B comparison of a sweep or a paper table as code: `python -m erpo.analysis.dashboard` (docs/dashboard.md).

catalogue: sections and panels; sources: runs from offline files or the W&B API; spec: the JSON specification;
report: the paper table and mechanism numbers; wandb_objects: W&B's own workspace and report models, and saving.
"""
