"""`exante skill` writes SKILL.md, and every command the skill shows works as it says.

The test reads the SKILL.md that `exante skill` wrote (not the Python string behind it),
takes every fenced block with the `<!-- step: ... -->` marker before it, writes its
``python`` block as the trial, and runs each ``exante ...`` line of its ``bash`` blocks as a
real subprocess in a fresh folder, checking the exit code the skill states (``# exit N``,
else 0) and the quoted text it promises. The situations the refusal blocks describe (an edit
to a sealed plan, an edited ledger line, a killed plan) are set up first, by hand, exactly as
an agent cutting that corner would.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BLOCK = re.compile(r"<!-- step: (?P<step>[\w-]+) -->\n```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)
EXPECT = re.compile(r"#\s*exit (?P<code>\d)(?:\s+\"(?P<text>[^\"]+)\")?\s*$")


def exante(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exante", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def own_claim(text: str) -> str:
    """The plan with the template's placeholder hypothesis replaced, as the skill asks."""
    from exante.registration import TEMPLATE_HYPOTHESES

    for marker in TEMPLATE_HYPOTHESES:
        text = text.replace(marker, "We claim, in one falsifiable")
    return text


def blocks(text: str) -> list[tuple[str, str, str]]:
    found = [(m["step"], m["lang"], m["body"]) for m in BLOCK.finditer(text)]
    assert len(found) == text.count("```") // 2, "every code block needs a step marker"
    return found


def run_block(cwd: Path, body: str, ran: list[str]) -> None:
    for line in body.strip().splitlines():
        command, _, comment = line.partition("  #")
        assert command.startswith("exante "), f"the skill shows a non-exante command: {line}"
        expect = EXPECT.search("#" + comment) if comment else None
        code = int(expect["code"]) if expect else 0
        proc = exante(cwd, *shlex.split(command)[1:])
        output = proc.stdout + proc.stderr
        assert proc.returncode == code, f"{command}: exit {proc.returncode}\n{output}"
        if expect and expect["text"]:
            assert expect["text"] in output, f"{command}: {expect['text']!r} not in {output}"
        if "--json" in command and proc.returncode == 0:
            verb = shlex.split(command)[1]
            assert json.loads(proc.stdout)["schema"] == f"exante.{verb}/1"
        ran.append(line)


@pytest.fixture(scope="module")
def skill(tmp_path_factory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("skill")
    proc = exante(cwd, "skill", "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    path = cwd / record["path"]
    assert path == cwd / ".agents" / "skills" / "exante-experiments" / "SKILL.md"
    return path, path.read_text(encoding="utf-8")


def test_the_skill_has_front_matter_and_the_protocol(skill):
    path, text = skill
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["name"] == "exante-experiments" == path.parent.name
    assert "exante" in front["description"] and len(front["description"]) > 80
    for phrase in ("5 seeds", "3 seeds", "2 sigma", "Cohen's d", "WINNER", "NEUTRAL", "LOSER",
                   "hypothesis", "kill", "traps", "tau", "postmortem", "Never edit a sealed plan",
                   "Never re-run a killed plan", "Never edit or delete a ledger",
                   "Never run outside the plan", "PREREG TAMPERED"):
        assert phrase in text, phrase


def test_skill_path_force_and_json_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from exante.agent import load_schema

    first = exante(tmp_path, "skill", "--path", "agent-docs", "--json")
    assert first.returncode == 0, first.stderr
    record = json.loads(first.stdout)
    jsonschema.validate(record, load_schema("skill"))
    assert record["path"] == "agent-docs/SKILL.md" and record["overwritten"] is False
    assert json.loads(exante(tmp_path, "skill", "--path", "agent-docs", "--json").stdout)[
        "overwritten"] is True  # identical: rewritten, nothing lost
    target = tmp_path / "agent-docs" / "SKILL.md"
    target.write_text(target.read_text() + "my own notes\n")
    refused = exante(tmp_path, "skill", "--path", "agent-docs")
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert "my own notes" in target.read_text()
    assert exante(tmp_path, "skill", "--path", str(target), "--force").returncode == 0
    assert "my own notes" not in target.read_text()


def test_every_command_the_skill_shows_runs_on_a_fresh_registry(skill, tmp_path):
    _, text = skill
    steps = blocks(text)
    shown = [line for step, lang, body in steps if lang == "bash"
             for line in body.strip().splitlines()]
    ran: list[str] = []
    [trial] = [body for step, lang, body in steps if lang == "python"]
    main = tmp_path / "main"
    main.mkdir()
    plan = main / "experiments" / "my-change" / "prereg.yaml"
    for step, lang, body in steps:
        if step == "trial":
            plan.with_name("train.py").write_text(trial)  # the skill's own trial, as shown
            plan.write_text(own_claim(plan.read_text()))  # "replace the example hypothesis"
        elif step == "workflow":
            run_block(main, body, ran)
            if "exante decide" in body:
                result = json.loads(plan.with_name("result.json").read_text())
                assert result["verdict"] in ("WINNER", "NEUTRAL", "LOSER")
        elif step == "tampered":  # the agent "fixes a typo" in the sealed plan
            plan.write_text(plan.read_text().replace("We claim, in one", "We claim in one"))
            run_block(main, body, ran)
        elif step == "amend":  # the same change, now declared
            run_block(main, body, ran)
            assert "DEVIATED" in exante(main, "status", "my-change").stdout
        elif step == "ledger-edited":  # the agent rewrites a run's metric in the ledger
            ledger = plan.with_name("ledger.jsonl")
            lines = ledger.read_text().splitlines(keepends=True)
            i = next(n for n, line in enumerate(lines) if '"RUN_OK"' in line)
            lines[i] = re.sub(r'"val_loss":(\d)', lambda m: f'"val_loss":{int(m[1]) - 1}',
                              lines[i], count=1)
            ledger.write_text("".join(lines))
            run_block(main, body, ran)
        elif step == "killed":  # another registry, where the candidate diverges and is killed
            killed = tmp_path / "killed"
            killed.mkdir()
            assert exante(killed, "init", "my-change", "--template", "compare").returncode == 0
            kplan = killed / "experiments" / "my-change" / "prereg.yaml"
            kplan.with_name("train.py").write_text(
                trial.replace("return {\"val_loss\": ", "return {\"val_loss\": 10 * "
                              "(params[\"warmup\"] > 0) + "))
            kplan.write_text(own_claim(kplan.read_text()))
            assert exante(killed, "lock", str(kplan)).returncode == 0
            first = exante(killed, "run", "my-change")
            assert first.returncode == 1 and "KILLED by rule 'diverged'" in first.stdout
            run_block(killed, body, ran)
        else:
            pytest.fail(f"the test does not know step {step!r}: teach it, then the skill")
    assert ran == shown  # every command the skill shows ran, in order
    assert len(ran) >= 15
