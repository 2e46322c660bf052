"""`exante demo`: the pre-registered MLP ablation (seed 002), from plan to paper.

Copies the shipped study into a registry folder, seals it, runs it, decides,
and writes the report, the paper-style report, the readout deck and the
catalogue. Running it again on the same folder resumes: the seal and the
ledger are checked, finished runs are kept, and only missing runs execute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import registration
from .errors import InputError
from .paths import ledger_path

STUDY = "mlp_ablation.yaml"
QUICK_EPOCHS = 2


@dataclass
class DemoPaths:
    plan: Path
    outputs: dict[str, Path] = field(default_factory=dict)


def study_text(*, quick: bool) -> str:
    """The shipped plan; with `quick`, a clearly labelled smoke-test variant (fewer epochs)."""
    text = resources.files("exante").joinpath("studies", STUDY).read_text(encoding="utf-8")
    if not quick:
        return text
    text = text.replace("experiment_id: mlp-ablation-mnist1d-v1",
                        "experiment_id: mlp-ablation-mnist1d-quick")
    text = re.sub(r"^title: (.*)$", r"title: 'QUICK SMOKE TEST (%d epochs), NOT the registered "
                  r"study: \1'" % QUICK_EPOCHS, text, count=1, flags=re.M)
    text = text.replace("hypothesis: >\n", "hypothesis: >\n  [QUICK SMOKE TEST: %d epochs instead "
                        "of 20; these numbers are not the registered study.]\n" % QUICK_EPOCHS, 1)
    return re.sub(r"epochs: 20\b", f"epochs: {QUICK_EPOCHS}", text)


def prepare(out: Path, *, quick: bool) -> tuple[Path, bool]:
    """Copy and lock the study under `out/experiments/<id>/`. Returns (plan path, resumed)."""
    text = study_text(quick=quick)
    exp_id = re.search(r"^experiment_id: (\S+)", text, re.M).group(1)
    plan = Path(out) / "experiments" / exp_id / "prereg.yaml"
    if plan.exists():
        if not ledger_path(plan).exists():
            raise InputError(f"{plan} exists but has no ledger; use a fresh --out folder")
        registration.verify_all(plan)
        return plan, True
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(text, encoding="utf-8")
    return plan, False


PDF_MISSING = ("weasyprint (the `exante[pdf]` extra) is not installed: every output but the "
               "paper PDF will be written. For the PDF: pip install -c constraints.txt -e "
               "\".[pdf]\", then run the same `exante demo` again (it resumes; nothing re-runs).")


def pdf_missing() -> str | None:
    """Why the paper PDF cannot be written here, or None. Checked before the first run, so
    that a missing extra never costs the sweep."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):  # OSError: the package is there but Pango is not
        return PDF_MISSING
    return None


def write_outputs(plan: Path, root: Path, *, pdf: bool = True) -> dict[str, Path]:
    """Decide, then write report, paper, deck and catalogue; returns what was written.

    Without `pdf` the paper is written as HTML only."""
    from . import registry
    from .decide import decide
    from .report import render_deck, render_paper, render_report

    decide(plan)
    outputs: dict[str, Path] = {"result": plan.parent / "result.json"}
    report = [Path(p) for p in render_report(plan)]
    outputs.update({p.name: p for p in report if p.suffix in (".md", ".html")})
    html, pdf_path = render_paper(plan, pdf=pdf)
    outputs["paper (HTML)"] = Path(html)
    if pdf_path is not None:
        outputs["paper (PDF)"] = Path(pdf_path)
    outputs["readout deck"] = Path(render_deck(plan))
    outputs.update({Path(p).name: Path(p) for p in registry.rollup(root)})
    return outputs
