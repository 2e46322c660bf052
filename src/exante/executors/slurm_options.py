"""The Slurm executor's options: `ExecutorOptions.extra` over a `profile` file, checked.

The keys and what they mean are listed in `slurm`'s docstring.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError

_SBATCH_KEYS = ("partition", "time_min", "cpus_per_task", "gpus_per_task", "mem_gb", "account",
                "qos", "constraint", "setup")
KNOWN_OPTIONS = ("cluster", "folder", "poll_s", "profile", *_SBATCH_KEYS)


def load_settings(extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` merged over its `profile` file, checked key by key."""
    settings: dict[str, Any] = {}
    if extra.get("profile"):
        settings.update(_read_profile(Path(extra["profile"])))
    settings.update({k: v for k, v in extra.items() if k != "profile"})
    unknown = sorted(set(settings) - set(KNOWN_OPTIONS))
    if unknown:
        raise InputError(f"slurm executor: unknown option(s) {unknown}; expected some of "
                         f"{', '.join(KNOWN_OPTIONS)}")
    for key in ("time_min", "poll_s", "mem_gb"):
        if key in settings and not (_is_number(settings[key]) and settings[key] > 0):
            raise InputError(f"slurm executor: {key}: expected a positive number, "
                             f"got {settings[key]!r}")
    for key in ("cpus_per_task", "gpus_per_task"):
        if key in settings and not (isinstance(settings[key], int) and settings[key] >= 0):
            raise InputError(f"slurm executor: {key}: expected a whole number, "
                             f"got {settings[key]!r}")
    if settings.get("cluster", "slurm") not in ("slurm", "local", "auto"):
        raise InputError(f"slurm executor: cluster: expected slurm, local or auto, "
                         f"got {settings['cluster']!r}")
    return settings


def _read_profile(path: Path) -> dict[str, Any]:
    import yaml  # JSON is YAML too

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"slurm executor: profile {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"slurm executor: profile {path}: not valid YAML or JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(f"slurm executor: profile {path}: expected a mapping of options")
    if "profile" in data:
        raise InputError(f"slurm executor: profile {path}: a profile cannot name another profile")
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
