"""Objectives: what "cheapest" means. Each maps an evaluated point to a number the solver minimizes.

Priced (every hardware needs a $/chip-hour):

* ``usd_per_hour``: fleet dollars per hour for the demand (replicas x TP x price); needs a demand.
* ``usd_per_mtok``: dollars per million output tokens of a replica busy at its batch,
  ``t p tau(B) / (3600 B) 10^6``; falls with B, so each option's best batch is its largest feasible one.
* ``tokens_per_usd``: output tokens per dollar, ``3600 B / (t p tau(B))``; the reciprocal of the previous
  one up to 10^6, so it picks the same deployment (reported as a value to maximize).

Unpriced (no price given: the catalog has none), the same three with every chip-hour costing 1:

* ``chips``: chips in the fleet for the demand (chip-hours per hour); needs a demand.
* ``chip_hours_per_mtok``: chip-hours per million output tokens, ``t tau(B) / (3600 B) 10^6``.
* ``tokens_per_chip_hour``: output tokens per chip-hour (maximized).
"""

from __future__ import annotations

from dataclasses import dataclass

from inferonomics.symbolic.errors import UnknownNameError


@dataclass(frozen=True)
class Objective:
    name: str
    meaning: str
    needs_demand: bool
    maximize: bool = False
    #: needs a price for every hardware (False: chips count, not dollars)
    priced: bool = True

    def value(self, point) -> float:
        """The objective's value at a point (in its reporting sense: maximized for tokens_per_usd)."""
        if self.needs_demand:
            return float(point.cost_usd_per_hour if self.priced else point.chips)
        mtok = float(point.cost_usd_per_million_tokens if self.priced else point.chip_hours_per_million_tokens)
        return 1e6 / mtok if self.maximize else mtok

    def key(self, point) -> float:
        """The number to minimize."""
        v = self.value(point)
        return -v if self.maximize else v


OBJECTIVES = {
    "usd_per_hour": Objective("usd_per_hour", "fleet cost in $/h for the demand", needs_demand=True),
    "usd_per_mtok": Objective("usd_per_mtok", "$ per million output tokens at capacity", needs_demand=False),
    "tokens_per_usd": Objective("tokens_per_usd", "output tokens per $ at capacity", needs_demand=False,
                                maximize=True),
    "chips": Objective("chips", "chips in the fleet for the demand", needs_demand=True, priced=False),
    "chip_hours_per_mtok": Objective("chip_hours_per_mtok", "chip-hours per million output tokens at capacity",
                                     needs_demand=False, priced=False),
    "tokens_per_chip_hour": Objective("tokens_per_chip_hour", "output tokens per chip-hour at capacity",
                                      needs_demand=False, maximize=True, priced=False),
}

#: each priced objective's unpriced counterpart (what it becomes when no price is given)
UNPRICED = {"usd_per_hour": "chips", "usd_per_mtok": "chip_hours_per_mtok", "tokens_per_usd": "tokens_per_chip_hour"}


def objective(name: str) -> Objective:
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise UnknownNameError("objective", name, OBJECTIVES) from None
