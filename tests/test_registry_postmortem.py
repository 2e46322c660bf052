"""`exante postmortem`: the template quotes the prediction and the kill; it never overwrites."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import copy_registry, invoke  # noqa: E402

from exante.errors import InputError, RefusedError  # noqa: E402
from exante.registry import MARKER, postmortem_status, write_postmortem  # noqa: E402


def test_template_quotes_prediction_and_kill_record(registry):
    path = write_postmortem("compress-16-layer", registry)
    assert path == registry / "compress-16-layer" / "postmortem.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Postmortem: compress-16-layer\n")
    assert "> Per-task low-rank projection (rank 16) reduces reconstruction error" in text
    assert "kill `any_cell_worse`: `any(arm.mean > baseline.mean for arm in arms)`" in text
    assert "Killed by rule `any_cell_worse`" in text and "after 4 recorded runs" in text
    assert "| arms | per_task | 1 | 1.306 |" in text
    assert "| baseline | baseline | 3 | 0.9998 |" in text
    for heading in ("## What was predicted", "## What happened", "## Why it died",
                    "## What not to repeat"):
        assert heading in text
    assert text.count(MARKER) == 4
    assert postmortem_status(path.parent) == "draft"


def test_never_overwrites(registry):
    path = write_postmortem("compress-16-layer", registry)
    path.write_text("# my own words\n", encoding="utf-8")
    with pytest.raises(RefusedError, match="never overwritten"):
        write_postmortem("compress-16-layer", registry)
    assert path.read_text(encoding="utf-8") == "# my own words\n"
    assert postmortem_status(path.parent) == "written"


def test_unknown_experiment(registry):
    with pytest.raises(InputError, match="no experiment 'nope'"):
        write_postmortem("nope", registry)


def test_a_failed_experiment_can_have_one_too(registry):
    text = write_postmortem("lr-warmup-v2", registry).read_text(encoding="utf-8")
    assert "Verdict FAIL" in text


def test_cli_exit_codes(registry):
    first = invoke("postmortem", "compress-16-layer", "--root", registry)
    assert first.exit_code == 0, first.output
    assert "postmortem.md" in first.output
    assert invoke("postmortem", "compress-16-layer", "--root", registry).exit_code == 1
    assert invoke("postmortem", "nope", "--root", registry).exit_code == 2
