"""The tests' access to docs/metrics.md, the one list of logged metrics: the package's own reader
(erpo.analysis.metric_list), so the tests and the dashboard read the list one way."""

from erpo.analysis.metric_list import DOC, documented_patterns, undocumented

__all__ = ["DOC", "documented_patterns", "undocumented"]
