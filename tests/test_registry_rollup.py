"""The catalogue: SUMMARY.md (golden), SUMMARY.json, retractions, ladders, lost results."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import check_golden, copy_registry, invoke  # noqa: E402

from exante.registry import MARKER, build_catalogue, rollup, write_postmortem  # noqa: E402
from exante.registry.catalogue import bet_verdict  # noqa: E402


@pytest.fixture
def summary(registry) -> dict:
    paths = rollup(registry)
    assert [p.name for p in paths] == ["SUMMARY.md", "SUMMARY.json", "index.html"]
    return json.loads((registry / "SUMMARY.json").read_text(encoding="utf-8"))


def test_summary_md_matches_golden(registry, summary):
    check_golden((registry / "SUMMARY.md").read_text(encoding="utf-8"), "SUMMARY.md")


def test_rollup_is_deterministic(registry, summary):
    before = {n: (registry / n).read_bytes() for n in ("SUMMARY.md", "SUMMARY.json", "index.html")}
    rollup(registry)
    assert before == {n: (registry / n).read_bytes() for n in before}


def test_every_experiment_stays_including_fail_kill_and_lost_results(summary):
    by_id = {e["id"]: e for e in summary["experiments"]}
    assert set(by_id) == {"07_noise_floor", "compress-4-layer", "compress-16-layer",
                          "lr-warmup-v1", "lr-warmup-v2", "mlp-ablation-v1", "swiglu-1M"}
    lost = by_id["lr-warmup-v2"]
    assert lost["verdict"] == "FAIL" and lost["verdict_source"].startswith("ledger (DECIDED")
    assert by_id["compress-16-layer"]["verdict"] == "KILL"
    assert by_id["07_noise_floor"]["verdict"] == "LENIENT"
    assert by_id["07_noise_floor"]["kind"] == "bet"
    assert "random tokens" in by_id["07_noise_floor"]["hypothesis"]
    assert by_id["lr-warmup-v1"]["traps"]["behaved"] == 2
    assert by_id["lr-warmup-v1"]["tau"]["passed"] is True


def test_retraction_is_shown_and_linked_both_ways(registry, summary):
    assert summary["retractions"] == [{"id": "lr-warmup-v1", "by": "lr-warmup-v2", "reason":
                                       "v1 evaluated on a split that overlapped the training data"}]
    v1 = next(e for e in summary["experiments"] if e["id"] == "lr-warmup-v1")
    assert v1["display_verdict"] == "RETRACTED (was PASS)"
    md = (registry / "SUMMARY.md").read_text(encoding="utf-8")
    row_v1 = next(line for line in md.splitlines() if line.startswith("| [lr-warmup-v1]"))
    row_v2 = next(line for line in md.splitlines() if line.startswith("| [lr-warmup-v2]"))
    assert "**RETRACTED (was PASS)** by [lr-warmup-v2](lr-warmup-v2/prereg.yaml)" in row_v1
    assert "retracts [lr-warmup-v1](lr-warmup-v1/report.md)" not in row_v2  # no report yet
    assert "retracts [lr-warmup-v1](lr-warmup-v1/prereg.yaml)" in row_v2


def test_ladders_in_rung_order(summary):
    ladder = summary["ladders"]["compression"]
    assert [(r["rung"], r["id"], r["verdict"]) for r in ladder] == [
        (1, "compress-4-layer", "PASS"), (2, "compress-16-layer", "KILL")]


def test_missing_postmortem_is_prominent_and_strict_fails(registry, summary):
    assert summary["killed_without_postmortem"] == ["compress-16-layer"]
    md = (registry / "SUMMARY.md").read_text(encoding="utf-8")
    assert md.index("## Killed without a postmortem (1)") < md.index("## Experiments")
    result = invoke("rollup", registry, "--strict")
    assert result.exit_code == 1, result.output
    assert "KILLED WITHOUT POSTMORTEM: compress-16-layer" in result.output
    assert invoke("rollup", registry).exit_code == 0


def test_a_filled_postmortem_counts_and_a_draft_does_not(registry):
    path = write_postmortem("compress-16-layer", registry)
    cat = build_catalogue(registry)
    assert cat.by_id("compress-16-layer").postmortem == "draft"
    assert invoke("rollup", registry, "--strict").exit_code == 1
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(MARKER + ":", "Answered:"), encoding="utf-8")
    assert build_catalogue(registry).by_id("compress-16-layer").postmortem == "written"
    result = invoke("rollup", registry, "--strict", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["killed_without_postmortem"] == []


def test_an_experiment_whose_plan_is_gone_still_appears(registry):
    (registry / "compress-4-layer" / "prereg.yaml").unlink()
    (registry / "compress-4-layer" / "result.json").unlink()
    entry = build_catalogue(registry).by_id("compress-4-layer")
    assert entry.kind == "orphan" and entry.verdict == "PASS"
    assert "the plan file is missing" in " ".join(entry.problems)


def test_a_retraction_needs_a_locked_plan(registry, tmp_path):
    later = registry / "later"
    later.mkdir()
    (later / "prereg.yaml").write_text(
        "experiment_id: later\nhypothesis: x\nmetrics:\n  primary: {name: m, direction: higher}\n"
        "retracts:\n  - {id: compress-4-layer, reason: because}\nsha256: \"\"\n")
    cat = build_catalogue(registry)
    assert not cat.by_id("compress-4-layer").retracted
    assert any("not locked" in p for p in cat.problems)


def test_a_plan_that_was_only_locked_cannot_retract(registry, cli):
    later = registry / "later"
    later.mkdir()
    (later / "prereg.yaml").write_text(
        "experiment_id: later\nhypothesis: x\nmetrics:\n  primary: {name: m, direction: higher}\n"
        "retracts:\n  - {id: compress-4-layer, reason: because}\nsha256: \"\"\n")
    assert cli("lock", later / "prereg.yaml").exit_code == 0
    cat = build_catalogue(registry)
    assert cat.by_id("later").locked and cat.by_id("later").verdict == "REGISTERED"
    assert not cat.by_id("compress-4-layer").retracted
    assert any("only a decided experiment can retract another" in p for p in cat.problems)


def test_rollup_of_a_missing_folder_is_an_input_error(tmp_path):
    assert invoke("rollup", tmp_path / "nope").exit_code == 2


@pytest.mark.parametrize("payload, verdict", [
    ({"strict": True, "lenient": True, "catastrophic": False}, "STRICT"),
    ({"strict_pass": False, "lenient_pass": True}, "LENIENT"),
    ({"strict": False, "lenient": False}, "FAIL"),
    ({"catastrophic": True, "strict": True}, "CATASTROPHIC"),
    ({"verdict": "strict"}, "STRICT"),
    ({"loss": 1.0}, None),
])
def test_bet_result_files(payload, verdict):
    assert bet_verdict(payload) == verdict


def test_bet_modules_are_found_anywhere(registry):
    nested = registry / "deep" / "bets"
    nested.mkdir(parents=True)
    shutil.copy(registry / "bets" / "07_noise_floor.py", nested / "12_other_idea.py")
    (nested / "00_rollup.py").write_text('"""Regenerates SUMMARY.md."""\n')
    ids = [e.id for e in build_catalogue(registry).entries]
    assert "12_other_idea" in ids and "00_rollup" not in ids
