"""What `decide` checks before it decides, and how it labels what it writes.

Before: every registered run has finished (else refuse, or an INTERIM look), a
test-split primary is no longer blind, every run ran sealed code. After: an
interim look and a new attempt after a kill say so in the headline; the first
decide that shows test numbers records TEST_UNBLINDED.
"""

from __future__ import annotations

from typing import Any

from . import registration
from .errors import RefusedError
from .events import Event
from .experiment import Experiment
from .history import History
from .status import registered_keys
from .verdicts import Verdict


def pending_runs(exp: Experiment, current, interim: bool) -> list[str]:
    """Registered runs without a terminal record; refuses a plain verdict while any remain.

    A killed plan is complete by its rule; a plan without a trial has no sweep to finish.
    """
    if current.killed is not None or exp.plan.trial is None:
        return []
    results = exp.history.terminal()
    pending = [k.run_id for k in registered_keys(exp.plan, exp.history)
               if k.run_id not in results]
    if pending and not interim:
        raise RefusedError(
            f"{exp.plan.experiment_id}: {len(pending)} registered run(s) have not run (pending); "
            f"finish the sweep with `exante run {exp.plan_path}`, or look now with "
            f"`exante decide {exp.plan_path} --interim` (labelled INTERIM, never a verdict)")
    return pending


def refuse_unsealed_code(exp: Experiment) -> None:
    """Every run must have run code that a lock or an amendment sealed (its `code_sha256`).

    Mixed hashes are fine when each was sealed (an amendment covers the change); a hash no
    lock ever recorded means a file was swapped during the sweep, even if restored since.
    """
    sealed = {registration.code_hash(dict(r.data.get("fingerprints") or {}))
              for r in exp.history.locks()}
    odd = sorted({r.data["code_sha256"] for r in exp.history.terminal().values()
                  if r.data.get("code_sha256") and r.data["code_sha256"] not in sealed})
    if odd:
        runs = [rid for rid, r in exp.history.terminal().items()
                if r.data.get("code_sha256") in odd]
        raise RefusedError(
            f"{exp.plan_path}: {len(runs)} run(s) ran code that no lock sealed (code sha256 "
            f"{odd[0][:12]}…; e.g. {runs[0]}): a sealed file changed during the sweep. Record "
            f"the change with `exante amend {exp.plan_path} ...` and run again")


def label_interim(result: dict[str, Any], pending: list[str]) -> None:
    """An interim look: verdict INTERIM, the rule's answer kept aside, the pending runs named."""
    result["interim"] = {"pending": len(pending), "pending_runs": pending,
                         "provisional_verdict": result["verdict"]}
    result["verdict"], result["tier"] = Verdict.INTERIM, None
    result["verdict_reasons"].insert(0, f"INTERIM: {len(pending)} registered run(s) pending; "
                                        "not a verdict")
    result["caveats"].insert(0, {"code": "OPTIONAL_STOPPING", "message": (
        f"interim look with {len(pending)} of the registered runs pending; deciding when the "
        "numbers look good inflates the false-positive rate")})


def label_after_kill(result: dict[str, Any], history: History) -> None:
    """A new attempt after a kill: DEVIATED, and the kill stays in the headline."""
    kill = history.prior_kill()
    if kill is None:
        return
    result["after_kill"] = {k: kill.get(k) for k in ("rule", "when", "why", "seq", "plan_sha256")}
    result["deviated"] = True
    result["verdict_reasons"].insert(0, f"after KILL by rule {kill.get('rule')!r} (seq "
                                        f"{kill.get('seq')}): this is a new attempt under an "
                                        "amendment, DEVIATED from the registered plan")


def check_blind(exp: Experiment):
    """Refuse while a test-split metric is blind (registered runs missing); its state."""
    from . import blinding
    from .status import status

    blind = blinding.state(exp.plan, status(exp.plan_path, experiment=exp))
    blinding.check_decidable(blind, str(exp.plan_path))
    return blind


def unblind(exp: Experiment, blind) -> dict[str, Any] | None:
    """Record TEST_UNBLINDED at the first decide that shows test numbers; when it was."""
    from . import blinding

    data = blinding.unblinding(exp.plan, blind, exp.history)
    if data is None:
        return blinding.unblinded(exp.history)
    record = exp.append(Event.TEST_UNBLINDED, data)
    return {"seq": record.seq, "ts": record.ts, **data}
