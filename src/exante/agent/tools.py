"""The tools `exante mcp` offers, without the MCP SDK: their input schemas, and `Registry`,
which runs a call confined to one registry folder and returns the verb's `--json` record.

Confinement: every path a tool is given (a plan, an experiment id, a research-note file) is
resolved (symlinks followed) and refused unless it lies inside the registry the server was
started on. No tool writes a plan's text or a ledger line except through the library's own
verbs: `lock` seals an unsealed plan (a sealed one is left as it is), `amend` needs `reason`
and `seen` exactly as on the CLI, `run` appends what the runner appends. `run` returns as
soon as the sweep has started in its own process; `status` reports its progress. `bet`
runs a sealed bet module once, in its own process (never in the server's), and returns
when it ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError, RefusedError, TamperedError
from ..seal import TAMPERED
from . import records

EXPERIMENT = {"type": "string", "minLength": 1,
              "description": "an experiment id under the registry (e.g. 'my-idea'), or the path "
                             "of its plan inside the registry"}


def _schema(properties: dict[str, Any], required: list[str] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    output: str  # the verb whose record schema describes the result
    read_only: bool


TOOLS = [
    ToolSpec("init", "Write a commented starting plan for a new experiment (not sealed). Edit it "
             "and write its trial before `lock`.",
             _schema({"name": {"type": "string", "minLength": 1,
                               "description": "experiment id: letters, digits, - and _"},
                      "template": {"enum": ["compare", "ablation", "bet"], "default": "compare",
                                   "description": "compare: one change vs a baseline, variance "
                                                  "first (seed 003); ablation: factorial; bet: "
                                                  "a bet module"}}, ["name"]),
             "init", False),
    ToolSpec("lock", "Seal a plan before any result exists: sha256 into the file, code and data "
             "fingerprinted, LOCKED in the ledger. A sealed plan is never changed by this tool.",
             _schema({"experiment": EXPERIMENT}, ["experiment"]), "lock", False),
    ToolSpec("verify", "Check the seal, the lock record and the code/data fingerprints of a plan. "
             "A changed byte is refused: PREREG TAMPERED. Refusing to run.",
             _schema({"experiment": EXPERIMENT}, ["experiment"]), "verify", True),
    ToolSpec("amend", "Re-seal a plan after a deliberate change, recording why and which results "
             "had been seen. After runs started, every later result is marked DEVIATED.",
             _schema({"experiment": EXPERIMENT,
                      "reason": {"type": "string", "minLength": 1, "pattern": "\\S",
                                 "description": "why the plan or its code changed"},
                      "seen": {"type": "string", "minLength": 1, "pattern": "\\S",
                               "description": "what results had been seen ('none' if none)"}},
                     ["experiment", "reason", "seen"]), "amend", False),
    ToolSpec("run", "Start the sealed plan's registered runs in the background and return at "
             "once; poll `status` until sweep.running is false. Refused for a tampered, "
             "changed or killed plan, or while a sweep is already running.",
             _schema({"experiment": EXPERIMENT,
                      "executor": {"enum": ["local", "inline"], "default": "local"},
                      "workers": {"type": "integer", "minimum": 1, "maximum": 256,
                                  "description": "parallel worker processes (default: CPUs)"}},
                     ["experiment"]), "run_started", False),
    ToolSpec("bet", "Run a sealed bet module (NN_name.py, from init's bet template) once and "
             "return when it ends: one recorded invocation, judged by its registered tiers, "
             "controls and repeats (the verdict is NO RESULT until every repeat is in). A "
             "crash of the bet's code returns the record with `error`; the run stays on the "
             "ledger as RUN_FAILED. Refused for a tampered or changed bet, or a rerun "
             "without an amendment.",
             _schema({"module": {"type": "string", "minLength": 1,
                                 "description": "the bet module's path inside the registry: "
                                                "absolute, from the server's folder, or from "
                                                "the registry (e.g. 'bets/01_probe.py')"},
                      "timeout_s": {"type": "integer", "minimum": 1, "maximum": 86400,
                                    "default": 3600,
                                    "description": "stop the bet after this many seconds "
                                                   "(its run then stays open in the ledger)"}},
                     ["module"]), "bet", False),
    ToolSpec("status", "Planned, completed, failed, pending runs; killed, deviated; whether a "
             "sweep is running now.", _schema({"experiment": EXPERIMENT}, ["experiment"]),
             "status", True),
    ToolSpec("decide", "Apply the registered rules to the ledger and write result.json: the "
             "verdict, every number used and the caveats.",
             _schema({"experiment": EXPERIMENT}, ["experiment"]), "decide", False),
    ToolSpec("report", "Write report.md, report.html and figures from the saved plan, ledger and "
             "result.json (optionally the paper and the deck).",
             _schema({"experiment": EXPERIMENT, "paper": {"type": "boolean", "default": False},
                      "pdf": {"type": "boolean", "default": False},
                      "deck": {"type": "boolean", "default": False},
                      "research_note": {"type": "string", "minLength": 1,
                                        "description": "seed-protocol plans: where to write "
                                                       "the research note (inside the "
                                                       "registry)"}}, ["experiment"]),
             "report", False),
    ToolSpec("log", "Every ledger record of an experiment, after checking the hash chain.",
             _schema({"experiment": EXPERIMENT}, ["experiment"]), "log", True),
    ToolSpec("postmortem", "Write the postmortem template of a killed experiment (never "
             "overwrites one).", _schema({"experiment": {"type": "string", "minLength": 1}},
                                         ["experiment"]), "postmortem", False),
    ToolSpec("rollup", "Regenerate the catalogue (SUMMARY.md, SUMMARY.json, index.html) over "
             "every experiment, killed and failed ones included.", _schema({}), "rollup", False),
    ToolSpec("audit", "Trace every result in the registry to a lock made before it; ok is false "
             "on a finding.", _schema({"strict": {"type": "boolean", "default": False}}),
             "audit", True),
]


class Registry:
    """Tool calls confined to one registry folder."""

    def __init__(self, root: Path, *, python: str = sys.executable, start_timeout: float = 120):
        self.root = Path(root).resolve()
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"{root}: not a folder; pass --root the registry folder")
        self.root.mkdir(parents=True, exist_ok=True)
        self.python = python
        self.start_timeout = start_timeout
        self.children: list[subprocess.Popen] = []
        self.handlers: dict[str, Callable[..., dict[str, Any]]] = {
            "init": lambda name, template="compare": records.init(name, template, self.root),
            "lock": lambda experiment: records.lock(self.plan(experiment)),
            "verify": lambda experiment: records.verify(self.plan(experiment)),
            "amend": lambda experiment, reason, seen: records.amend(self.plan(experiment),
                                                                    reason, seen),
            "run": self.run,
            "bet": self.bet,
            "status": lambda experiment: records.status(self.plan(experiment)),
            "decide": lambda experiment: records.decide(self.plan(experiment)),
            "report": self.report,
            "log": lambda experiment: records.log(self.plan(experiment)),
            "postmortem": lambda experiment: records.postmortem(
                self.experiment_id(experiment), self.root),
            "rollup": lambda: records.rollup(self.root)[0],
            "audit": lambda strict=False: records.audit(self.root, strict=strict)[0],
        }

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Run tool `name`; returns its record or raises an `ExanteError`."""
        self.reap()
        if name not in self.handlers:
            raise InputError(f"unknown tool {name!r}")
        return self.handlers[name](**arguments)

    # -- confinement
    def inside(self, path: Path, what: str) -> Path:
        """`path` resolved; InputError unless it lies inside the registry."""
        resolved = Path(path).resolve()
        if not self._is_inside(resolved):
            raise InputError(f"{what} {path} is outside the registry {self.root}; this server "
                             "only touches files inside it")
        return resolved

    def plan(self, target: str) -> Path:
        from ..paths import PLAN_NAMES, experiment_dir, find_plan

        text = str(target)
        if "/" in text or "\\" in text or text.endswith((".yaml", ".yml", ".py")) or \
                text in (".", ".."):
            path = Path(text)
            path = self.inside(path if path.is_absolute() else Path.cwd() / path, "path")
            if path.is_dir() and not any((path / n).is_file() for n in PLAN_NAMES):
                raise InputError(f"{path}: no prereg.yaml in this folder")
            plan = find_plan(path, self.root)
        else:  # an id names a folder of the registry, never one next to the server's cwd
            from ..spec import check_id

            check_id(text)
            found = [self.root / text / n for n in PLAN_NAMES if (self.root / text / n).is_file()]
            if not found:
                raise InputError(f"no experiment {text!r} in the registry {self.root} (looked "
                                 f"for {self.root / text}/prereg.yaml)")
            plan = found[0]
        plan = self.inside(plan, "plan")
        self.inside(experiment_dir(plan), "experiment folder")
        return plan

    def experiment_id(self, target: str) -> str:
        from ..spec import check_id

        if "/" in target or target.endswith((".yaml", ".yml")):
            from ..paths import experiment_dir

            return experiment_dir(self.plan(target)).name
        check_id(target)
        return target

    def _is_inside(self, path: Path) -> bool:
        resolved = Path(path).resolve()
        return resolved == self.root or self.root in resolved.parents

    # -- tools with more than one step
    def report(self, experiment: str, paper: bool = False, pdf: bool = False, deck: bool = False,
               research_note: str | None = None) -> dict[str, Any]:
        plan = self.plan(experiment)
        if research_note is not None:
            note_path = Path(research_note)
            note = self.inside(note_path if note_path.is_absolute() else self.root / note_path,
                               "research_note")
        else:
            from ..report.experiment import default_sigma_note_path

            note = default_sigma_note_path(plan)
            if note is not None:
                self.inside(note, "the plan's research note (pass research_note inside it)")
        return records.report(plan, paper=paper, pdf=pdf, deck=deck, research_note=note)

    def _writes_inside(self, plan: Path) -> None:
        """Refuse a plan whose sealed seed protocol would write outside the registry."""
        from ..spec import load_plan

        proto = load_plan(plan).seed_protocol
        for name in ("reuse", "report"):
            target = getattr(proto, name, None) if proto is not None else None
            if target:
                self.inside(plan.parent / target, f"seed_protocol.{name}")

    def run(self, experiment: str, executor: str = "local", workers: int | None = None
            ) -> dict[str, Any]:
        from .. import runner
        from ..paths import experiment_dir

        plan = self.plan(experiment)
        if plan.suffix == ".py":
            raise InputError(f"{experiment}: a bet module runs once with the `bet` tool, which "
                             "returns its record when it ends")
        current = records.status(plan)
        if current["sweep"]["running"]:
            raise RefusedError(f"a sweep is already running on {current['experiment_id']} (pid "
                               f"{current['sweep']['pid']}); poll `status` until it ends")
        runner.check_runnable(plan)  # a tampered, changed or killed plan is refused here, now
        self._writes_inside(plan)
        folder = experiment_dir(plan)
        log = folder / ".mcp-run.log"
        argv = self._exante("run", str(plan), "--executor", executor,
                            "--workers", str(workers or os.cpu_count() or 1))
        with _open_log(log) as fh:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fh,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append(proc)
        pid_file = folder / ".runner.pid"
        deadline = time.monotonic() + self.start_timeout
        while proc.poll() is None and time.monotonic() < deadline:
            if pid_file.is_file() and pid_file.read_text().strip() == str(proc.pid) \
                    and self._started(plan, proc.pid):
                break  # its SWEEP_STARTED is in the ledger: `status` now says running
            time.sleep(0.1)
        code = proc.poll()
        if code is not None and code != 0:
            text = log.read_text(encoding="utf-8", errors="replace")
            if "exante.run/1" not in text:  # refused or crashed before the sweep, not a kill
                last = (text.strip().splitlines() or [f"exit code {code}"])[-1]
                raise (InputError if code == 2 else RefusedError)(last)
        return records.envelope("run_started", {
            "experiment_id": current["experiment_id"], "path": str(plan), "pid": proc.pid,
            "log": str(log), "finished": code is not None, "exit_code": code,
            "status": records.status(plan)})

    def bet(self, module: str, timeout_s: int = 3600) -> dict[str, Any]:
        """`exante run NN_name.py` in a child process (the bet's code never runs in the
        server), then its exante.bet/1 record built here from the ledger, never from what
        the child printed: the run this call added, a crash of the bet included."""
        from .. import bets
        from ..errors import ExanteError

        given = Path(module)  # relative: to the server's folder as for every tool, else to
        # the registry
        tries = [given] if given.is_absolute() else [Path.cwd() / given, self.root / given]
        found = [p for p in tries if p.is_file()]
        path = self.inside(next((p for p in found if self._is_inside(p)), (found or tries)[-1]),
                           "module")
        if path.suffix != ".py":
            raise InputError(f"{module}: `bet` runs a bet module (NN_name.py); for a plan "
                             "(prereg.yaml) use `run`")
        if not path.is_file():
            raise InputError(f"{module}: no such bet module in the registry {self.root}")
        before = bets.run_ids(path)
        folder = self.inside(path.parent / path.stem, "the bet's folder")
        folder.mkdir(exist_ok=True)
        log = folder / ".mcp-bet.log"
        with _open_log(log) as fh:  # a file, not a pipe: a child the bet leaves behind
            proc = subprocess.Popen(self._exante("run", str(path)), stdin=subprocess.DEVNULL,
                                    stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append(proc)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            code = None
        lines = _tail(log).splitlines()
        try:
            after = bets.outcome_of(path)
        except ExanteError:
            after = None  # not sealed yet, say: the child refused it and said why
        added = [r for r in after.runs if r.run_id not in before] if after else []
        if not added:  # refused before recording (or a child that lied about its work)
            if code == 2:
                raise InputError(lines[-1].removeprefix("error: ") if lines else
                                 f"{module}: exit code 2")
            if any(line.startswith(TAMPERED) for line in lines):
                raise TamperedError(" ".join(line for line in lines[-6:] if line.strip()))
            raise RefusedError(lines[-1] if lines and code else
                               f"{module}: the bet's process ended (exit code {code}) and "
                               f"recorded no run (its output: {log})")
        ran = added[-1]
        error = None
        if code is None:
            error = (f"{module}: the bet ran past timeout_s={timeout_s} s and was stopped; "
                     "its run stays open in the ledger")
        elif ran.status == "started":
            error = (f"{module}: the bet's process ended (exit code {code}) before its run "
                     f"did; the run stays open in the ledger (output: {log})")
        elif ran.status == "failed":
            error = next((line for line in reversed(lines) if "the bet raised" in line),
                         ran.error or f"exit code {code}")
        return records.bet(path, after, ran.run_id, error=error)

    def _exante(self, *args: str) -> list[str]:
        """argv of `exante ARGS --json` with the working folder off sys.path (its first entry,
        and any '' or copy of it PYTHONPATH added), so no `exante` package there can stand in
        for the real one."""
        launch = ("import os, sys; here = os.getcwd(); sys.path[:] = [p for p in sys.path if p "
                  "and os.path.abspath(p) != here]; from exante.cli import main; "
                  "main(prog_name='exante')")
        return [self.python, "-c", launch, *args, "--json"]

    @staticmethod
    def _started(plan: Path, pid: int) -> bool:
        from ..events import Event
        from ..history import History
        from ..paths import ledger_path

        start = History.read(ledger_path(plan), verify=False).last(Event.SWEEP_STARTED)
        return start is not None and start.data.get("pid") == pid

    def reap(self) -> None:
        """Collect finished sweeps, so a dead one never reads as running."""
        self.children = [p for p in self.children if p.poll() is None]


def _tail(path: Path, size: int = 65536) -> str:
    """The last `size` bytes of a log, decoded whatever bytes the bet wrote."""
    with open(path, "rb") as fh:
        fh.seek(max(0, fh.seek(0, os.SEEK_END) - size))
        return fh.read().decode("utf-8", errors="replace")


def _open_log(path: Path):
    """The server's log file for a child, opened for writing without following a link: a
    link planted there must not make the server write outside the registry."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if path.is_symlink():
            raise RefusedError(f"{path} is a symbolic link; the server writes its logs only to "
                               "plain files inside the registry: remove it") from exc
        raise
    return os.fdopen(fd, "wb")
