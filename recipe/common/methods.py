"""The built-in data-side methods: importing this module registers each with erpo.components.

Order in a run comes from each method's ``order`` (rollout accounting, then prompt selectors, then ERPO's
temperatures), not from this list. A method of one's own registers from its own folder, named in the
config list ``method_modules`` (docs/adding-a-method.md).
"""

from recipe.erpo import component as erpo_component  # noqa: F401  (registers "erpo")
from recipe.greso import component as greso_component  # noqa: F401  (registers "greso")
from recipe.prepo import component as prepo_component  # noqa: F401  (registers "prepo")
from recipe.rollouts import component as rollouts_component  # noqa: F401  (registers "rollouts")
