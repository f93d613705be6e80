"""Registrations every verl process needs; imported through ``VERL_USE_EXTERNAL_MODULES``.

``import verl`` imports the modules named there in the driver, the task runner, the agent-loop
workers and the engine workers alike, so the agent loop, advantage estimator and PREPO policy loss are known
wherever verl looks them up.
"""

from recipe.erpo import agent_loop, reactivation  # noqa: F401  (register on import)
from recipe.prepo import loss  # noqa: F401  (registers policy loss prepo_entropy_weighted)
