"""verl glue for GRESO (recipe/greso/schedule.py): skip predicted zero-variance prompts before rollout."""
