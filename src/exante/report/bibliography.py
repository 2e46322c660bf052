"""The references exante's methods rest on, cited by key in the paper's prose.

`Citations` numbers references in order of first citation, so the list at
the end holds exactly the works the text cites, numbered as they appear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REFERENCES: dict[str, str] = {
    "welch": "B. L. Welch. The generalization of 'Student's' problem when several different "
             "population variances are involved. Biometrika, 34(1–2):28–35, 1947.",
    "cohen": "J. Cohen. Statistical Power Analysis for the Behavioral Sciences. 2nd ed. "
             "Lawrence Erlbaum Associates, 1988.",
    "hedges": "L. V. Hedges. Distribution theory for Glass's estimator of effect size and "
              "related estimators. Journal of Educational Statistics, 6(2):107–128, 1981.",
    "holm": "S. Holm. A simple sequentially rejective multiple test procedure. Scandinavian "
            "Journal of Statistics, 6(2):65–70, 1979.",
    "lakens": "D. Lakens. Equivalence tests: a practical primer for t tests, correlations, and "
              "meta-analyses. Social Psychological and Personality Science, 8(4):355–362, 2017.",
    "bouthillier": "X. Bouthillier, P. Delaunay, M. Bronzi, A. Trofimov, B. Nichyporuk, "
                   "J. Szeto, N. Sepah, E. Raff, K. Madan, V. Voleti, S. E. Kahou, V. Michalski, "
                   "D. Serdyuk, T. Arbel, C. Pal, G. Varoquaux, P. Vincent. Accounting for "
                   "variance in machine learning benchmarks. Proceedings of Machine Learning "
                   "and Systems (MLSys) 3, 2021.",
    "agarwal": "R. Agarwal, M. Schwarzer, P. S. Castro, A. Courville, M. G. Bellemare. Deep "
               "reinforcement learning at the edge of the statistical precipice. Advances in "
               "Neural Information Processing Systems (NeurIPS) 34, 2021.",
    "mnist1d": "S. Greydanus, D. Kobak. Scaling down deep learning with MNIST-1D. Proceedings "
               "of the 41st International Conference on Machine Learning (ICML), 2024. "
               "arXiv:2011.14439.",
    "consort": "K. F. Schulz, D. G. Altman, D. Moher, for the CONSORT Group. CONSORT 2010 "
               "statement: updated guidelines for reporting parallel group randomised trials. "
               "BMJ, 340:c332, 2010.",
    "nosek": "B. A. Nosek, C. R. Ebersole, A. C. DeHaven, D. T. Mellor. The preregistration "
             "revolution. Proceedings of the National Academy of Sciences, 115(11):2600–2606, "
             "2018.",
    "montgomery": "D. C. Montgomery. Design and Analysis of Experiments. 9th ed. Wiley, 2017.",
}


@dataclass
class Citations:
    """Numbers references by first citation: `cite('welch', 'holm')` gives '[1, 2]'."""

    order: list[str] = field(default_factory=list)

    def cite(self, *keys: str) -> str:
        nums = []
        for key in keys:
            if key not in REFERENCES:
                raise KeyError(f"no reference {key!r}")
            if key not in self.order:
                self.order.append(key)
            nums.append(self.order.index(key) + 1)
        return "[" + ", ".join(str(n) for n in sorted(nums)) + "]"

    def entries(self) -> list[str]:
        """The reference list, '[n] text', in citation order."""
        return [f"[{i}] {REFERENCES[k]}" for i, k in enumerate(self.order, start=1)]
