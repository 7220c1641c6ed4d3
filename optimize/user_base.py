"""The smallest user base at which one replica of an option reaches a target utilization under the SLOs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.batch_limits import evaluate_options
from inferonomics.optimize.option_eval import OptionEval, ServingCurves
from inferonomics.optimize.problem import Problem
from inferonomics.optimize.result import Point, Status
from inferonomics.optimize.sizing import make_point
from inferonomics.optimize.step_compiled import BATCH, INDEX, closed_form_step


@dataclass(frozen=True)
class UserBase:
    """The smallest user base at which one replica of an option reaches a target utilization under the SLO."""

    status: Status
    users: float | None
    concurrency: int | None
    point: Point | None
    target_utilization: float
    minutes_per_day: float
    mean_to_trough: float
    reason: str = ""

    def as_json(self) -> dict:
        p = self.point.as_json() if self.point else {}
        return {"status": self.status.value, "min_user_base": self.users, "concurrency": self.concurrency,
                "target_utilization": self.target_utilization, "minutes_per_day": self.minutes_per_day,
                "mean_to_trough": self.mean_to_trough, "reason": self.reason,
                **{k: p.get(k) for k in ("hardware", "precision", "tp", "pp", "attention_dp", "ep",
                                         "chips_per_replica", "batch", "batch_max", "step_ms",
                                         "utilization", "tokens_per_s", "cost_usd_per_million_tokens")}}


def utilization_at(ev: OptionEval, problem: Problem, batch: int) -> float:
    return make_point(ev, problem, batch, 1).utilization


def users_at_utilization(problem: Problem, target: float, minutes_per_day: float, mean_to_trough: float = 1.0,
                         only: tuple[str, str, int] | None = None) -> UserBase:
    r"""Utilization rises with the batch (tokens per step over a step that grows at most affinely), so the
    smallest batch ``B_u`` reaching ``target`` is found by bisection on the integers up to ``B_max``; the user
    base is the closed form min_user_base, :math:`1440\,C\rho_{tr}/m` with ``C = B_u`` concurrent users on one
    replica even at the daily trough (``mean_to_trough`` = mean/trough concurrency). ``only`` = (hardware,
    precision label, tp) restricts the search to one option; otherwise the option needing the fewest users wins."""
    from inferonomics.symbolic.formulas import get_formula

    if not 0 < target <= 1:
        raise InvalidInputError("target_utilization", "a fraction in (0, 1]", target)
    if not 0 < minutes_per_day <= 1440:
        raise InvalidInputError("minutes_per_day", "a number in (0, 1440]", minutes_per_day)
    best: tuple[int, Point] | None = None
    closest: tuple[float, str] | None = None
    opts = [o for o in problem.space.options()
            if only is None or (o.platform.hardware, o.platform.precision.label, o.tp) == only]
    for ev in evaluate_options(problem, opts):
        if ev.batch_max < 1:
            continue
        sv = ev.curves
        found = _smallest_serving(ev, sv, problem, target) if sv is not None else _smallest(ev, problem, target)
        if isinstance(found, int):
            if best is None or found < best[0]:
                best = (found, make_point(ev, problem, found, 1))
        elif closest is None or found[0] > closest[0]:
            closest = found
    if best is None:
        why = closest[1] if closest else "no option meets the SLO and memory constraints at batch 1"
        return UserBase(Status.INFEASIBLE, None, None, None, target, minutes_per_day, mean_to_trough, why)
    b, pt = best
    users = get_formula("min_user_base").evaluate({"concurrency": float(b), "minutes_per_day": minutes_per_day,
                                                   "mean_to_trough": mean_to_trough})
    return UserBase(Status.OPTIMAL, users, b, pt, target, minutes_per_day, mean_to_trough)


def _smallest(ev: OptionEval, problem: Problem, target: float) -> int | tuple[float, str]:
    """Closed-form model: the smallest batch reaching ``target`` by bisection, or (peak, why) if none does."""
    top = utilization_at(ev, problem, ev.batch_max)
    if top < target:
        return top, (f"{ev.where} peaks at {top:.1%} utilization at batch {ev.batch_max} "
                     f"(set by {ev.limited_by}); the target is {target:.0%}")
    lo, hi = 1, ev.batch_max
    while lo < hi:
        mid = (lo + hi) // 2
        if utilization_at(ev, problem, mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _smallest_serving(ev: OptionEval, sv: ServingCurves, problem: Problem,
                      target: float) -> int | tuple[float, str]:
    """Calibrated serving model (``sv``, the option's curves): utilization at every feasible batch at once;
    the first reaching ``target``."""
    util = _utilization_curve(ev, problem, sv.feasible, sv.tpot)
    i_top = int(np.argmax(util))
    top = float(util[i_top])
    if top < target:
        return top, (f"{ev.where} peaks at {top:.1%} utilization at batch {sv.feasible[i_top]} "
                     f"(largest feasible {ev.batch_max}, set by {ev.limited_by}); the target is {target:.0%}")
    return int(sv.feasible[np.flatnonzero(util >= target)[0]])


def _utilization_curve(ev: OptionEval, problem: Problem, batches: np.ndarray, tpot: np.ndarray) -> np.ndarray:
    """make_point's utilization at each of ``batches`` (vectorised; exact same formula), ``tpot`` the serving
    model's TPOT at batches 1..cap."""
    c = closed_form_step(problem.workload.policy, problem.workload.mixed, ev.option.platform.is_moe)
    vec = list(ev.vec)
    vec[BATCH] = batches.astype(float)
    flops = np.broadcast_to(c.parts_np(*vec).flops, batches.shape)
    step = tpot[batches - 1]
    return flops / (ev.option.chips * vec[INDEX["peak_flop_per_s"]] * step)
