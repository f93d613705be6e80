"""Temperature probe (``python -m erpo.probe``): what raising T does to prompts all correct at the base temperature,
against a second draw at the base temperature (the control). docs/probe.md."""
