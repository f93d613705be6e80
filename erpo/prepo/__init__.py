"""PREPO (Sun et al., arXiv 2511.00794): perplexity-scheduled prompt selection.

Pure Python + numpy, no torch/Ray/verl, so the schedule can be read and tested in isolation.
The relative-entropy weighted policy loss lives in ``recipe/prepo`` (it needs torch and verl).
"""
