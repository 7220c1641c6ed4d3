"""Constraints on a deployment as objects: each gives a residual (>= 0 feasible, in its own unit) and a sentence.

Conventions (documented here once, used by the solver, the oracle and the CLI):

* The decode step is evaluated at the worst context a sequence reaches, ``isl + osl`` tokens (the TPOT
  promise must hold at the end of the longest answer), and, by default, under continuous batching: each
  step also carries ``B isl/osl`` prompt tokens (symbolic.model's ``mixed=True``).
* With the calibrated serving model (the default for catalog deployments, optimize.serving_step), TPOT is
  the mean step under in-flight batching at the average context ``isl + osl/2`` and TTFT is the prompt's
  step beside the running batch, exactly as ``validate`` computes them; memory still uses ``isl + osl``.
* Memory per chip: ``N b_w / t + B (isl + osl) k / min(t, h_kv)`` (replicated KV heads are stored on every
  chip that holds them) must fit in the usable HBM,
  ``M (1 - activation_reserve_fraction) - framework_reserve_bytes``; defaults 5 % of HBM for activations
  and 2 GB for the framework (CUDA context, allocator slack, graphs).
* Demand from users: ``users x (minutes_per_day / 1440) x peak_to_mean x tokens_per_active_minute / 60``
  tokens/s: the fleet is sized for the daily PEAK, ``peak_to_mean`` (rho_pk) times the mean demand (the
  minimum user base, which keeps a replica busy at the daily TROUGH, uses mean_to_trough, rho_tr);
  ``tokens_per_active_minute`` defaults to 600 (an assumption: 10 tokens/s read while active).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from inferonomics.symbolic.errors import InvalidInputError, check_positive

#: relative tolerance of every "<=" the solver and the oracle test (so both decide ties the same way)
REL_TOL = 1e-9
ACTIVATION_RESERVE_FRACTION = 0.05
FRAMEWORK_RESERVE_BYTES = 2e9
TOKENS_PER_ACTIVE_MINUTE = 600.0


@dataclass(frozen=True)
class Workload:
    """Prompt and output lengths (tokens), whether steps carry prefill (continuous batching), overlap policy."""

    isl: float = 1024.0
    osl: float = 1024.0
    mixed: bool = True
    policy: str = "step"

    def __post_init__(self) -> None:
        check_positive("isl", self.isl)
        check_positive("osl", self.osl)

    @property
    def context(self) -> float:
        return self.isl + self.osl


@dataclass(frozen=True)
class MemoryReserve:
    activation_reserve_fraction: float = ACTIVATION_RESERVE_FRACTION
    framework_reserve_bytes: float = FRAMEWORK_RESERVE_BYTES

    def usable(self, hbm_bytes: float) -> float:
        return hbm_bytes * (1 - self.activation_reserve_fraction) - self.framework_reserve_bytes


@dataclass(frozen=True)
class Demand:
    """Fleet output tokens/s to serve at peak, given directly or derived from a user base."""

    tokens_per_s: float
    derivation: str = ""

    def __post_init__(self) -> None:
        if not (isinstance(self.tokens_per_s, (int, float)) and math.isfinite(self.tokens_per_s)
                and self.tokens_per_s > 0):
            raise InvalidInputError("demand", "a finite number of tokens/s > 0", self.tokens_per_s)

    @classmethod
    def from_users(cls, users: float, minutes_per_day: float, *, peak_to_mean: float = 1.0,
                   tokens_per_active_minute: float = TOKENS_PER_ACTIVE_MINUTE) -> Demand:
        check_positive("users", users)
        if not 0 < minutes_per_day <= 1440:
            raise InvalidInputError("minutes_per_day", "a number in (0, 1440]", minutes_per_day)
        check_positive("peak_to_mean", peak_to_mean)
        check_positive("tokens_per_active_minute", tokens_per_active_minute)
        d = users * minutes_per_day / 1440 * peak_to_mean * tokens_per_active_minute / 60
        why = (f"{users:g} users x {minutes_per_day:g}/1440 of the day x peak/mean {peak_to_mean:g} x "
               f"{tokens_per_active_minute:g} tokens per active minute / 60 = {d:.4g} tokens/s")
        return cls(d, why)


def at_most(value, limit):
    """``value <= limit`` up to REL_TOL, relative (works elementwise on arrays): every ceiling is tested so."""
    return value <= limit * (1 + REL_TOL)


def at_least(value, limit):
    """``value >= limit`` up to REL_TOL, relative: every floor (the demand) is tested so."""
    return value >= limit * (1 - REL_TOL)


def covers(tokens_per_s: float, demand: float) -> bool:
    """Demand coverage with the shared tolerance (so the solver and the oracle decide ties alike)."""
    return at_least(tokens_per_s, demand)


class Constraint(ABC):
    """A constraint on an evaluated point (see result.Point): a ``measure`` of the choice held under (a ceiling)
    or over (a floor) a ``limit``. The comparison, the need/have ratio of a miss and the slack in words are
    computed here and only here; the solver decides feasibility with :meth:`within` on raw numbers before a
    point exists, and the explanation reads :meth:`slack` and :meth:`over`."""

    name: str = ""
    unit: str = ""
    #: True for a floor (measure >= limit), False for a ceiling (measure <= limit)
    floor: bool = False

    @abstractmethod
    def measure(self, choice) -> float: ...

    @abstractmethod
    def limit(self, choice) -> float: ...

    @abstractmethod
    def describe(self) -> str: ...

    def in_unit(self, x: float) -> float:
        """A difference of the measure (SI) in :attr:`unit`."""
        return x

    def within(self, value, limit):
        """Whether ``value`` meets ``limit``, with the shared tolerance (elementwise on arrays)."""
        return at_least(value, limit) if self.floor else at_most(value, limit)

    def over(self, value: float, limit: float) -> float:
        """How far a miss is, as need/have (> 1 when ``value`` misses ``limit``)."""
        need, have = (limit, value) if self.floor else (value, limit)
        return need / max(have, 1e-300)

    def residual(self, choice) -> float:
        """Slack in :attr:`unit`: >= 0 when satisfied (up to the tolerance)."""
        m, lim = self.measure(choice), self.limit(choice)
        return self.in_unit(m - lim if self.floor else lim - m)

    def satisfied(self, choice) -> bool:
        return bool(self.within(self.measure(choice), self.limit(choice)))

    def slack(self, choice) -> str:
        return f"{self.describe()}: slack {self.residual(choice):.4g} {self.unit}"


@dataclass(frozen=True)
class _LatencySLO(Constraint):
    """A latency ceiling ``slo_s`` on one of the choice's latencies (``attribute``), with slack in ms."""

    slo_s: float
    unit = "ms"
    attribute = ""

    def measure(self, choice) -> float:
        return getattr(choice, self.attribute)

    def limit(self, choice=None) -> float:
        return self.slo_s

    def in_unit(self, x: float) -> float:
        return x * 1e3

    def admits(self, seconds):
        """Whether a latency (or an array of them) meets the SLO."""
        return self.within(seconds, self.slo_s)


@dataclass(frozen=True)
class TpotSLO(_LatencySLO):
    name = "tpot"
    attribute = "step_s"

    def describe(self) -> str:
        return (f"time per output token <= {self.slo_s * 1e3:g} ms (closed form: decode step at the full context; "
                f"calibrated serving model: mean in-flight step at context isl + osl/2)")


@dataclass(frozen=True)
class TtftSLO(_LatencySLO):
    name = "ttft"
    attribute = "ttft_s"

    def describe(self) -> str:
        return (f"time to first token <= {self.slo_s * 1e3:g} ms (prefill of the prompt on the replica; "
                f"calibrated serving model: beside the running batch)")


@dataclass(frozen=True)
class MemoryFits(Constraint):
    reserve: MemoryReserve = MemoryReserve()
    name = "memory"
    unit = "GB per chip"

    def measure(self, choice) -> float:
        return choice.memory_bytes

    def limit(self, choice) -> float:
        return choice.usable_bytes

    def in_unit(self, x: float) -> float:
        return x / 1e9

    def describe(self) -> str:
        r = self.reserve
        return (f"weights/TP + KV cache of B sequences at the full context <= HBM less "
                f"{r.activation_reserve_fraction:.0%} for activations and {r.framework_reserve_bytes / 1e9:g} GB "
                f"for the framework")


@dataclass(frozen=True)
class DemandCovered(Constraint):
    demand: Demand
    name = "demand"
    unit = "tokens/s"

    floor = True

    def measure(self, choice) -> float:
        return choice.fleet_tokens_per_s

    def limit(self, choice=None) -> float:
        return self.demand.tokens_per_s

    def describe(self) -> str:
        return f"fleet output >= {self.demand.tokens_per_s:.6g} tokens/s"


@dataclass(frozen=True)
class Budget(Constraint):
    usd_per_hour: float
    name = "budget"
    unit = "$/h"

    def measure(self, choice) -> float:
        return choice.cost_usd_per_hour or 0.0

    def limit(self, choice=None) -> float:
        return self.usd_per_hour

    def describe(self) -> str:
        return f"fleet cost <= ${self.usd_per_hour:g}/h"


@dataclass(frozen=True)
class ChipLimit(Constraint):
    hardware: str
    chips: int
    name = "chips"
    unit = "chips"

    def measure(self, choice) -> float:
        return choice.chips_of(self.hardware)

    def limit(self, choice=None) -> float:
        return self.chips

    def describe(self) -> str:
        return f"at most {self.chips} x {self.hardware}"
