"""``python -m erpo.eval checkpoint=<hub id or path> benchmarks=[math500,aime24] k=16``."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from erpo.eval.generate import make_generator
from erpo.eval.runner import evaluate
from recipe.conf import CONF_DIR


def run(cfg: DictConfig) -> list[dict]:
    generator = make_generator(cfg.backend, cfg.checkpoint, cfg.seed, cfg.dtype)
    results = [evaluate(generator, cfg.checkpoint, b, cfg) for b in cfg.benchmarks]
    for r in results:
        m = r["metrics"]
        print(
            f"{r['benchmark']}: avg@{cfg.k} = {m['avg@k']:.4f} [{m['avg@k_ci_low']:.4f}, {m['avg@k_ci_high']:.4f}]"
            f"  pass@k: "
            + ", ".join(f"{k}={m[f'pass@{k}']:.4f}" for k in cfg.pass_k if f"pass@{k}" in m)
            + f"  mean tokens {m['mean_response_tokens']:.1f}"
        )
    if cfg.wandb.enabled:
        import wandb

        run = wandb.init(
            project=cfg.wandb.project,
            group=cfg.variant,
            job_type="eval",
            name=cfg.run_name,
            mode=cfg.wandb.mode,
            config={"model": cfg.checkpoint, "k": cfg.k},
        )
        run.log({f"eval/{r['benchmark']}/{k}": v for r in results for k, v in r["metrics"].items()})
        run.finish()
    return results


# The project's conf root: eval/eval.yaml takes its sampling preset from the shared recipe/conf/sampling group.
@hydra.main(config_path=CONF_DIR, config_name="eval/eval", version_base=None)
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
