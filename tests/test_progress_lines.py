"""Progress off a terminal: whole lines, throttled, with an ETA from the measured pace."""

from __future__ import annotations

import io
from types import SimpleNamespace

from exante.progress import LineProgress, RichProgress, clock, eta_seconds, make_progress


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def key(i):
    return SimpleNamespace(role="arm", cell="depth=2", seed=i)


def outcome(ok=True, wall=2.0):
    return SimpleNamespace(ok=ok, metrics={"acc": 0.5}, error_kind=None if ok else "nan",
                           wall_s=wall)


def test_eta_comes_from_the_measured_pace():
    assert eta_seconds(0, 10, 0.0, [], 2) is None
    assert eta_seconds(1, 11, 3.0, [4.0], 2) == 10 * 4.0 / 2  # one run in: its time / workers
    assert eta_seconds(4, 10, 8.0, [4.0] * 4, 2) == 6 * 2.0  # 2 s of sweep per finished run
    assert clock(3725) == "1:02:05" and clock(None) == "?"


def test_lines_are_whole_throttled_and_say_the_eta():
    out, now = io.StringIO(), Clock()
    p = LineProgress(out, every_s=10.0, workers=2, now=now)
    p.start(100, 0, {})
    for i in range(1, 31):
        now.t += 1.0
        p.advance(key(i), outcome(ok=i != 25))
    p.stop()
    lines = out.getvalue().splitlines()
    assert out.getvalue().endswith("\n") and "\r" not in out.getvalue()
    assert lines[0] == "runs: 100 planned, 0 already done, 100 to run"
    updates = [x for x in lines if x.startswith("[")]
    # the first run, every tenth (10, 20, 30: each also 10 s after the last) and the failure
    assert [int(x[1:x.index("/")]) for x in updates] == [1, 10, 20, 25, 30]
    assert "[ 30/100]  30% arm:29 failed:1 | elapsed 0:00:30 eta 0:01:10" in updates[-1]
    assert "FAILED (nan)" in updates[-2]
    assert lines[-1] == "runs: 30/100 done, 1 failed, in 0:00:30"


def test_a_pipe_gets_lines_and_a_terminal_the_bar():
    assert isinstance(make_progress(io.StringIO()), LineProgress)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert isinstance(make_progress(Tty()), RichProgress)


def test_exante_run_into_a_pipe_prints_progress_lines(tmp_path, cli, make_plan):
    plan = make_plan("lines")
    assert cli("lock", plan).exit_code == 0
    result = cli("run", plan, "--executor", "inline")
    assert result.exit_code == 0, result.output
    progress = [x for x in result.stderr.splitlines() if x.startswith("[")]
    assert progress and all(" eta " in x for x in progress)
    assert "\r" not in result.stderr and "\x1b[" not in result.stderr
