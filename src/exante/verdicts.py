"""The one `Verdict` enum: every verdict a registered rule family can give.

A `StrEnum`, so ``Verdict.PASS == "PASS"`` and result.json keeps its strings.
Families (see `exante.families`) return these members; a plug-in family may
add a verdict of its own as a plain upper-case string.
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """A verdict, a tier or a per-factor finding, spelled as result.json stores it."""

    # seed 000, threshold and factorial studies
    PASS = "PASS"
    FAIL = "FAIL"
    KILL = "KILL"
    INCONCLUSIVE = "INCONCLUSIVE"
    INTERIM = "INTERIM"  # `decide --interim` on an unfinished sweep: a look, never a verdict
    # seed 001 tiers
    STRICT = "STRICT"
    LENIENT = "LENIENT"
    CATASTROPHIC = "CATASTROPHIC"
    # seed 003 sigma rule
    WINNER = "WINNER"
    NEUTRAL = "NEUTRAL"
    LOSER = "LOSER"
    # per-factor findings of a factorial study
    EFFECT = "EFFECT"
    NO_EFFECT = "NO_EFFECT"


def as_verdict(value: str | None) -> Verdict | str | None:
    """The `Verdict` of a stored string (unknown strings, from plug-ins, stay strings)."""
    if value is None:
        return None
    try:
        return Verdict(value)
    except ValueError:
        return value
