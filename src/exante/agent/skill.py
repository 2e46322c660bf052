"""`exante skill`: the agent skill (SKILL.md) that tells a research agent how to run an
experiment with exante, and what exante does when the agent tries to cut a corner.

The text restates seed 003's variance-first protocol and seed 000's pre-registration
discipline as exante commands. Every ``bash`` block in it is executed, line by line, by
tests/test_agent_skill.py on a fresh registry (the ``<!-- step: ... -->`` comment before a
block names the situation the test sets up first; ``# exit N`` says the exit code expected),
and the ``python`` block is the trial that test runs; so the skill cannot drift from the CLI.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

NAME = "exante-experiments"
DESCRIPTION = (
    "Run and report ML experiments honestly with exante: write and seal the plan before any "
    "result exists, measure baseline variance first, run only the registered seeds, let the "
    "registered rules decide, keep every outcome. Use whenever you test whether a change "
    "helps, compare configurations, or report an experimental result.")
DEFAULT_PATH = Path(".agents") / "skills" / NAME / "SKILL.md"

BODY = r"""
# Running experiments with exante

You are a research engineer responsible for rigorous execution. Every result you claim must
be backed by a plan sealed before the result existed, by the ledger of runs exante made from
that plan, and by the verdict exante computed from the plan's own rules. No single-run claim,
no verdict of your own, no result that is not in the ledger.

exante makes the shortcuts impossible rather than discouraged: it refuses them with exit
code 1. Do not look for a way around a refusal; the refusal is the point.

## The protocol: variance first (seed 003)

A delta smaller than the baseline's run-to-run spread is noise. The `compare` template
encodes the whole protocol, and exante runs it for you:

1. **Baseline variance.** The baseline runs on 5 seeds (42, 137, 256, 512, 1024) before any
   experiment run starts. Its mean and standard deviation (sigma) are stored in the file the
   plan names in `seed_protocol.reuse` and reused by later experiments with the same
   baseline configuration; you never measure it twice, and never skip it.
2. **Experiment.** The candidate runs on 3 seeds (42, 137, 256). If its mean lands within
   2 sigma of the baseline, exante runs 2 more seeds (512, 1024) by itself.
3. **Statistics.** exante computes mean, sd, min and max per side, Cohen's d with the pooled
   sd, the wall-clock delta, and caveats (low power, zero variance, failed runs, optional
   stopping).
4. **Verdict.** WINNER (beats the baseline by at least 2 sigma), LOSER (worse by at least
   2 sigma) or NEUTRAL (between; `tier` says suggestive or noise). Report that verdict,
   never a softer or stronger one.

## The discipline: decide before you look (seed 000)

Before `exante lock`, the plan must say, in its own fields:

- `hypothesis`: one falsifiable sentence with the size of the effect you expect;
- `metrics.primary`: the ONE metric the verdict is about and its direction;
- the decision rule (`decision`), and for threshold plans the acceptance expression;
- `kill`: conditions that stop the sweep at once (a kill gets no second chance);
- `traps` (negative controls that must fail) and `tau` (what random parameters achieve),
  when the claim is "my method does something";
- `failures`: what a crashed or NaN run counts as, decided in advance;
- the seeds (`seed_protocol`, or `design.seeds`).

After the lock none of this can change silently. A kill needs a postmortem; a killed idea
with a written postmortem is a contribution to the record.

## The workflow

Write the plan from a template. It validates as written; replace the example hypothesis,
settings and kill rule with yours (`lock` refuses the template's placeholder hypothesis).

<!-- step: workflow -->
```bash
exante init my-change --template compare --json
```

Write the trial the plan names (`trial.python: train:train`), next to the plan, as
`experiments/my-change/train.py`. It gets the parameters (`design.fixed` plus this run's
cell) and the seed, and returns the registered metric. Call your real training from it:

<!-- step: trial -->
```python
import random


def train(params, seed, ctx):
    # replace this body with your training: use params["warmup"], params["steps"],
    # params["lr"] and seed; return the primary metric (and any others) as numbers
    rng = random.Random(seed)
    return {"val_loss": 3.0 - 0.1 * (params["warmup"] > 0) + rng.gauss(0.0, 0.05)}
```

Then seal the plan, run it, and read the records. Every command takes `--json` and prints
one JSON object whose first key is `"schema": "exante.<verb>/1"`: read those, never prose.

<!-- step: workflow -->
```bash
exante lock experiments/my-change/prereg.yaml --json
exante verify experiments/my-change/prereg.yaml --json
exante run my-change --json
exante status my-change --json
exante decide my-change --json
exante report my-change --json
exante log my-change --json
exante rollup --json
exante audit --json
```

- `lock` writes the sha256 into the plan, fingerprints the trial code and data, prints the
  design check (power); it refuses a rule that can never flip.
- `run` executes every registered run that has no result yet, in the protocol's order; it
  resumes after a crash and never runs a finished run twice.
- `status`: `planned`, `completed`, `failed`, `pending`, `killed`, and `sweep.running`.
- `decide`: `verdict`, `tier`, `result.caveats`, `result.comparisons` (means, sds,
  Cohen's d). Quote the verdict and its caveats as they are.
- `report`: report.md and report.html with figures, plus the seed-003 note.
- `rollup` and `audit`: the catalogue of every experiment, failed and killed ones included,
  and the check that every result traces to a lock made before it.

## What you must never do, and what exante does when you try

**Never edit a sealed plan.** A changed byte, even a typo fix or a comment, and nothing
runs:

<!-- step: tampered -->
```bash
exante verify experiments/my-change/prereg.yaml  # exit 1 "PREREG TAMPERED. Refusing to run."
exante run my-change --json  # exit 1 "PREREG TAMPERED"
```

A deliberate change (or a change to the trial's code or data, which `run` also refuses,
naming the file) goes through an amendment that records the parent hash, the new hash, why,
and what results you had already seen. After runs started, every later result says DEVIATED:

<!-- step: amend -->
```bash
exante amend experiments/my-change/prereg.yaml --reason "clarified the hypothesis" --seen "status counts only, no metric values" --json
```

**Never re-run a killed plan.** When a kill rule fires the sweep stops and the plan cannot
be run again without a new lock (`no_escalation`). Write the postmortem; the catalogue
shows the kill, and `rollup --strict` fails until the postmortem is written:

<!-- step: killed -->
```bash
exante run my-change --json  # exit 1 "cannot be re-run without a new lock"
exante postmortem my-change --json
exante rollup --strict --json  # exit 1
```

**Never edit or delete a ledger, a result or an experiment.** The ledger is hash-chained:
one changed byte breaks the chain from that line on, and `log`, `run`, `decide` and `audit`
refuse it, naming the line:

<!-- step: ledger-edited -->
```bash
exante log my-change --json  # exit 1 "the line was edited"
exante audit --json  # exit 1
```

**Never run outside the plan.** Only `exante run` makes results: a seed, a setting or a
re-run you start by hand (`python train.py ...`) is not in the ledger, so `decide` never
sees it and it cannot become a result. Do not add seeds because a result "looks close";
the protocol already adds the 2 registered seeds when it is within 2 sigma.

**Never switch metrics, drop a crashed run, or hide a result.** The primary metric is
sealed; a crashed, timed-out or NaN run is a ledger record counted as `failures` says;
every experiment, PASS or KILL, stays in the catalogue.

## Exit codes

0 success; 1 integrity failure or refusal (tampered plan, changed code or data, broken
ledger, killed plan re-run, a sweep already running, audit finding, a kill rule fired);
2 invalid input (the one line on stderr names the file, the YAML path and what to do).
On exit 1 or 2, stop and read the message: it says what exante refused and why.

## Through MCP

`exante mcp --root experiments` serves the same verbs as MCP tools (init, lock, verify,
amend, run, status, decide, report, log, postmortem, rollup, audit) with the same JSON
records. `run` returns at once; poll `status` until `sweep.running` is false. Tools only
touch files inside the registry, and refuse exactly what the CLI refuses.
"""


def skill_text() -> str:
    """SKILL.md: front matter (name, description) and the body above."""
    import json

    # a JSON string is a YAML double-quoted scalar: safe with the colons in the text
    return f"---\nname: {NAME}\ndescription: {json.dumps(DESCRIPTION)}\n---\n{BODY}"


def write_skill(path: Path | None = None, *, force: bool = False) -> dict:
    """Write SKILL.md at `path` (a file ending in .md, or a folder to hold SKILL.md).

    An identical file is left as it is; a different one is replaced only with `force`.
    """
    from .records import envelope

    target = Path(path) if path is not None else DEFAULT_PATH
    if target.suffix.lower() != ".md":
        target = target / "SKILL.md"
    text = skill_text()
    existed = target.exists()
    if existed:
        if not target.is_file():
            raise InputError(f"{target} exists and is not a file")
        if target.read_text(encoding="utf-8") != text and not force:
            raise InputError(f"{target} exists and differs from this version's skill; pass "
                             "--force to replace it (or --path to write elsewhere)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8", newline="\n")
    return envelope("skill", {"path": str(target), "name": NAME, "description": DESCRIPTION,
                              "overwritten": existed})
