"""What the optimizer returns: a frozen DeploymentResult with a status, the choice, its numbers and the reasons."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inferonomics.optimize.speculation import Speculation


class Status(enum.Enum):
    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"


@dataclass(frozen=True)
class Point:
    """One evaluated deployment of a single option: ``replicas`` replicas of ``tp`` chips at batch ``batch``.

    Times in seconds, memory in bytes per chip, costs in dollars (None without a price).
    """

    hardware: str
    precision: str
    tp: int
    ep: int
    batch: int
    replicas: int
    compute_s: float
    memory_s: float
    comm_s: float
    overhead_s: float
    step_s: float
    ttft_s: float
    utilization: float
    memory_bytes: float
    usable_bytes: float
    price_usd_per_chip_hour: float | None
    batch_max: int = 0
    #: which model gave step_s and ttft_s, and which the compute/memory/comm/overhead breakdown
    step_model: str = "closed-form step model (symbolic.model)"
    breakdown_model: str = "closed-form step model (symbolic.model)"
    #: pipeline stages and attention data-parallel groups of a replica (chips per replica tp x dp x pp)
    pp: int = 1
    attention_dp: int = 1
    #: "agg" (prefill and decode in one pool) or "disagg"; ``extra`` fields of the deployment form
    mode: str = "agg"
    form: tuple = ()
    #: disaggregated: the prefill pool's chips (``replicas`` are then the decode workers, ``tp``... their shape)
    prefill_chips: int = 0
    #: speculative decoding in effect (optimize.speculation.Speculation), None: plain decoding
    speculation: Speculation | None = None

    @property
    def chips_per_replica(self) -> int:
        return self.tp * self.attention_dp * self.pp

    @property
    def chips(self) -> int:
        return self.replicas * self.chips_per_replica + self.prefill_chips

    def chips_of(self, hardware: str) -> int:
        return self.chips if hardware == self.hardware else 0

    @property
    def tokens_per_s(self) -> float:
        """Output tokens/s of one replica."""
        return self.batch / self.step_s

    @property
    def fleet_tokens_per_s(self) -> float:
        return self.replicas * self.batch / self.step_s

    @property
    def cost_usd_per_hour(self) -> float | None:
        p = self.price_usd_per_chip_hour
        return None if p is None else self.chips * p

    @property
    def cost_usd_per_million_tokens(self) -> float | None:
        """At the operating point, with the fleet busy at its batch: chips x price / tokens."""
        p = self.price_usd_per_chip_hour
        if p is None:
            return None
        if self.prefill_chips:
            return self.chips * p * self.step_s / (3600 * self.replicas * self.batch) * 1e6
        return self.chips_per_replica * p * self.step_s / (3600 * self.batch) * 1e6

    @property
    def chip_hours_per_million_tokens(self) -> float:
        """Chip-hours per million output tokens at the operating point (the cost with every chip-hour at 1); a
        disaggregated deployment's over both pools."""
        if self.prefill_chips:
            return self.chips * self.step_s / (3600 * self.replicas * self.batch) * 1e6
        return self.chips_per_replica * self.step_s / (3600 * self.batch) * 1e6

    def as_json(self) -> dict:
        return {
            "hardware": self.hardware, "precision": self.precision, "mode": self.mode, "tp": self.tp, "pp": self.pp,
            "ep": self.ep, "attention_dp": self.attention_dp, "chips_per_replica": self.chips_per_replica,
            **dict(self.form), "speculation": (None if self.speculation is None
                                               else {"enabled": True, **self.speculation.as_json()}),
            "batch": self.batch, "batch_max": self.batch_max, "replicas": self.replicas, "chips": self.chips,
            "step_ms": self.step_s * 1e3, "compute_ms": self.compute_s * 1e3, "memory_ms": self.memory_s * 1e3,
            "comm_ms": self.comm_s * 1e3, "overhead_ms": self.overhead_s * 1e3, "ttft_ms": self.ttft_s * 1e3,
            "tokens_per_s": self.fleet_tokens_per_s, "tokens_per_s_per_replica": self.tokens_per_s,
            "tokens_per_s_per_user": 1 / self.step_s, "utilization": self.utilization,
            "memory_gb_per_chip": self.memory_bytes / 1e9, "usable_gb_per_chip": self.usable_bytes / 1e9,
            "cost_usd_per_hour": self.cost_usd_per_hour,
            "cost_usd_per_million_tokens": self.cost_usd_per_million_tokens,
            "chip_hours_per_million_tokens": self.chip_hours_per_million_tokens,
            "step_model": self.step_model, "breakdown_model": self.breakdown_model,
        }


@dataclass(frozen=True)
class DeploymentResult:
    """The optimizer's answer. INFEASIBLE carries no point, and ``reason`` names the constraint and the
    closest miss. ``fleet`` lists the members of a mixed fleet (one member for a homogeneous one)."""

    status: Status
    objective: str
    objective_value: float | None = None
    point: Point | None = None
    fleet: tuple[Point, ...] = ()
    binding: tuple[str, ...] = ()
    slack: tuple[str, ...] = ()
    reason: str = ""
    notes: tuple[str, ...] = ()
    solve_ms: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def optimal(self) -> bool:
        return self.status is Status.OPTIMAL

    @property
    def chips(self) -> int:
        return sum(p.chips for p in self.fleet)

    @property
    def cost_usd_per_hour(self) -> float | None:
        costs = [c for p in self.fleet if (c := p.cost_usd_per_hour) is not None]
        return float(sum(costs)) if self.fleet and len(costs) == len(self.fleet) else None

    @property
    def tokens_per_s(self) -> float:
        return float(sum(p.fleet_tokens_per_s for p in self.fleet))

    def as_json(self) -> dict:
        keys = ("hardware", "precision", "mode", "tp", "pp", "ep", "attention_dp", "chips_per_replica", "speculation",
                "batch", "batch_max", "replicas", "chips", "step_ms",
                "ttft_ms", "tokens_per_s", "tokens_per_s_per_user", "compute_ms", "memory_ms", "comm_ms",
                "overhead_ms", "cost_usd_per_hour", "cost_usd_per_million_tokens", "chip_hours_per_million_tokens",
                "utilization", "step_model",
                "breakdown_model")
        out: dict = {"status": self.status.value, "objective": self.objective}
        p = self.point.as_json() if self.point is not None else {}
        out.update({k: p.get(k) for k in keys})
        out["mode"] = out["mode"] or "agg"  # always present, infeasible answers too
        if self.point is not None:
            out.update(dict(self.point.form))
        if len(self.fleet) > 1:
            out["chips"] = self.chips
            out["tokens_per_s"] = self.tokens_per_s
            out["cost_usd_per_hour"] = self.cost_usd_per_hour
            cost = self.cost_usd_per_hour
            out["cost_usd_per_million_tokens"] = (None if cost is None
                                                  else cost / (3600 * self.tokens_per_s) * 1e6)
            out["chip_hours_per_million_tokens"] = self.chips / (3600 * self.tokens_per_s) * 1e6
            out["fleet"] = [m.as_json() for m in self.fleet]
        out.update({"objective_value": _finite(self.objective_value), "binding": list(self.binding),
                    "slack": list(self.slack), "reason": self.reason, "notes": list(self.notes),
                    "solve_ms": self.solve_ms})
        out.update(self.extra)
        return out


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x
