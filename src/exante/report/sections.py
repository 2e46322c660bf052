"""The statistics sections of a report (seed 003's tables and exante's additions).

Every builder takes the parsed result.json and returns a `Section`; none of
them computes a statistic: each number printed is one `exante decide` stored.
"""

from __future__ import annotations

from typing import Any, Mapping

from . import fmt, view
from .doc import Bullets, Para, Section, Table, b, code
from ..verdicts import Verdict

Result = Mapping[str, Any]


def _stat_row(label: str, stats: Mapping[str, Any] | None) -> list[str]:
    s = stats or {}
    return [label, fmt.num(s.get("mean")), fmt.num(s.get("sd")), fmt.num(s.get("min")),
            fmt.num(s.get("max"))]


def _wall_row(walls: list[float]) -> list[str] | None:
    if not walls:
        return None
    import statistics

    sd = statistics.stdev(walls) if len(walls) > 1 else None
    return ["wall_time (s)", fmt.num(statistics.fmean(walls), 1), fmt.num(sd, 1),
            fmt.num(min(walls), 1), fmt.num(max(walls), 1)]


def _n_label(stats: Mapping[str, Any] | None) -> str:
    s = stats or {}
    n, failed = s.get("n", 0), s.get("n_failed", 0)
    return f"N={n} runs" + (f", {failed} failed" if failed else "")


def baseline_statistics(result: Result) -> Section:
    """Seed 003's `## Baseline Statistics (N=5 runs)` table, plus seeds, CI and reuse."""
    base = view.baseline(result)
    if base is None:
        return Section("Baseline Statistics (N=0 runs)", [Para("No baseline run finished.")])
    rows = [_stat_row(view.metric_name(result), base["stats"])]
    wall = _wall_row(view.wall_times(base))
    if wall:
        rows.append(wall)
    s = base["stats"]
    blocks: list = [Table(["Metric", "Mean", "Std", "Min", "Max"], rows),
                    Para(f"Seeds: {fmt.seeds(base.get('seeds') or [])}. Std is the sample standard "
                         f"deviation (ddof = 1); {fmt.level(s.get('ci'))} CI of the mean "
                         f"{fmt.ci(s.get('ci_low'), s.get('ci_high'))}.")]
    reused = result.get("reused_baseline")
    if reused:
        blocks.append(Para(["Baseline reused from ", code(reused.get("source") or "?"), " (",
                            code(reused.get("store") or "?"), "): its configuration hash matched, "
                            "so these runs were not repeated."], kind="note"))
    return Section(f"Baseline Statistics ({_n_label(s)})", blocks)


def experiment_statistics(result: Result) -> Section:
    """Seed 003's `## Experiment Statistics` table; one row per arm when there are several."""
    arms = view.cells(result, "arm")
    metric = view.metric_name(result)
    if len(arms) == 1:
        arm = arms[0]
        rows = [_stat_row(metric, arm["stats"])]
        wall = _wall_row(view.wall_times(arm))
        if wall:
            rows.append(wall)
        return Section(f"Experiment Statistics ({_n_label(arm['stats'])})", [
            Table(["Metric", "Mean", "Std", "Min", "Max"], rows),
            Para(f"Cell {arm['name']} ({fmt.levels(arm.get('levels') or {})}); seeds: "
                 f"{fmt.seeds(arm.get('seeds') or [])}; {fmt.level(arm['stats'].get('ci'))} CI of "
                 f"the mean {fmt.ci(arm['stats'].get('ci_low'), arm['stats'].get('ci_high'))}.")])
    ns = sorted({c["stats"].get("n", 0) for c in arms}) or [0]
    n = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    rows = [[c["name"], str(c["stats"].get("n", 0)) + (f" (+{c['stats']['n_failed']} failed)"
                                                       if c["stats"].get("n_failed") else ""),
             fmt.num(c["stats"].get("mean")), fmt.num(c["stats"].get("sd")),
             fmt.num(c["stats"].get("min")), fmt.num(c["stats"].get("max")),
             fmt.ci(c["stats"].get("ci_low"), c["stats"].get("ci_high"))] for c in arms]
    return Section(f"Experiment Statistics (N={n} runs per cell)", [
        Table(["Cell", "N", "Mean", "Std", "Min", "Max", "95% CI of mean"], rows,
              caption=f"Primary metric: {metric}."),
    ])


def _significant(result: Result, comp: Mapping[str, Any]) -> str:
    if result.get("rule") == "sigma":
        s = view.sigma_of(comp)
        if s["z"] is None:
            return "undefined (z has no σ)"
        hit = abs(s["z"]) >= s["threshold"]
        return (f"{'Yes' if hit else 'No'} (z = {fmt.eff(s['z'])}σ, "
                f"{'≥' if hit else '<'} {s['threshold']:g}σ)")
    alpha = comp.get("alpha", 0.05)
    p = fmt.get(comp, "p_holm", "p_value")
    if p is None:
        return "undefined (no test)"
    label = "Holm " if comp.get("p_holm") is not None else ""
    return f"{'Yes' if p < alpha else 'No'} ({label}{fmt.p_eq(p)}, α = {alpha:g})"


def statistical_test(result: Result, *, full: bool = True) -> Section:
    """Seed 003's `## Statistical Test` table, then (`full`) every comparison in full.

    Seed 003's research note takes only the seed's table (`full=False`); exante's
    comparison tables follow its verdict there, under their own heading."""
    comps = view.comparisons(result, "arm")
    metric = view.metric_name(result)
    rows = []
    for c in comps:
        label = metric if len(comps) == 1 else f"{metric} ({c['cell']})"
        size = (c.get("d_label") or "—").capitalize()
        spans = c.get("d_labels_spanned") or []
        if len(spans) > 1:
            size += f" (CI spans {spans[0]}–{spans[-1]})"
        rows.append([label, fmt.eff(c.get("cohens_d")), size, _significant(result, c)])
    direction = view.direction(result)
    blocks: list = [
        Table(["Metric", "Cohen's d", "Effect Size", "Significant?"], rows or [["—"] * 4]),
        Para(f"Cohen's d = Δ / √((s_b² + s_e²)/2), oriented so that a positive d is an "
             f"improvement ({direction} {metric} is better). |d| < 0.2 negligible, < 0.5 small, "
             "< 0.8 medium, else large."),
    ]
    return Section("Statistical Test", blocks + (comparison_tables(comps) if full else []))


def comparison_tables(comps: list[Mapping[str, Any]]) -> list:
    if not comps:
        return [Para("No comparison could be made (no experiment cell finished).")]
    diffs = [[c["cell"], fmt.signed(c.get("mean_diff")),
              fmt.ci(c.get("ci_low"), c.get("ci_high"), fmt.signed),
              fmt.num(c.get("welch_t"), 2), fmt.df(c.get("welch_df")), fmt.pval(c.get("p_value")),
              fmt.pval(c.get("p_holm")), fmt.pval(c.get("permutation_p"))] for c in comps]
    sizes = []
    for c in comps:
        s = view.sigma_of(c)
        sizes.append([c["cell"], fmt.eff(c.get("cohens_d_pooled")),
                      fmt.ci(c.get("d_ci_low"), c.get("d_ci_high"), fmt.eff),
                      fmt.eff(c.get("hedges_g")), fmt.frac(c.get("prob_improvement")),
                      fmt.eff(s["z_a"]), fmt.eff(s["z_b"]),
                      (s["verdict"] or "—") + (f" ({s['tier']})" if s["tier"] else "")])
    level = fmt.level(comps[0].get("ci_level", 0.95))
    return [
        Table(["Cell", "Δ", f"{level} CI of Δ", "Welch t", "df", "p", "Holm p", "Permutation p"],
              diffs, caption="Δ = experiment − baseline, signed so that positive is better; "
                             "Welch t-interval; Holm adjustment across the registered family."),
        Table(["Cell", "d_s", f"{level} CI of d_s", "Hedges g", "P(improvement)", "z (σ = s_b)",
               "z (σ pooled)", "2σ rule"], sizes,
              caption="d_s uses the n-weighted pooled SD; its CI inverts the noncentral t. "
                      "z is shown under both σ definitions (rule A: baseline SD; rule B: "
                      "pooled)."),
    ]


def wall_clock(result: Result) -> Section:
    """Seed 003's `## Wall Clock` table: baseline mean, experiment mean, delta %."""
    base = view.baseline(result)
    base_walls = view.wall_times(base)
    rows = []
    arms = view.cells(result, "arm")
    for arm in arms:
        walls = view.wall_times(arm)
        if base_walls and walls:
            b_mean, e_mean = sum(base_walls) / len(base_walls), sum(walls) / len(walls)
            delta = 100.0 * (e_mean - b_mean) / b_mean if b_mean else None
            label = "wall_time (s)" + ("" if len(arms) == 1 else f" {arm['name']}")
            rows.append([label, fmt.num(b_mean, 1), fmt.num(e_mean, 1), fmt.pct(delta)])
    wc = result.get("wall_clock")
    if not rows and wc:
        rows.append(["wall_time (s)", fmt.num(wc.get("baseline_mean_s"), 1),
                     fmt.num(wc.get("experiment_mean_s"), 1), fmt.pct(wc.get("delta_pct"))])
    if not rows:
        return Section("Wall Clock", [Para("No wall-clock times were recorded.")])
    return Section("Wall Clock", [
        Table(["", "Baseline Mean", "Experiment Mean", "Delta"], rows),
        Para("Delta is the experiment's change in percent; positive: the experiment is slower. From the trial's `wall_time` metric "
             "when it reports one, else the runner's measured wall time per run."),
    ])


def _behaved(passed: Any) -> str:
    return {True: "yes", False: "NO", None: "undecided"}[passed if passed in (True, False)
                                                           else None]


def traps(result: Result) -> Section:
    rows = []
    notes = []
    for t in result.get("traps") or []:
        c = t.get("comparison") or view.comparison_for(result, f"trap:{t['name']}") or {}
        s = t.get("stats") or {}
        expect = t.get("expect") or "prose only"
        if t.get("expect") == "no_effect" and t.get("margin") is not None:
            expect += f" (±{t['margin']:g})"
        if t.get("expect") == "check" and t.get("check"):
            expect += f": {t['check']}"
        rows.append([t["name"], expect, str(s.get("n", 0)), fmt.num(s.get("mean")),
                     fmt.signed(c.get("mean_diff")) + " " + fmt.ci(c.get("ci_low"),
                                                                   c.get("ci_high"), fmt.signed),
                     _behaved(t.get("passed"))])
        prose = " ".join(x.rstrip(".") + "." for x in (t.get("description"),
                                                        t.get("expected_outcome") and
                                                        f"Expected: {t['expected_outcome']}") if x)
        if prose:
            notes.append([b(t["name"]), ": " + prose])
    if not rows:
        return Section("Traps", [Para("No trap cells were registered: nothing checks that a "
                                      "broken version of the method would have been caught.")])
    blocks: list = [Table(["Trap", "Registered expectation", "N", "Mean", "Δ vs baseline (CI)",
                           "Behaved as registered?"], rows)]
    if notes:
        blocks.append(Bullets(notes))
    return Section("Traps", blocks)


def tau(result: Result) -> Section:
    t = view.tau(result)
    if t is None:
        return Section("τ baseline", [Para("No τ baseline was registered or run.")])
    if t["refused"]:
        return Section("τ baseline", [Para(f"τ = {fmt.num(t['tau'])}, but the margin test was "
                                           "refused: " + ", ".join(t["flags"]) + " (a relative "
                                           "margin needs a metric with a fixed sign).")])
    rows = [["τ (best random instantiation)", fmt.num(t["tau"])],
            ["margin", fmt.frac(t["margin"]) if t["margin"] is not None else fmt.DASH],
            ["threshold to beat", fmt.num(t["threshold"])],
            ["τ scores: mean ± SD", f"{fmt.num(t['mean'])} ± {fmt.num(t['sd'])}"],
            [f"method ({t['method'] or '—'}) mean", fmt.num(t["method_mean"])],
            ["method seeds beyond threshold", fmt.frac(t["fraction_beating"])],
            ["one-sided t-test p (τ fixed)", fmt.pval(t["t_p"])],
            ["rank null probability", fmt.num(t["null_probability"], 5)],
            ["beaten by the margin?", _behaved(t["passed"])]]
    return Section("τ baseline", [
        Table(["Quantity", "Value"], rows),
        Para(f"{len(t['scores'])} τ scores: " + ", ".join(fmt.num(x) for x in t["scores"]) + "."),
    ])


def factorial(result: Result, hypotheses: Mapping[str, str] | None = None) -> Section | None:
    f = view.factorial(result)
    if f is None:
        return None
    anova = [[t["term"], fmt.df(t["df"]), fmt.num(t["F"], 2), fmt.pval(t["p"]),
              fmt.num(t["partial_eta2"], 3)] for t in f["anova"]]
    blocks: list = [Table(["Term", "df", "F", "p", "partial η²"], anova,
                          caption=_anova_caption(f))]
    effects = []
    for e in f["main_effects"]:
        for lv in e["levels"]:
            ref = lv["level"] == e["reference"]
            effects.append([e["factor"], str(lv["level"]) + (" (reference)" if ref else ""),
                            fmt.num(lv["marginal_mean"]),
                            fmt.DASH if ref else fmt.signed(lv["diff"]),
                            fmt.DASH if ref else fmt.ci(lv["ci_low"], lv["ci_high"], fmt.signed),
                            e.get("tag") or ""])
    blocks.append(Table(["Factor", "Level", "Marginal mean", "Δ vs reference", "95% CI",
                         "Note"], effects))
    blocks += _model_paras(f)
    blocks.append(factor_verdict_table(result, hypotheses))
    return Section("Factorial analysis", blocks)


def _anova_caption(f: Mapping[str, Any]) -> str:
    model = f.get("model") or {}
    if model.get("type") in (None, "independent"):
        return (f"Full-factorial OLS, Type II sums of squares; residual df "
                f"{fmt.df(f['df_resid'])}.")
    strata = ", ".join(f"{s['name']} df {fmt.df(s['df'])}" for s in model.get("strata") or [])
    return (f"Each term against its own error stratum of the registered {model['type']} model "
            f"({model.get('method')}); strata: {strata}.")


def _model_paras(f: Mapping[str, Any]) -> list:
    """The registered model, how its df were taken, and what the correction covers."""
    model, mult = f.get("model") or {}, f.get("multiplicity") or {}
    out = []
    if model:
        out.append(Para(f"Analysis model (registered): {model.get('explanation')}. Method: "
                        f"{model.get('method')}; df: {model.get('df_rule')}."))
    if mult:
        out.append(Para(f"Multiplicity: effect claims — {mult.get('effect_claims')}; "
                        f"equivalence claims — {mult.get('equivalence_claims')}."))
    return out


def factor_verdict_table(result: Result, hypotheses: Mapping[str, str] | None = None) -> Table:
    f = view.factorial(result) or {"factor_verdicts": {}, "margin": None}
    hyps = dict(hypotheses or result.get("hypotheses") or {})
    rows = [[factor, factor_phrase(v.get("verdict"), f["margin"]), hyps.get(factor, "—"),
             v.get("why") or ""] for factor, v in f["factor_verdicts"].items()]
    return Table(["Factor", "Finding", "Registered hypothesis", "Why"], rows)


def factor_phrase(verdict: str | None, margin: float | None) -> str:
    """The honest wording of a factor verdict: never 'no effect' without its margin."""
    if verdict == Verdict.EFFECT:
        return "effect detected"
    if verdict == Verdict.NO_EFFECT:
        return (f"no effect detected: equivalent within ±{margin:g}" if margin is not None
                else "no effect detected")
    return "inconclusive"
