"""The rollup's plan cache: a plan is parsed once, and the cache can never put words in its mouth."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from exante import spec
from exante.registry import build_catalogue, rollup
from exante.registry import plan_cache as PC


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("EXANTE_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """Every plan file the catalogue parses, in order."""
    seen: list[str] = []
    real = spec.load_plan

    def counting(path):
        seen.append(Path(path).parent.name)
        return real(path)

    monkeypatch.setattr(spec, "load_plan", counting)
    return seen


def _summary(registry: Path) -> dict:
    return json.loads((registry / "SUMMARY.json").read_text(encoding="utf-8"))


def _cache_file(state: Path) -> Path:
    files = list((state / "catalogue").glob("*.json"))
    assert len(files) == 1, files
    return files[0]


def test_a_second_rollup_parses_no_plan_and_writes_the_same_bytes(registry, state, parses):
    rollup(registry)
    first = {n: (registry / n).read_bytes() for n in ("SUMMARY.md", "SUMMARY.json", "index.html")}
    plans = len(parses)
    assert plans >= 6
    rollup(registry)
    assert len(parses) == plans, "the unchanged plans were parsed again"
    assert first == {n: (registry / n).read_bytes() for n in first}


def test_an_edited_plan_is_parsed_again(registry, state, parses):
    rollup(registry)
    plan = registry / "lr-warmup-v1" / "prereg.yaml"
    text = plan.read_text(encoding="utf-8")
    old = spec.load_plan(plan).hypothesis.split()[0]
    plan.write_text(text.replace(old, "Edited-" + old, 1), encoding="utf-8")
    parses.clear()
    rollup(registry)
    assert parses == ["lr-warmup-v1"]
    entry = next(e for e in _summary(registry)["experiments"] if e["id"] == "lr-warmup-v1")
    assert entry["hypothesis"].startswith("Edited-")


def test_a_forged_cache_entry_is_ignored(registry, state, parses):
    rollup(registry)
    path = _cache_file(state)
    stored = orjson.loads(path.read_bytes())
    for fields in stored["body"]["entries"].values():
        fields["hypothesis"] = "FORGED"
        fields["rules"] = ["acceptance: `True`"]
    path.write_bytes(orjson.dumps(stored))  # the MAC no longer matches
    parses.clear()
    rollup(registry)
    assert len(parses) >= 6, "a cache whose MAC fails was trusted"
    summary = _summary(registry)
    assert not any(e["hypothesis"] == "FORGED" for e in summary["experiments"])
    assert not any("acceptance: `True`" in e["rules"] for e in summary["experiments"])


def test_a_cache_signed_with_another_key_is_ignored(registry, state, parses):
    rollup(registry)
    path = _cache_file(state)
    stored = orjson.loads(path.read_bytes())
    for fields in stored["body"]["entries"].values():
        fields["hypothesis"] = "FORGED"
    stored["mac"] = PC._mac(b"\x11" * 32, registry, orjson.dumps(stored["body"]))
    path.write_bytes(orjson.dumps(stored))
    parses.clear()
    rollup(registry)
    assert len(parses) >= 6
    assert not any(e["hypothesis"] == "FORGED" for e in _summary(registry)["experiments"])


def test_a_plan_that_does_not_load_is_never_cached(registry, state):
    plan = registry / "lr-warmup-v1" / "prereg.yaml"
    plan.write_text(plan.read_text(encoding="utf-8").replace("hypothesis:", "hypothesis_typo:", 1),
                    encoding="utf-8")
    for _ in range(2):  # the second rollup says it again: the problem is not cached away
        rollup(registry)
        entry = next(e for e in _summary(registry)["experiments"]
                     if e["folder"] == "lr-warmup-v1")
        assert any("plan does not load" in p for p in entry["problems"]), entry["problems"]


def test_the_audit_parses_every_plan_itself(registry, state, parses):
    rollup(registry)
    parses.clear()
    cat = build_catalogue(registry, full_verify=True)
    plan_entries = [e for e in cat.entries if e.kind == "plan"]
    assert len(parses) == len(plan_entries) and set(cat.plans) == {e.folder for e in plan_entries}


def test_no_state_folder_means_no_cache_and_the_same_summary(registry, tmp_path, monkeypatch,
                                                             parses):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the state folder would be")
    monkeypatch.setenv("EXANTE_STATE_DIR", str(blocked))
    rollup(registry)
    first = (registry / "SUMMARY.json").read_bytes()
    n = len(parses)
    rollup(registry)
    assert len(parses) == 2 * n  # parsed each time, and nothing broke
    assert (registry / "SUMMARY.json").read_bytes() == first
