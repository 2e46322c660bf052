"""Two runners on one experiment at the same time: the second is refused, clearly, with exit 1."""

import os
import threading
import time

from exante.runner import RunOptions, run
from runner_fixtures.harness import assert_each_once, cli_process, events, planned_ids, write_plan


def test_second_runner_on_the_same_experiment_is_refused(tmp_path):
    release = tmp_path / "release"
    plan = write_plan(tmp_path, "busy", trial={"python": "runner_trials:waits"},
                      design={"factors": {"a": [0, 1]}, "baseline": {"a": 0}, "seeds": [1, 2],
                              "fixed": {"release": str(release)}})
    outcome: list = []

    def first_runner():
        try:
            outcome.append(run(plan, RunOptions(executor="inline")))
        except BaseException as exc:  # reported by the main thread
            outcome.append(exc)

    thread = threading.Thread(target=first_runner)
    thread.start()
    try:
        started = plan.parent / "runs" / "baseline__a-0__s1" / "started"
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline and thread.is_alive(), outcome
            time.sleep(0.01)

        second = cli_process("run", plan, "--executor", "inline", "--quiet")
        assert second.returncode == 1, second.stderr
        message = second.stderr.strip()
        assert "another `exante run` is already running on busy" in message
        assert f"pid {os.getpid()}" in message
        assert "Traceback" not in message and len(message.splitlines()) == 1
    finally:
        release.write_text("go")
        thread.join(timeout=60)
    [report] = outcome
    assert not isinstance(report, BaseException), report
    assert report.ran == 4
    assert len(events(plan, "SWEEP_STARTED")) == 1  # the refused runner wrote nothing
    assert_each_once(plan, planned_ids(plan))
