"""The driver: the process that composes the config, refuses what cannot run, and starts verl.

``train`` launches a run (``python -m recipe.driver.train``, installed as ``erpo-train``), ``startup``
prepares assets and the environment before Ray starts, ``compose`` finds the project's config tree,
``plan_of_config`` and ``show_plan`` give the run plan without Ray, and ``sweep_dir`` names multirun
folders. The algorithms' own code lives elsewhere: pure in ``erpo/``, their verl glue in ``recipe/<method>/``.
"""
