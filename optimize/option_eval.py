"""One option of the decision space bound to a workload: its argument vector, its memory per chip, and the
record of what limits its batch (filled in by optimize.batch_limits)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from inferonomics.symbolic.evaluate import bind_values, positional

from inferonomics.optimize.constraints import Workload
from inferonomics.optimize.problem import Problem
from inferonomics.optimize.space import Option, Platform
from inferonomics.optimize.step_compiled import INDEX

if TYPE_CHECKING:  # a type only: importing serving_step loads the calibration for closed-form runs too
    from inferonomics.optimize.serving_step import ServingSpec


class ServingCurves(NamedTuple):
    """An option's calibrated serving model and its TPOT, TTFT (batches 1..cap) and feasible batches."""

    spec: ServingSpec
    tpot: np.ndarray
    ttft: np.ndarray
    feasible: np.ndarray


@dataclass
class OptionEval:
    """An option with its bound values and the limits on its batch."""

    option: Option
    vec: list
    batch_max: int = 0
    limited_by: str = ""  # a key of explain.LIMITS
    miss: tuple[float, str] | None = None  # (need/have ratio > 1, sentence) when infeasible
    ttft_s: float = 0.0
    usable: float = 0.0
    # calibrated serving model only: TPOT and TTFT at batches 1..cap, the feasible batches (ascending)
    tpot: np.ndarray | None = None
    ttft: np.ndarray | None = None
    feasible: np.ndarray | None = None
    best_batch: int = 0  # the feasible batch of highest tokens/s per replica (B_max for the closed form)
    cap: tuple[int, str] | None = None  # memory_cap's answer, once per evaluation (asked twice by the solver)

    @property
    def serving(self) -> ServingSpec | None:
        return self.option.platform.serving

    @property
    def curves(self) -> ServingCurves | None:
        """The serving model's curves (set together by batch_serving.evaluate_serving), so that each use
        narrows once; None on the closed-form model."""
        spec = self.option.platform.serving
        if spec is None or self.tpot is None or self.ttft is None or self.feasible is None:
            return None
        return ServingCurves(spec, self.tpot, self.ttft, self.feasible)

    @property
    def where(self) -> str:
        o = self.option
        p = o.platform
        if o.plain:
            return f"{o.tp} x {p.hardware} at {p.precision.label}"
        return f"{o.chips} x {p.hardware} ({o.shape_label}) at {p.precision.label}"

    def memory_at(self, batch: float, workload: Workload) -> float:
        """Bytes per chip at ``batch`` sequences (:func:`memory_per_chip` of this option's shape)."""
        o = self.option
        return memory_per_chip(self.vec, batch, workload, o.pp, o.attention_dp)


def option_vector(option: Option, workload: Workload) -> list:
    return platform_vector(option.platform, workload, option.tp)


def platform_vector(platform: Platform, workload: Workload, tp: float = 1.0) -> list:
    """The platform's values and the workload's, bound (checked, defaults filled), as an argument vector."""
    values = dict(platform.values)
    values.update(tp=float(tp), prompt_len=workload.isl, output_len=workload.osl, context=workload.context,
                  batch=1.0)
    return positional(bind_values(values))


def bind_option(option: Option, problem: Problem, base: list | None = None) -> OptionEval:
    """The option with its argument vector and usable HBM per chip; no limit found yet. ``base``: the vector of
    the option's platform (:func:`platform_vector`), whose TP slot is all that differs between its options
    (binding checks every value, a fifth of a solve when repeated for each TP degree)."""
    if base is None:
        vec = option_vector(option, problem.workload)
    else:
        vec = list(base)
        vec[INDEX["tp"]] = float(option.tp)
    usable = (problem.reserve.usable(vec[INDEX["hbm_capacity_bytes"]])
              if option.platform.values.get("hbm_capacity_bytes") else math.inf)
    return OptionEval(option, vec, usable=usable)


def kv_chips(vec: list) -> float:
    """Chips the KV cache is split over, min(t, h_kv): replicated KV heads take memory on every chip holding
    them, as they cost reads (symbolic.model.kv_chips)."""
    return min(vec[INDEX["tp"]], vec[INDEX["n_kv_heads"]])


def kv_per_sequence(vec: list, workload: Workload, pp: float = 1.0) -> float:
    """KV bytes per chip of one sequence at the full context ``isl + osl`` (each of ``pp`` stages its layers')."""
    return workload.context * vec[INDEX["kv_bytes_per_token"]] / (kv_chips(vec) * pp)


def memory_per_chip(vec: list, batch: float, workload: Workload, pp: float = 1.0, dp: float = 1.0) -> float:
    """Weights and KV per chip of a worker of ``tp x dp x pp`` chips at ``batch`` sequences: each pipeline stage
    holds ``1/pp`` of the layers; each attention-DP group a copy of all but the routed experts (split over all
    ``tp x dp`` chips) and the KV of its share of the sequences, ``ceil(B/dp)`` on the busiest group."""
    g = vec.__getitem__
    total, t = g(INDEX["total_params"]), g(INDEX["tp"])
    if dp > 1:
        routed = g(INDEX["n_experts"]) * g(INDEX["expert_params"])
        params = (total - routed) / t + routed / (t * dp)
        batch = math.ceil(batch / dp)
    else:
        params = total / t
    return (params * g(INDEX["bytes_per_weight"]) + batch * workload.context * g(INDEX["kv_bytes_per_token"])
            / kv_chips(vec)) / pp


def weights_fit(ev: OptionEval, problem: Problem) -> bool:
    """Whether the weights alone leave room in the usable HBM (strictly: a KV cache needs some)."""
    return ev.memory_at(0.0, problem.workload) < ev.usable


def memory_cap(ev: OptionEval, problem: Problem) -> tuple[int, str]:
    """Largest integer B <= max_batch whose weights + KV fit (checked on the integers), and which bound it is
    (a key of explain.LIMITS); kept on ``ev`` (bound to ``problem``'s workload and reserves)."""
    if ev.cap is None:
        ev.cap = _memory_cap(ev, problem)
    return ev.cap


def _memory_cap(ev: OptionEval, problem: Problem) -> tuple[int, str]:
    wl, vec, o = problem.workload, ev.vec, ev.option
    kv_chip = kv_per_sequence(vec, wl, o.pp) / o.attention_dp
    w_chip = ev.memory_at(0.0, wl)
    b_mem = (ev.usable - w_chip) / kv_chip if kv_chip > 0 else math.inf
    b = int(max(0, math.floor(min(b_mem, problem.max_batch))))

    def fits(x: int) -> bool:
        return x <= problem.max_batch and problem.memory.within(ev.memory_at(x, wl), ev.usable)

    while b >= 1 and not fits(b):
        b -= 1
    while fits(b + 1):
        b += 1
    by = "max_batch" if b >= problem.max_batch else "memory"
    spec = ev.option.platform.serving
    if spec is not None:  # the serving engine keeps only this many sequences resident; more would queue
        from inferonomics.optimize.serving_step import resident_cap

        resident = resident_cap(spec, o.tp, wl.isl, wl.osl, ep=o.ep, dp=o.attention_dp, pp=o.pp)
        if resident < b:
            b, by = int(math.floor(resident)), "kv_residency"
    return b, by
