"""ERPO's pure core (arXiv 2511.04800): the per-prompt history, the temperature schedules, the controller.

- ``tracker``, ``prompt_table``, ``tracker_state``: each prompt's recent outcomes, streak and temperature, in
  compact numpy rows, and their checkpoint format;
- ``temperature``: how a prompt's temperature moves after a visit (the schedule registry);
- ``config``: the ``erpo`` Hydra node (ERPOConfig, its temperature and RA sections);
- ``controller``: tracker + temperature policy behind the calls a training loop makes;
- ``correctness``: the one definition of a correct response (tracker, RA, DAPO's filter under RA);
- ``metrics``: the ``erpo/`` metrics of a step.

The verl glue is ``recipe/erpo/``; the component protocol every data-side method follows is ``erpo.components``.
"""
