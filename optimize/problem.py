"""A deployment question: the decision space, the workload, and the constraints on an answer, as objects."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.constraints import (Budget, ChipLimit, Constraint, Demand, DemandCovered, MemoryFits,
                                               MemoryReserve, TpotSLO, TtftSLO, Workload)
from inferonomics.optimize.space import DecisionSpace

if TYPE_CHECKING:
    from inferonomics.optimize.speculation import Speculation


@dataclass(frozen=True)
class Problem:
    """A deployment question. Times in seconds; ``max_chips`` maps hardware name -> chips available.

    Its constraints are objects (optimize.constraints) made once per problem: the solver decides feasibility
    with them and the explanation reads their slack."""

    space: DecisionSpace
    workload: Workload = Workload()
    tpot_slo_s: float | None = None
    ttft_slo_s: float | None = None
    demand: Demand | None = None
    objective: str = "usd_per_hour"
    budget_usd_per_hour: float | None = None
    max_chips: Mapping[str, int] | None = None
    reserve: MemoryReserve = MemoryReserve()
    max_batch: int = 4096
    fleet: str = "auto"  # homogeneous | mixed | auto (mixed when chip limits are given)
    notes: tuple[str, ...] = field(default=())
    #: agg (prefill and decode in one pool), disagg (separate pools: optimize.disagg_search) or auto (both)
    mode: str = "agg"
    #: speculative decoding to try on and off (optimize.speculation.Speculation), None: off
    speculation: Speculation | None = None

    def options(self) -> list:
        """The space's options, and with ``speculation`` each calibrated-serving option once more with it on."""
        import dataclasses

        opts = self.space.options()
        if self.speculation is None:
            return opts
        return opts + [dataclasses.replace(o, speculation=self.speculation) for o in opts
                       if o.platform.serving is not None]

    def __post_init__(self) -> None:
        for name in ("tpot_slo_s", "ttft_slo_s", "budget_usd_per_hour"):
            x = getattr(self, name)
            if x is not None and not (math.isfinite(x) and x > 0):
                raise InvalidInputError(name, "a finite number > 0", x)
        if self.max_batch < 1:
            raise InvalidInputError("max_batch", "an integer >= 1", self.max_batch)
        if self.fleet not in ("auto", "homogeneous", "mixed"):
            raise InvalidInputError("fleet", "auto, homogeneous or mixed", self.fleet)
        if self.mode not in ("agg", "disagg", "auto"):
            raise InvalidInputError("mode", "agg, disagg or auto", self.mode)
        if not self.space.platforms:
            raise InvalidInputError("hardware", "at least one (hardware, precision) the model can run on"
                                    + (f" ({'; '.join(self.space.skipped)})" if self.space.skipped else ""))

    @property
    def mixed_fleet(self) -> bool:
        return self.fleet == "mixed" or (self.fleet == "auto" and bool(self.max_chips))

    # cached_property writes the instance's __dict__ directly, which a frozen dataclass allows
    @cached_property
    def memory(self) -> MemoryFits:
        return MemoryFits(self.reserve)

    @cached_property
    def tpot(self) -> TpotSLO | None:
        return None if self.tpot_slo_s is None else TpotSLO(self.tpot_slo_s)

    @cached_property
    def ttft(self) -> TtftSLO | None:
        return None if self.ttft_slo_s is None else TtftSLO(self.ttft_slo_s)

    @cached_property
    def covered(self) -> DemandCovered | None:
        return None if self.demand is None else DemandCovered(self.demand)

    @cached_property
    def budget(self) -> Budget | None:
        return None if self.budget_usd_per_hour is None else Budget(self.budget_usd_per_hour)

    @cached_property
    def chip_limits(self) -> tuple[ChipLimit, ...]:
        return tuple(ChipLimit(h, n) for h, n in (self.max_chips or {}).items())

    def constraints(self) -> list[Constraint]:
        """Every constraint of the problem, memory first, then the SLOs, demand, budget and chip limits."""
        out: list[Constraint | None] = [self.memory, self.tpot, self.ttft, self.covered, self.budget]
        return [c for c in out if c is not None] + list(self.chip_limits)


def check_prices(problem: Problem, required: bool = True) -> bool:
    """Whether the problem is priced: a price for every hardware (True) or for none (False). Prices for some
    and not others are refused (a $ answer would silently ignore the unpriced cards), as is none at all
    when ``required``."""
    missing = sorted({p.hardware for p in problem.space.platforms if p.price_usd_per_chip_hour is None})
    if not missing:
        return True
    priced = sorted({p.hardware for p in problem.space.platforms} - set(missing))
    if priced or required:
        given = f"prices were given for {', '.join(priced)} but not for the rest; " if priced else ""
        raise InvalidInputError("--price-usd-per-hour", f"a price for every hardware or for none ({given}the "
                                f"catalog has none, no citable figure exists): add "
                                f"{' '.join(h + '=<$/chip-hour>' for h in missing)}")
    return False
