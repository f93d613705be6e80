"""verl glue for GRESO (recipe/greso/component.py): skip predicted zero-variance prompts before rollout."""
