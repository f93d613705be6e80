"""``python -m erpo.sim [key=value ...]``: table to stdout, JSON + PNG to the run directory."""

from __future__ import annotations

import json
import os
import time

import hydra
from omegaconf import DictConfig, OmegaConf

from erpo.components import import_method_modules
from erpo.sim.model import SimConfig, run_variants
from recipe.conf import CONF_DIR

SIM_CONF_DIR = os.path.join(CONF_DIR, "sim")


def markdown_table(result: dict) -> str:
    rows = [
        "| variant | steps | effective prompts/step | rollouts | rollouts per effective prompt | candidates "
        "| skipped | all-correct (last 10) | mean T | revived |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, v in result["variants"].items():
        s = v["summary"]
        skipped = f"{s['skipped_share_of_candidates']:.3f}" if "skipped_share_of_candidates" in s else "-"
        cells = [
            name,
            f"{s['steps']:.0f}",
            f"{s['effective_prompts_per_step']:.1f}",
            f"{s['total_rollouts']:.0f}",
            f"{s['rollouts_per_effective_prompt']:.2f}",
            f"{s['total_candidates']:.0f}",
            skipped,
            f"{s['final_frac_all_correct']:.3f}",
            f"{s['mean_temperature']:.3f}",
            f"{s['mean_revived_frac']:.3f}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ["effective_prompts", "frac_all_correct", "temperature_mean", "rollouts_per_effective"]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2))
    for ax, key in zip(axes, keys, strict=True):
        for name, v in result["variants"].items():
            ax.plot(v["series"][key], label=name)
        ax.set_title(key)
        ax.set_xlabel("step")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@hydra.main(config_path=SIM_CONF_DIR, config_name="sim", version_base=None)
def main(config: DictConfig) -> None:
    raw = OmegaConf.to_container(config, resolve=True)
    variants, out_dir = raw.pop("variants"), raw.pop("out_dir")
    import_method_modules({"method_modules": raw.pop("method_modules", [])})
    start = time.perf_counter()
    result = run_variants(SimConfig(**raw), variants)
    result["seconds"] = time.perf_counter() - start
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "sim.json"), "w") as f:
        json.dump(result, f)
    plot(result, os.path.join(out_dir, "sim.png"))
    print(markdown_table(result))
    length = f"{raw['rollout_budget']} rollouts" if raw.get("rollout_budget") else f"{raw['steps']} steps"
    print(
        f"\n{len(variants)} variants x {length} x {raw['num_prompts']} prompts in "
        f"{result['seconds']:.1f} s; written to {out_dir}/sim.json, sim.png"
    )


if __name__ == "__main__":
    main()
