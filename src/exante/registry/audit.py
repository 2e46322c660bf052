"""The audit: every result traced to a lock that existed before it.

For every experiment under the registry root:

- ``ledger``       the hash chain verifies, line by line;
- ``seal``         the plan's text still hashes to its seal, and that seal is the last lock;
- ``result-lock``  each result (result.json and every DECIDED record) names a plan hash
                   that was LOCKED or AMENDED in this ledger before the runs it rests on,
                   and its ledger head is a record of this ledger; every sweep started
                   under the hash in force;
- ``fingerprints`` the sealed code and data files hash as they did at the lock;
- ``git-order``    inside git, the commit that added the sealed plan is an ancestor of (or
                   equal to) the commits that added its first results;
- ``anchors``, ``result-record``, ``git-history``  against records kept outside the
                   ledger: the registry's anchor log, the DECIDED record, git (`anchored`);
- ``unique-id``    no two experiments share an experiment id;
- ``postmortem``   a killed experiment has a written postmortem (a warning; `--strict`
                   makes it a failure).

Each check gives one `AuditRow`: ok, FAIL, warn or skip, with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from .. import seal
from ..errors import ExanteError
from ..events import Event
from ..history import History, Record
from ..results import ResultError, read_result
from . import anchored, gitlog
from .catalogue import Entry, build_catalogue
from .postmortem import WRITTEN

OK, FAIL, WARN, SKIP = "ok", "FAIL", "warn", "skip"
RUN_OK_NEEDLE = '"event":"RUN_OK"'  # as canonical JSON writes it


@dataclass(frozen=True)
class AuditRow:
    experiment: str
    check: str
    status: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def audit_failed(rows: Iterable[AuditRow], *, strict: bool = False) -> bool:
    """True when any row FAILed, or (strict) a killed experiment lacks a written postmortem."""
    return any(r.status == FAIL or (strict and r.check == "postmortem" and r.status != OK)
               for r in rows)


def audit(root: Path | str = "experiments") -> list[AuditRow]:
    """Audit every experiment under `root`; never raises for a finding (each is a row)."""
    root = Path(root)
    # one read of each experiment, every chain checked from its genesis (no checkpoints)
    cat = build_catalogue(root, full_verify=True)
    rows: list[AuditRow] = []
    with gitlog.remembered():
        for entry in cat.entries:
            rows += _audit_entry(root, entry, cat.reads[entry.folder],
                                 cat.plans.get(entry.folder))
        rows += anchored.anchor_rows(root, cat.entries, cat.reads, AuditRow)
    return rows + _unique_ids(cat.entries)


def _unique_ids(entries: list[Entry]) -> list[AuditRow]:
    """Two folders with one experiment id: a catalogue line (and a retraction) is ambiguous."""
    folders: dict[str, list[str]] = {}
    for e in entries:
        folders.setdefault(e.id, []).append(e.folder)
    return [AuditRow(eid, "unique-id", FAIL, f"{len(found)} experiments share the id {eid!r}: "
                     f"{', '.join(found)}; rename all but one (experiment_id and folder)")
            for eid, found in folders.items() if len(found) > 1]


def _audit_entry(root: Path, e: Entry, read: History, loaded: Any) -> list[AuditRow]:
    folder = root / e.folder
    plan = root / e.plan_file if e.plan_file else None
    rows = []
    history, chain = _chain(e, read)
    rows.append(chain)
    rows.append(_seal(e, plan, history))
    rows += _retrospective(e, folder, history, _result_lock(e, folder, history))
    rows.append(_fingerprints(e, plan, history, loaded))
    rows.append(_git_order(e, folder, plan, read))
    for extra in (anchored.result_record_row(e, folder, history, AuditRow),
                  anchored.git_history_row(e, folder, history, AuditRow)):
        if extra is not None:
            rows.append(extra)
    if e.killed:
        rows.append(AuditRow(e.id, "postmortem", OK if e.postmortem == WRITTEN else WARN,
                             {"written": "written", "draft": "draft: TODO(postmortem) markers "
                              "left"}.get(e.postmortem, "killed without a postmortem; write it: "
                                                        f"exante postmortem {e.id}")))
    return rows


def _chain(e: Entry, read: History) -> tuple[History, AuditRow]:
    """The verified history the other checks read (empty when the chain is broken)."""
    if not read.exists:
        status = SKIP if e.kind != "orphan" and e.verdict == "UNSEALED" else FAIL
        return History(), AuditRow(e.id, "ledger", status, "no ledger.jsonl (never locked)")
    if read.error is not None:
        return History(), AuditRow(e.id, "ledger", FAIL, read.error)
    torn = f"; a torn last line ({len(read.torn)} bytes) awaits repair" if read.torn else ""
    return read, AuditRow(e.id, "ledger", OK if not torn else WARN,
                          f"{len(read)} records, chain intact{torn}")


def _seal(e: Entry, plan: Path | None, history: History) -> AuditRow:
    if plan is None or not plan.is_file():
        return AuditRow(e.id, "seal", FAIL, "the plan file is missing")
    try:
        digest = seal.verify(plan)
    except ExanteError as exc:
        status = SKIP if history.lock() is None and "not sealed" in str(exc) else FAIL
        return AuditRow(e.id, "seal", status, str(exc))
    if history.lock() is None:
        return AuditRow(e.id, "seal", FAIL, f"sealed ({digest[:12]}…) but the ledger has no "
                                            "LOCKED record")
    last = history.sealed_hash
    if last != digest:
        return AuditRow(e.id, "seal", FAIL, f"the plan is sealed as {digest[:12]}… but the last "
                                            f"lock in the ledger is {str(last)[:12]}…")
    return AuditRow(e.id, "seal", OK, f"sha256 {digest[:12]}… = last lock")


def _check_hash(history: History, digest: str | None, what: str,
                deviated_ok: bool) -> tuple[str, str]:
    """Was `digest` locked before every run event? (status, detail)."""
    locks = history.locks()
    first_run = history.first_run_seq()
    if locks and first_run is not None and first_run < locks[0].seq:
        return FAIL, f"runs were recorded (seq {first_run}) before the first lock"
    mine = [r for r in locks if r.data.get("plan_sha256") == digest]
    if not mine:
        return FAIL, f"{what}'s plan sha256 {str(digest)[:12]}… was never locked in this ledger"
    lock = mine[0]
    if first_run is None or lock.seq < first_run:
        return OK, f"{what} rests on {str(digest)[:12]}…, locked (seq {lock.seq}) before " \
                   "every run"
    if lock.event == Event.AMENDED and lock.data.get("after_runs") and deviated_ok:
        return WARN, (f"{what} rests on an amendment made after runs had started (seq "
                      f"{lock.seq}); declared as a deviation")
    return FAIL, (f"{what}'s plan sha256 {str(digest)[:12]}… was locked (seq {lock.seq}) "
                  f"after runs had started (seq {first_run}) and not declared as a deviation")


def _result_lock(e: Entry, folder: Path, history: History) -> list[AuditRow]:
    rows = []
    path = folder / "result.json"
    if path.is_file():
        try:
            result = read_result(path, strict=False)  # the one reader
        except ResultError as exc:
            return [AuditRow(e.id, "result-lock", FAIL, f"result.json unreadable: {exc}")]
        status, detail = _check_hash(history, result.get("plan_sha256"), "result.json",
                                     bool(result.get("deviated")))
        if status != FAIL and result.get("ledger_head") not in history.hashes:
            head = str(result.get("ledger_head"))[:12]
            status = FAIL
            detail = f"result.json's ledger_head {head}… is not a record of this ledger"
        rows.append(AuditRow(e.id, "result-lock", status, detail))
    decided = history.decided()
    for r in decided:
        status, detail = _check_hash(history.before(r.seq), r.data.get("plan_sha256"),
                                     f"DECIDED (seq {r.seq})", True)
        if status == FAIL or (r is decided[-1] and not rows):
            if not path.is_file() and e.kind != "bet":
                detail = "result.json missing; " + detail
            rows.append(AuditRow(e.id, "result-lock", status, detail))
    rows += _sweeps(e, history)
    if e.kind == "bet" and e.plan_file:
        from .bets import results_findings

        status, detail = results_findings(folder.parent / Path(e.plan_file).name, history)
        rows.append(AuditRow(e.id, "result-lock", status, detail))
    if not rows:
        rows.append(AuditRow(e.id, "result-lock", SKIP, "no result yet"))
    return rows


def _retrospective(e: Entry, folder: Path, history: History,
                   rows: list[AuditRow]) -> list[AuditRow]:
    """Runs imported after the lock existed before it: say RETROSPECTIVE, not "locked before
    every run"; a result.json that drops the label is a finding (the ledger decides, not it)."""
    info = history.retrospective()
    if info is None:
        return rows
    out = []
    for row in rows:
        if row.check == "result-lock" and row.status == OK:
            row = AuditRow(e.id, row.check, WARN, "RETROSPECTIVE, not pre-registered: "
                           + row.detail.replace("before every run", "before the runs it "
                                                "recorded, but after the imported ones existed"))
        out.append(row)
    path = folder / "result.json"
    try:
        labelled = bool(read_result(path, strict=False).get("retrospective")) \
            if path.is_file() else None
    except ResultError:
        labelled = None
    if labelled is False:
        out.append(AuditRow(e.id, "retrospective", FAIL, "the ledger records "
                            f"{info['runs']} imported run(s) but result.json does not say "
                            "RETROSPECTIVE (edited, or decided by another tool); decide again"))
    else:
        out.append(AuditRow(e.id, "retrospective", WARN, f"RETROSPECTIVE: {info['message']}"))
    return out


def _sweeps(e: Entry, history: History) -> list[AuditRow]:
    """Every SWEEP_STARTED names the plan hash that was in force when it started."""
    return [AuditRow(e.id, "result-lock", FAIL, f"a sweep (seq {r.seq}) ran under "
                     f"{str(r.data.get('plan_sha256'))[:12]}…, not the lock in force "
                     f"({str(current)[:12]}…)")
            for r, current in history.sweeps() if r.data.get("plan_sha256") != current]


def _fingerprints(e: Entry, plan: Path | None, history: History,
                  loaded: Any = None) -> AuditRow:
    lock = history.lock()
    if e.kind == "bet":
        return _bet_code(e, plan, lock)
    if plan is None or lock is None:
        return AuditRow(e.id, "fingerprints", SKIP, "not locked")
    recorded = history.fingerprints
    from .. import registration  # late: it pulls in the statistics stack

    try:
        if loaded is None:  # the catalogue could not load it: say why
            loaded = registration.load_any(plan)
        if loaded is not None:
            registration.check_fingerprints(loaded, recorded)
    except ExanteError as exc:
        return AuditRow(e.id, "fingerprints", FAIL, str(exc))
    return AuditRow(e.id, "fingerprints", OK, f"{len(recorded)} sealed file(s) unchanged")


def _bet_code(e: Entry, plan: Path | None, lock: Record | None) -> AuditRow:
    """A bet module is sealed as a whole; the files it imports (_common.py) by fingerprint."""
    if plan is None or lock is None:
        return AuditRow(e.id, "fingerprints", SKIP, "not locked")
    from .. import registration

    recorded = dict(lock.data.get("fingerprints") or {})
    try:
        registration.check_bet_code(plan, recorded)
    except ExanteError as exc:
        return AuditRow(e.id, "fingerprints", FAIL, str(exc))
    return AuditRow(e.id, "fingerprints", OK, f"{len(recorded)} imported file(s) unchanged "
                                              "(the module itself: see seal)")


def _results_paths(e: Entry, folder: Path, plan: Path) -> list[tuple[str, Path, str | None]]:
    """(label, path, needle) of what counts as this experiment's first results."""
    out = [("ledger RUN_OK", folder / "ledger.jsonl", RUN_OK_NEEDLE),
           ("result.json", folder / "result.json", None)]
    if e.kind == "bet":
        from .bets import _bet_result

        found = _bet_result(plan)
        if found is not None:
            out.append((found[0].name, found[0], None))
    return out


def _git_order(e: Entry, folder: Path, plan: Path | None, read: History) -> AuditRow:
    if plan is None:
        return AuditRow(e.id, "git-order", SKIP, "no plan file")
    repo = gitlog.toplevel(folder if folder.is_dir() else plan.parent)
    if repo is None:
        return AuditRow(e.id, "git-order", SKIP, "not inside a git repository")
    sealed = _sealed_commit(repo, plan, e, read)
    problems, checked, together = [], [], []
    for label, path, needle in _results_paths(e, folder, plan):
        commit = (gitlog.first_commit_containing(repo, path, needle) if needle
                  else gitlog.first_adding_commit(repo, path))
        if commit is None:
            continue
        checked.append(f"{label} {gitlog.short(commit)}")
        if sealed is None:
            problems.append(f"{label} was committed ({gitlog.short(commit)}) but the sealed plan "
                            "never was")
        elif gitlog.is_ancestor(repo, sealed, commit) is False:
            problems.append(f"the sealed plan (commit {gitlog.short(sealed)}) is not an ancestor "
                            f"of the commit that added {label} ({gitlog.short(commit)})")
        elif commit == sealed:
            together.append(label)
    if problems:
        return AuditRow(e.id, "git-order", FAIL, "; ".join(problems))
    if not checked:
        return AuditRow(e.id, "git-order", SKIP, "no results committed yet")
    if together:  # one commit cannot say which came first
        return AuditRow(e.id, "git-order", WARN, f"order cannot be shown: the sealed plan and "
                        f"{', '.join(together)} were committed together ({gitlog.short(sealed)}); "
                        "commit the lock before the first results next time")
    return AuditRow(e.id, "git-order", OK, f"sealed plan {gitlog.short(sealed)} precedes "
                                           + ", ".join(checked))


def _sealed_commit(repo: Path, plan: Path, e: Entry, read: History) -> str | None:
    """The first commit holding the plan as first sealed (its first lock's hash), else the
    commit that added the file."""
    for digest in _lock_hashes(e, read):
        commit = gitlog.first_commit_containing(repo, plan, f'sha256: "{digest}"')
        if commit is not None:
            return commit
    return None


def _lock_hashes(e: Entry, read: History) -> list[str]:
    return read.lock_hashes() or ([e.plan_sha256] if e.plan_sha256 else [])
