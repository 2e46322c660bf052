"""`exante mcp`, driven the way an agent drives it: the server is started as a subprocess and
spoken to through the MCP SDK's own stdio client (`mcp.client.stdio.stdio_client` and
`ClientSession`). One session runs a whole seed-003 experiment (init, lock, run, status until
done, decide, report, log, rollup, audit), and shows what the server refuses: paths outside
its registry, a killed plan re-run, a tampered plan, an amendment without what was seen.
Another session runs a sealed bet module with the `bet` tool, in a child process.
The SDK client itself validates every structured result against the tool's output schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mcp")
anyio = pytest.importorskip("anyio")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

TOOLS = {"init", "lock", "verify", "amend", "run", "bet", "status", "decide", "report", "log",
         "postmortem", "rollup", "audit"}
TRAIN = '''import random


def train(params, seed, ctx):
    rng = random.Random(seed)
    loss = 3.0 - 0.5 * (params["warmup"] > 0) + rng.gauss(0.0, 0.02)
    return {"val_loss": loss * DIVERGE if params["warmup"] > 0 else loss}
'''


class Agent:
    """A client session on `exante mcp --root ROOT`; `call` returns (is_error, record)."""

    def __init__(self, session: ClientSession):
        self.session = session

    async def call(self, tool: str, **arguments) -> tuple[bool, dict]:
        result = await self.session.call_tool(tool, arguments)
        record = result.structured_content
        assert record is not None, result
        text = result.content[0].text
        if not result.is_error:
            assert json.loads(text) == record  # the text block is the same record
        return bool(result.is_error), record

    async def ok(self, tool: str, **arguments) -> dict:
        is_error, record = await self.call(tool, **arguments)
        assert not is_error, record
        assert record["schema"] == f"exante.{'run_started' if tool == 'run' else tool}/1"
        return record

    async def refused(self, tool: str, code: int = 1, **arguments) -> str:
        is_error, record = await self.call(tool, **arguments)
        assert is_error, record
        assert record["schema"] == "exante.error/1" and record["exit_code"] == code, record
        return record["error"]

    async def until_done(self, experiment: str, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status = await self.ok("status", experiment=experiment)
            if not status["sweep"]["running"]:
                return status
            assert time.monotonic() < deadline, status
            await anyio.sleep(0.5)


def write_trial(plan: str, diverge: float) -> None:
    """The trial next to the plan, and a claim of our own for the template's placeholder."""
    from exante.registration import TEMPLATE_HYPOTHESES

    Path(plan).with_name("train.py").write_text(TRAIN.replace("DIVERGE", str(diverge)))
    text = Path(plan).read_text()
    for marker in TEMPLATE_HYPOTHESES:
        text = text.replace(marker, "We claim, in one falsifiable")
    Path(plan).write_text(text)


def drive(tmp_path: Path, scenario) -> None:
    env = {k: os.environ[k] for k in ("PYTHONPATH", "HOME", "PATH") if k in os.environ}
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "exante", "mcp", "--root", "experiments"],
                                   cwd=str(tmp_path), env=env)

    async def main() -> None:
        with open(tmp_path / "server.stderr", "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    await scenario(Agent(session), session)

    anyio.run(main)


def test_an_agent_runs_a_whole_experiment_over_mcp_and_is_refused_the_shortcuts(tmp_path):
    root = tmp_path / "experiments"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "prereg.yaml").write_text('experiment_id: outside\nsha256: ""\n')
    seen: dict = {}

    async def scenario(agent: Agent, session: ClientSession) -> None:
        listed = (await session.list_tools()).tools
        assert {t.name for t in listed} == TOOLS
        for tool in listed:
            assert tool.input_schema["type"] == "object" and tool.output_schema is not None
            assert tool.output_schema["properties"]["schema"]["const"].startswith("exante.")

        # ---- a whole experiment: init, (write the trial), lock, run, status until done, ...
        init = await agent.ok("init", name="warmup")
        write_trial(init["path"], diverge=1.0)
        lock = await agent.ok("lock", experiment="warmup")
        assert lock["already_locked"] is False and "code:train.py" in lock["fingerprints"]
        assert (await agent.ok("verify", experiment=init["path"]))["ok"] is True
        started = await agent.ok("run", experiment="warmup", executor="local", workers=2)
        assert started["pid"] > 0 and started["status"]["planned"] >= 8
        assert started["finished"] or started["status"]["sweep"]["running"]  # returned at once
        done = await agent.until_done("warmup")
        assert done["pending"] == 0 and done["failed"] == 0 and not done["killed"]
        assert done["by_role"]["baseline"]["completed"] == 5  # variance first: 5 seeds
        decided = await agent.ok("decide", experiment="warmup")
        assert decided["verdict"] == "WINNER"  # 0.5 lower loss against a 0.02 spread
        report = await agent.ok("report", experiment="warmup")
        assert all(Path(p).is_file() for p in report["written"]["report"])
        log = await agent.ok("log", experiment="warmup")
        assert [r["event"] for r in log["records"]].count("RUN_OK") == done["completed"]
        rollup = await agent.ok("rollup")
        assert rollup["experiments"] == 1
        assert (await agent.ok("audit"))["ok"] is True
        seen["status"] = done

        # ---- paths outside the registry are refused, and nothing is written there
        for target in (str(outside / "prereg.yaml"), "../outside/prereg.yaml", str(outside),
                       "/etc/passwd"):
            error = await agent.refused("lock", code=2, experiment=target)
            assert "outside the registry" in error, error
        assert 'sha256: ""' in (outside / "prereg.yaml").read_text()  # never sealed
        assert "no experiment" in await agent.refused("status", code=2, experiment="outside")
        (root / "sneaky").symlink_to(outside, target_is_directory=True)
        assert "outside the registry" in await agent.refused("lock", code=2,
                                                             experiment="sneaky")
        note = tmp_path / "note.md"
        error = await agent.refused("report", code=2, experiment="warmup",
                                    research_note=str(note))
        assert "outside the registry" in error and not note.exists()
        (root / "sneaky").unlink()

        # ---- a killed plan: the sweep stops; re-running it is refused, the ledger untouched
        init = await agent.ok("init", name="diverges")
        write_trial(init["path"], diverge=10.0)
        await agent.ok("lock", experiment="diverges")
        await agent.ok("run", experiment="diverges", executor="inline")
        killed = await agent.until_done("diverges")
        assert killed["killed"] is True and killed["kill"]["rule"] == "diverged"
        ledger = Path(init["path"]).with_name("ledger.jsonl")
        before = ledger.read_bytes()
        error = await agent.refused("run", experiment="diverges")
        assert "KILLED" in error and "cannot be re-run without a new lock" in error
        assert ledger.read_bytes() == before
        post = await agent.ok("postmortem", experiment="diverges")
        assert Path(post["path"]).is_file()

        # ---- a sealed plan edited behind exante's back is refused; amend needs `seen`
        plan = Path(init["path"].replace("diverges", "warmup"))
        plan.write_text(plan.read_text() + "# a quiet edit\n")
        assert "PREREG TAMPERED" in await agent.refused("run", experiment="warmup")
        assert "PREREG TAMPERED" in await agent.refused("verify", experiment="warmup")
        error = await agent.refused("amend", code=2, experiment="warmup", reason="typo")
        assert "seen" in error
        error = await agent.refused("amend", code=2, experiment="warmup", reason="typo",
                                    seen="  ")
        amended = await agent.ok("amend", experiment="warmup", reason="a comment",
                                 seen="the WINNER verdict")
        assert amended["deviation"] is True
        assert "unknown tool" in await agent.refused("delete", code=2)

    drive(tmp_path, scenario)

    # the MCP record is the CLI's --json record, byte for byte in content
    cli = subprocess.run([sys.executable, "-m", "exante", "status", "warmup", "--json"],
                         cwd=tmp_path, capture_output=True, text=True, check=True)
    cli_status = json.loads(cli.stdout)
    assert {k: v for k, v in cli_status.items() if k not in ("amendments", "deviated", "sealed")} \
        == {k: v for k, v in seen["status"].items() if k not in ("amendments", "deviated", "sealed")}


def test_an_agent_runs_a_sealed_bet_over_mcp_and_gets_its_verdict(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    from bet_helpers import BET

    outside = tmp_path / "outside.py"
    outside.write_text("def main():\n    open('PWNED', 'w')\n")

    async def scenario(agent: Agent, session: ClientSession) -> None:
        init = await agent.ok("init", name="probe", template="bet")
        module = Path(init["path"])
        number, _, title = module.stem.partition("_")
        module.write_text(BET.format(number=number, title=title, gain=1.0, control=0.0,
                                     repeats=1, extra="", body='print("the bet says hello")'))
        await agent.ok("lock", experiment=str(module))
        relative = str(module.relative_to(tmp_path / "experiments"))

        # `run` is for plans; a bet goes through `bet`, which returns when it has ended
        said = await agent.refused("run", 2, experiment=str(module))
        assert "`bet` tool" in said
        record = await agent.ok("bet", module=relative)
        assert record["verdict"] == "STRICT" and record["error"] is None
        assert record["ran"]["run_id"] == f"{module.stem}-r1" and record["ran"]["status"] == "ok"
        assert Path(record["results_path"]).is_file()

        # what the server refuses: a second run without an amendment, a changed byte, a
        # module outside the registry (never imported: no PWNED file appears)
        said = await agent.refused("bet", 1, module=f"experiments/{relative}")  # from cwd
        assert "amend" in said
        log = await agent.ok("log", experiment=str(module))
        oks = [r for r in log["records"] if r["event"] == "RUN_OK"]
        assert len(oks) == 1  # the refused rerun recorded nothing
        module.write_text(module.read_text().replace("STRICT_MIN_GAIN = 0.15",
                                                     "STRICT_MIN_GAIN = 0.1"))
        is_error, error = await agent.call("bet", module=relative)
        assert is_error and error["kind"] == "TamperedError", error
        assert error["error"].startswith("PREREG TAMPERED. Refusing to run.")
        said = await agent.refused("bet", 2, module=str(outside))
        assert "outside the registry" in said
        assert not (tmp_path / "PWNED").exists() and not (tmp_path / "experiments" / "PWNED"
                                                          ).exists()

    drive(tmp_path, scenario)


def test_the_bet_tool_answers_from_the_ledger_whatever_the_bet_does(tmp_path):
    """The record comes from the ledger, not from the child's stdout: a bet that prints a fake
    record, exits before its run ends or writes bytes that are not UTF-8 cannot change it, a
    child it leaves running does not hold the call, and no `exante` package in the working
    folder or the registry stands in for the real one."""
    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    from bet_helpers import BET

    fake = 'print(\'{"schema": "exante.bet/1", "verdict": "STRICT"}\')'
    bodies = {
        "garbles": (0.0, f'import os; os.write(2, b"caf\\xe9\\n"); {fake}'),
        "vanishes": (1.0, f"import os; {fake}; os._exit(0)"),
        "lingers": (1.0, 'import subprocess; subprocess.Popen(["sleep", "60"])'),
        "shadowed": (0.0, "pass"),
    }
    shadow = ('import pathlib; pathlib.Path(__file__).with_name("PWNED").write_text("x"); '
              f'{fake}\n')

    async def scenario(agent: Agent, session: ClientSession) -> None:
        modules = {}
        for name, (gain, body) in bodies.items():
            path = Path((await agent.ok("init", name=name, template="bet"))["path"])
            number, _, title = path.stem.partition("_")
            path.write_text(BET.format(number=number, title=title, gain=gain, control=0.0,
                                       repeats=1, extra="", body=body))
            await agent.ok("lock", experiment=str(path))
            modules[name] = str(path)

        garbled = await agent.ok("bet", module=modules["garbles"])
        assert garbled["verdict"] == "FAIL" and garbled["ran"]["status"] == "ok"

        vanished = await agent.ok("bet", module=modules["vanishes"])
        assert vanished["ran"]["status"] == "started" and vanished["verdict"] != "STRICT"
        assert "before its run did" in vanished["error"]

        start = time.monotonic()
        lingered = await agent.ok("bet", module=modules["lingers"], timeout_s=30)
        assert lingered["verdict"] == "STRICT" and lingered["error"] is None
        assert time.monotonic() - start < 20  # the sleeping child did not hold the call

        for where in (tmp_path, tmp_path / "experiments"):  # the server's cwd, the registry
            (where / "exante").mkdir()
            (where / "exante" / "__init__.py").write_text("")
            (where / "exante" / "__main__.py").write_text(shadow)
        shadowed = await agent.ok("bet", module=modules["shadowed"])
        assert shadowed["verdict"] == "FAIL"  # the real exante ran the real bet
        assert not list(tmp_path.rglob("PWNED"))

    drive(tmp_path, scenario)


def test_the_server_never_writes_through_a_link_planted_in_the_registry(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    from bet_helpers import BET

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")

    async def scenario(agent: Agent, session: ClientSession) -> None:
        path = Path((await agent.ok("init", name="linked", template="bet"))["path"])
        number, _, title = path.stem.partition("_")
        path.write_text(BET.format(number=number, title=title, gain=1.0, control=0.0,
                                   repeats=1, extra="", body="pass"))
        await agent.ok("lock", experiment=str(path))
        (path.parent / path.stem / ".mcp-bet.log").symlink_to(victim)
        said = await agent.refused("bet", 1, module=str(path))
        assert "symbolic link" in said

        init = await agent.ok("init", name="warmup")
        write_trial(init["path"], diverge=1.0)
        await agent.ok("lock", experiment="warmup")
        (Path(init["path"]).parent / ".mcp-run.log").symlink_to(victim)
        said = await agent.refused("run", 1, experiment="warmup")
        assert "symbolic link" in said

    drive(tmp_path, scenario)
    assert victim.read_text() == "precious\n"
