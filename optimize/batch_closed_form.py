"""The largest feasible batch of an option on the closed-form step model, in closed form.

The TPOT bound is ``floor(min_j (S - a_j) / b_j)`` over the step's affine pieces (optimize.step_compiled);
an MoE's curved piece is solved with ``scipy.optimize.brentq``; the memory bound is affine in ``B`` too.
Every floor is then checked on the integers (one step up, one step down) with the full step function and
the constraint objects, so float rounding never costs or gains a batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from inferonomics.optimize import explain
from inferonomics.optimize.option_eval import OptionEval, kv_per_sequence, memory_per_chip, weights_fit
from inferonomics.optimize.problem import Problem
from inferonomics.optimize.step_compiled import BATCH, ClosedFormStep, closed_form_step, step_at


def evaluate_closed_form(ev: OptionEval, problem: Problem) -> OptionEval:
    """Check TTFT and weights-in-memory, and find the option's largest feasible integer batch."""
    wl, vec = problem.workload, ev.vec
    c = closed_form_step(wl.policy, wl.mixed, ev.option.platform.is_moe)
    ev.ttft_s = c.ttft(*vec)
    if not weights_fit(ev, problem):
        ev.miss = explain.weights_miss(ev, problem)
        return ev
    if problem.ttft is not None and not problem.ttft.admits(ev.ttft_s):
        ev.miss = explain.ttft_miss(ev, problem, ev.ttft_s)
        return ev
    kv_chip = kv_per_sequence(vec, wl)
    b_mem = (ev.usable - memory_per_chip(vec, 0.0, wl)) / kv_chip if kv_chip > 0 else math.inf
    bounds = {"max_batch": float(problem.max_batch), "memory": b_mem}
    if problem.tpot is not None:
        bounds["tpot"] = _tpot_bound(c, vec, problem.tpot.slo_s, problem.max_batch)
    limited_by = min(bounds, key=bounds.__getitem__)
    b = max(int(math.floor(min(min(bounds.values()), problem.max_batch))), 0)
    ok = _feasible(c, ev, problem)
    while b >= 1 and not ok(b):
        b -= 1
    while ok(b + 1):
        b += 1
    ev.batch_max, ev.limited_by, ev.best_batch = b, limited_by, b
    if b < 1:
        step1 = step_at(c, vec, 1)
        tpot = problem.tpot
        ev.miss = (explain.tpot_miss(ev, problem, step1) if tpot is not None and not tpot.admits(step1)
                   else explain.one_sequence_miss(ev, problem, "memory"))
    return ev


def _feasible(c: ClosedFormStep, ev: OptionEval, problem: Problem) -> Callable[[int], bool]:
    """Whether an integer batch meets the batch cap, memory and the TPOT SLO."""
    wl, vec, tpot = problem.workload, ev.vec, problem.tpot

    def ok(x: int) -> bool:
        if x > problem.max_batch or not problem.memory.within(memory_per_chip(vec, x, wl), ev.usable):
            return False
        return tpot is None or tpot.admits(step_at(c, vec, x))

    return ok


def _tpot_bound(c: ClosedFormStep, vec: list, slo: float, cap: int) -> float:
    """Largest real B <= cap with every piece <= slo (the pieces are non-decreasing in B)."""
    coef = c.affine(*vec)
    bound = float(cap)
    for j in range(c.n_affine):
        a, b = coef[2 * j], coef[2 * j + 1]
        if b > 0:
            bound = min(bound, (slo - a) / b)
        elif a > slo:
            bound = -1.0
    for piece in c.curved:
        bound = min(bound, _curved_root(piece, vec, slo, bound))
    return bound


def _curved_root(piece: Callable[..., float], vec: list, slo: float, hi: float) -> float:
    from scipy.optimize import brentq

    def f(b: float) -> float:
        vec[BATCH] = b
        return piece(*vec) - slo

    if hi < 1 or f(hi) <= 0:
        return hi
    if f(1.0) > 0:
        return 0.0
    return brentq(f, 1.0, hi, xtol=1e-6)
