"""`exante demo --quick`: the whole study pipeline, from the shipped plan to the paper PDF.

The quick variant trains 2 epochs instead of 20 and must say, everywhere a
reader looks, that it is not the registered study. Running the demo again
on the same folder resumes: nothing is re-run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("mnist1d")


def demo(out: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "exante", "demo", "--quick", "--out", str(out),
                           "--workers", "2", "--quiet"], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("demo")
    return out, demo(out)


def test_demo_writes_verdicts_reports_paper_deck_and_catalogue(first) -> None:
    out, proc = first
    folder = out / "experiments" / "mlp-ablation-mnist1d-quick"
    for name in ("result.json", "report.md", "report.html", "paper.html", "paper.pdf",
                 "deck.html"):
        assert (folder / name).is_file(), name
        assert str(folder / name) in proc.stdout, f"demo did not say where {name} is"
    assert (folder / "paper.pdf").read_bytes().startswith(b"%PDF")
    for name in ("SUMMARY.md", "SUMMARY.json", "index.html"):
        assert (out / "experiments" / name).is_file()
    result = json.loads((folder / "result.json").read_text())
    assert result["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE")
    verdicts = result["factorial"]["factor_verdicts"]
    assert set(verdicts) == {"depth", "activation", "weight_decay"}
    assert all(v["verdict"] in ("EFFECT", "NO_EFFECT", "INCONCLUSIVE") for v in verdicts.values())
    traps = {t["name"]: t["passed"] for t in result["traps"]}
    assert traps["trivial_pass"] is True  # the oracle scores exactly 1
    assert result["flow"]["planned"] == 70 and result["flow"]["failed"] == 0


def test_quick_is_labelled_as_not_the_registered_study(first) -> None:
    out, _ = first
    folder = out / "experiments" / "mlp-ablation-mnist1d-quick"
    for name in ("report.md", "paper.html"):
        assert "QUICK SMOKE TEST" in (folder / name).read_text(), name
    assert "QUICK SMOKE TEST" in (out / "experiments" / "SUMMARY.md").read_text()


def test_demo_again_resumes_and_runs_nothing(first) -> None:
    out, _ = first
    proc = demo(out)
    assert "resuming" in proc.stdout
    assert "already done 70, ran 0" in proc.stdout


def test_demo_json_is_one_record_valid_against_its_schema(first) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from exante.agent import load_schema

    out, _ = first
    proc = subprocess.run([sys.executable, "-m", "exante", "demo", "--quick", "--out", str(out),
                           "--workers", "2", "--json"], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(proc.stdout)
    assert next(iter(record)) == "schema" and record["schema"] == "exante.demo/1"
    jsonschema.validate(record, load_schema("demo"))
    assert record["resumed"] is True and record["sweep"]["ran"] == 0
    assert record["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE")
    assert Path(record["outputs"]["result"]).is_file()


BLOCK_WEASYPRINT = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "weasyprint" or name.startswith("weasyprint."):
            raise ImportError("weasyprint blocked by the test")
sys.meta_path.insert(0, _Block())
from exante.cli import main
main()
"""


def test_without_the_pdf_extra_the_demo_says_so_first_and_writes_everything_else(first) -> None:
    """A missing `exante[pdf]` never costs the sweep: the note comes before any run, every
    other output is written, and the end says how to get the PDF."""
    out, _ = first
    folder = out / "experiments" / "mlp-ablation-mnist1d-quick"
    for name in ("paper.pdf", "paper.html", "deck.html", "report.md"):
        (folder / name).unlink()
    proc = subprocess.run([sys.executable, "-c", BLOCK_WEASYPRINT, "demo", "--quick", "--out",
                           str(out), "--workers", "2", "--quiet"], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "exante[pdf]" in proc.stderr and proc.stderr.index("note:") == 0
    assert "paper (PDF)  not written" in proc.stdout
    for name in ("paper.html", "deck.html", "report.md"):
        assert (folder / name).is_file(), name
    assert not (folder / "paper.pdf").exists()
