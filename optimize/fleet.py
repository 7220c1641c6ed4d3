"""A heterogeneous fleet as a mixed-integer program (scipy.optimize.milp, HiGHS): replicas per option.

Variables ``R_o >= 0`` integer, one per feasible (hardware, precision, TP) option, each replica running at
the option's feasible batch of highest tokens/s per replica (its largest feasible batch for the closed-form
model; found by scanning every feasible batch for the calibrated serving model), so no fleet is cheaper with
another batch. Minimize ``sum_o R_o t_o p_o`` ($/h; unpriced, objective ``chips``: ``sum_o R_o t_o``)
subject to demand coverage ``sum_o R_o tps_o >= D``, chips per hardware ``sum_{o on h} R_o t_o <= limit_h``
and the budget ``sum_o R_o t_o p_o <= budget``. The integer answer is then re-checked exactly in floating point.
"""

from __future__ import annotations

import math

import numpy as np

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.constraints import covers
from inferonomics.optimize.explain import explain, infeasible
from inferonomics.optimize.result import DeploymentResult, Status
from inferonomics.optimize.sizing import make_point, smallest_batch

#: safety margin added to the demand row if HiGHS' feasibility tolerance let a solution fall short
_MARGIN = 2e-7


def solve_fleet(problem, feasible: list, evals: list) -> DeploymentResult:
    from scipy.optimize import Bounds, LinearConstraint, milp

    if problem.objective not in ("usd_per_hour", "chips") or problem.demand is None:
        raise InvalidInputError("--max-chips", "objective usd_per_hour (or chips, unpriced) and a demand (a mixed "
                                "fleet minimizes $/h or chips)")
    misses = [e.miss for e in evals if e.miss]
    if not feasible:
        return infeasible(problem, misses)
    d = problem.demand.tokens_per_s
    pts = [make_point(ev, problem, ev.best_batch, 1) for ev in feasible]
    tps = np.array([p.tokens_per_s for p in pts])
    tp = np.array([p.chips_per_replica for p in pts], dtype=float)  # chips per replica
    priced = problem.objective == "usd_per_hour"
    cost = tp * np.array([p.price_usd_per_chip_hour if priced else 1.0 for p in pts], dtype=float)
    rows, lo, hi = [tps / d], [1.0], [np.inf]
    for h, limit in (problem.max_chips or {}).items():
        rows.append(np.where([p.hardware == h for p in pts], tp, 0.0))
        lo.append(-np.inf)
        hi.append(float(limit))
    if problem.budget_usd_per_hour is not None:
        rows.append(tp * np.array([p.price_usd_per_chip_hour for p in pts], dtype=float))
        lo.append(-np.inf)
        hi.append(problem.budget_usd_per_hour)
    ub = np.ceil(d / tps)
    for margin in (0.0, _MARGIN):
        lo[0] = 1.0 + margin
        res = milp(cost, integrality=np.ones(len(pts)), bounds=Bounds(0, ub),
                   constraints=LinearConstraint(np.array(rows), lo, hi), options={"mip_rel_gap": 0.0})
        if res.x is None:
            break
        r = np.round(res.x).astype(int)
        if covers(float(np.sum(r * tps)), d):
            return _result(problem, feasible, pts, r)
    return infeasible(problem, misses + [_closest(problem, pts)])


def _closest(problem, pts) -> tuple[float, str]:
    limits = problem.max_chips or {}
    best = max(pts, key=lambda p: p.tokens_per_s / p.chips_per_replica)
    need = math.ceil(problem.demand.tokens_per_s / best.tokens_per_s) * best.chips_per_replica
    have = limits.get(best.hardware, need)
    return (need / max(have, 1), f"the demand needs {need} x {best.hardware} at {best.precision} on its own; "
            f"chip limits {dict(limits)} and budget {problem.budget_usd_per_hour} admit no fleet that covers it")


def _result(problem, feasible, pts, r) -> DeploymentResult:
    from dataclasses import replace

    members = []
    for ev, p, n in zip(feasible, pts, r):
        if n <= 0:
            continue
        members.append((ev, replace(p, replicas=int(n))))
    if len(members) == 1:
        ev, p = members[0]
        members = [(ev, make_point(ev, problem, smallest_batch(ev, problem, p.replicas), p.replicas))]
    members.sort(key=lambda m: -m[1].chips)
    fleet = tuple(m[1] for m in members)
    priced = problem.objective == "usd_per_hour"
    total = float(sum(p.cost_usd_per_hour if priced else p.chips for p in fleet))
    binding, _ = explain(problem, *members[0])
    used: dict[str, int] = {}
    for p in fleet:
        used[p.hardware] = used.get(p.hardware, 0) + p.chips
    binding = binding + tuple(f"chip limit: {used.get(h, 0)} of {n} x {h} used"
                              for h, n in (problem.max_chips or {}).items() if used.get(h, 0) == n)
    slack = [f"fleet output {sum(p.fleet_tokens_per_s for p in fleet):.6g} tokens/s "
             f">= {problem.demand.tokens_per_s:.6g}"]
    slack += [f"{used.get(h, 0)} of {n} x {h}" for h, n in (problem.max_chips or {}).items()]
    if problem.budget_usd_per_hour is not None:
        usd = float(sum(p.cost_usd_per_hour for p in fleet))  # a budget needs prices (problem.check_prices)
        slack.append(f"${usd:.6g}/h of a ${problem.budget_usd_per_hour:g}/h budget")
    return DeploymentResult(Status.OPTIMAL, problem.objective, total, fleet[0], fleet, binding, tuple(slack))
