"""Hydra applications as trials, through Hydra's compose API (exante[hydra]).

    trial:
      hydra: {config_path: conf, config_name: config, task_function: train:main}

For each run the worker composes `config_path/config_name.yaml` with the
run's parameters and seed as Hydra overrides (`depth=4`, or `+depth=4` for a
key the config does not have) and calls `task_function(cfg)`, which returns
the metrics dict. A function decorated with `@hydra.main` works as it is
(Hydra passes a given config straight through). The config folder's YAML
files are sealed with the plan, like the task function's module.

A Hydra app can also run as a plain command trial, with
`hydra.run.dir={run_dir}` among its overrides (see the README).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import PlanError
from . import require


def parse_spec(r: Any, node: Any) -> tuple[str, dict[str, str]]:
    """`trial.hydra` from the plan: (task function target, {config_path, config_name})."""
    from ..spec import TARGET_RE

    h = r.mapping(node, "trial.hydra", ("config_path", "config_name", "task_function"))
    path = r.string(h.get("config_path"), "trial.hydra.config_path", required=True)
    name = r.string(h.get("config_name"), "trial.hydra.config_name", required=True)
    target = r.string(h.get("task_function"), "trial.hydra.task_function", required=True)
    if not TARGET_RE.match(target):
        raise r.fail("trial.hydra.task_function", "'module:function'", target)
    folder = Path(r.file).parent / path
    if Path(path).is_absolute() or ".." in Path(path).parts:
        raise r.fail("trial.hydra.config_path", "a folder inside the plan's folder", path)
    stem = name[:-5] if name.endswith(".yaml") else name
    if not (folder / f"{stem}.yaml").is_file():
        raise PlanError(f"no config {folder / (stem + '.yaml')}; expected config_path (relative "
                        "to the plan) and config_name (without .yaml)", file=r.file,
                        path="trial.hydra")
    return target, {"config_path": path, "config_name": stem}


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    return text if text.replace("_", "").replace("-", "").replace(".", "").isalnum() \
        else "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def overrides(base: Any, params: Mapping[str, Any], seed: int) -> list[str]:
    """Hydra overrides for one run: `key=value`, or `+key=value` for a key `base` lacks."""
    from omegaconf import OmegaConf

    out = []
    for key, value in {**params, "seed": seed}.items():
        known = OmegaConf.select(base, key, default="\0missing") != "\0missing"
        out.append(f"{'' if known else '+'}{key}={_value(value)}")
    return out


def run_hydra(task: Any, fn: Callable) -> list[Any]:
    """Compose each run's config and call the task function; one Outcome per run."""
    from ..trials import (_exception_text, _finish, _reset_peak_rss, failed, failure_kind,
                          passes_through, worker_environment)

    env = worker_environment()
    try:
        require("hydra", "hydra")
        from hydra import compose, initialize_config_dir
    except Exception as exc:  # the trial's failure is a record, not ours
        return [failed(r.run_id, "exception", str(exc), env=env) for r in task.runs]
    conf = str((Path(task.plan_dir) / task.trial.hydra["config_path"]).resolve())
    name = task.trial.hydra["config_name"]
    outcomes = []
    for run in task.runs:
        Path(run.run_dir).mkdir(parents=True, exist_ok=True)
        _reset_peak_rss()
        start = time.perf_counter()
        try:
            with initialize_config_dir(config_dir=conf, version_base=None, job_name=run.run_id):
                base = compose(config_name=name)
                cfg = compose(config_name=name, overrides=overrides(base, run.params, run.seed))
            raw = fn(cfg)
        except BaseException as exc:
            if passes_through(exc):
                raise
            outcomes.append(failed(run.run_id, failure_kind(exc), _exception_text(exc),
                                   wall_s=time.perf_counter() - start, env=env))
            continue
        outcomes.append(_finish(run, raw, task.metric_names, time.perf_counter() - start, env))
    return outcomes
