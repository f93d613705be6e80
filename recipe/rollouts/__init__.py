"""Rollout accounting as a data-side component on verl's trainer (pure counter: erpo/rollouts/)."""
