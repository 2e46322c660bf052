"""The paper's front matter: title, abstract, introduction, background, setup, and the
pre-registration with every deviation. Templated prose; every number is read from
result.json or the ledger, never typed in.
"""

from __future__ import annotations

from typing import Any

from . import derived, findings, fmt, view
from .doc import Bullets, Para, Quote, Section, Table, code
from .paper_context import Ctx, and_list, cap, nice
from .units import metric_words


def title(ctx: Ctx) -> str:
    raw = ctx.plan.raw.get("title") if ctx.plan.raw else None
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    if ctx.levels:
        return (f"Does {and_list([nice(k) for k in ctx.levels])} change {ctx.metric}? "
                "A pre-registered ablation")
    return f"{cap(ctx.metric)}: a pre-registered comparison ({ctx.plan.experiment_id})"


def design_phrase(ctx: Ctx) -> str:
    d = ctx.plan.design
    flow = ctx.r.get("flow") or {}
    if d.factors:
        sizes = "×".join(str(len(v)) for v in d.factors.values())
        cells = 1
        for v in d.factors.values():
            cells *= len(v)
        return (f"a {sizes} factorial ablation of {and_list([nice(k) for k in d.factors])} "
                f"({cells} cells × {len(d.seeds)} seeds; {flow.get('planned', '—')} registered "
                "runs with the controls)")
    if ctx.plan.seed_protocol is not None:
        p = ctx.plan.seed_protocol
        return (f"a comparison of {len(d.arms) or 1} variant(s) against a baseline under the "
                f"2σ seed protocol ({len(p.baseline_seeds)} baseline seeds, {len(p.stage1)} + "
                f"{len(p.stage2)} experiment seeds)")
    return (f"a comparison of {len(d.arms)} variant(s) against a baseline with {len(d.seeds)} "
            "seeds each")


def controls_sentence(ctx: Ctx) -> str | None:
    traps = ctx.r.get("traps") or []
    tau = view.tau(ctx.r)
    parts = []
    if traps:
        ok = sum(1 for t in traps if t.get("passed") is True)
        parts.append(f"{ok} of {len(traps)} registered trap(s) behaved as registered")
    if tau is not None:
        parts.append("the best of the untrained models (τ) was " +
                     ("beaten by the registered margin" if tau["passed"] else "not beaten by the "
                      "registered margin"))
    return cap(and_list(parts)) + "." if parts else None


def abstract(ctx: Ctx) -> list[str]:
    """The abstract's sentences: design, each finding with its CI, mechanism, controls."""
    r = ctx.r
    out = [f"We pre-registered {design_phrase(ctx)} measuring {ctx.metric} ({view.direction(r)} "
           f"is better), sealed the plan (sha256 {fmt.short(r.get('plan_sha256'))}) before any "
           "run, and decided every finding with the rules registered in it."]
    if ctx.f is not None:
        out += [findings.compact_sentence(r, ctx.u, k) for k in ctx.f["factor_verdicts"]]
        inter = [t for t in derived.interaction_terms(r, ctx.alpha)
                 if t.get("p") is not None and t["p"] < ctx.alpha]
        for t in inter[:2]:
            a, b = t["term"].split(":")
            out.append(f"The effect of {nice(a)} depends on {nice(b)} ({nice(a)} × {nice(b)}: "
                       f"F = {fmt.num(t['F'], 2)}, {fmt.p_eq(t['p'])}).")
        from .paper_results import mechanism_sentences

        out += mechanism_sentences(ctx)[:1]
    else:
        out += [findings.arm_sentence(r, ctx.u, c) for c in view.comparisons(r, "arm")]
    controls = controls_sentence(ctx)
    if controls:
        out.append(controls)
    flow = r.get("flow") or {}
    out.append(f"{flow.get('analysed', '—')} of {flow.get('planned', '—')} registered runs were "
               f"analysed ({flow.get('failed', 0)} failed, {flow.get('not_run', 0)} not run); "
               f"the registered decision rule gives {r.get('verdict') or '—'}.")
    if r.get("deviated"):
        out.append("The plan was amended after runs had started; Section 4 reports the "
                   "deviation.")
    return out


def introduction(ctx: Ctx) -> Section:
    c = ctx.cite
    blocks: list = [
        Para("The question, as registered before any run:"),
        Quote(str(ctx.r.get("hypothesis") or ctx.plan.hypothesis or "(none)").strip()),
        Para("Ablations of small networks are often reported from a few seeds, with the analysis "
             "chosen after the numbers are seen, although run-to-run variance can be as large as "
             f"the effects claimed {c.cite('bouthillier')} {c.cite('agarwal')}. We fixed the "
             "design, metric, analysis and decision rules in a sealed plan before the first run "
             f"{c.cite('nosek')}, ran exactly that plan, and report every registered outcome "
             "(positive, null and negative) in the same form"
             + (": each factor's main effect in " + (ctx.u.diff_unit or "the metric's units")
                + " with a 95% CI, the interactions, the controls that check the pipeline, and "
                "the secondary metrics that explain the effects." if ctx.f is not None else ".")),
    ]
    return Section("1 Introduction", blocks)


def background(ctx: Ctx) -> Section:
    c = ctx.cite
    text = ("Bouthillier et al. show that variance across seeds, data order and splits can "
            f"change benchmark conclusions {c.cite('bouthillier')}; Agarwal et al. argue for "
            f"interval estimates over point scores when runs are few {c.cite('agarwal')}. We "
            "follow both: seeds are the unit of replication and every estimate carries its "
            "interval. ")
    if ctx.f is not None:
        text += ("Main effects and interactions come from a full-factorial analysis of variance "
                 f"{c.cite('montgomery')}, as marginal means averaged over the other factors. ")
    text += (f"Differences use Welch's unequal-variance t interval {c.cite('welch')}; standardised"
             f" effect sizes follow Cohen {c.cite('cohen')} with Hedges' small-sample correction "
             f"{c.cite('hedges')}; a family of tests is Holm-adjusted {c.cite('holm')}. A claim of "
             "no effect is an equivalence claim, which needs every interval inside a margin fixed "
             f"in advance {c.cite('lakens')}, not merely a non-significant test. Every registered "
             f"run is accounted for as CONSORT asks of trials {c.cite('consort')}.")
    if _dataset(ctx) == "mnist1d":
        text += (" MNIST-1D is a procedurally generated one-dimensional analogue of MNIST on which "
                 "small models separate architectures as larger benchmarks do, at a fraction of "
                 f"the compute {c.cite('mnist1d')}.")
    return Section("2 Background and related work", [Para(text)])


def _dataset(ctx: Ctx) -> str | None:
    fixed = dict(ctx.plan.design.fixed or {})
    ds = fixed.get("dataset")
    if ds is None:
        for d in ctx.plan.data:
            ds = (d.params or {}).get("dataset") or ds
    return str(ds).lower() if ds is not None else None


def _fingerprints(ctx: Ctx) -> dict[str, str]:
    return ctx.inputs.ledger.fingerprints  # the lock in force (an amendment re-records them)


def setup(ctx: Ctx) -> Section:
    plan, comp = ctx.plan, ctx.compute
    prose = plan.raw.get("datasets") if plan.raw else None
    data_prints = {k: v for k, v in _fingerprints(ctx).items() if k.startswith("data:")}
    data_text = (str(prose).strip() if isinstance(prose, str) and prose.strip() else
                 f"Dataset: {_dataset(ctx) or 'as defined by the trial'}.")
    if data_prints:
        data_text += (" The data the runs read were fingerprinted into the seal (sha256 " +
                      ", ".join(fmt.short(v) for v in data_prints.values()) + ").")
    d = plan.design
    trial = plan.trial
    target = trial.target if trial is not None else None
    factors = "; ".join(f"{nice(k)} ∈ {{{', '.join(map(str, v))}}}" for k, v in d.factors.items())
    fixed = ", ".join(f"{nice(k)} = {v}" for k, v in (d.fixed or {}).items())
    model = (f"Each run calls {target} with one seed and one cell's settings. " if target else "")
    if factors:
        model += f"Varied: {factors}. "
    if fixed:
        model += f"Fixed for every run: {fixed}. "
    model += (f"Seeds {fmt.seeds(d.seeds)} per cell" if d.seeds else "") + \
        (f"; baseline {fmt.levels(d.baseline)}." if d.baseline else ".")
    if trial is not None and trial.kind == "batched":
        model += (f" Runs sharing {', '.join(nice(g) for g in trial.group_by)} train together as "
                  f"one stacked ensemble of up to {trial.max_batch}, each member with its own "
                  "seed and parameters.")
    return Section("3 Setup", [
        Para(["Data. ", data_text]),
        Para(["Model and training. ", model]),
        Para(["Compute. ", compute_text(comp)]),
    ])


def compute_text(comp: derived.Compute) -> str:
    hw = and_list(list(comp.cpus)) or "an unrecorded CPU"
    text = f"{comp.runs} runs on {hw}"
    if comp.cpu_count:
        text += f" ({comp.cpu_count} cores"
        text += f", {comp.workers} worker processes)" if comp.workers else ")"
    if comp.gpus:
        text += f" with {and_list(list(comp.gpus))}"
    text += f", executor {and_list(list(comp.executors)) or '—'}"
    sw = [f"Python {comp.python}"] if comp.python else []
    sw += [f"{k} {v}" for k, v in comp.packages.items() if k in ("torch", "numpy", "scipy",
                                                                 "exante", "jax")]
    if sw:
        text += "; " + ", ".join(sw)
    text += (f". Summed run time {derived.duration(comp.run_seconds)}; wall time from first start "
             f"to last finish {derived.duration(comp.elapsed_seconds)}")
    if comp.peak_rss_mb:
        text += f"; peak memory per run {comp.peak_rss_mb:.0f} MB"
    if comp.load1:
        text += (f"; 1-minute load average during runs {min(comp.load1):.1f}–"
                 f"{max(comp.load1):.1f}")
    return text + ". All measured by the runner and recorded in the ledger."


def preregistration(ctx: Ctx) -> Section:
    from .narrative import _rule_text

    plan, r = ctx.plan, ctx.r
    a = plan.analysis
    rows: list[list[Any]] = [
        ["Primary metric", f"{ctx.metric} ({plan.primary.direction} is better)"],
        ["Secondary metrics", ", ".join(metric_words(m.name) for m in plan.secondary) or "none"],
        ["Decision rule", _plain_rule(ctx, _rule_text(plan))],
        ["Analysis", f"α = {a.alpha:g}, {fmt.level(a.ci)} intervals, {a.correction} correction"
         + (f", model: {_model(ctx)}" if _model(ctx) else "")],
        ["Failed runs", plan.failures.policy.replace("_", " ")],
    ]
    if plan.failures.untrained_if:
        rows.append(["Runs that did not train", f"{plan.failures.untrained_if}: "
                     f"{(plan.failures.untrained or 'exclude').replace('_', ' ')}"])
    controls = [f"trap {t['name']} ({t['check'] if t.get('check') else t.get('expect') or 'prose'})"
                for t in r.get("traps") or []]
    tau = view.tau(r)
    if tau is not None:
        controls.append(f"τ: beat the best of {len(tau['scores'])} untrained models by "
                        f"{fmt.frac(tau['margin'])}")
    if controls:
        rows.append(["Controls", "; ".join(controls)])
    if plan.kill:
        rows.append(["Stop rules", "stop at once if " + "; or if ".join(
            k.why or k.when for k in plan.kill)])
    n = ctx.numbers.table("prereg")
    blocks: list = [
        Para(["The plan was sealed (sha256 ", code(fmt.short(r.get("plan_sha256"), 16)),
              "…) and recorded in the hash-chained ledger before the first run; Table "
              f"{n} lists what it fixed, and Appendix E quotes it in full."]),
        Table(["Registered", "Value"], rows, caption=f"Table {n}. The registered plan."),
    ]
    dc = r.get("design_check") or {}
    if dc.get("power") is not None:
        blocks.append(Para(f"Design check at lock time: with σ = {ctx.u.sd(dc.get('sigma'))}"
                           f"{' ' + ctx.u.diff_unit if ctx.u.diff_unit and dc.get('sigma') else ''}"
                           f" ({dc.get('sigma_source') or 'as registered'}), the design had "
                           f"{fmt.frac(dc['power'])} power to detect an effect of "
                           f"{dc.get('smallest_effect')} SD and a {fmt.frac(dc.get('false_pass_rate'))} "
                           "false-positive rate per comparison."))
    blocks += _against_data(ctx)
    blocks.append(_deviations(r))
    if r.get("retrospective"):
        blocks.insert(0, Para("RETROSPECTIVE: this plan was sealed after the runs it analyses "
                              "existed (they were imported); it is not a pre-registration.",
                              kind="warn"))
    return Section("4 Pre-registration and deviations", blocks)


def _model(ctx: Ctx) -> str | None:
    m = getattr(ctx.plan.analysis, "model", None)
    if m is None:
        return None
    if m.type == "split_plot":
        return (f"split plot (a {m.block} within each {' × '.join(m.whole_plot)} combination "
                "is a whole plot)")
    return f"blocked by {m.block}" if m.type == "blocked" else "independent runs"


def _plain_rule(ctx: Ctx, text: str) -> str:
    if ctx.plan.decision.rule == "factorial":
        m = ctx.margin_text()
        mult = (ctx.r.get("factorial") or {}).get("multiplicity") or {}
        effect = ("per factor: effect when a level's Holm-adjusted p < α (Holm across all "
                  f"{mult.get('k')} factor-level contrasts)" if mult.get("correction") == "holm"
                  else "per factor: effect when a level's 95% CI excludes 0")
        return (f"{effect}; no effect when every CI lies within {m}" if m else effect
                ) + "; otherwise inconclusive"
    return text


def _against_data(ctx: Ctx) -> list:
    """The design check held against the data: the σ assumed beside the σ observed, in the
    metric's units, and every claim the observed σ made impossible."""
    from .. import observed

    seen = ctx.r.get("design_check_observed") or {}
    if not seen.get("sigma_observed"):
        return []
    amount = ctx.u.amount
    parts = [f"{s['name'].replace('_', ' ')} {amount(s['sigma'])}, df {s['df']:g}"
             for s in seen.get("strata") or () if s.get("sigma") is not None]
    strata = f" (error strata of the registered model: {'; '.join(parts)})" if parts else ""
    text = (f"Held against the data: the runs' pooled within-cell SD was "
            f"{amount(seen['sigma_observed'])}{strata}, against the "
            f"{amount(seen.get('sigma_assumed'))} assumed at lock"
            + (f"; at the observed σ the power at the registered smallest effect was "
               f"{fmt.frac(seen['power'])}" if seen.get("power") is not None else "") + ".")
    out: list = [Para(text)]
    said = observed.lines(seen, ctx.plan, (ctx.r.get("factorial") or {}).get("factor_verdicts"),
                          num=amount)
    if said:
        out.append(Bullets([s.replace("_", " ") for s in said]))
    return out


def _deviations(r) -> Para:
    amendments = r.get("amendments") or []
    if not amendments:
        return Para("Deviations: none. The plan ran exactly as first sealed: no amendment, no "
                    "added seed, no run outside the registered design.")
    parts = [f"{a.get('reason') or 'no reason given'}"
             + (" (after runs had started)" if a.get("after_runs") else "") for a in amendments]
    return Para(f"Deviations: {len(amendments)} amendment(s): " + "; ".join(parts) + ". " +
                ("The verdict applies the amended rules, not the test first registered."
                 if r.get("deviated") else ""), kind="warn" if r.get("deviated") else "")
