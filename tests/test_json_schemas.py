"""`--json` on every verb that prints data: one JSON object on stdout, first key
``"schema": "exante.<verb>/1"``, valid against the verb's documented JSON Schema; errors stay one
line on stderr with exit 1 (refusal) or 2 (input), and nothing on stdout.

A verb added to the CLI with a `--json` flag fails `test_every_json_verb_has_a_schema_and_docs`
until it has ``src/exante/agent/schemas/<verb>.json`` and a section in docs/json-schemas.md,
and `test_every_json_verb_is_exercised` until a test here (or the one named in ELSEWHERE)
validates its real output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

from exante.agent import load_schema, schema_names  # noqa: E402
from exante.cli import main  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs" / "json-schemas.md"
EXERCISED = {"init", "lock", "verify", "amend", "run", "status", "decide", "log", "report",
             "postmortem", "rollup", "audit", "import", "export"}
ELSEWHERE = {"demo": "tests/test_demo.py", "skill": "tests/test_agent_skill.py",
             "pilot": "tests/test_pilots.py"}
TRIAL = 'def train(params, seed, ctx):\n    return {"val_loss": 1.0 + (seed % 7) / 100}\n'


def json_verbs() -> list[str]:
    return sorted(name for name, cmd in main.commands.items()
                  if any("--json" in p.opts for p in cmd.params))


def check(result, verb: str, code: int = 0) -> dict:
    """The record printed by `exante VERB ... --json`, checked against its schema."""
    assert result.exit_code == code, result.output
    record = json.loads(result.stdout)
    assert next(iter(record)) == "schema" and record["schema"] == f"exante.{verb}/1"
    errors = sorted(jsonschema.Draft202012Validator(load_schema(verb)).iter_errors(record),
                    key=lambda e: list(e.path))
    assert not errors, f"{verb}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors)
    return record


def test_every_json_verb_has_a_schema_and_docs():
    docs = DOCS.read_text(encoding="utf-8")
    for verb in json_verbs():
        assert verb in schema_names(), f"add src/exante/agent/schemas/{verb}.json for `{verb} --json`"
        assert f"`exante.{verb}/1`" in docs, f"document exante.{verb}/1 in docs/json-schemas.md"
    for name in schema_names():
        schema = load_schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["schema"] == {"const": f"exante.{name}/1"}
        assert f"`exante.{name}/1`" in docs, name


def test_every_json_verb_is_exercised():
    missing = [v for v in json_verbs() if v not in EXERCISED | set(ELSEWHERE)]
    assert not missing, f"validate the --json output of {missing} in a test"


def test_exit_codes_are_documented():
    docs = DOCS.read_text(encoding="utf-8")
    for line in ("| 0 |", "| 1 |", "| 2 |"):
        assert line in docs


def test_records_of_a_whole_experiment_match_their_schemas(cli, make_plan, tmp_path):
    root = tmp_path / "experiments"
    init = check(cli("init", "fresh", "--template", "compare", "--dir", root, "--json"), "init")
    assert Path(init["path"]) == root / "fresh" / "prereg.yaml" and init["sealed"] is False
    (root / "fresh" / "train.py").write_text(TRIAL)

    plan = make_plan("records")
    lock = check(cli("lock", plan, "--json"), "lock")
    assert lock["already_locked"] is False and lock["design_check"] is not None
    again = check(cli("lock", plan, "--json"), "lock")
    assert again["already_locked"] is True and again["plan_sha256"] == lock["plan_sha256"]
    verify = check(cli("verify", plan, "--json"), "verify")
    assert verify["checked"][:2] == ["seal", "lock_record"]

    run = check(cli("run", plan, "--executor", "inline", "--json"), "run")
    assert (run["planned"], run["ran"], run["ok"], run["killed"]) == (6, 6, 6, None)
    status = check(cli("status", plan, "--json"), "status")
    assert status["completed"] == status["planned"] == 6 and status["sweep"]["running"] is False
    decide = check(cli("decide", plan, "--json"), "decide")
    assert decide["verdict"] == decide["result"]["verdict"] == "PASS"
    assert json.loads(Path(decide["result_path"]).read_text()) == decide["result"]
    log = check(cli("log", plan, "--json"), "log")
    assert log["count"] == len(log["records"]) and log["head"] == log["records"][-1]["hash"]
    assert [r["event"] for r in log["records"]][:2] == ["LOCKED", "DESIGN_CHECK"]
    report = check(cli("report", plan, "--root", plan.parent.parent, "--json"), "report")
    assert all(Path(p).exists() for p in report["written"]["report"])

    plan.write_text(plan.read_text().replace("raises the score", "raises the score a lot"))
    amend = check(cli("amend", plan, "--reason", "clearer", "--seen", "all 6 runs", "--json"),
                  "amend")
    assert amend["deviation"] is True and amend["text_changed"] is True

    killed = make_plan("killed", kill=[{"name": "worse", "when": "experiment.mean > 0",
                                        "why": "any score at all"}])
    assert cli("lock", killed).exit_code == 0
    run = check(cli("run", killed, "--executor", "inline", "--json"), "run", code=1)
    assert run["killed"]["rule"] == "worse"
    post = check(cli("postmortem", "killed", "--root", killed.parent.parent, "--json"),
                 "postmortem")
    assert Path(post["path"]).is_file()

    registry = plan.parent.parent
    rollup = check(cli("rollup", registry, "--json"), "rollup")
    assert rollup["experiments"] == 3 and "SUMMARY.json" in " ".join(rollup["written"])
    audit = check(cli("audit", registry, "--json"), "audit")
    assert audit["ok"] is True and audit["rows"]


def test_errors_print_no_json_and_keep_their_exit_codes(cli, make_plan, tmp_path):
    plan = make_plan("errs")
    assert cli("lock", plan).exit_code == 0
    plan.write_text(plan.read_text() + "# one more line\n")
    tampered = cli("verify", plan, "--json")
    assert tampered.exit_code == 1 and tampered.stdout == ""
    assert tampered.stderr.startswith("PREREG TAMPERED. Refusing to run.")
    assert tampered.stderr.count("\n") == 1
    missing = cli("status", tmp_path / "nowhere.yaml", "--json")
    assert missing.exit_code == 2 and missing.stdout == "" and missing.stderr.startswith("error:")


def test_import_and_export_records_match_their_schemas(cli, make_plan, tmp_path):
    plan = make_plan("interop")
    pilots = tmp_path / "pilot.csv"
    pilots.write_text("x,seed,score\n0,101,0.5\n1,101,1.5\n1,999,1.4\n")
    args = ("import", pilots, "--into", plan, "--allow-unmatched", "--json")
    dry = check(cli(*args, "--dry-run"), "import")
    assert dry["dry_run"] is True and dry["mode"] == "pilot"
    done = check(cli(*args), "import")
    assert done["mode"] == "pilot" and done["imported"] + done["unmatched"] == done["rows"] == 3
    assert cli("lock", plan).exit_code == 0
    assert cli("run", plan, "--executor", "inline", "--quiet").exit_code == 0
    for fmt in ("csv", "jsonl"):
        export = check(cli("export", plan, "--format", fmt, "--json"), "export")
        assert export["runs"] >= 6 and Path(export["path"]).is_file()  # pilots are rows too


CHATTY = '''import atexit, os, subprocess, sys, threading, time
def train(params, seed, ctx):
    print("trial says hello", seed)
    subprocess.run([sys.executable, "-c", "print('a child says hello')"], check=True)
    os.write(1, b"straight to fd 1\\n")
    sys.__stdout__.write("through sys.__stdout__\\n")  # buffered, flushed whenever
    atexit.register(print, "an atexit handler says hello")
    threading.Thread(target=lambda: (time.sleep(0.2), print("a late thread says hello"))).start()
    return {"score": float(params.get("x", 0)) + 0.01 * seed}
'''


def _run_json(plan: Path, executor: str, **popen) -> "subprocess.CompletedProcess":
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # block-buffered
    return subprocess.run([sys.executable, "-m", "exante", "run", str(plan), "--json",
                           "--executor", executor, "--workers", "2"],
                          capture_output="stderr" not in popen, text=True, timeout=300, env=env,
                          **popen)


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_run_json_stdout_is_the_record_alone_whatever_the_trial_prints(make_plan, executor):
    """A trial that prints (print, a child process, a raw write to fd 1, sys.__stdout__, an
    atexit handler, a thread that prints after the sweep) used to put its lines around the
    record, so `json.loads(stdout)` failed for an agent; they go to stderr now."""
    import subprocess
    import sys

    plan = make_plan()
    module = next(plan.parent.glob("trial_*.py"))
    module.write_text(CHATTY, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "exante", "lock", str(plan)], check=True,
                   capture_output=True)
    done = _run_json(plan, executor)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["schema"] == "exante.run/1" and record["ok"] == 6
    jsonschema.validate(record, load_schema("run"))
    for line in ("trial says hello", "a child says hello", "straight to fd 1",
                 "through sys.__stdout__"):
        assert done.stderr.count(line) == 6, (line, done.stderr)
    if executor == "inline":  # in this process: its exit and its threads are ours
        assert done.stderr.count("an atexit handler says hello") == 6
        assert done.stderr.count("a late thread says hello") == 6


def test_run_json_with_stderr_closed_still_prints_the_record_alone(make_plan):
    import os
    import subprocess
    import sys

    plan = make_plan()
    next(plan.parent.glob("trial_*.py")).write_text(CHATTY, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "exante", "lock", str(plan)], check=True,
                   capture_output=True)
    done = _run_json(plan, "local", stdout=subprocess.PIPE, stderr=None,
                     preexec_fn=lambda: os.close(2))  # as `2>&-` does
    assert done.returncode == 0
    assert json.loads(done.stdout)["ok"] == 6  # what the trial printed went nowhere
