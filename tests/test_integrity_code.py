"""Fault injection: the code under the seal, at every dispatch (issue 18, item 3).

A helper module the trial imports is sealed with it; a sealed file swapped
mid-sweep stops the sweep before the next dispatch; every run records the code
hash it ran, and `decide` refuses runs whose code no lock sealed; two
experiments whose modules share a name never run each other's file.
"""

from __future__ import annotations

import json
from pathlib import Path

from exante import ledger as L
from exante import registration
from runner_fixtures.harness import cli, terminal, write_plan

TRAIN = '''from pathlib import Path
import helper

def train(params, seed, ctx):
    once = Path(__file__).with_name("swapped-once")
    if params.get("swap") and not once.exists():  # what a hand edit 12 s into the sweep does
        once.write_text("x")
        path = Path(__file__).with_name("helper.py")
        path.write_text(path.read_text() + "\\nOFFSET = 100.0\\n")
    return {"score": helper.OFFSET + params["x"] + seed}
'''
HELPER = "OFFSET = 0.0\n"


def _plan(tmp_path: Path, name: str, **design) -> Path:
    folder = tmp_path / "experiments" / name
    folder.mkdir(parents=True)
    (folder / "train.py").write_text(TRAIN)
    (folder / "helper.py").write_text(HELPER)
    return write_plan(tmp_path, name, trial={"python": "train:train", "pythonpath": []},
                      design={"baseline": {"x": 0}, "arms": {"a": {"x": 1}}, "seeds": [1, 2],
                              **design})


def test_a_helper_module_the_trial_imports_is_sealed(tmp_path):
    plan = _plan(tmp_path, "helped")
    assert "import:helper.py" in registration.state(plan).fingerprints
    (plan.parent / "helper.py").write_text("OFFSET = 5.0\n")
    code, out = cli("run", plan, "--executor", "inline", "--quiet")
    assert code == 1 and "helper.py" in out, out
    assert terminal(plan) == []


def test_a_file_swapped_mid_sweep_stops_it_before_the_next_dispatch(tmp_path):
    plan = _plan(tmp_path, "swapped", fixed={"swap": True})
    code, out = cli("run", plan, "--executor", "inline", "--quiet")
    assert code == 1 and "changed during the sweep" in out, out
    assert "planned 4, already done 0, ran 1" in out  # the summary, then why it stopped
    assert len(terminal(plan)) == 1  # the run that swapped it; nothing after
    (plan.parent / "helper.py").write_text(HELPER)  # restored
    code, out = cli("run", plan, "--executor", "inline", "--quiet")
    assert code == 0, out
    hashes = {r["data"]["code_sha256"] for r in terminal(plan)}
    assert hashes == {registration.code_hash(registration.state(plan).fingerprints)}


def test_decide_refuses_a_run_of_code_no_lock_sealed(tmp_path):
    plan = _plan(tmp_path, "mixed")
    assert cli("run", plan, "--executor", "inline", "--quiet")[0] == 0
    ledger = L.Ledger(plan.parent / "ledger.jsonl")
    last = terminal(plan)[-1]["data"]
    ledger.append(L.RUN_OK, {**last, "code_sha256": "f" * 64})  # a swapped file's run
    code, out = cli("decide", plan)
    assert code == 1 and "no lock sealed" in out, out
    assert not (plan.parent / "result.json").exists()


def test_two_experiments_with_one_module_name_never_share_it(tmp_path):
    first = _plan(tmp_path, "first")
    assert cli("run", first, "--executor", "inline", "--quiet")[0] == 0
    folder = tmp_path / "experiments" / "second"
    folder.mkdir(parents=True)
    (folder / "train.py").write_text("def train(params, seed, ctx):\n"
                                     "    return {'score': 1000.0 + seed}\n")
    second = write_plan(tmp_path, "second", trial={"python": "train:train", "pythonpath": []},
                        design={"baseline": {"x": 0}, "arms": {"a": {"x": 1}}, "seeds": [1]})
    sealed = registration.state(second).fingerprints["code:train.py"]
    assert sealed == registration.seal.sha256_file(folder / "train.py")  # its own file
    assert cli("run", second, "--executor", "inline", "--quiet")[0] == 0
    assert {r["data"]["metrics"]["score"] for r in terminal(second)} == {1001.0}
    assert json.dumps(registration.state(first).fingerprints) != json.dumps(
        registration.state(second).fingerprints)


def test_a_command_script_and_what_it_runs_through_runpy_are_sealed(tmp_path):
    from exante import closure

    folder = tmp_path / "proj"
    (folder / "pkg").mkdir(parents=True)
    (folder / "run.py").write_text("import runpy\nfrom pkg import model\n"
                                   "runpy.run_path('stage2.py')\n")
    (folder / "stage2.py").write_text("import config\n")
    (folder / "config.py").write_text("LR = 1\n")
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "model.py").write_text("from . import layers\nimport numpy\n")
    (folder / "pkg" / "layers.py").write_text("")
    names = {p.relative_to(folder).as_posix()
             for p in closure.import_closure(folder / "run.py", [folder])}
    assert names == {"run.py", "stage2.py", "config.py", "pkg/__init__.py", "pkg/model.py",
                     "pkg/layers.py"}  # numpy (site-packages) is not the project's


def test_an_installed_dotted_trial_module_still_imports_as_a_package(tmp_path):
    from exante.closure import load_module

    assert load_module("json.decoder", [tmp_path]).__name__ == "json.decoder"
    assert load_module("json", [tmp_path]).__name__ == "json"


def test_an_import_added_to_a_file_already_read_is_followed(tmp_path):
    """The closure remembers what each file imports by its content: the same text is parsed
    once, an edited one is read again (the audit and a sweep's re-check run in one process)."""
    from exante.closure import import_closure

    (tmp_path / "train.py").write_text("import helper\n")
    (tmp_path / "helper.py").write_text("X = 1\n")
    (tmp_path / "extra.py").write_text("Y = 2\n")
    names = lambda: sorted(p.name for p in import_closure(tmp_path / "train.py", [tmp_path]))  # noqa: E731
    assert names() == ["helper.py", "train.py"]
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("train.py", "helper.py"):  # the same texts in another folder: its own files
        (copy / name).write_text((tmp_path / name).read_text())
    assert import_closure(copy / "train.py", [copy]) == sorted([(copy / "helper.py").resolve(),
                                                               (copy / "train.py").resolve()])
    (tmp_path / "helper.py").write_text("import extra\nX = 1\n")
    assert names() == ["extra.py", "helper.py", "train.py"]
