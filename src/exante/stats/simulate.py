"""Operating characteristics by simulation, and design checks (STATS.md sections 3, 4).

Simulated runs are normal with a shared sigma of 1: baseline ~ N(0, 1),
experiment ~ N(d, 1), so d is the true standardised improvement (higher is
better). Every simulator takes an explicit ``numpy.random.Generator`` and is
vectorised over replicates: arrays have shape (reps, n_seeds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy import stats as sps

from exante.errors import InputError
from exante.stats._common import record_dict
from exante.stats.multiplicity import holm_rows
from exante.stats.sigma import SigmaRule, _rule

#: Replicates simulated per chunk, to bound memory (about 16 MB per 10 seeds).
CHUNK = 200_000


@dataclass(frozen=True)
class ProtocolOC:
    """Simulated rates of the two-stage sigma protocol at true effect d.

    Rates are fractions of ``reps``; ``mc_se_winner`` is the binomial Monte-Carlo
    standard error of ``p_winner``.
    """

    d: float
    rule: SigmaRule
    threshold: float
    n_base: int
    n_stage1: int
    n_stage2: int
    reps: int
    p_winner: float
    p_loser: float
    p_extension: float
    mc_se_winner: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def protocol_z_rows(b: np.ndarray, e1: np.ndarray, e2: np.ndarray, *,
                    rule: SigmaRule | str = "A", threshold: float = 2.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Final z and extension mask of the two-stage protocol, row by row.

    Args:
        b: (reps, n_base) baseline values; e1: (reps, n_stage1) stage-1 values;
           e2: (reps, n_stage2) stage-2 values (n_stage2 may be 0). Oriented so
           that higher is better.

    Returns:
        (z, extended): shape (reps,) float and bool arrays.
    """
    z1 = sigma_z_rows(b, e1, rule=rule)
    extended = np.abs(z1) < threshold
    if e2.shape[1] == 0:
        return z1, np.zeros_like(extended)
    z2 = sigma_z_rows(b, np.concatenate([e1, e2], axis=1), rule=rule)
    return np.where(extended, z2, z1), extended


def sigma_z_rows(b: np.ndarray, e: np.ndarray, *, rule: SigmaRule | str = "A") -> np.ndarray:
    """z = (mean_e - mean_b) / sigma per row; b (reps, n_b), e (reps, n_e) -> (reps,)."""
    sb = np.std(b, axis=1, ddof=1)
    sigma = sb if _rule(rule) is SigmaRule.A else np.sqrt(
        (sb ** 2 + np.std(e, axis=1, ddof=1) ** 2) / 2.0)
    return (e.mean(axis=1) - b.mean(axis=1)) / sigma


def simulate_sigma_protocol(*, d: float, n_base: int = 5, n_stage1: int = 3,
                            n_stage2: int = 2, rule: SigmaRule | str = "A",
                            threshold: float = 2.0, reps: int = 200_000,
                            rng: np.random.Generator) -> ProtocolOC:
    """P(WINNER), P(LOSER), P(extension used) of the protocol at true effect d (SD units).

    ``n_stage2=0`` simulates a fixed design with n_stage1 experiment seeds.
    """
    if min(n_base, n_stage1) < 2 or reps < 1:
        raise InputError("expected n_base >= 2, n_stage1 >= 2 and reps >= 1")
    wins = losses = ext = 0
    for m in _chunks(reps):
        b = rng.standard_normal((m, n_base))
        e1 = d + rng.standard_normal((m, n_stage1))
        e2 = d + rng.standard_normal((m, n_stage2))
        z, extended = protocol_z_rows(b, e1, e2, rule=rule, threshold=threshold)
        wins += int(np.count_nonzero(z >= threshold))
        losses += int(np.count_nonzero(z <= -threshold))
        ext += int(np.count_nonzero(extended))
    p = wins / reps
    return ProtocolOC(float(d), _rule(rule), float(threshold), n_base, n_stage1, n_stage2, reps,
                      p, losses / reps, ext / reps, math.sqrt(p * (1.0 - p) / reps))


def _chunks(reps: int) -> list[int]:
    return [min(CHUNK, reps - start) for start in range(0, reps, CHUNK)]


def welch_rows(b: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch (t, df, two-sided p) of e - b per row; b (reps, n_b), e (reps, n_e)."""
    vb = np.var(b, axis=1, ddof=1) / b.shape[1]
    ve = np.var(e, axis=1, ddof=1) / e.shape[1]
    t = (e.mean(axis=1) - b.mean(axis=1)) / np.sqrt(vb + ve)
    df = (vb + ve) ** 2 / (vb ** 2 / (b.shape[1] - 1) + ve ** 2 / (e.shape[1] - 1))
    return t, df, 2.0 * sps.t.sf(np.abs(t), df)


def welch_pass(b: np.ndarray, e: np.ndarray, *, alpha: float = 0.05) -> np.ndarray:
    """Vectorised rule: two-sided Welch p < alpha and the experiment is better."""
    t, _, p = welch_rows(b, e)
    return (p < alpha) & (t > 0)


def sigma_pass(b: np.ndarray, e: np.ndarray, *, rule: SigmaRule | str = "A",
               threshold: float = 2.0) -> np.ndarray:
    """Vectorised rule: fixed-n sigma rule, z >= threshold."""
    return sigma_z_rows(b, e, rule=rule) >= threshold


@dataclass(frozen=True)
class RuleRate:
    """Simulated pass rate of a decision rule (fraction of reps) and its MC SE."""

    d: float
    n_base: int
    n_exp: int
    reps: int
    rate: float
    mc_se: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def simulate_rule(rule_fn: Callable[[np.ndarray, np.ndarray], Any], *, n_base: int,
                  n_exp: int, d: float, reps: int, rng: np.random.Generator,
                  vectorised: bool = True) -> RuleRate:
    """Pass rate of ``rule_fn`` when the true improvement is d SDs.

    Args:
        rule_fn: with ``vectorised=True``, ``f(b, e) -> bool array (reps,)`` for
            b of shape (reps, n_base) and e of shape (reps, n_exp); otherwise
            ``f(b_row, e_row) -> bool`` called once per replicate (slow).
    """
    passes = 0
    for m in _chunks(reps):
        b = rng.standard_normal((m, n_base))
        e = d + rng.standard_normal((m, n_exp))
        if vectorised:
            passes += int(np.count_nonzero(np.asarray(rule_fn(b, e), dtype=bool)))
        else:
            passes += sum(bool(rule_fn(b[i], e[i])) for i in range(m))
    rate = passes / reps
    return RuleRate(float(d), n_base, n_exp, reps, rate, math.sqrt(rate * (1 - rate) / reps))


def seeds_for_power(d: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Seeds per group for a two-sided two-sample t-test, rounded up (TTestIndPower).

    d is the standardised effect (SD units), equal group sizes.
    """
    from statsmodels.stats.power import TTestIndPower

    if not d > 0:
        raise InputError(f"d: expected a positive effect size, got {d!r}")
    n = TTestIndPower().solve_power(effect_size=d, alpha=alpha, power=power, ratio=1.0,
                                    alternative="two-sided")
    return int(math.ceil(float(np.asarray(n).item()) - 1e-9))


@dataclass(frozen=True)
class SharedBaselineOC:
    """k cells compared with one shared baseline, all at true effect d.

    ``p_any_winner``: P(>= 1 WINNER from the sigma protocol among the k cells);
    ``mean_winners``: expected number of WINNERs; ``p_any_holm_welch``:
    P(>= 1 cell with Holm-adjusted two-sided Welch p < alpha and Delta > 0),
    Welch run on n_stage1 + n_stage2 seeds per cell (no optional stopping);
    ``p_any_independent``: 1 - (1 - per-cell WINNER rate)^k, the rate if cells
    did not share the baseline.
    """

    k: int
    d: float
    reps: int
    p_any_winner: float
    mean_winners: float
    p_any_holm_welch: float
    p_any_independent: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def simulate_shared_baseline(*, k: int = 18, d: float = 0.0, n_base: int = 5,
                             n_stage1: int = 3, n_stage2: int = 2,
                             rule: SigmaRule | str = "A", threshold: float = 2.0,
                             alpha: float = 0.05, reps: int = 20_000,
                             rng: np.random.Generator) -> SharedBaselineOC:
    """Family-wise false WINNER rate when k cells share one baseline draw."""
    any_win = wins = any_holm = 0
    n_exp = n_stage1 + n_stage2
    for m in _chunks_of(reps, max(1, CHUNK // k)):
        b = rng.standard_normal((m, n_base))
        e = d + rng.standard_normal((m, k, n_exp))
        b_k = np.repeat(b[:, None, :], k, axis=1).reshape(m * k, n_base)
        e_flat = e.reshape(m * k, n_exp)
        z, _ = protocol_z_rows(b_k, e_flat[:, :n_stage1], e_flat[:, n_stage1:],
                               rule=rule, threshold=threshold)
        won = (z >= threshold).reshape(m, k)
        any_win += int(np.count_nonzero(won.any(axis=1)))
        wins += int(np.count_nonzero(won))
        t, _, p = welch_rows(b_k, e_flat)
        hit = (holm_rows(p.reshape(m, k)) < alpha) & (t.reshape(m, k) > 0)
        any_holm += int(np.count_nonzero(hit.any(axis=1)))
    per_cell = wins / (reps * k)
    return SharedBaselineOC(k, float(d), reps, any_win / reps, wins / reps, any_holm / reps,
                            1.0 - (1.0 - per_cell) ** k)


def _chunks_of(reps: int, size: int) -> list[int]:
    return [min(size, reps - start) for start in range(0, reps, size)]
