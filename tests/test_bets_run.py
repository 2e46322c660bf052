"""Issue 13: a sealed bet runs through exante, both ways, and every invocation is on the record."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from bet_helpers import make_bet, seed_command  # noqa: E402

from exante.bets import outcome_of  # noqa: E402
from exante.events import Event  # noqa: E402
from exante.history import History  # noqa: E402
from exante.registry import audit, build_catalogue, rollup  # noqa: E402

TAMPERED = "PREREG TAMPERED. Refusing to run."


def history(bet: Path) -> History:
    return History.read(bet.parent / bet.stem / "ledger.jsonl")


@pytest.fixture
def project(tmp_path) -> Path:
    return tmp_path / "proj"


def test_the_seed_command_and_exante_run_leave_the_same_record(project, cli):
    bet = make_bet(project, "probe", repeats=2)
    assert cli("lock", bet).exit_code == 0
    seeded = seed_command(project, bet)
    assert seeded.returncode == 0, seeded.stderr
    assert "01_probe: NO RESULT" in seeded.stdout  # 1 of 2 registered runs
    ran = cli("run", bet)
    assert ran.exit_code == 0, ran.output
    assert "01_probe: STRICT" in ran.output

    h = history(bet)
    started = h.of(Event.RUN_STARTED)
    assert [r.data["via"] for r in started] == ["python -m", "exante run"]
    oks = h.of(Event.RUN_OK)
    assert len(oks) == 2 and all(r.data["payload"]["metrics"]["gain"] > 0.5 for r in oks)
    for r in (*started, *oks):  # the code hash: the module and the harness it imports
        assert set(r.data["code"]) == {"module", "code:_common.py"}
        assert r.data["plan_sha256"] == h.sealed_hash
    assert oks[0].data["code"] == oks[1].data["code"]
    decided = h.last(Event.DECIDED)
    assert decided.data["verdict"] == "STRICT" and decided.data["runs"] == [
        "01_probe-r1", "01_probe-r2"]
    written = json.loads((bet.parent / "results" / "01_probe.json").read_text())
    assert written["run_id"] == "01_probe-r2" and written["judged_by"] == "exante"


@pytest.mark.parametrize("edit", ["module", "harness"])
def test_a_broken_seal_refuses_both_ways_and_records_nothing(project, cli, edit):
    bet = make_bet(project, "probe")
    assert cli("lock", bet).exit_code == 0
    target = bet if edit == "module" else bet.parent / "_common.py"
    if edit == "module":
        bet.write_text(bet.read_text().replace("STRICT_MIN_GAIN = 0.15", "STRICT_MIN_GAIN = 0.1"))
    else:
        target.write_text(target.read_text() + "\n# a quiet fix\n")
    before = len(history(bet))
    seeded = seed_command(project, bet)
    assert seeded.returncode == 1
    assert seeded.stderr.startswith(TAMPERED), seeded.stderr
    ran = cli("run", bet)
    assert ran.exit_code == 1 and TAMPERED in ran.output
    if edit == "harness":
        assert "code:_common.py" in ran.output
    assert len(history(bet)) == before


def test_a_rerun_without_an_amendment_is_refused(project, cli):
    bet = make_bet(project, "probe", gain=0.0)
    assert cli("lock", bet).exit_code == 0
    assert cli("run", bet).exit_code == 0
    again = cli("run", bet)
    assert again.exit_code == 1 and "Refusing to run again" in again.output
    seeded = seed_command(project, bet)
    assert seeded.returncode == 1 and "already ran 1 of 1" in seeded.stderr
    assert len(history(bet).of(Event.RUN_STARTED)) == 1
    assert outcome_of(bet).verdict == "FAIL"


def test_a_rerun_after_an_amendment_is_deviated_everywhere_and_the_first_outcome_stays(
        project, cli):
    bet = make_bet(project, "probe", gain=0.0)
    assert cli("lock", bet).exit_code == 0
    assert cli("run", bet).exit_code == 0  # FAIL
    bet.write_text(bet.read_text().replace("GAIN_SCALE = 0.0", "GAIN_SCALE = 1.0"))
    amended = cli("amend", bet, "--reason", "the scale was a typo", "--seen", "r1 FAIL")
    assert amended.exit_code == 0 and "DEVIATION" in amended.output
    ran = cli("run", bet)
    assert ran.exit_code == 0, ran.output
    assert "DEVIATED" in ran.output and "earlier run 01_probe-r1" in ran.output

    result = outcome_of(bet)
    assert result.verdict == "STRICT" and result.deviated
    assert [(r.run_id, r.verdict) for r in result.runs] == [("01_probe-r1", "FAIL"),
                                                            ("01_probe-r2", "STRICT")]
    assert result.first.verdict == "FAIL"
    written = json.loads((bet.parent / "results" / "01_probe.json").read_text())
    assert written["deviated"] is True
    entry = build_catalogue(project / "experiments").by_id("01_probe")
    assert entry.display_verdict == "STRICT — DEVIATED"
    rollup(project / "experiments")
    md = (project / "experiments" / "bets" / "SUMMARY.md").read_text()
    assert "STRICT — DEVIATED" in md and "FAIL (before the amendment)" in md
    rows = [r for r in audit(project / "experiments") if r.experiment == "01_probe"]
    assert any(r.status == "warn" and "DEVIATED" in r.detail for r in rows)


def test_repeats_are_registered_runs_and_every_one_must_clear_the_tier(project, cli):
    bet = make_bet(project, "probe", gain=1.0, repeats=2,
                   body="GAIN = 1.0 if run.repeat == 0 else 0.1")
    bet.write_text(bet.read_text().replace('fitted_gain(run.repeat, GAIN_SCALE)',
                                           'fitted_gain(run.repeat, GAIN)'))
    assert cli("lock", bet).exit_code == 0
    assert cli("run", bet).exit_code == 0
    assert outcome_of(bet).verdict == "NO RESULT"
    assert cli("run", bet).exit_code == 0
    result = outcome_of(bet)
    assert [r.verdict for r in result.runs] == ["STRICT", "LENIENT"]
    assert result.verdict == "LENIENT"
    assert cli("run", bet).exit_code == 1  # a third run was not registered


def test_a_crash_is_recorded_as_a_failed_run(project, cli):
    bet = make_bet(project, "probe", body='raise RuntimeError("out of memory")')
    assert cli("lock", bet).exit_code == 0
    ran = cli("run", bet)
    assert ran.exit_code == 1 and "RuntimeError: out of memory" in ran.output
    failed = history(bet).of(Event.RUN_FAILED)
    assert len(failed) == 1 and failed[0].data["error"] == "out of memory"
    assert outcome_of(bet).verdict == "INCONCLUSIVE"
    assert history(bet).last(Event.DECIDED).data["verdict"] == "INCONCLUSIVE"
    assert cli("run", bet).exit_code == 1  # the crash used the registered run


def test_a_main_that_skips_the_bet_api_is_refused(project, cli):
    bet = make_bet(project, "probe")
    bet.write_text(bet.read_text().replace("    return run_bet(__file__, experiment)",
                                           "    return {\"metrics\": {\"gain\": 1.0}}"))
    assert cli("lock", bet).exit_code == 0
    ran = cli("run", bet)
    assert ran.exit_code == 1 and "without recording a run" in ran.output


def test_status_counts_the_registered_runs_and_decide_points_to_run(project, cli):
    bet = make_bet(project, "probe", repeats=2)
    assert cli("lock", bet).exit_code == 0 and cli("run", bet).exit_code == 0
    status = cli("status", bet, "--json")
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert (data["planned"], data["completed"], data["pending"]) == (2, 1, 1)
    decided = cli("decide", bet)
    assert decided.exit_code == 2 and "decided when it runs" in decided.output


def test_an_amendment_can_say_why_an_unchanged_bet_runs_again(project, cli):
    bet = make_bet(project, "probe")
    assert cli("lock", bet).exit_code == 0 and cli("run", bet).exit_code == 0
    amended = cli("amend", bet, "--reason", "the node was pre-empted mid-write", "--seen",
                  "r1 STRICT")
    assert amended.exit_code == 0, amended.output
    ran = cli("run", bet)
    assert ran.exit_code == 0 and "DEVIATED" in ran.output
    amendment = history(bet).last(Event.AMENDED).data
    assert amendment["rerun"] is True and amendment["reason"].startswith("the node")
    assert [r.run_id for r in outcome_of(bet).runs] == ["01_probe-r1", "01_probe-r2"]


def bet_record(result, code: int = 0) -> dict:
    """The exante.bet/1 record `exante run NN_name.py --json` printed, checked against its schema."""
    jsonschema = pytest.importorskip("jsonschema")
    from exante.agent import load_schema

    assert result.exit_code == code, result.output
    record = json.loads(result.stdout)
    assert next(iter(record)) == "schema" and record["schema"] == "exante.bet/1"
    errors = list(jsonschema.Draft202012Validator(load_schema("bet")).iter_errors(record))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors)
    return record


def test_run_json_gives_each_invocation_and_the_verdict_once_every_repeat_is_in(project, cli):
    bet = make_bet(project, "probe", repeats=2)
    assert cli("lock", bet).exit_code == 0
    first = bet_record(cli("run", bet, "--json"))
    assert first["verdict"] == "NO RESULT" and first["reasons"] == ["1 of 2 registered run(s) finished"]
    assert first["ran"]["run_id"] == "01_probe-r1" and first["ran"]["status"] == "ok"
    assert first["ran"]["verdict"] == "STRICT" and first["ran"]["via"] == "exante run"
    assert first["bet"] == "01_probe" and Path(first["ledger"]) == bet.parent / "01_probe" / "ledger.jsonl"

    second = bet_record(cli("run", bet, "--json"))
    assert second["verdict"] == "STRICT" and second["repeats"] == 2
    assert second["ran"]["run_id"] == "01_probe-r2"
    assert [r["run_id"] for r in second["runs"]] == ["01_probe-r1", "01_probe-r2"]
    assert json.loads(Path(second["results_path"]).read_text())["run_id"] == "01_probe-r2"
    assert second["error"] is None and second["criteria"]["repeats"] == 2

    refused = cli("run", bet, "--json")  # a third run was not registered: a refusal, no record
    assert refused.exit_code == 1 and refused.stdout == "" and refused.stderr.strip()


def test_run_json_prints_the_record_of_a_crash_and_exits_1(project, cli):
    bet = make_bet(project, "probe", body='raise RuntimeError("out of memory")')
    assert cli("lock", bet).exit_code == 0
    ran = cli("run", bet, "--json")
    record = bet_record(ran, code=1)
    assert record["verdict"] == "INCONCLUSIVE" and record["ran"]["status"] == "failed"
    assert "out of memory" in record["ran"]["error"] and "RuntimeError" in record["error"]
    assert record["results_path"] is None
    assert "RuntimeError: out of memory" in ran.stderr


def test_run_json_keeps_what_the_bet_prints_off_stdout(project, cli):
    bet = make_bet(project, "chatty", body='print("the bet says hello")')
    assert cli("lock", bet).exit_code == 0
    ran = cli("run", bet, "--json")
    record = bet_record(ran)  # stdout parses as the record alone
    assert record["verdict"] == "STRICT"
    assert "the bet says hello" in ran.stderr and "hello" not in ran.stdout


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_in_a_bet_keeps_its_run_and_says_a_bet_does_not_resume(project, cli, as_json):
    bet = make_bet(project, "stopped", body="raise KeyboardInterrupt")  # what Ctrl-C raises
    assert cli("lock", bet).exit_code == 0
    ran = cli("run", bet, *(["--json"] if as_json else []))
    assert ran.exit_code == 130
    assert "running it again then needs an amendment" in ran.stderr
    assert "`exante run` resumes" not in ran.stderr
    if as_json:
        record = bet_record(ran, 130)
        assert record["error"] == "interrupted (Ctrl-C)"
        assert record["ran"]["run_id"] == "01_stopped-r1"
        assert record["ran"]["status"] in ("failed", "started")
    assert cli("run", bet).exit_code == 1  # the run is on the record: no quiet second try


PEEK = '''import random
import os
from pathlib import Path

_peeks = Path(__file__).with_name("peeks")
_peeks.write_text(str(int(_peeks.read_text()) + 1 if _peeks.exists() else 1))
if _peeks.read_text() == "1":
    os._exit(0)  # it computed something at import, did not like it, and left
'''


def test_a_bet_that_peeks_at_import_and_exits_has_spent_its_run(project, cli):
    """RUN_STARTED is on the record before the module is imported: top-level code that
    looks at a number and exits used to leave no trace, and the next try ran clean."""
    import subprocess

    from bet_helpers import env

    bet = make_bet(project, "peek")
    bet.write_text(bet.read_text().replace("import random\n", PEEK, 1))
    assert cli("lock", bet).exit_code == 0
    first = subprocess.run([sys.executable, "-m", "exante", "run", str(bet)], cwd=project,
                           env=env(), capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and first.stdout == ""  # the bet's own os._exit(0)
    assert [r.data["run_id"] for r in history(bet).of(Event.RUN_STARTED)] == ["01_peek-r1"]
    again = subprocess.run([sys.executable, "-m", "exante", "run", str(bet)], cwd=project,
                           env=env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "already ran 1 of 1" in again.stderr, again.stderr
    assert (bet.parent / "peeks").read_text() == "1"  # it never got a second look
    outcome = outcome_of(bet)
    assert [r.status for r in outcome.runs] == ["started"] and outcome.verdict == "NO RESULT"
