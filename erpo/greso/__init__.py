"""GRESO (Zheng et al., arXiv 2506.02177): skip, before rollout, prompts likely to give a zero-variance group.

Pure numpy. The per-prompt zero-variance streaks come from the ERPO tracker, read through its published
``prompt_history`` view (``ERPOController.history()``; erpo/components.py), never from the controller itself;
:class:`~erpo.greso.selector.GRESOSelector` holds the adaptive keep probabilities and its own state. The simulator
composes it beside the controller in erpo/sim/greso.py; the verl trainer through its component
(recipe/greso/component.py), with its own state file.
"""

from erpo.greso.config import GRESOConfig
from erpo.greso.selector import GRESOSelector, Selection

__all__ = ["GRESOConfig", "GRESOSelector", "Selection"]
