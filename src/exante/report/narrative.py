"""The prose sections: the seal, the hypothesis, the plan, the verdict, and its limits.

"What this does not show" is derived, item by item, from the caveats decide
computed and from the registered design; nothing in it is typed in by hand.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..spec_analysis import model_explanation
from . import fmt, view
from .doc import Bullets, Code, Para, Quote, Section, Table, Text, b, badge, code
from .sections import factor_phrase
from ..verdicts import Verdict

Result = Mapping[str, Any]

NEUTRAL_LIKE = (Verdict.NEUTRAL, Verdict.FAIL, Verdict.INCONCLUSIVE)


def seal_lines(result: Result, plan_name: str, n_records: int, head: str) -> list:
    """The provenance paragraph: which sealed plan and which ledger state this is from."""
    retro = result.get("retrospective")
    return [*([Para([badge("RETROSPECTIVE"), " " + str(retro.get("message") or "")],
                    kind="warn")] if retro else []),
        Para(["Verdict: ", badge(verdict_label(result)),
              f" (rule: {result.get('rule') or '—'})."], kind="verdict"),
        Para(["Sealed plan ", code(plan_name), " sha256 ", code(result.get("plan_sha256") or "—"),
              "; ledger head ", code(result.get("ledger_head") or "—"),
              f" ({n_records} records, chain verified). Written from the saved plan, ledger and "
              "result.json; nothing was rerun."]),
    ]


def verdict_label(result: Result) -> str:
    label = str(result.get("verdict") or "—")
    if result.get("tier"):
        label += f" ({result['tier']})"
    if result.get("retrospective"):
        label += " — RETROSPECTIVE, not pre-registered"
    if result.get("after_kill"):
        label += f" — after KILL ({result['after_kill'].get('rule')}), DEVIATED"
    return label


def hypothesis(result: Result) -> Section:
    blocks: list = [Quote(str(result.get("hypothesis") or "(none)"))]
    hyps = result.get("hypotheses") or {}
    if hyps:
        blocks.append(Table(["Factor", "Registered hypothesis"],
                            [[k, v] for k, v in hyps.items()]))
    return Section("Hypothesis", blocks)


def plan_summary(plan, result: Result) -> Section:
    """The registered design in one table (what the sealed plan committed to)."""
    d = plan.design
    metric = plan.primary
    rows = [["primary metric", f"{metric.name} ({metric.direction or '—'} is better"
                               + (f", {metric.unit}" if metric.unit else "") + ")"],
            ["decision rule", _rule_text(plan)]]
    if d.factors:
        rows.append(["factors", "; ".join(f"{k}: {', '.join(map(str, v))}"
                                          for k, v in d.factors.items())])
    if d.arms:
        rows.append(["arms", "; ".join(f"{k}: {fmt.levels(v)}" for k, v in d.arms.items())])
    rows.append(["baseline", fmt.levels(d.baseline)])
    if d.fixed:
        rows.append(["fixed", fmt.levels(d.fixed)])
    if plan.seed_protocol is not None:
        p = plan.seed_protocol
        rows.append(["seeds", f"baseline {fmt.seeds(p.baseline_seeds)}; experiment "
                              f"{fmt.seeds(p.stage1)}, then {fmt.seeds(p.stage2)} if |z| < "
                              f"{plan.decision.threshold:g}"])
    else:
        rows.append(["seeds", fmt.seeds(d.seeds)])
    a = plan.analysis
    rows.append(["analysis", f"α = {a.alpha:g}, {fmt.level(a.ci)} intervals, correction: "
                             f"{a.correction}"])
    if a.model.paired:
        rows.append(["analysis model", model_explanation(plan)])
    rows.append(["failed runs", plan.failures.policy + (f" (worst = {plan.failures.worst:g})"
                                                       if plan.failures.worst is not None else "")])
    if plan.failures.untrained_if:
        rows.append(["runs that did not train", f"{plan.failures.untrained_if}: "
                     f"{plan.failures.untrained or 'exclude'}"])
    for k in plan.kill:
        rows.append([f"kill rule {k.name}", k.when + (f" — {k.why}" if k.why else "")])
    if plan.ladder:
        rows.append(["ladder", f"{plan.ladder.get('name')} rung {plan.ladder.get('rung')}, scope "
                               f"{plan.ladder.get('scope', '—')}"])
    title = ("Registered plan (sealed after its runs existed: RETROSPECTIVE)"
             if result.get("retrospective") else "Pre-registered plan")
    return Section(title, [Table(["Item", "Registered"], rows)])


def _rule_text(plan) -> str:
    return plan.decision.family.describe(plan.decision)


def design_check(result: Result) -> Section:
    dc = result.get("design_check")
    if not dc:
        return Section("Design check", [Para("No design check was recorded at lock time.")])
    unit = "comparison" if dc.get("per_factor") else "cell"
    rows = [["σ used", f"{fmt.num(dc.get('sigma'))} ({dc.get('sigma_source') or '—'})"],
            [f"false-pass rate under no effect (per {unit})", fmt.frac(dc.get("false_pass_rate"))],
            [f"power at d = {dc.get('smallest_effect', '—')}", fmt.frac(dc.get("power"))],
            [f"P(≥ 1 false pass across {dc.get('k', '—')} {unit}(s))",
             fmt.frac(dc.get("familywise_false_pass"))],
            ["seeds per group for 80% power", fmt.integer(dc.get("seeds_for_80_power"))]]
    for factor, row in (dc.get("per_factor") or {}).items():
        equiv = row.get("p_no_effect_when_null")
        rows.append([f"{factor}: {row.get('runs_per_level')} runs per level",
                     f"power {fmt.frac(row.get('power_at_smallest_effect'))}"
                     + (f"; P(equivalence claimed | no effect) {fmt.frac(equiv)}"
                        if equiv is not None else "")])
    if dc.get("n_base") is not None:
        rows.insert(0, ["group sizes", f"baseline {dc.get('n_base')}, experiment "
                                       f"{dc.get('n_exp')}" + (f" (+{dc['n_stage2']})"
                                                               if dc.get("n_stage2") else "")])
    blocks: list = [Table(["Operating characteristic", "Value"], rows)]
    gates = dc.get("gates") or []
    if gates:
        blocks.append(Bullets([[code(g.get("rule", "?")), ": " + (
            "can flip on synthetic data (it can both hold and fail)" if g.get("flipped")
            else "NEVER flips: it cannot decide anything")] for g in gates]))
    if dc.get("note"):
        blocks.append(Para(str(dc["note"])))
    blocks += against_data(result)
    return Section("Design check", blocks)


def against_data(result: Result) -> list:
    """The design check held against the data: assumed σ beside observed, power, CI widths."""
    seen = result.get("design_check_observed")
    if not seen:
        return []
    rows = [["σ assumed at lock", f"{fmt.num(seen.get('sigma_assumed'))} "
                                  f"({seen.get('sigma_source') or '—'})"],
            ["σ observed", f"{fmt.num(seen.get('sigma_observed'))} ({seen.get('sigma_observed_how')}"
                           f", df {seen.get('sigma_observed_df')})"]]
    rows += [[f"σ observed, {s['name']} stratum (√MS)", f"{fmt.num(s['sigma'])} (df {s['df']})"]
             for s in seen.get("strata") or []]
    rows.append(["power at the smallest effect, observed σ", fmt.frac(seen.get("power"))])
    for factor, row in (seen.get("factors") or {}).items():
        text = f"CI half-width {fmt.num(row.get('ci_half_width'))}"
        if row.get("margin") is not None:
            text += (f" vs margin ±{row['margin']:g} ("
                     + ("equivalence testable" if row.get("equivalence_testable") else
                        "equivalence NOT testable") + ")")
        if row.get("power") is not None:
            text += f"; power {fmt.frac(row['power'])}"
        rows.append([f"{factor} at the observed σ", text])
    blocks: list = [Para("Held against the data (after the runs):"),
                    Table(["Assumed vs observed", "Value"], rows)]
    if seen.get("lines"):
        blocks.append(Bullets(list(seen["lines"])))
    return blocks


def verdict(result: Result) -> Section:
    blocks: list = [Para(["The registered rule gives ", b(verdict_label(result)), "."],
                         kind="verdict")]
    reasons = result.get("verdict_reasons") or []
    if reasons:
        blocks.append(Bullets(list(reasons)))
    kill = result.get("kill")
    if kill:
        blocks.append(Para(["Killed by rule ", code(kill.get("rule") or "?"), ": ",
                            code(kill.get("when") or "?"),
                            f" ({kill.get('why')})" if kill.get("why") else "",
                            f", after {kill.get('runs_recorded', '?')} runs."], kind="warn"))
        numbers = kill.get("numbers") or {}
        if numbers:
            blocks.append(Code(_numbers_text(numbers)))
    return Section(f"Verdict: {result.get('verdict') or '—'}", blocks)


def _numbers_text(numbers: Mapping[str, Any]) -> str:
    import json

    return json.dumps(numbers, indent=2, sort_keys=True, default=str)


def caveats(result: Result) -> Section:
    rows = [[c.get("code", "?"), c.get("message", "")] for c in result.get("caveats") or []]
    if not rows:
        return Section("Caveats", [Para("None computed.")])
    return Section("Caveats", [Table(["Code", "What it means here"], rows)])


def amendments(result: Result) -> Section:
    rows = [[fmt.short(a.get("parent_sha256")), fmt.short(a.get("plan_sha256")),
             a.get("reason") or "", a.get("seen") or "", fmt.yes_no(a.get("after_runs"))]
            for a in result.get("amendments") or []]
    blocks: list = []
    if result.get("deviated"):
        blocks.append(Para("DEVIATED: the plan was amended after runs had started. The verdict "
                           "applies the amended rules; it is not the test that was first "
                           "pre-registered.", kind="warn"))
    if rows:
        blocks.append(Table(["Parent sha256", "New sha256", "Reason", "Results seen",
                             "After runs?"], rows))
    else:
        blocks.append(Para("None: the plan ran exactly as first sealed."))
    return Section("Amendments and deviations", blocks)


def flow(result: Result, *, per_cell: bool = True) -> Section:
    """CONSORT-style accounting of every registered run (and, with `per_cell`, each cell's)."""
    f = result.get("flow") or {}
    steps = [f"Registered: {f.get('planned', '—')} runs"
             + (f" ({f['reused']} reused from an earlier baseline measurement)"
                if f.get("reused") else ""),
             f"Run: {f.get('run', '—')} (not run: {f.get('not_run', '—')})",
             f"Finished: {f.get('ok', '—')}; failed: {f.get('failed', '—')}",
             f"Analysed: {f.get('analysed', '—')} values"]
    blocks: list = [Code("\n  ↓\n".join(steps))]
    reasons = list(f.get("reasons") or [])
    if f.get("not_run"):
        reasons.append(f"{f['not_run']} registered run(s) never started"
                       + (" (stopped by the kill rule)" if view.killed(result) else ""))
    if reasons:
        blocks.append(Bullets(reasons))
    if not per_cell:
        return Section("Flow of runs", blocks + untrained(result))
    rows = [[c["name"], c.get("role", ""), str(len(c.get("seeds") or [])),
             str(len(c.get("failed") or [])), str((c.get("stats") or {}).get("n", 0))]
            for c in view.cells(result)]
    blocks.append(Table(["Cell", "Role", "Runs", "Failed", "Analysed"], rows))
    failures = [[c["name"], str(x.get("seed")), x.get("error_kind") or "",
                 (x.get("error") or "").splitlines()[0][:120] if x.get("error") else ""]
                for c in view.cells(result) for x in c.get("failed") or []]
    if failures:
        blocks.append(Table(["Cell", "Seed", "Kind", "Error (first line)"], failures))
    blocks += untrained(result)
    return Section("Flow of runs", blocks)


def untrained(result: Result) -> list:
    """The runs the registered `failures.untrained_if` rule marked, each named with its numbers."""
    marked = result.get("untrained") or []
    if not marked:
        return []
    policy = {"exclude": "excluded from every statistic", "keep": "kept as they are",
              "count_as_worst": "scored as the registered worst value"}
    how = policy.get(marked[0].get("policy"), str(marked[0].get("policy")))
    rows = [[m.get("run_id", ""), m.get("cell", ""), str(m.get("seed")), m.get("why", "")]
            for m in marked]
    return [Para(f"{len(marked)} run(s) ran but did not train by the registered rule "
                 f"(failures.untrained_if); per the plan they are {how}:", kind="warn"),
            Table(["Run", "Cell", "Seed", "Why (the rule and its numbers)"], rows)]


def not_shown(result: Result, plan=None) -> Section:
    """What the result does not show, derived from caveats, verdict and design."""
    items: list[Text] = []
    codes = view.caveat_codes(result)
    v = result.get("verdict")
    dc = result.get("design_check") or {}
    power = dc.get("power")
    if v in NEUTRAL_LIKE:
        at = (f": power to detect d = {dc.get('smallest_effect', 1)} was {fmt.frac(power)}"
              if power is not None else "")
        items.append(f"A {v} verdict is not evidence of no effect at this power{at}. Absence "
                     "of a detected effect is not the absence of an effect.")
    elif "LOW_POWER" in codes:
        items.append("With this few seeds, a repeat of the experiment could easily give a "
                     "different verdict (LOW_POWER).")
    if "WINNERS_CURSE" in codes or v in (Verdict.WINNER, Verdict.PASS, Verdict.STRICT,
                                         Verdict.LENIENT):
        items.append("The size of the effect: estimates from a handful of seeds that cleared a "
                     "threshold are biased upwards (winner's curse); read the CI, not the point.")
    if codes & {"MULTIPLICITY", "SHARED_BASELINE"}:
        items.append("That each cell's result stands on its own: cells share one baseline and "
                     "were tested as a family.")
    if "OUTLIER_SENSITIVE" in codes:
        items.append("A verdict robust to single runs: leaving one run out changes it.")
    if "FRAGILE" in codes:
        items.append("A registered verdict robust to single runs or seeds: leaving one out "
                     "changes it (FRAGILE names which).")
    if "SEEDS_CORRELATED" in codes:
        items.append("Intervals that account for shared seeds: the plan registered independent "
                     "runs, but runs sharing a seed are correlated, so the registered intervals "
                     "are too wide for some effects and too narrow for others.")
    if "OPTIONAL_STOPPING" in codes:
        items.append("A fixed-sample test: the registered extension to more seeds changes the "
                     "error rates slightly (see caveats).")
    if "SEED_VARIANCE_ONLY" in codes:
        items.append("Robustness to data order, splits or augmentation, unless the trial's "
                     "seed controls them.")
    if "FAILED_RUNS" in codes:
        items.append("What the failed runs would have scored: they are listed in the flow, "
                     "not imputed.")
    if result.get("deviated"):
        items.append("A clean pre-registered test: the plan was amended after runs started.")
    items += _trap_and_tau_items(result)
    items += _factor_items(result)
    if view.killed(result):
        items.append("Anything about the cells that never ran: the kill rule stopped the sweep.")
    scope = (result.get("ladder") or {}).get("scope")
    items.append("Generalisation beyond the registered scope" + (f" ({scope})" if scope else "")
                 + ": other data, model sizes, budgets or metrics were not tested.")
    if plan is not None and plan.secondary:
        items.append("Anything about the secondary metrics: they were not part of the decision.")
    return Section("What this does not show", [Bullets(items)])


def _trap_and_tau_items(result: Result) -> list[Text]:
    items: list[Text] = []
    traps = result.get("traps") or []
    if not traps:
        items.append("That the pipeline would catch a broken method: no trap cells were "
                     "registered.")
    for t in traps:
        if t.get("passed") is False:
            items.append(f"A trustworthy measurement: trap {t['name']} did not behave as "
                         "registered, so the result is uninterpretable.")
        elif t.get("passed") is None and t.get("expect"):
            items.append(f"That trap {t['name']} behaved as registered: it could not be judged.")
        elif t.get("expect") == "no_effect":
            items.append(f"That trap {t['name']} has exactly no effect: only that its effect "
                         f"lies within ±{t.get('margin')}.")
    tau = view.tau(result)
    if result.get("tau") is None:
        items.append("That the method beats random chance: no τ baseline was run.")
    elif tau and tau["passed"] is not True:
        items.append("That the method beats random chance by the registered margin (τ was not "
                     "beaten).")
    return items


def _factor_items(result: Result) -> list[Text]:
    f = view.factorial(result)
    if f is None:
        return []
    items: list[Text] = []
    for factor, v in f["factor_verdicts"].items():
        verdict_ = v.get("verdict")
        if verdict_ == Verdict.NO_EFFECT:
            items.append(f"That {factor} has no effect at all: only that its effect is "
                         f"{factor_phrase(verdict_, f['margin']).split(': ', 1)[-1]} at this "
                         "design.")
        elif verdict_ == Verdict.INCONCLUSIVE:
            items.append(f"Whether {factor} matters: the data show neither an effect nor its "
                         "absence.")
    if any(e.get("tag") for e in f["main_effects"]):
        items.append("Main effects that hold at every level of the other factors: some are "
                     "averaged over an interaction.")
    return items


def appendix_plan(plan_text: str, plan_name: str, digest: str) -> Section:
    return Section("Appendix: the sealed plan", [
        Para(["Verbatim text of ", code(plan_name), " (sha256 ", code(digest), ")."]),
        Code(plan_text, "yaml"),
    ])
