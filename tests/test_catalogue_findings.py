"""The catalogue shows each study's findings (per factor: verdict, effect, CI), not only PASS."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from records_helpers import copy_registry  # noqa: E402

from exante.registry import rollup  # noqa: E402


def test_summary_and_index_show_each_factor_with_effect_and_ci(tmp_path):
    root = copy_registry(tmp_path / "registry")
    md, js, index = rollup(root)
    text = md.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| [mlp-ablation-v1]"))
    assert "depth: effect detected (8 vs 2: +2.98 points [+2.50, +3.47])" in row
    assert "activation: no effect detected: equivalent within ±0.50 points" in row
    assert "weight decay: inconclusive (0.001 vs 0.0: +0.37 points [−0.12, +0.86])" in row
    entry = next(e for e in json.loads(js.read_text())["experiments"]
                 if e["id"] == "mlp-ablation-v1")
    assert [f["verdict"] for f in entry["findings"]] == ["EFFECT", "NO_EFFECT", "INCONCLUSIVE"]
    page = index.read_text()
    assert "Findings (effect, 95% CI)" in page and "depth: effect detected" in page
