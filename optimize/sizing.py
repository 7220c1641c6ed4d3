"""Sizing an option to the demand: the point at a batch, the replicas, and the operating batch.

Replicas: ``R = ceil(D / tokens_per_s(B_best))`` (B_best: the feasible batch of highest tokens/s per replica;
``B_max`` on the closed-form model, where tokens/s rises with ``B``); the operating batch is then the
smallest ``B`` with which ``R`` replicas still meet the demand (same $/h, lower latency).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from inferonomics.optimize.constraints import REL_TOL, covers
from inferonomics.optimize.objectives import objective as get_objective
from inferonomics.optimize.option_eval import OptionEval
from inferonomics.optimize.problem import Problem
from inferonomics.optimize.result import Point
from inferonomics.optimize.step_compiled import BATCH, INDEX, closed_form_step, step_at

CLOSED_FORM = "closed-form step model (symbolic.model)"
CLOSED_FORM_BREAKDOWN = ("closed-form step model's parts (symbolic.model, calibrated values), not the serving "
                         "model's; they need not add up to step_ms")


def make_point(ev: OptionEval, problem: Problem, batch: int, replicas: int) -> Point:
    """The option at ``batch``. Calibrated serving platforms: step (TPOT) and TTFT from the serving model;
    utilization = useful FLOPs of the step (2 N_a tokens + attention, symbolic.model) / (t F step); the
    compute/memory/comm/overhead breakdown is the closed-form step model's (``breakdown_model`` says so)."""
    o = ev.option
    c = closed_form_step(problem.workload.policy, problem.workload.mixed, o.platform.is_moe)
    ev.vec[BATCH] = float(batch)
    parts = c.parts(*ev.vec)
    step, ttft, step_model, breakdown = parts.step, ev.ttft_s, CLOSED_FORM, CLOSED_FORM
    if (sv := ev.curves) is not None:
        step, ttft = float(sv.tpot[batch - 1]), float(sv.ttft[batch - 1])
        step_model, breakdown = sv.spec.label, CLOSED_FORM_BREAKDOWN
    return Point(
        hardware=o.platform.hardware, precision=o.platform.precision.label, tp=o.tp, ep=o.ep, batch=batch,
        replicas=replicas, compute_s=parts.compute, memory_s=parts.memory, comm_s=parts.comm,
        overhead_s=parts.overhead, step_s=step, ttft_s=ttft,
        utilization=parts.flops / (o.chips * ev.vec[INDEX["peak_flop_per_s"]] * step),
        memory_bytes=ev.memory_at(batch, problem.workload), usable_bytes=ev.usable,
        price_usd_per_chip_hour=o.platform.price_usd_per_chip_hour, batch_max=ev.batch_max,
        step_model=step_model, breakdown_model=breakdown, pp=o.pp, attention_dp=o.attention_dp,
        speculation=o.speculation,
    )


def replicas_for(ev: OptionEval | None, problem: Problem, tps_max: float) -> int:
    """Smallest R with R x tokens_per_s(B_max) >= D (1 without a demand)."""
    if problem.demand is None:
        return 1
    d = problem.demand.tokens_per_s
    # the smallest R with covers(R x tps_max, d), up to the rounding of one division; a few unit steps
    # settle that rounding (unbounded loops spun forever past 2**53, where R - 1 and R are one float)
    r = max(1, math.ceil(d * (1 - REL_TOL) / tps_max))
    for _ in range(4):
        if r > 1 and covers((r - 1) * tps_max, d):
            r -= 1
        elif not covers(r * tps_max, d):
            r += 1
        else:
            break
    return r


def smallest_batch(ev: OptionEval, problem: Problem, replicas: int) -> int:
    """Smallest B <= B_max at which ``replicas`` replicas still meet the demand (tokens/s rises with B)."""
    if problem.demand is None:
        return ev.best_batch
    d = problem.demand.tokens_per_s
    if (sv := ev.curves) is not None:  # the serving step need not be monotone: scan
        b = sv.feasible
        hit = np.flatnonzero(covers(replicas * b / sv.tpot[b - 1], d))
        return int(b[hit[0]]) if hit.size else ev.best_batch
    c = closed_form_step(problem.workload.policy, problem.workload.mixed, ev.option.platform.is_moe)
    lo, hi = 1, ev.batch_max
    while lo < hi:
        mid = (lo + hi) // 2
        if covers(replicas * mid / step_at(c, ev.vec, mid), d):
            hi = mid
        else:
            lo = mid + 1
    return lo


def candidate_point(ev: OptionEval, problem: Problem) -> Point:
    """The option's best point for the objective: sized to the demand, at B_min ($/h) or B_max (per token)."""
    top = make_point(ev, problem, ev.best_batch, 1)
    r = replicas_for(ev, problem, top.tokens_per_s)
    if get_objective(problem.objective).needs_demand:  # $/h or chips for the demand: the smallest batch
        return make_point(ev, problem, smallest_batch(ev, problem, r), r)
    return replace(top, replicas=r)
