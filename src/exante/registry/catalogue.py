"""The catalogue: one entry per experiment, with retractions and ladders resolved.

Entries come from saved files only. The verdict is read from result.json,
else from the ledger's last DECIDED record, else from a KILLED record, so an
experiment whose folder lost its result still appears with its verdict; FAIL
and KILL entries are never dropped. A later experiment that declares
``retracts: [{id, reason}]`` in a locked plan turns the earlier entry into
RETRACTED, linked both ways. Plans with ``ladder: {name, rung, scope}`` are
grouped per ladder in rung order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .. import seal
from ..errors import ExanteError, InputError
from ..events import Event
from ..history import History
from ..verdicts import Verdict
from ..results import ResultError, read_result
from .discover import BET_RE, Found, discover
from .plan_cache import PlanCache
from .postmortem import MISSING, postmortem_status

RESULT = "result.json"


@dataclass
class Entry:
    """What the catalogue knows about one experiment (paths relative to the registry root)."""

    id: str
    kind: str
    folder: str
    plan_file: str | None
    hypothesis: str = ""
    verdict: str = "UNSEALED"
    tier: str | None = None
    verdict_source: str = "none"
    verdict_reasons: list[str] = field(default_factory=list)
    plan_sha256: str | None = None
    locked: bool = False
    stale: bool = False
    traps: dict[str, Any] | None = None
    tau: dict[str, Any] | None = None
    amendments: int = 0
    deviated: bool = False
    kill: dict[str, Any] | None = None
    postmortem: str = "not required"
    retracts: list[dict[str, str]] = field(default_factory=list)
    retracted_by: list[dict[str, str]] = field(default_factory=list)
    ladder: dict[str, Any] = field(default_factory=dict)
    report: str | None = None
    caveats: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    retrospective: bool = False  # runs imported after the lock (History.retrospective)
    bet: dict[str, Any] | None = None  # a bet exante judged: its runs, controls, scope (bets.py)
    findings: list[dict[str, str]] = field(default_factory=list)  # per factor (or arm): verdict, effect, CI
    plan_text: str | None = field(default=None, repr=False)
    report_files: tuple[str, ...] = field(default=(), repr=False)  # report.html/.md present

    @property
    def killed(self) -> bool:
        return self.verdict == Verdict.KILL or self.kill is not None

    @property
    def retracted(self) -> bool:
        return bool(self.retracted_by)

    @property
    def decided(self) -> bool:
        """A verdict was decided (a plan's DECIDED/result, a kill, a bet exante judged)."""
        if self.kind == "bet" and not self.bet:
            return False  # a results file the bet wrote itself is not a decision
        return self.verdict not in ("UNSEALED", "REGISTERED", "NO RESULT")

    @property
    def display_verdict(self) -> str:
        v = self.verdict + (f" ({self.tier})" if self.tier else "")
        v += " — RETROSPECTIVE" if self.retrospective else ""
        v += " — DEVIATED" if self.kind == "bet" and self.bet and self.deviated else ""
        if self.kill and self.verdict != Verdict.KILL:  # a new attempt after a kill: the kill stays
            v += f" — after KILL ({self.kill.get('rule')}), DEVIATED"
        return f"RETRACTED (was {v})" if self.retracted else v

    def to_dict(self) -> dict[str, Any]:
        # shallow: the fields are JSON values already (asdict's deep copy was a tenth of a
        # rollup of 1,000 experiments); nothing mutates what this returns
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_JSON}
        d["display_verdict"] = self.display_verdict
        d["killed"] = self.killed
        return d


_NOT_JSON = ("plan_text", "report_files")  # what Entry.to_dict leaves out


@dataclass
class Catalogue:
    root: Path
    entries: list[Entry]
    problems: list[str] = field(default_factory=list)
    # per entry folder: its ledger's History (read once) and loaded plan, so no later step
    # reads them again
    reads: dict[str, History] = field(default_factory=dict, repr=False)
    plans: dict[str, Any] = field(default_factory=dict, repr=False)  # only when not cached
    cache: PlanCache | None = field(default=None, repr=False)  # rollup's plan fields (not audit)

    def by_id(self, experiment_id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == experiment_id), None)

    @property
    def killed_without_postmortem(self) -> list[Entry]:
        return [e for e in self.entries if e.killed and e.postmortem != "written"]

    def ladders(self) -> dict[str, list[Entry]]:
        out: dict[str, list[Entry]] = {}
        for e in self.entries:
            if e.ladder.get("name"):
                out.setdefault(str(e.ladder["name"]), []).append(e)
        return {k: sorted(v, key=lambda e: _rung_key(e.ladder.get("rung")))
                for k, v in sorted(out.items())}

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for e in self.entries:
            key = "RETRACTED" if e.retracted else e.verdict
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))


def natural_key(text: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(text))]


def _rung_key(rung: Any) -> tuple:
    if isinstance(rung, (int, float)) and not isinstance(rung, bool):
        return (0, float(rung), "")
    return (1, 0.0, natural_key(str(rung)))


# ---------------------------------------------------------------- reading one experiment


def _read(folder: Path, entry: Entry, full: bool) -> History:
    """The experiment's ledger, read once; a broken chain is a problem on the entry, and its
    records are still shown unverified (`History.error` says why)."""
    history = History.read(folder / "ledger.jsonl", tolerant=True, full=full)
    if history.error is not None:
        entry.problems.append(f"ledger: {history.error} (run `exante audit`)")
    return history


def _apply_ledger(entry: Entry, history: History) -> None:
    lock = history.lock()
    entry.locked = lock is not None
    if lock is not None:
        entry.plan_sha256 = entry.plan_sha256 or history.sealed_hash
    entry.amendments = len(history.amendments())
    entry.retrospective = history.retrospective() is not None
    entry.deviated = history.deviated
    kill = history.last(Event.KILLED)
    if kill is not None:
        entry.kill = dict(kill.data)
    decided = history.last(Event.DECIDED)
    if decided is not None:
        entry.verdict, entry.tier = decided.data.get("verdict"), decided.data.get("tier")
        entry.verdict_source = "ledger (DECIDED record; result.json missing)"
        entry.caveats = list(decided.data.get("caveats") or [])
    elif kill is not None:
        entry.verdict, entry.verdict_source = Verdict.KILL, "ledger (KILLED record)"
    elif history.terminal():
        entry.verdict, entry.verdict_source = "NO RESULT", "ledger (runs, not decided)"
    elif lock is not None:
        entry.verdict, entry.verdict_source = "REGISTERED", "ledger (locked, not run)"


def _apply_result(entry: Entry, folder: Path) -> None:
    path = folder / RESULT
    if not path.is_file():
        return
    try:
        result = read_result(path, strict=False, require=("verdict",))  # the one reader
    except ResultError as exc:
        entry.problems.append(f"{RESULT}: unreadable ({exc})")
        return
    entry.verdict, entry.tier = str(result.verdict), result.tier
    entry.verdict_source = RESULT
    entry.verdict_reasons = list(result.verdict_reasons)
    entry.hypothesis = entry.hypothesis or str(result.get("hypothesis") or "")
    entry.caveats = result.caveat_codes
    if entry.plan_sha256 and result.get("plan_sha256") != entry.plan_sha256:
        entry.stale = True
        entry.problems.append(f"{RESULT} was decided for plan {str(result.get('plan_sha256'))[:12]}"
                              f"…, not the current lock {entry.plan_sha256[:12]}…")
    entry.traps = _trap_summary(result.get("traps") or [])
    entry.tau = _tau_summary(result.get("tau"))
    entry.findings = _findings(result, entry)
    if result.get("kill") and not entry.kill:
        entry.kill = result["kill"]


def _findings(result: Any, entry: Entry) -> list[dict[str, str]]:
    """Each factor's (or arm's) finding in the metric's units, as the paper states it."""
    from ..report.findings import finding_rows
    from ..report.units import units_for

    try:
        return finding_rows(result, units_for(result))
    except (KeyError, TypeError, ValueError) as exc:  # a result from an older or foreign writer
        entry.problems.append(f"{RESULT}: findings could not be read ({exc})")
        return []


def _trap_summary(traps: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not traps:
        return None
    judged = [t for t in traps if t.get("expect")]
    return {"total": len(traps), "judged": len(judged),
            "behaved": sum(t.get("passed") is True for t in judged),
            "misbehaved": [t["name"] for t in judged if t.get("passed") is False],
            "undecided": [t["name"] for t in judged if t.get("passed") is None]}


def _tau_summary(tau: dict[str, Any] | None) -> dict[str, Any] | None:
    if not tau:
        return None
    return {"tau": tau.get("tau"), "threshold": tau.get("threshold"),
            "method_mean": tau.get("method_mean"), "passed": tau.get("passed")}


def _plan_entry(found: Found, root: Path, cat: Catalogue, full: bool) -> Entry:
    from ..spec import load_plan

    folder = found.folder
    entry = Entry(id=folder.name, kind="plan", folder=_rel(folder, root),
                  plan_file=_rel(found.path, root))
    try:
        entry.plan_text = seal.read_text(found.path)
        entry.plan_sha256 = seal.inspect(found.path).stored
    except ExanteError as exc:
        entry.problems.append(f"plan: {exc}")
    fields = cat.cache.get(entry.plan_text) if cat.cache and entry.plan_text else None
    if fields is None:
        try:
            plan = load_plan(found.path)
            cat.plans[entry.folder] = plan
            fields = {"experiment_id": plan.experiment_id, "hypothesis": plan.hypothesis,
                      "retracts": [dict(r) for r in plan.retracts], "ladder": dict(plan.ladder),
                      "rules": _rules(plan)}
            if cat.cache and entry.plan_text:
                cat.cache.put(entry.plan_text, fields)
        except ExanteError as exc:
            entry.problems.append(f"plan does not load: {exc}")
    if fields is not None:
        entry.id, entry.hypothesis = fields["experiment_id"], fields["hypothesis"]
        entry.retracts = [dict(r) for r in fields["retracts"]]
        entry.ladder, entry.rules = dict(fields["ladder"]), list(fields["rules"])
    _finish(entry, folder, cat, full)
    return entry


def _rules(plan) -> list[str]:
    d = plan.decision
    out = [f"acceptance: `{d.acceptance}`"] if d.acceptance else []
    out += [f"{n}: `{getattr(d.tiers, n)}`" for n in ("strict", "lenient", "catastrophic")
            if getattr(d.tiers, n)]
    out += [f"kill `{k.name}`: `{k.when}`" + (f" ({k.why})" if k.why else "") for k in plan.kill]
    if plan.kill_prose:
        out.append(f"kill criterion (prose): {plan.kill_prose.strip()}")
    return out


def _finish(entry: Entry, folder: Path, cat: Catalogue, full: bool) -> None:
    history = cat.reads[entry.folder] = _read(folder, entry, full)
    _apply_ledger(entry, history)
    _apply_result(entry, folder)
    postmortem = postmortem_status(folder)
    if entry.killed:
        entry.postmortem = postmortem
    elif postmortem != MISSING:
        entry.postmortem = postmortem + " (not required)"
    entry.report_files = tuple(n for n in ("report.html", "report.md") if (folder / n).is_file())
    if entry.report_files:
        name = entry.report_files[0]
        entry.report = name if entry.folder == "." else f"{entry.folder}/{name}"


def _rel(path: Path, root: Path) -> str:
    try:  # what `discover` found is spelled under `root` already: no filesystem call
        return Path(path).relative_to(root).as_posix() or "."
    except ValueError:
        pass
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix() or "."
    except ValueError:
        return Path(path).as_posix()


# ---------------------------------------------------------------- bets (seed 001): see `bets`


def _orphan_entry(found: Found, root: Path, cat: Catalogue, full: bool) -> Entry:
    entry = Entry(id=found.folder.name, kind="orphan", folder=_rel(found.folder, root),
                  plan_file=None)
    entry.problems.append("the plan file is missing; shown from its ledger")
    _finish(entry, found.folder, cat, full)
    return entry


# ---------------------------------------------------------------- the whole catalogue


def build_catalogue(root: Path | str, *, full_verify: bool = False) -> Catalogue:
    """Read every experiment under `root` (each plan and ledger once) and resolve
    retractions. Never raises for one broken experiment: its problems are listed on its
    entry. `full_verify` (the audit) checks every ledger from its genesis, ignoring
    checkpoints, and parses every plan, ignoring the plan cache (`plan_cache`)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such registry folder")
    from .bets import bet_entry

    makers = {"plan": _plan_entry, "bet": bet_entry, "orphan": _orphan_entry}
    cat = Catalogue(root, [], cache=None if full_verify else PlanCache.load(root))
    entries = [makers[f.kind](f, root, cat, full_verify) for f in discover(root)]
    if cat.cache is not None:
        cat.cache.save()
    entries.sort(key=lambda e: natural_key(e.id))
    cat.entries = entries
    _resolve_retractions(cat)
    _duplicates(cat)
    return cat


def resolve_id(cat: Catalogue, ref: str) -> Entry | None:
    """An entry by exact id, or a bet by its number ('55', 'bet 55', 'Bet-55')."""
    found = cat.by_id(ref)
    if found is not None:
        return found
    m = re.fullmatch(r"(?i)(?:bet[\s_-]*)?(\d+)", ref.strip())
    if m:
        for e in cat.entries:
            bm = BET_RE.match(Path(e.plan_file or "").name) if e.kind == "bet" else None
            if bm and int(bm.group(1)) == int(m.group(1)):
                return e
    return None


def _resolve_retractions(cat: Catalogue) -> None:
    for e in cat.entries:
        for r in e.retracts:
            target = resolve_id(cat, r["id"])
            if target is None:
                cat.problems.append(f"{e.id} retracts {r['id']!r}, which is not in the catalogue")
            elif target is e:
                cat.problems.append(f"{e.id} retracts itself; ignored")
            elif not e.locked:
                cat.problems.append(f"{e.id} declares a retraction of {target.id} but is not "
                                    "locked; lock it for the retraction to take effect")
            elif not e.decided:
                cat.problems.append(f"{e.id} declares a retraction of {target.id} but has no "
                                    f"decided verdict ({e.verdict}); only a decided experiment "
                                    "can retract another: run and decide it first")
            else:
                target.retracted_by.append({"id": e.id, "reason": r["reason"]})
                r["resolved"] = target.id


def _duplicates(cat: Catalogue) -> None:
    seen: dict[str, Entry] = {}
    for e in cat.entries:
        if e.id in seen:
            cat.problems.append(f"two experiments share the id {e.id!r}: {seen[e.id].folder} and "
                                f"{e.folder}")
        seen[e.id] = e


def find_entry(root: Path | str, experiment_id: str) -> Entry:
    """The catalogue entry for `experiment_id`; InputError naming the known ids otherwise."""
    cat = build_catalogue(root)
    entry = resolve_id(cat, experiment_id)
    if entry is None:
        known = ", ".join(e.id for e in cat.entries) or "none"
        raise InputError(f"no experiment {experiment_id!r} under {root} (known: {known})")
    return entry


from .bets import _bet_result, bet_hypothesis, bet_verdict  # noqa: E402,F401  (their old home)
