"""The run plan of a composed config, without Ray: ``python -m recipe.driver.show_plan <same overrides as training>``.

Composes ``recipe/conf/train.yaml`` with the given overrides exactly as ``python -m recipe.driver.train`` does, counts
the training parquet (:mod:`recipe.driver.plan_of_config`), prints :func:`erpo.plan.format_plan`, and refuses
what the start-up plan refusals (:func:`recipe.erpo.refusals.plan_refusals`) refuse, without starting Ray.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys

from omegaconf import OmegaConf

from erpo.plan import format_plan
from recipe.driver.compose import compose
from recipe.driver.plan_of_config import plan_of, train_files


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    config = compose(argv)
    if config.data.get("name") == "toy" and train_files(config) == [str(config.assets.toy_train_file)]:
        # Start-up (re)writes the toy parquet from the config; count the one this config would write, in a
        # temporary folder (a file left by another config may have another size).
        import tempfile

        from omegaconf import open_dict

        from erpo.tiny import write_toy_parquet

        tmp = tempfile.mkdtemp(prefix="erpo-plan-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        path = os.path.join(tmp, "toy_train.parquet")
        write_toy_parquet(path, n=int(config.assets.toy_train_rows), seed=int(config.assets.get("seed", 0)))
        with open_dict(config):
            config.data.train_files = path
    missing = [p for p in train_files(config) if not os.path.exists(p)]
    if missing:
        print(
            f"show_plan: data.train_files {missing} not found; prepare them with `python -m erpo.data` first.",
            file=sys.stderr,
        )
        return 2
    from erpo.errors import InputError
    from recipe.erpo.refusals import ConfigRefused, plan_refusals

    try:
        plan, inputs = plan_of(config)
    except InputError as err:
        print(f"show_plan: {err}", file=sys.stderr)
        return 2
    print(format_plan(plan, inputs))
    print(f"  config               {OmegaConf.select(config, 'variant')} / {config.trainer.experiment_name}")
    try:
        plan_refusals(config, plan, inputs)
    except ConfigRefused as err:
        print(f"erpo: config refused: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
