"""The executor registry: the runner and the CLI read it; a package adds one by entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from exante import executors
from exante.errors import InputError
from exante.executors.base import ExecutorOptions

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import PLAN, TRIAL, invoke  # noqa: E402


def test_builtins_and_unknown():
    assert executors.names()[:4] == ("inline", "local", "ray", "slurm")
    assert type(executors.make_executor("inline", ExecutorOptions())).__name__ == "InlineExecutor"
    with pytest.raises(InputError, match="unknown executor 'nope'; expected one of inline"):
        executors.make_executor("nope", ExecutorOptions())


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "counting_exec.py").parent.mkdir(parents=True)
    (site / "counting_exec.py").write_text(
        "from exante.executors.inline import InlineExecutor\n"
        "BUILT = []\n"
        "class CountingExecutor(InlineExecutor):\n"
        "    def __init__(self, options):\n"
        "        BUILT.append(dict(options.extra))\n"
        "        super().__init__(options)\n")
    dist = site / "counting_exec-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: counting-exec\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{executors.ENTRY_POINTS}]\ncounting = counting_exec:CountingExecutor\n")
    monkeypatch.syspath_prepend(str(site))
    executors.reload()
    yield
    monkeypatch.undo()
    executors.reload()


def test_an_installed_executor_runs_from_the_cli_with_opts(tmp_path, third_party):
    import counting_exec

    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "reg_trial.py").write_text(TRIAL)
    plan = folder / "prereg.yaml"
    plan.write_text(PLAN.format(eid="reg", hypothesis="lr 2 helps", module="reg_trial",
                                extra=""))
    assert invoke("lock", plan).exit_code == 0
    result = invoke("run", plan, "--executor", "counting", "--opt", "budget=3",
                    "--opt", "label=a=b", "--quiet")
    assert result.exit_code == 0, result.output
    assert "ran 6 (ok 6, failed 0)" in result.output
    assert counting_exec.BUILT == [{"budget": 3, "label": "a=b"}]


def test_cli_refuses_an_unknown_executor_and_a_bad_opt(tmp_path):
    result = invoke("run", tmp_path / "x.yaml", "--executor", "nope")
    assert result.exit_code == 2 and "'nope' is not an executor" in result.output
    result = invoke("run", tmp_path / "x.yaml", "--opt", "novalue")
    assert result.exit_code == 2 and "expected KEY=VALUE" in result.output
