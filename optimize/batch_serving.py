"""The feasible batches of an option on the calibrated serving model (optimize.serving_step), read off exactly.

That step is not guaranteed monotone in ``B`` (nor is TTFT, which grows with the running batch), so nothing is
bisected: TPOT and TTFT are evaluated at every integer ``B`` in 1..cap (cap = the memory bound, the resident
sequences and the batch cap) in one vectorised call per option (cached per option and workload), the
feasible set is read off exactly, ``B_max`` is its largest member, and the batch of highest tokens/s per
replica is the one the replicas are sized at.
"""

from __future__ import annotations

import numpy as np

from typing import TYPE_CHECKING

from inferonomics.optimize import explain
from inferonomics.optimize.option_eval import OptionEval, memory_cap
from inferonomics.optimize.problem import Problem

if TYPE_CHECKING:  # a type only: serving_step is imported where it runs (it loads the calibration)
    from inferonomics.optimize.serving_step import ServingSpec


def evaluate_serving(ev: OptionEval, spec: ServingSpec, problem: Problem) -> OptionEval:
    """Every integer batch up to the memory/residency/batch cap at once on the calibrated serving model
    ``spec`` (the option's platform's)."""
    from inferonomics.optimize.serving_step import curves

    o, wl = ev.option, problem.workload
    cap, cap_by = memory_cap(ev, problem)
    tpot, ttft = curves(spec, o.tp, o.ep, wl.isl, wl.osl, wl.mixed, max(cap, 1), o.attention_dp, o.pp,
                        o.speculation)
    ev.tpot, ev.ttft, ev.ttft_s = tpot, ttft, float(ttft[0])
    ok = np.full(tpot.size, cap >= 1)
    ok_tpot = ok if problem.tpot is None else problem.tpot.admits(tpot)
    ok_ttft = ok if problem.ttft is None else problem.ttft.admits(ttft)
    idx = np.flatnonzero(ok & ok_tpot & ok_ttft)
    ev.feasible = idx + 1
    if idx.size == 0:
        ev.batch_max, ev.limited_by = 0, cap_by
        ev.miss = _miss(ev, spec, problem, cap, cap_by, bool(ok_ttft[0]))
        return ev
    b = int(idx[-1]) + 1
    ev.batch_max = b
    if b >= cap:
        ev.limited_by = cap_by
    else:
        ev.limited_by = "tpot" if not ok_tpot[b] else "ttft"  # index b is batch b + 1
    tps = ev.feasible / tpot[idx]
    ev.best_batch = int(ev.feasible[int(np.argmax(tps))])
    return ev


def _miss(ev: OptionEval, spec: ServingSpec, problem: Problem, cap: int, cap_by: str,
          ttft_ok: bool) -> explain.Miss:
    """Why not even batch 1: the memory or resident-sequence cap, the TTFT SLO, or the TPOT SLO."""
    if cap < 1:
        return explain.one_sequence_miss(ev, problem, cap_by, spec)
    assert ev.tpot is not None and ev.ttft is not None
    if not ttft_ok:
        from inferonomics.optimize.calibration.serving import request_overhead_s

        return explain.serving_ttft_miss(ev, spec, problem, float(ev.ttft[0]),
                                         request_overhead_s(spec.backend, spec.env))
    return explain.tpot_miss(ev, problem, float(ev.tpot[0]))
