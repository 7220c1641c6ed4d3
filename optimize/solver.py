"""The exact solver: enumerate hardware x precision x TP, take each option's largest feasible batch, size the
replicas to the demand, and keep the best option for the objective (or hand the feasible options to the
mixed-fleet MILP, optimize.fleet).

The steps live in their own modules, each one idea: the question and its constraints (:mod:`.problem`), one
option bound to the workload (:mod:`.option_eval`), its batch limit on the closed-form step model
(:mod:`.batch_closed_form`, over :mod:`.step_compiled`) or on the calibrated serving model
(:mod:`.batch_serving`), chosen by :mod:`.batch_limits`; sizing (:mod:`.sizing`); misses, binding constraints
and slack in words (:mod:`.explain`); the user base (:mod:`.user_base`); the TP relaxation (:mod:`.tp_relax`).
"""

from __future__ import annotations

import time
from dataclasses import replace

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.batch_limits import evaluate_option as evaluate_option
from inferonomics.optimize.batch_limits import evaluate_options as evaluate_options
from inferonomics.optimize.explain import explain, infeasible, limits_miss
from inferonomics.optimize.objectives import Objective
from inferonomics.optimize.objectives import objective as get_objective
from inferonomics.optimize.option_eval import OptionEval
from inferonomics.optimize.problem import Problem as Problem
from inferonomics.optimize.problem import check_prices as check_prices
from inferonomics.optimize.result import DeploymentResult, Status
from inferonomics.optimize.sizing import candidate_point
from inferonomics.optimize.sizing import make_point as make_point
from inferonomics.optimize.sizing import replicas_for as replicas_for
# the names callers imported from here before the split (the closed-form step was `compiled`)
from inferonomics.optimize.step_compiled import affine_pieces as affine_pieces
from inferonomics.optimize.step_compiled import closed_form_step as closed_form_step
from inferonomics.optimize.step_compiled import closed_form_step as compiled
from inferonomics.optimize.step_compiled import moe_weights as moe_weights
from inferonomics.optimize.step_compiled import step_at as step_at
from inferonomics.optimize.step_compiled import step_tokens as step_tokens
from inferonomics.optimize.tp_relax import relaxed_tp_degree as relaxed_tp_degree
from inferonomics.optimize.user_base import users_at_utilization as users_at_utilization

__all__ = ["Problem", "solve", "check_prices", "evaluate_option", "evaluate_options", "make_point", "replicas_for",
           "affine_pieces", "closed_form_step", "compiled", "moe_weights", "step_at", "step_tokens",
           "relaxed_tp_degree", "users_at_utilization"]


def solve(problem: Problem) -> DeploymentResult:
    """The cheapest deployment under the problem's constraints; INFEASIBLE says which constraint and by how much."""
    t0 = time.perf_counter()
    obj = get_objective(problem.objective)
    check_prices(problem, required=obj.priced or problem.budget_usd_per_hour is not None)
    if obj.needs_demand and problem.demand is None:
        raise InvalidInputError("demand", f"a demand (--demand-tokens-per-s or --users) for objective {obj.name}")
    agg = problem.mode != "disagg"
    evals = evaluate_options(problem) if agg else []
    feasible = [e for e in evals if e.batch_max >= 1]
    if problem.mixed_fleet and agg:
        from inferonomics.optimize.fleet import solve_fleet

        res = solve_fleet(problem, feasible, evals)
    else:
        disagg: tuple = ([], [])
        if problem.mode != "agg":
            from inferonomics.optimize.disagg_search import disagg_points

            disagg = disagg_points(problem)
        res = _homogeneous(problem, obj, feasible, evals, disagg)
    if res.point is None:  # infeasible: the mode searched (agg, disagg or auto)
        res = replace(res, extra={**res.extra, "mode": problem.mode})
    if problem.speculation is not None and (res.point is None or res.point.speculation is None):
        res = replace(res, extra={**res.extra, "speculation": {"enabled": False, **problem.speculation.as_json()}})
    return replace(res, solve_ms=(time.perf_counter() - t0) * 1e3,
                   notes=tuple(problem.space.notes) + tuple(problem.notes) + tuple(
                       f"skipped {x}" for x in problem.space.skipped))


def _homogeneous(problem: Problem, obj: Objective, feasible: list[OptionEval], evals: list[OptionEval],
                 disagg: tuple = ([], [])) -> DeploymentResult:
    """The best of every option's point and of the disaggregated deployments ``disagg`` ((point, decode option
    eval) pairs, misses)."""
    best, best_key, misses, limit_misses = None, None, [e.miss for e in evals if e.miss] + list(disagg[1]), []
    candidates = [(ev, candidate_point(ev, problem)) for ev in feasible] + [(ev, pt) for pt, ev in disagg[0]]
    for ev, pt in candidates:
        miss = limits_miss(pt, problem)
        if miss:
            limit_misses.append(miss)
            continue
        key = (obj.key(pt), pt.step_s, pt.chips, pt.hardware, pt.precision, pt.mode, pt.tp, pt.pp, pt.attention_dp,
               pt.ep)
        if best_key is None or key < best_key:
            best, best_key = (ev, pt), key
    if best is None:
        # an option that met every SLO and fit in memory failed only on the budget or the chip limit: that is
        # what to relax, whatever the ratio of another option's SLO miss
        return infeasible(problem, limit_misses or misses)
    ev, pt = best
    binding, slack = explain(problem, ev, pt)
    if pt.mode == "disagg":
        binding = (f"disaggregated: {dict(pt.form)['prefill_workers']} prefill worker(s) keep up with "
                   f"{pt.replicas} decode worker(s) (the smallest prefill pool with no queue)",) + binding
    return DeploymentResult(Status.OPTIMAL, obj.name, obj.value(pt), pt, (pt,), binding, slack)
