"""GRESO (Zheng et al., arXiv 2506.02177): skip, before rollout, prompts likely to give a zero-variance group.

Pure numpy. The per-prompt zero-variance streaks come from the ERPO tracker (one history, one checkpoint
file); :class:`~erpo.greso.selector.GRESOSelector` holds the adaptive keep probabilities. The simulator calls it
through :class:`erpo.erpo.controller.ERPOController` (``select``, ``update``, ``end_step``); the verl trainer through
its component (recipe/greso/component.py), with its own state file.
"""

from erpo.greso.config import GRESOConfig
from erpo.greso.selector import GRESOSelector, Selection

__all__ = ["GRESOConfig", "GRESOSelector", "Selection"]
