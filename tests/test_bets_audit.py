"""Issue 13: exante, not the bet, decides; a results file that disagrees is an audit finding."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from bet_helpers import make_bet  # noqa: E402

from exante.registry import audit, build_catalogue, rollup  # noqa: E402


@pytest.fixture
def project(tmp_path) -> Path:
    return tmp_path / "proj"


def _rows(root: Path, experiment: str, check: str = "result-lock"):
    return [r for r in audit(root) if r.experiment == experiment and r.check == check]


def test_a_tampered_results_verdict_is_an_audit_finding(project, cli):
    bet = make_bet(project, "probe", gain=0.1)  # gain ~0.08: LENIENT
    assert cli("lock", bet).exit_code == 0
    assert cli("run", bet).exit_code == 0
    root = project / "experiments"
    assert cli("audit", root).exit_code == 0
    results = bet.parent / "results" / "01_probe.json"
    text = results.read_text()
    assert '"verdict": "LENIENT"' in text and '"strict": false' in text
    results.write_text(text.replace('"verdict": "LENIENT"', '"verdict": "STRICT"'))

    result = cli("audit", root)
    assert result.exit_code == 1
    assert "says 'STRICT' but exante judges the payload recorded for 01_probe-r1 as LENIENT" \
        in result.output
    assert build_catalogue(root).by_id("01_probe").verdict == "LENIENT"  # the ledger decides
    rollup(root)
    assert json.loads((root / "bets" / "SUMMARY.json").read_text())["bets"][0]["verdict"] == \
        "LENIENT"


def test_a_results_payload_that_differs_from_the_record_is_a_finding(project, cli):
    bet = make_bet(project, "probe", gain=0.1)
    assert cli("lock", bet).exit_code == 0 and cli("run", bet).exit_code == 0
    results = bet.parent / "results" / "01_probe.json"
    data = json.loads(results.read_text())
    data["payload"]["metrics"]["gain"] = 0.9
    results.write_text(json.dumps(data))
    rows = _rows(project / "experiments", "01_probe")
    assert any(r.status == "FAIL" and "payload differs" in r.detail for r in rows)


def test_a_seed_style_results_file_whose_verdict_contradicts_its_flags_fails(registry, cli):
    results = registry / "bets" / "results" / "07_noise_floor.json"
    data = json.loads(results.read_text())
    assert data["strict"] is False and data["lenient"] is True
    assert cli("audit", registry).exit_code == 0
    results.write_text(json.dumps({**data, "verdict": "STRICT"}))
    result = cli("audit", registry)
    assert result.exit_code == 1
    assert "says verdict 'STRICT' but its own flags give LENIENT" in result.output


def test_a_results_file_holding_plan_sha256_is_checked_not_called_hashless(registry):
    results = registry / "bets" / "results" / "07_noise_floor.json"
    module = (registry / "bets" / "07_noise_floor.py").read_text()
    digest = re.search(r'sha256: "([a-f0-9]+)"', module).group(1)
    results.write_text(json.dumps({**json.loads(results.read_text()), "plan_sha256": digest}))
    [row] = _rows(registry, "07_noise_floor")
    assert row.status == "ok" and "names no plan hash" not in row.detail
    results.write_text(json.dumps({**json.loads(results.read_text()), "plan_sha256": "ab" * 32}))
    [row] = _rows(registry, "07_noise_floor")
    assert row.status == "FAIL" and "never locked" in row.detail


def test_only_a_decided_experiment_can_retract_another(project, cli):
    first = make_bet(project, "headline")
    later = make_bet(project, "heldout", gain=0.0, extra='\n    "retracts": [{"id": "01_headline", '
                                                         '"reason": "scored on training data"}],')
    for bet in (first, later):
        assert cli("lock", bet).exit_code == 0
    assert cli("run", first).exit_code == 0
    root = project / "experiments"
    cat = build_catalogue(root)
    assert not cat.by_id("01_headline").retracted  # 02 is only locked
    assert any("only a decided experiment can retract" in p for p in cat.problems)

    assert cli("run", later).exit_code == 0  # FAIL, decided
    assert cli("rollup", root).exit_code == 0
    md = (root / "bets" / "SUMMARY.md").read_text()
    assert "**RETRACTED (was STRICT)** by [02_heldout]" in md
    assert "**FAIL**; retracts [01_headline]" in md
    assert "- [01_headline](01_headline.py) (was STRICT) retracted by [02_heldout]" in md
    summary = json.loads((root / "bets" / "SUMMARY.json").read_text())
    assert summary["retractions"] == [{"id": "01_headline", "by": "02_heldout",
                                       "reason": "scored on training data"}]


def test_rollup_keeps_fail_and_catastrophic_with_each_bets_scope(project, cli):
    bets = [make_bet(project, "wins"), make_bet(project, "flat", gain=0.0),
            make_bet(project, "harms", gain=-1.0)]
    for bet in bets:
        assert cli("lock", bet).exit_code == 0 and cli("run", bet).exit_code == 0
    root = project / "experiments"
    result = cli("rollup", root)
    assert result.exit_code == 0
    assert f"wrote {root / 'bets' / 'SUMMARY.md'}" in result.output
    summary = json.loads((root / "bets" / "SUMMARY.json").read_text())
    assert {b["id"]: b["verdict"] for b in summary["bets"]} == {
        "01_wins": "STRICT", "02_flat": "FAIL", "03_harms": "CATASTROPHIC"}
    md = (root / "bets" / "SUMMARY.md").read_text()
    assert md.count("anything at 1B parameters") == 3  # each bet's "what we do not claim"
    assert "| 02_flat | **FAIL** |" in md
    top = json.loads((root / "SUMMARY.json").read_text())
    assert top["counts"] == {"CATASTROPHIC": 1, "FAIL": 1, "STRICT": 1}
