"""exante's statistics layer: pure functions, arrays in, records out (see STATS.md).

Modules:
    describe      per-configuration summary (CellStats)
    compare       experiment vs baseline (Comparison) and Welch TOST (Equivalence)
    effect        Welch, Cohen's d / Hedges g, d CI, P(improvement), permutation p
    multiplicity  Holm adjustment, family-wise rates
    sigma         the seed-003 2-sigma protocol (SigmaVerdict), outlier sensitivity
    tau           the tau baseline (TauSummary)
    anova         full-factorial Type II ANOVA (AnovaTable)
    strata        error strata of the registered model (independent/blocked/split_plot)
    models        main effects under the registered model: exact ANOVA or MixedLM (ModelFit)
    blockcorr     intra-block (seed) correlation with its CI (BlockCorrelation)
    paired        paired comparison of cells sharing seeds (Paired, d_z)
    sensitivity   leave-one-run/seed-out flips of registered verdicts (Flip)
    marginal      main effects as marginal-mean differences (MainEffects)
    simulate      operating characteristics by simulation, seeds for power

Every record is a frozen dataclass whose ``to_dict()`` is JSON-safe (no NaN
or Inf: undefined numbers are None and a ``StatFlag`` says why). Randomness
enters only through explicit ``numpy.random.Generator`` arguments.
"""

from exante.stats._common import Direction, StatFlag
from exante.stats.anova import AnovaTable, AnovaTerm, factorial_anova
from exante.stats.blockcorr import BlockCorrelation, block_correlation
from exante.stats.compare import Comparison, Equivalence, compare, tost
from exante.stats.describe import CellStats, describe
from exante.stats.effect import SizeLabel, hedges_j
from exante.stats.marginal import (AVERAGED_TAG, CellMean, LevelEffect, MainEffect, MainEffects,
                                   main_effects)
from exante.stats.models import ModelEffect, ModelFit, ModelLevel, ModelTerm, fit_model
from exante.stats.multiplicity import expected_false_passes, familywise_false_pass, holm
from exante.stats.paired import Paired, paired_compare
from exante.stats.sensitivity import Flip, leave_one_out
from exante.stats.sigma import (SigmaRule, SigmaVerdict, Tier, Verdict, needs_extension,
                                outlier_sensitive, sigma_protocol, sigma_verdict, sigma_z)
from exante.stats.simulate import (ProtocolOC, RuleRate, SharedBaselineOC, seeds_for_power,
                                   sigma_pass, simulate_rule, simulate_shared_baseline,
                                   simulate_sigma_protocol, welch_pass)
from exante.stats.strata import MODELS, Stratum
from exante.stats.tau import TauSummary, tau_summary

__all__ = [
    "AVERAGED_TAG",
    "AnovaTable",
    "AnovaTerm",
    "BlockCorrelation",
    "CellMean",
    "CellStats",
    "Comparison",
    "Direction",
    "Equivalence",
    "Flip",
    "LevelEffect",
    "MODELS",
    "MainEffect",
    "MainEffects",
    "ModelEffect",
    "ModelFit",
    "ModelLevel",
    "ModelTerm",
    "Paired",
    "ProtocolOC",
    "RuleRate",
    "SharedBaselineOC",
    "SigmaRule",
    "SigmaVerdict",
    "SizeLabel",
    "StatFlag",
    "Stratum",
    "TauSummary",
    "Tier",
    "Verdict",
    "block_correlation",
    "compare",
    "describe",
    "expected_false_passes",
    "factorial_anova",
    "familywise_false_pass",
    "fit_model",
    "hedges_j",
    "holm",
    "leave_one_out",
    "main_effects",
    "needs_extension",
    "outlier_sensitive",
    "paired_compare",
    "seeds_for_power",
    "sigma_pass",
    "sigma_protocol",
    "sigma_verdict",
    "sigma_z",
    "simulate_rule",
    "simulate_shared_baseline",
    "simulate_sigma_protocol",
    "tau_summary",
    "tost",
    "welch_pass",
]
