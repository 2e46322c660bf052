"""Shared fixtures. Keep this small: a fixture belongs here only when two test files use it.

    cli              run `exante ARGS...` in-process (click's CliRunner); returns the Result
    make_plan        write an executable, unsealed prereg.yaml plus its trial module
    registry         a private copy of tests/fixtures/registry for one test
    shared_registry  one copy for all tests of a module (for tests that only read it)

Other helpers live in tests/fixtures/records_helpers.py (`invoke`, the CLI with the record
commands; `make_experiment`; golden files; headless Chromium).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
import yaml

# tests/fixtures holds the shared helpers (records_helpers); every test module may import them
sys.path.insert(0, str(Path(__file__).parent / "fixtures"))

TRIAL_CODE = '''def train(params, seed, ctx):
    return {"score": float(params.get("x", 0)) + 0.01 * seed}
'''


@pytest.fixture
def cli():
    """`cli("lock", path)` -> click Result with exit_code, stdout, stderr (separate streams)."""
    from records_helpers import invoke

    return invoke


def base_plan(experiment_id: str, module: str) -> dict:
    """A small executable plan: baseline x=0 vs one arm x=1, three seeds, a threshold rule."""
    return {
        "experiment_id": experiment_id,
        "hypothesis": "setting x to 1 raises the score",
        "metrics": {"primary": {"name": "score", "direction": "higher"}},
        "design": {"baseline": {"x": 0}, "arms": {"treated": {"x": 1}}, "seeds": [1, 2, 3]},
        "trial": {"python": f"{module}:train"},
        "decision": {"rule": "threshold", "acceptance": "experiment.mean > baseline.mean"},
    }


def plan_text(plan: dict) -> str:
    """YAML for `plan` with the seal field seed 000's regex needs (safe_dump would write '')."""
    return yaml.safe_dump(plan, sort_keys=False) + 'sha256: ""\n'


@pytest.fixture
def make_plan(tmp_path):
    """make_plan(experiment_id="demo", **top_level_overrides) -> experiments/<id>/prereg.yaml.

    The trial module gets a unique name, because trials run in-process (inline executor)
    and Python caches modules by name for the whole test session.
    """

    def make(experiment_id: str = "demo", **overrides) -> Path:
        module = f"trial_{uuid.uuid4().hex[:12]}"
        folder = tmp_path / "experiments" / experiment_id
        folder.mkdir(parents=True)
        (folder / f"{module}.py").write_text(TRIAL_CODE, encoding="utf-8")
        plan = {**base_plan(experiment_id, module), **overrides}
        path = folder / "prereg.yaml"
        path.write_text(plan_text(plan), encoding="utf-8")
        return path

    return make


@pytest.fixture
def registry(tmp_path) -> Path:
    """A private copy of the checked-in registry (tests/fixtures/registry)."""
    return _copy_registry(tmp_path / "registry")


@pytest.fixture(scope="module")
def shared_registry(tmp_path_factory) -> Path:
    """One copy of the checked-in registry shared by a module's tests."""
    return _copy_registry(tmp_path_factory.mktemp("registry") / "registry")


def _copy_registry(dest: Path) -> Path:
    from records_helpers import copy_registry

    return copy_registry(dest)
