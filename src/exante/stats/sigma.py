"""The seed-003 "2 sigma" protocol as pure functions (STATS.md section 3).

z = Delta / sigma with Delta = sign * (mean_exp - mean_base). Rule A uses
sigma = s_b (baseline sample SD, the published default); rule B uses
sigma_pooled = sqrt((s_b^2 + s_e^2) / 2), i.e. z_B is Cohen's d_protocol.
Thresholds are inclusive: z >= 2 is a WINNER, z <= -2 a LOSER.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Hashable, Iterable

import numpy as np

from exante.errors import InputError
from exante.stats._common import (Direction, StatFlag, clean_sd, flags_tuple, record_dict,
                                  sign_of, split_finite)
from exante.stats.effect import protocol_sigma, welch
from exante.verdicts import Verdict  # the one Verdict enum (WINNER / NEUTRAL / LOSER / ...)


class Tier(str, Enum):
    """Sub-label of a NEUTRAL verdict."""

    SUGGESTIVE = "suggestive but inconclusive"
    NOISE = "noise"
    SUGGESTIVE_WORSE = "suggestive worse"


class SigmaRule(str, Enum):
    """Which sigma the threshold is measured in: A = s_b, B = sigma_pooled."""

    A = "A"
    B = "B"


@dataclass(frozen=True)
class SigmaVerdict:
    """Outcome of the 2-sigma rule, with both sigma definitions side by side.

    ``z`` is the z of the registered ``rule``; ``z_rule_a``/``z_rule_b`` and
    ``verdict_rule_a``/``verdict_rule_b`` show both paths (SIGMA_DEFINITION
    when they differ). ``welch_p`` is the two-sided Welch p on the same data
    (VERDICT_TEST_DISAGREE when it conflicts with the verdict at ``alpha``).
    ``extended`` is True when stage-2 seeds were used (OPTIONAL_STOPPING).
    """

    verdict: Verdict
    tier: Tier | None
    rule: SigmaRule
    threshold: float
    direction: Direction
    n_base: int
    n_exp: int
    n_failed_base: int
    n_failed_exp: int
    z: float | None = None
    z_rule_a: float | None = None
    z_rule_b: float | None = None
    verdict_rule_a: Verdict = Verdict.INCONCLUSIVE
    verdict_rule_b: Verdict = Verdict.INCONCLUSIVE
    mean_diff: float | None = None
    sigma_base: float | None = None
    sigma_pooled: float | None = None
    welch_p: float | None = None
    extended: bool = False
    flags: tuple[StatFlag, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def verdict_from_z(z: float | None, threshold: float = 2.0) -> tuple[Verdict, Tier | None]:
    """Map z (SD units) to (verdict, tier); None gives INCONCLUSIVE."""
    if z is None:
        return Verdict.INCONCLUSIVE, None
    if z >= threshold:
        return Verdict.WINNER, None
    if z <= -threshold:
        return Verdict.LOSER, None
    if z >= 1.0:
        return Verdict.NEUTRAL, Tier.SUGGESTIVE
    if z <= -1.0:
        return Verdict.NEUTRAL, Tier.SUGGESTIVE_WORSE
    return Verdict.NEUTRAL, Tier.NOISE


def _rule(rule: SigmaRule | str) -> SigmaRule:
    try:
        return SigmaRule(rule)
    except ValueError:
        raise InputError(f"rule: expected 'A' or 'B', got {rule!r}") from None


def sigma_z(baseline: Iterable[float], experiment: Iterable[float], *,
            direction: Direction | str) -> tuple[float | None, float | None]:
    """(z under rule A, z under rule B); None where sigma is 0 or undefined.

    Both are None when the baseline SD is 0: no sigma rule can be judged
    against a baseline that does not vary.
    """
    sign = sign_of(direction)
    b, _ = split_finite(baseline)
    e, _ = split_finite(experiment)
    sb, se_ = clean_sd(b), clean_sd(e)
    if sb is None or sb == 0.0 or e.size == 0:
        return None, None
    delta = sign * (float(np.mean(e)) - float(np.mean(b)))
    z_b = None if se_ is None else delta / protocol_sigma(sb, se_)
    return delta / sb, z_b


def sigma_verdict(baseline: Iterable[float], experiment: Iterable[float], *,
                  direction: Direction | str, rule: SigmaRule | str = "A",
                  threshold: float = 2.0, alpha: float = 0.05) -> SigmaVerdict:
    """Apply the 2-sigma rule to one experiment against the baseline.

    Args:
        baseline, experiment: 1-D array-likes of per-seed values; NaN/Inf are
            failed runs, counted and excluded (FAILED_RUNS).
        direction: "higher" or "lower" is better.
        rule: "A" (sigma = s_b, published default) or "B" (sigma_pooled).
        threshold: winner/loser threshold in sigma units (inclusive).
        alpha: level at which the Welch p is called significant for the
            VERDICT_TEST_DISAGREE check.

    Returns:
        SigmaVerdict; INCONCLUSIVE (never WINNER) when the baseline SD is 0
        (ZERO_VARIANCE) or a group is too small (INSUFFICIENT_DATA).
    """
    rule, sign = _rule(rule), sign_of(direction)
    b, fail_b = split_finite(baseline)
    e, fail_e = split_finite(experiment)
    head: dict[str, Any] = dict(rule=rule, threshold=float(threshold),
                                direction=Direction(direction), n_base=int(b.size),
                                n_exp=int(e.size), n_failed_base=fail_b, n_failed_exp=fail_e)
    flags = [StatFlag.FAILED_RUNS] if fail_b or fail_e else []
    sb, se_ = clean_sd(b), clean_sd(e)
    if sb is None or e.size == 0:
        flags.append(StatFlag.INSUFFICIENT_DATA)
        return SigmaVerdict(Verdict.INCONCLUSIVE, None, **head, flags=flags_tuple(flags))
    delta = sign * (float(np.mean(e)) - float(np.mean(b)))
    if sb == 0.0:
        flags += [StatFlag.ZERO_VARIANCE] + ([StatFlag.DEGENERATE] if se_ == 0.0 else [])
        return SigmaVerdict(Verdict.INCONCLUSIVE, None, **head, mean_diff=delta,
                            sigma_base=0.0, flags=flags_tuple(flags))
    if se_ is None and rule is SigmaRule.B:
        flags.append(StatFlag.INSUFFICIENT_DATA)
    z_a, z_b = sigma_z(b, e, direction=direction)
    (v_a, t_a), (v_b, t_b) = verdict_from_z(z_a, threshold), verdict_from_z(z_b, threshold)
    verdict, tier, z = (v_a, t_a, z_a) if rule is SigmaRule.A else (v_b, t_b, z_b)
    if v_a is not v_b and Verdict.INCONCLUSIVE not in (v_a, v_b):
        flags.append(StatFlag.SIGMA_DEFINITION)
    w = None if se_ is None else welch(b, e, sb, se_, sign)
    if w is not None and _disagree(verdict, w.p_two_sided, alpha):
        flags.append(StatFlag.VERDICT_TEST_DISAGREE)
    return SigmaVerdict(verdict, tier, **head, z=z, z_rule_a=z_a, z_rule_b=z_b,
                        verdict_rule_a=v_a, verdict_rule_b=v_b, mean_diff=delta, sigma_base=sb,
                        sigma_pooled=None if se_ is None else protocol_sigma(sb, se_),
                        welch_p=None if w is None else w.p_two_sided, flags=flags_tuple(flags))


def _disagree(verdict: Verdict, p: float, alpha: float) -> bool:
    """A decisive verdict without a significant Welch p, or the reverse."""
    decisive = verdict in (Verdict.WINNER, Verdict.LOSER)
    return (decisive and p >= alpha) or (verdict is Verdict.NEUTRAL and p < alpha)


def needs_extension(baseline: Iterable[float], stage1: Iterable[float], *,
                    direction: Direction | str, rule: SigmaRule | str = "A",
                    threshold: float = 2.0) -> bool:
    """True when stage 1 is within the threshold (|z1| < threshold): run 2 more seeds.

    False when z1 is undefined (zero baseline SD, too few runs): more
    experiment seeds cannot make that comparison decidable.
    """
    z_a, z_b = sigma_z(baseline, stage1, direction=direction)
    z = z_a if _rule(rule) is SigmaRule.A else z_b
    return z is not None and abs(z) < threshold


def sigma_protocol(baseline: Iterable[float], stage1: Iterable[float],
                   stage2: Iterable[float] | None = None, *, direction: Direction | str,
                   rule: SigmaRule | str = "A", threshold: float = 2.0,
                   alpha: float = 0.05) -> SigmaVerdict:
    """The whole published two-stage protocol.

    Decides on stage 1 when |z1| >= threshold; otherwise on stage 1 + stage 2
    (``extended``, OPTIONAL_STOPPING). Stage-2 values supplied when no
    extension was due are ignored; an extension that was due but is missing
    gives the stage-1 verdict with EXTENSION_MISSING.
    """
    s1 = list(stage1)
    kw = dict(direction=direction, rule=rule, threshold=threshold, alpha=alpha)
    if not needs_extension(baseline, s1, direction=direction, rule=rule, threshold=threshold):
        return sigma_verdict(baseline, s1, **kw)
    if stage2 is None:
        v = sigma_verdict(baseline, s1, **kw)
        return _with(v, extended=False, extra=[StatFlag.EXTENSION_MISSING])
    v = sigma_verdict(baseline, s1 + list(stage2), **kw)
    return _with(v, extended=True, extra=[StatFlag.OPTIONAL_STOPPING])


def _with(v: SigmaVerdict, *, extended: bool, extra: list[StatFlag]) -> SigmaVerdict:
    from dataclasses import replace

    return replace(v, extended=extended, flags=flags_tuple(list(v.flags) + extra))


def outlier_sensitive(baseline: Iterable[float], experiment: Iterable[float],
                      verdict_fn: Callable[[np.ndarray, np.ndarray], Hashable]) -> bool:
    """True when leaving out any single run (of either group) changes the verdict.

    Args:
        baseline, experiment: 1-D array-likes of per-seed values.
        verdict_fn: ``f(baseline, experiment) -> verdict`` on 1-D float arrays,
            e.g. ``lambda b, e: sigma_verdict(b, e, direction="lower").verdict``.
    """
    b = np.asarray(list(baseline), dtype=float)
    e = np.asarray(list(experiment), dtype=float)
    full = verdict_fn(b, e)
    for i in range(b.size):
        if verdict_fn(np.delete(b, i), e) != full:
            return True
    return any(verdict_fn(b, np.delete(e, i)) != full for i in range(e.size))
