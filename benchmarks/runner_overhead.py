"""How much the runner costs on top of the trial itself. Run on demand, not a test:

    python benchmarks/runner_overhead.py [--runs 1000] [--local-runs 300] [--keys 10000]

Prints, side by side:

1. harness overhead per trial: `exante.run` with the inline executor on a
   trivial trial (N runs, every outcome appended to the ledger with fsync)
   versus calling the same function directly N times. Goal: <= 1 ms per trial.
   The cost of one fsynced ledger append, and of a bare write + fsync on this
   disk, are printed next to it: the runner makes one durable append per run
   (that run's RUN_OK together with the next run's RUN_STARTED).
2. the local executor's per-run overhead on the same trivial trial (steady
   state, from the ledger's timestamps) and its start-up (first result).
3. a 10,000-run-key plan: `design.expand`, then the resume scan (read and
   verify a ledger holding 10,000 terminal records and work out what is left),
   and a whole `exante.run` that finds nothing left. Goal: < 1 s.

Numbers are wall-clock on this machine as it is (other load included): run
it twice and read the spread before trusting a digit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import yaml

TRIAL = '''
def trivial(params, seed, ctx):
    return {"score": float(seed)}
'''


def write_plan(root: Path, experiment_id: str, factors: dict, seeds: list[int]) -> Path:
    folder = root / experiment_id
    folder.mkdir(parents=True)
    (folder / "bench_trial.py").write_text(TRIAL)
    plan = {"experiment_id": experiment_id, "hypothesis": "benchmark",
            "metrics": {"primary": {"name": "score", "direction": "higher"}},
            "design": {"factors": factors, "baseline": {k: v[0] for k, v in factors.items()},
                       "seeds": seeds},
            "trial": {"python": "bench_trial:trivial"},
            "decision": {"rule": "threshold", "acceptance": "experiment.mean > baseline.mean"}}
    path = folder / "prereg.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False) + 'sha256: ""\n')
    return path


def timed(fn, *args, **kw):
    start = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - start, out


def ledger_times(path: Path, event: str) -> list[float]:
    from exante import ledger as L

    return [dt.datetime.fromisoformat(r["ts"]).timestamp()
            for r in L.Ledger(path.parent / "ledger.jsonl").records() if r["event"] == event]


# ---------------------------------------------------------------- 1. harness overhead


def harness_overhead(root: Path, n: int) -> dict[str, float]:
    from exante import ledger as L
    from exante import registration
    from exante.runner import RunOptions, run
    from exante.trials import resolve

    seeds = list(range(1, n // 10 + 1))
    plan = write_plan(root, "inline", {"a": list(range(10))}, seeds)
    registration.lock(plan)
    total, report = timed(run, plan, RunOptions(executor="inline"))
    assert report.ran == n, report
    fixed, _ = timed(run, plan, RunOptions(executor="inline"))  # verify, scan, nothing to run

    # the same sweep with fsync switched off: what batching fsyncs (group commit) could reach
    nosync_plan = write_plan(root, "inline_nosync", {"a": list(range(10))}, seeds)
    registration.lock(nosync_plan)
    real_fsync, os.fsync = os.fsync, lambda fd: None
    try:
        nosync, _ = timed(run, nosync_plan, RunOptions(executor="inline"))
    finally:
        os.fsync = real_fsync

    fn = resolve("bench_trial:trivial", plan.parent)
    direct, _ = timed(lambda: [fn({"a": i % 10}, i, None) for i in range(n)])

    probe = L.Ledger(root / "probe.jsonl")
    record = L.Ledger(plan.parent / "ledger.jsonl").records()[-2]["data"]  # a RUN_OK's data
    append, _ = timed(lambda: [probe.append("RUN_OK", record) for _ in range(200)])
    fsync, _ = timed(_bare_fsyncs, root / "bare.bin", 200)
    oks = ledger_times(plan, "RUN_OK")
    return {"n": n, "total_s": total, "fixed_s": fixed, "direct_s": direct,
            "per_run_ms": (total - fixed) / n * 1e3, "direct_ms": direct / n * 1e3,
            "nosync_ms": (nosync - fixed) / n * 1e3,
            "steady_ms": (oks[-1] - oks[0]) / (len(oks) - 1) * 1e3,
            "append_ms": append / 200 * 1e3, "fsync_ms": fsync / 200 * 1e3}


def _bare_fsyncs(path: Path, n: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for _ in range(n):
            os.write(fd, b"x" * 700 + b"\n")
            os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- 2. local executor


def local_overhead(root: Path, n: int, workers: int) -> dict[str, float]:
    from exante import registration
    from exante.runner import RunOptions, run

    plan = write_plan(root, f"local{workers}", {"a": list(range(10))},
                      list(range(1, n // 10 + 1)))
    registration.lock(plan)
    total, report = timed(run, plan, RunOptions(executor="local", workers=workers))
    assert report.ran == n, report
    started = ledger_times(plan, "SWEEP_STARTED")[0]
    oks = ledger_times(plan, "RUN_OK")
    return {"n": n, "workers": workers, "total_s": total, "first_result_s": oks[0] - started,
            "steady_ms": (oks[-1] - oks[0]) / (len(oks) - 1) * 1e3}


# ---------------------------------------------------------------- 3. 10,000 run keys


def big_plan(root: Path, keys: int) -> dict[str, float]:
    from exante import ledger as L
    from exante import registration
    from exante.design import expand
    from exante.runner import RunOptions, _Silent, _Sweep, run, status, terminal_records
    from exante.spec import load_plan
    from exante.trials import worker_environment

    levels = 10
    seeds = list(range(1, keys // levels**3 + 1))
    path = write_plan(root, "big", {"a": list(range(levels)), "b": list(range(levels)),
                                    "c": list(range(levels))}, seeds)
    out: dict[str, float] = {}
    out["lock_s"], _ = timed(registration.lock, path)
    plan = load_plan(path)
    out["expand_s"], all_keys = timed(expand, plan)
    assert len(all_keys) == keys, len(all_keys)

    # a ledger as a finished sweep leaves it: one fsynced RUN_OK per run, realistic payloads
    env = {**worker_environment(), "git": {"commit": None, "dirty": None}}
    ledger = L.Ledger(path.parent / "ledger.jsonl")
    batch = []
    for k in all_keys:
        batch.append((L.RUN_OK, {"run_id": k.run_id, "cell": k.cell, "role": k.role,
                                 "stage": k.stage, "seed": k.seed, "params": dict(k.params),
                                 "metrics": {"score": float(k.seed)}, "wall_s": 1e-5,
                                 "peak_rss_mb": 50.0, "env": env, "executor": "inline"}))
    ledger.append_many(batch)
    out["ledger_mb"] = ledger.path.stat().st_size / 1e6

    out["read_verify_s"], records = timed(ledger.records)
    out["read_noverify_s"], _ = timed(ledger.records, verify=False)

    def scan():
        keys_ = expand(plan, include_stage2=False)
        # the realistic resume scan reads and verifies the ledger, then finds what is left
        sweep = _Sweep(path, plan, plan_digest, RunOptions(executor="inline"), _Silent(),
                       ledger.records())
        return sweep._todo(keys_)

    plan_digest = registration.state(path).sealed_hash
    out["resume_scan_s"], todo = timed(scan)
    assert todo == [], len(todo)
    out["terminal_records_s"], _ = timed(terminal_records, records)
    out["status_s"], s = timed(status, path)
    assert s["pending"] == 0, s
    out["run_nothing_left_s"], report = timed(run, path, RunOptions(executor="inline"))
    assert report.ran == 0
    return out


# ---------------------------------------------------------------- output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs for the inline comparison")
    parser.add_argument("--local-runs", type=int, default=300, help="runs for the local executor")
    parser.add_argument("--keys", type=int, default=10_000, help="run keys in the big plan")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at start")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        h = harness_overhead(root, args.runs)
        l1 = local_overhead(root, args.local_runs, workers=1)
        l2 = local_overhead(root, args.local_runs, workers=2)
        b = big_plan(root, args.keys)

    print(f"\n1. harness overhead, trivial trial, N = {h['n']} runs (goal <= 1 ms per trial)")
    rows = [("direct call", h["direct_ms"], "1.0x"),
            ("exante.run inline, per run", h["per_run_ms"],
             f"{h['per_run_ms'] / max(h['direct_ms'], 1e-9):,.0f}x direct"),
            ("  steady state (ledger ts)", h["steady_ms"], ""),
            ("  same, fsync switched off", h["nosync_ms"], "what group commit could reach"),
            ("  one fsynced ledger append", h["append_ms"], "one per run"),
            ("  bare write + fsync, this disk", h["fsync_ms"], "the floor while fsync is per run"),
            ("exante.run fixed cost (s)", h["fixed_s"], "verify seal+code, git, scan")]
    for name, value, note in rows:
        print(f"   {name:32s} {value:10.4f} ms  {note}" if "(s)" not in name else
              f"   {name:32s} {value:10.3f} s   {note}")
    verdict = "MET" if h["per_run_ms"] <= 1.0 else "MISSED"
    print(f"   goal {verdict}: {h['per_run_ms']:.2f} ms per trial")

    print(f"\n2. local executor, trivial trial, N = {l1['n']} runs")
    for r in (l1, l2):
        print(f"   workers={r['workers']}: {r['steady_ms']:8.2f} ms per run (steady), first result "
              f"{r['first_result_s']:.2f} s after SWEEP_STARTED, total {r['total_s']:.2f} s")
    print(f"   local (1 worker) minus inline: {l1['steady_ms'] - h['steady_ms']:+.2f} ms per run")

    print(f"\n3. {args.keys:,}-run-key plan (goal < 1 s)")
    for name, key in (("lock (seal + fingerprints + design check)", "lock_s"),
                      ("design.expand", "expand_s"),
                      ("ledger read + verify chain", "read_verify_s"),
                      ("ledger read, no verify", "read_noverify_s"),
                      ("terminal_records", "terminal_records_s"),
                      ("resume scan (expand + ledger + todo)", "resume_scan_s"),
                      ("runner.status", "status_s"),
                      ("exante.run, nothing left", "run_nothing_left_s")):
        print(f"   {name:42s} {b[key]:8.3f} s")
    print(f"   ledger size {b['ledger_mb']:.1f} MB")
    scan = b["expand_s"] + b["resume_scan_s"]
    print(f"   goal {'MET' if scan < 1.0 else 'MISSED'}: expand + resume scan {scan:.3f} s")
    print(f"\nload average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
