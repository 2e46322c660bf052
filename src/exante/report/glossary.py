"""The tool's vocabulary in plain words, for the paper's appendix and the deck.

The body of the paper speaks to readers in plain words; where a report must
use exante's own terms (verdict names, caveat codes, τ, trap), this glossary
says what each means.
"""

from __future__ import annotations

GLOSSARY: tuple[tuple[str, str], ...] = (
    ("Sealed plan / seal", "The pre-registration file, hashed (sha256) before any run. Changing "
     "one byte breaks the seal and exante refuses to continue."),
    ("Ledger", "An append-only, hash-chained log of every event: lock, run start, finish, failure, "
     "decision. The paper is written from it."),
    ("Cell", "One combination of factor levels; each cell runs once per seed."),
    ("Baseline", "The registered reference cell every other cell is compared with."),
    ("Main effect", "A level's marginal mean (the average of cell means over all levels of the "
     "other factors) minus the reference level's."),
    ("Simple effect", "The effect of one factor at a single level of another factor."),
    ("Interaction", "When one factor's effect depends on the level of another."),
    ("EFFECT", "Factor verdict: some level differs from the reference by the registered test "
     "(Holm-adjusted across every factor-level contrast when the plan registers Holm; else its "
     "95% CI excludes zero)."),
    ("NO_EFFECT", "Factor verdict: every level's 95% CI lies inside the registered equivalence "
     "margin (a bounded null)."),
    ("INCONCLUSIVE", "Factor verdict: the CIs include zero but are wider than the margin, so the "
     "data cannot tell."),
    ("Analysis model", "The design registered for the statistics: independent runs, seeds as "
     "blocks (blocked), or a split plot in which a seed within some factors' levels is a whole "
     "plot; each effect is tested against its own error term."),
    ("FRAGILE", "Caveat: leaving out one run or one seed changes a registered verdict."),
    ("SEEDS_CORRELATED", "Caveat: runs sharing a seed move together although the plan "
     "registered independent runs."),
    ("Equivalence margin", "The largest difference, fixed in advance, that counts as no effect."),
    ("PASS / FAIL / KILL", "Study verdicts: PASS when the controls behaved and the registered rule "
     "held; FAIL when it did not; KILL when a registered stop rule ended the study early."),
    ("WINNER / NEUTRAL / LOSER", "Seed-protocol verdicts: the difference is at least 2 SD better, "
     "within 2 SD, or at least 2 SD worse."),
    ("Trap", "A control cell whose outcome is known in advance (a model on shuffled labels must "
     "score chance; a perfect prediction must score 1): it checks the pipeline."),
    ("τ (tau)", "The best score of several untrained (random) models; the method must beat it by a "
     "registered margin."),
    ("Kill rule / stop rule", "A registered condition that stops the study as soon as it holds."),
    ("Caveat", "A limitation computed from the data (few seeds, many comparisons, ...), printed "
     "with every verdict."),
    ("Design check", "Power and false-positive rates of the registered rule, simulated at lock "
     "time."),
    ("Holm adjustment", "A correction of p-values for testing a family of hypotheses."),
    ("Welch interval", "The confidence interval of a difference of means that does not assume "
     "equal variances."),
    ("Cohen's d / Hedges' g", "A difference in units of the run-to-run SD; g corrects d's bias "
     "with few runs."),
    ("Amendment / deviation", "A change to the sealed plan, recorded with its reason; one made "
     "after runs started makes the study DEVIATED."),
)
