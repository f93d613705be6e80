"""The runs a comparison covers: from W&B offline run files (no network) or from the W&B API (login).

Each run gives its W&B id, name and group (= variant), the config fields the report needs (model, seed, n)
and its history (step -> logged values), from which the dashboard learns which keys were logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from erpo.analysis.wandb_offline import read_wandb_file
from erpo.errors import InputError


@dataclass
class RunRecord:
    run_id: str
    name: str
    # W&B group: the variant (recipe/driver/startup.py sets it)
    group: str
    # config: model_name, seed, actor_rollout_ref.rollout.n (None when the run's config lacks them)
    model: str | None
    seed: int | None
    n: int | None
    # step -> {key: value}
    history: dict[int, dict] = field(repr=False)

    @property
    def keys(self) -> set[str]:
        return {key for row in self.history.values() for key in row if not key.startswith("_")}


def _record(run_id, name, group, config: dict, history: dict[int, dict]) -> RunRecord:
    if not group:
        raise InputError(
            f"W&B run {name!r} ({run_id}) has no group; the recipe sets group = variant "
            "(logger=wandb|offline), so this run was not logged by it"
        )
    rollout = (config.get("actor_rollout_ref") or {}).get("rollout") or {}
    seed, n = config.get("seed"), rollout.get("n")
    return RunRecord(
        str(run_id),
        str(name),
        str(group),
        config.get("model_name"),
        int(seed) if seed is not None else None,
        int(n) if n is not None else None,
        history,
    )


def offline_runs(root: str | Path) -> list[RunRecord]:
    """Every W&B offline run file (``run-<id>.wandb`` or a copy, ``*.wandb``) under ``root``, recursively.

    A resumed run writes one more offline folder under the same run id (``offline-run-<time>-<id>``): its files
    are merged into one run, in path order (the folder names start with the time), a later file's steps winning.
    """
    files = sorted(Path(root).rglob("*.wandb"))
    if not files:
        raise InputError(
            f"--offline-runs {root}: no W&B run files (*.wandb) there; runs with logger=offline write "
            "them under outputs/wandb/offline-run-*/"
        )
    merged: dict[str, dict] = {}
    for path in files:
        run = read_wandb_file(path)
        run_id = run.get("run_id") or path.stem
        if run_id in merged:
            for step, row in run["history"].items():
                merged[run_id]["history"].setdefault(step, {}).update(row)
        else:
            merged[run_id] = {**run, "name": run.get("name") or path.stem}
    return [
        _record(run_id, run["name"], run.get("group"), run.get("config") or {}, run["history"])
        for run_id, run in merged.items()
    ]


def api_runs(entity: str, project: str, groups: list[str] | None, api=None) -> list[RunRecord]:
    """Runs of ``entity/project`` in ``groups`` (all groups when None) through ``wandb.Api`` (needs a login)."""
    if api is None:
        import wandb

        try:
            api = wandb.Api()
        except Exception as error:  # wandb raises its own UsageError / AuthenticationError / connection errors
            raise InputError(
                f"W&B API unavailable ({error}); log in with `wandb login`, or read W&B offline run files with "
                "--offline-runs <folder>"
            ) from error
    filters = {"group": {"$in": list(groups)}} if groups else {}
    runs = []
    for run in api.runs(f"{entity}/{project}", filters=filters):
        rows = run.history(samples=100_000, pandas=False)
        history: dict[int, dict] = {}
        for row in rows:
            history.setdefault(int(row.get("_step", len(history))), {}).update(
                {k: v for k, v in row.items() if v is not None and v == v}
            )  # NaN: not logged
        runs.append(_record(run.id, run.name, run.group, dict(run.config), history))
    return runs
