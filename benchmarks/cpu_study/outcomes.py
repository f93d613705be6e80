"""The study's mechanism outcomes, in table order, with the label each table prints (the analysis and the
simulator comparison read the same keys)."""

LABELS = {
    "frac_all_correct": "all-correct share",
    "frac_mixed": "mixed share",
    "frac_all_wrong": "all-wrong share",
    "effective_prompts_per_step": "effective prompts/step",
    "rollouts_per_effective_prompt": "rollouts per effective prompt",
    "revived_within_1": "revived within 1",
    "revived_within_2": "revived within 2",
}
