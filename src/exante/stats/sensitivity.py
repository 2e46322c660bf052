"""Leave-one-out sensitivity of registered verdicts (STATS.md section 5).

The caller supplies the units to leave out (each run, each seed) and a
function that re-decides the registered verdicts without one unit; this module
only runs the loop and keeps the flips. Keeping the re-deciding outside means
the sensitivity is computed under exactly the registered rule and model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Mapping

from exante.stats._common import record_dict


@dataclass(frozen=True)
class Flip:
    """Leaving out ``unit`` (of ``kind`` 'run' or 'seed') changes ``target`` from ``before``
    to ``after``."""

    kind: str
    unit: Hashable
    target: str
    before: str
    after: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return record_dict(self)


def leave_one_out(base: Mapping[str, str], units: Iterable[tuple[str, Hashable]],
                  verdicts_without: Callable[[str, Hashable], Mapping[str, str]]) -> list[Flip]:
    """Every (unit, verdict) pair whose verdict changes when that unit is left out.

    Args:
        base: target name -> verdict on all the data (e.g. {'depth': 'EFFECT'}).
        units: (kind, unit) pairs, e.g. ('run', 'cell seed 137'), ('seed', 137).
        verdicts_without: (kind, unit) -> the same mapping re-decided without it.
    """
    out = []
    for kind, unit in units:
        again = verdicts_without(kind, unit)
        for target, before in base.items():
            after = again.get(target, before)
            if after != before:
                out.append(Flip(kind, unit, target, before, after))
    return out
