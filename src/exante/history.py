"""An experiment's history: its ledger read once, verified once, and the questions asked of it.

`History.read` scans the ledger a single time (chain verified by `ledger`) and
wraps every line in a frozen `Record`. Every later stage (registration, the
runner's resume, decide, report, catalogue, audit) asks the same `History`
instead of filtering raw dicts itself:

- `terminal()`      the latest RUN_OK / RUN_FAILED record per run id (retries: later wins);
- `lock()`          the lock in force (the last LOCKED / AMENDED), `sealed_hash`, `fingerprints`;
- `amendments()`    every AMENDED record's data, and `deviated` (one came after runs);
- `kills()`         every KILLED, and `kill_in_force()` (None once an amendment re-sealed);
- `pilots()`        PILOT records (observed σ measured before the lock);
- `imported()`      IMPORTED records (`exante import`), by mode;
- `sweeps()`        every SWEEP_STARTED with the plan hash in force when it started;
- `check_belongs()` whether a result was decided from this ledger under the lock in force.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from . import ledger as L
from . import ledger_bytes as B
from .errors import ExanteError, RefusedError
from .events import LOCK_EVENTS, RUN_EVENTS, TERMINAL, Event, as_event

RETROSPECTIVE = "retrospective"  # the IMPORTED mode of runs imported after the lock
RETROSPECTIVE_LABEL = "RETROSPECTIVE"  # the caveat code and the label outputs carry

# Records added after a result make it stale: decide again.
_STALE_AFTER = (Event.RUN_OK, Event.RUN_FAILED, Event.KILLED, Event.AMENDED, Event.LOCKED)


@dataclass(frozen=True)
class Record:
    """One ledger line. `event` is an `Event` (a plain string for events this version lacks)."""

    seq: int
    event: Event | str
    data: dict[str, Any] = field(default_factory=dict)
    ts: str = ""
    prev: str = ""
    hash: str = ""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Record":
        record = object.__new__(cls)  # the frozen __init__'s six setattr calls, at a third
        record.__dict__.update(seq=raw.get("seq", -1), event=as_event(raw["event"]),
                               data=raw.get("data") or {}, ts=raw.get("ts", ""),
                               prev=raw.get("prev", ""), hash=raw.get("hash", ""))
        return record

    @classmethod
    def from_line(cls, line: "B.Line | Mapping[str, Any]", source: str = "ledger") -> "Record":
        """A record as the ledger read it; its `data` is built from the line's raw JSON the
        first time something asks for it (most of a long ledger's data is never asked for)."""
        if type(line) is not B.Line:
            return cls.from_dict(line)
        record = object.__new__(cls)
        record.__dict__.update(seq=line.seq, event=as_event(line.event), ts=line.ts,
                               prev=line.prev, hash=line.hash, _raw=(line.data, source))
        return record

    def __getattr__(self, name: str) -> Any:
        # only for what is not in __dict__: `data` not built yet
        if name == "data" and "_raw" in self.__dict__:
            raw, source = self.__dict__["_raw"]
            data = B.loads_data(raw, f"{source}: seq {self.seq}") or {}
            self.__dict__["data"] = data
            del self.__dict__["_raw"]
            return data
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getstate__(self) -> dict[str, Any]:
        self.data  # noqa: B018 -- built, so a copy or a pickle carries plain data
        return self.__dict__

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "event": str(self.event), "data": self.data,
                "prev": self.prev, "hash": self.hash}

    @property
    def run_id(self) -> str | None:
        return self.data.get("run_id")

    @property
    def ok(self) -> bool:
        return self.event == Event.RUN_OK

    # Read access by key, for code written against the ledger's raw dicts.
    def __getitem__(self, key: str) -> Any:
        return getattr(self, key) if key in _FIELDS else self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in _FIELDS else default


_FIELDS = frozenset(("seq", "event", "data", "ts", "prev", "hash"))


def built(records: list[Record]) -> list[Record]:
    """`records`, each one's data built now, in bulk (see `ledger_bytes.paused_gc`)."""
    if len(records) > 32:
        with B.paused_gc():
            for r in records:
                r.data  # noqa: B018
    return records


def as_record(record: "Record | Mapping[str, Any]") -> Record:
    return record if isinstance(record, Record) else Record.from_dict(record)


class History:
    """The records of one ledger, in order, with the queries every stage needs."""

    def __init__(self, records: Iterable[Record | Mapping[str, Any]] = (), *, torn: bytes = b"",
                 path: Path | None = None, error: str | None = None, exists: bool | None = None):
        self.records: tuple[Record, ...] = tuple(as_record(r) for r in records)
        self.torn = torn
        self.path = path
        self.error = error  # why the verified read failed (only with `tolerant=True`)
        # whether a ledger file was there to read (a history built from records: it had some)
        self.exists = bool(self.records) if exists is None else exists

    @classmethod
    def read(cls, path: Path | str, *, verify: bool = True, tolerant: bool = False,
             full: bool = False) -> "History":
        """Scan the ledger at `path` once. `tolerant`: a broken chain is kept in `error` and the
        records are read unverified, instead of raising LedgerError. `full`: verify from the
        genesis, ignoring the verified-prefix checkpoint (the audit)."""
        ledger = L.Ledger(path)
        exists = ledger.exists()
        try:
            scan = ledger.scan(verify=verify, full=full)
        except ExanteError as exc:
            if not tolerant:
                raise
            try:
                scan = ledger.scan(verify=False)
            except ExanteError:
                return cls([], path=ledger.path, error=str(exc), exists=exists)
            return cls._of(scan, ledger.path, error=str(exc), exists=exists)
        return cls._of(scan, ledger.path, exists=exists)

    @classmethod
    def _of(cls, scan: L.Scan, path: Path, *, exists: bool, error: str | None = None) -> "History":
        history = cls(torn=scan.torn, path=path, error=error, exists=exists)
        history.records = tuple(Record.from_line(r, scan.source) for r in scan.lines)
        return history

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]

    def extended(self, records: Iterable[Record | Mapping[str, Any]]) -> "History":
        """This history with `records` appended (what an append just wrote)."""
        return History((*self.records, *records), torn=self.torn, path=self.path)

    def before(self, seq: int) -> "History":
        return History([r for r in self.records if r.seq < seq], path=self.path)

    # ------------------------------------------------------------ generic

    @property
    def head(self) -> str:
        return self.records[-1].hash if self.records else L.GENESIS

    @cached_property
    def hashes(self) -> frozenset[str]:
        return frozenset(r.hash for r in self.records)

    def of(self, *events: Event | str) -> list[Record]:
        """The records of these events, in ledger order."""
        wanted = set(events)
        return built([r for r in self.records if r.event in wanted])

    def last(self, *events: Event | str) -> Record | None:
        found = self.of(*events)
        return found[-1] if found else None

    def first(self, *events: Event | str) -> Record | None:
        found = self.of(*events)
        return found[0] if found else None

    def any(self, event: Event | str, **data: Any) -> bool:
        """Whether some `event` record has all of `data` (a value of `...` means: truthy)."""
        return any(all((r.data.get(k) if v is ... else r.data.get(k) == v) for k, v in data.items())
                   for r in self.of(event))

    # ------------------------------------------------------------ runs

    @cached_property
    def _terminal(self) -> dict[str, Record]:
        out: dict[str, Record] = {}
        for r in built([r for r in self.records if r.event in TERMINAL]):
            out[r.data["run_id"]] = r
        return out

    def terminal(self) -> dict[str, Record]:
        """The latest RUN_OK / RUN_FAILED record per run id (later records win: retries)."""
        return dict(self._terminal)

    def terminal_in_order(self) -> list[Record]:
        """The same records in ledger order of the latest one (a retry moves to its place)."""
        return sorted(self._terminal.values(), key=lambda r: r.seq)

    def failures(self) -> dict[str, int]:
        """How many RUN_FAILED records each run id has."""
        out: dict[str, int] = {}
        for r in self.of(Event.RUN_FAILED):
            out[r.data["run_id"]] = out.get(r.data["run_id"], 0) + 1
        return out

    @property
    def has_runs(self) -> bool:
        return any(r.event in RUN_EVENTS for r in self.records)

    def first_run_seq(self) -> int | None:
        runs = [r.seq for r in self.records if r.event in RUN_EVENTS]
        return min(runs) if runs else None

    def stage2_decided(self) -> bool:
        """A stage-2 STAGE record that decided to run the extra seeds."""
        return self.any(Event.STAGE, run=...)

    def reused_baseline(self) -> dict[str, Any] | None:
        found = self.first(Event.BASELINE_REUSED)
        return found.data if found else None

    def design_check(self) -> dict[str, Any] | None:
        """The last DESIGN_CHECK record's data (what result.json reports)."""
        found = self.last(Event.DESIGN_CHECK)
        return found.data if found else None

    def pilots(self) -> list[Record]:
        return self.of(Event.PILOT)

    def decided(self) -> list[Record]:
        return self.of(Event.DECIDED)

    def imported(self, mode: str | None = None) -> list[Record]:
        """IMPORTED records (`exante import`), only those of `mode` when given."""
        return [r for r in self.of(Event.IMPORTED) if mode is None or r.data.get("mode") == mode]

    def retrospective(self) -> dict[str, Any] | None:
        """{runs, sources, first_seq, message} when runs were imported after the lock (the
        RETROSPECTIVE label every output carries), else None. Derived from the ledger's
        IMPORTED records, never from result.json: deleting the label there is a finding."""
        imports = self.imported(RETROSPECTIVE)
        if not imports:
            return None
        runs = sum(int(r.data.get("imported", 0)) for r in imports)
        sources = [{"source": r.data.get("source"), "format": r.data.get("format"),
                    "sha256": r.data.get("source_sha256"), "runs": r.data.get("imported"),
                    "seq": r.seq, "ts": r.ts} for r in imports]
        return {"runs": runs, "sources": sources, "first_seq": imports[0].seq,
                "message": retrospective_message(runs, [s["source"] for s in sources])}

    def sweeps(self) -> list[tuple[Record, str | None]]:
        """Every SWEEP_STARTED record with the plan hash in force (the last lock) before it."""
        out, current = [], None
        for r in self.records:
            if r.event in LOCK_EVENTS:
                current = r.data.get("plan_sha256")
            elif r.event == Event.SWEEP_STARTED:
                out.append((r, current))
        return out

    # ------------------------------------------------------------ locks, amendments, kills

    def locks(self) -> list[Record]:
        """Every LOCKED and AMENDED record, in order."""
        return self.of(*LOCK_EVENTS)

    def lock(self) -> Record | None:
        """The lock in force: the last LOCKED or AMENDED record."""
        return self.last(*LOCK_EVENTS)

    @property
    def sealed_hash(self) -> str | None:
        lock = self.lock()
        return lock.data.get("plan_sha256") if lock else None

    @property
    def fingerprints(self) -> dict[str, str]:
        lock = self.lock()
        return dict(lock.data.get("fingerprints") or {}) if lock else {}

    def lock_hashes(self) -> list[str]:
        return [h for h in (r.data.get("plan_sha256") for r in self.locks()) if h]

    def amendments(self) -> tuple[dict[str, Any], ...]:
        return tuple(r.data for r in self.of(Event.AMENDED))

    @property
    def deviated(self) -> bool:
        """An amendment after runs had started, or after a kill (a new attempt, issue 18)."""
        return any(a.get("after_runs") or a.get("after_kill") for a in self.amendments())

    def prior_kill(self) -> dict[str, Any] | None:
        """The last kill that an amendment set aside: the attempt now running came after it."""
        kills = self.kills()
        return kills[-1] if kills and self.kill_in_force() is None else None

    def kills(self) -> tuple[dict[str, Any], ...]:
        """Every kill ever recorded (its data plus `seq`)."""
        return tuple({**r.data, "seq": r.seq} for r in self.of(Event.KILLED))

    def kill_in_force(self) -> dict[str, Any] | None:
        """The last kill, unless an amendment re-sealed the plan (to another hash) after it."""
        killed = None
        for r in self.records:
            if r.event == Event.KILLED:
                killed = {**r.data, "seq": r.seq}
            elif r.event == Event.AMENDED and killed is not None \
                    and r.data.get("plan_sha256") != killed.get("plan_sha256"):
                killed = None
        return killed

    # ------------------------------------------------------------ does a result belong?

    def check_belongs(self, result: Mapping[str, Any], digest: str, where: Path | str) -> None:
        """Refuse a result decided for another plan version or another state of this ledger."""
        locks = [r.data.get("plan_sha256") for r in self.locks()]
        if not locks:
            raise RefusedError(f"{where}: the ledger has no LOCKED record; the plan was never locked")
        if result["plan_sha256"] != digest or locks[-1] != digest:
            raise RefusedError(f"{where}: decided for plan sha256 {str(result['plan_sha256'])[:12]}… "
                               f"but the plan is sealed as {digest[:12]}… (last lock "
                               f"{str(locks[-1])[:12]}…); run `exante decide` again")
        head = result.get("ledger_head")
        at = next((i for i, r in enumerate(self.records) if r.hash == head), None)
        if at is None:
            raise RefusedError(f"{where}: its ledger_head {str(head)[:12]}… is not a record of this "
                               "ledger; the result belongs to another experiment or a rewritten "
                               "ledger")
        later = [r for r in self.records[at + 1:] if r.event in _STALE_AFTER]
        if later:
            raise RefusedError(f"{where}: {len(later)} run/lock record(s) were added after this "
                               f"result was decided (first: {later[0].event} seq {later[0].seq}); "
                               "run `exante decide` again")


def retrospective_message(runs: int, sources: list[str]) -> str:
    names = ", ".join(str(s) for s in sources[:3]) + (f" and {len(sources) - 3} more"
                                                     if len(sources) > 3 else "")
    return (f"Not pre-registered: {runs} run(s) were imported from {names} after the "
            "plan was sealed; they existed before it, so the plan could have been written "
            "knowing them. Decided by the registered rules, but a retrospective analysis, "
            "not a test of a prediction.")


def as_history(records: "History | Iterable[Record | Mapping[str, Any]]") -> "History":
    """`records` as a History (a History is returned as it is)."""
    return records if isinstance(records, History) else History(records)


def read(path: Path | str, *, verify: bool = True) -> History:
    """`History.read`, as a function."""
    return History.read(path, verify=verify)
