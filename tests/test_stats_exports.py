"""The public surface of exante.stats is deliberate."""

from __future__ import annotations

import exante.stats as s


def test_all_names_exist_and_are_sorted():
    assert all(hasattr(s, name) for name in s.__all__)
    assert list(s.__all__) == sorted(s.__all__)
    for name in ("compare", "describe", "holm", "tost", "factorial_anova", "main_effects",
                 "tau_summary", "sigma_verdict", "needs_extension", "simulate_sigma_protocol",
                 "simulate_rule", "seeds_for_power", "familywise_false_pass",
                 "simulate_shared_baseline", "outlier_sensitive"):
        assert name in s.__all__


def test_public_functions_have_docstrings():
    for name in s.__all__:
        obj = getattr(s, name)
        if callable(obj):
            assert obj.__doc__, name
