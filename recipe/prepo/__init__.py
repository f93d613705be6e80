"""verl glue for PREPO. Importing ``recipe.prepo.loss`` registers the policy loss
``prepo_entropy_weighted`` in verl's POLICY_LOSS_REGISTRY."""
