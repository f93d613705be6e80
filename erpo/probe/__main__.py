"""``python -m erpo.probe checkpoint=<HF folder or hub id> prompts=<verl parquet> grid=[1.0,1.2,1.4] n=8``."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from erpo.errors import InputError
from erpo.probe.run import run
from recipe.conf import CONF_DIR


@hydra.main(config_path=CONF_DIR, config_name="probe/probe", version_base=None)
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except InputError as err:
        print(f"erpo.probe: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
