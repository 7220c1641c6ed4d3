"""Disaggregated deployments (``--mode disagg|auto``): a prefill pool and a decode pool of one platform, searched
exactly on the calibrated serving model as ``validate`` predicts NVIDIA's disaggregated rows
(:mod:`inferonomics.optimize.calibration.disagg`).

* **Decode pool**: ``n_d`` workers of one of the platform's parallel shapes (TP x PP x attention DP x EP), each at
  ``B`` sequences. TPOT is a decode-only step (no prompt work ever enters it: ``mixed=False``, the resident cap
  and the memory bound as for an aggregated replica), every feasible integer ``B`` read off as in
  :mod:`.batch_serving`.
* **Prefill pool**: ``n_p`` workers of a shape without pipeline stages, each prefilling one prompt per
  attention-DP group at a time (the engines' default ``prefill_batch_size`` 1); each must hold its weights and a
  request's KV cache.
* **Balance**: the closed loop of ``C = n_d B`` clients cycles through prefill ``t_p``, KV transfer ``t_kv`` and
  ``osl`` decode steps; the prefill pool keeps up when its rate ``n_p dp_p / t_p`` is at least ``C / cycle`` (the
  closed-loop bound of the wait is then 0): ``n_p`` is the smallest such integer, the integer counterpart of the
  closed form ``disagg_pool_ratio``. A smaller pool would stretch the cycle and idle the decode pool; a larger
  one only adds chips.
* **TTFT** = :func:`~inferonomics.optimize.calibration.disagg.disagg_ttft_s` at that pool, as ``validate`` predicts
  it: prefill + KV transfer over the NICs + the decode worker's first step + the engine's request overhead + the
  prompt's wait for the prefill pool (exact mean-value analysis of the closed loop: positive from two clients on
  even when the pool keeps up). It grows with ``C``, so it is checked per candidate, cheapest first, exactly as
  the chosen point reports it.
* **Sizing**: ``n_d`` decode workers cover the demand (one without a demand); chips ``n_d x`` (decode worker) ``+
  n_p x`` (prefill worker). Each objective is taken over every (decode shape, prefill shape, ``B``) exactly.
  Mixed fleets (``--max-chips`` over several cards) stay aggregated.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.batch_limits import evaluate_options
from inferonomics.optimize.constraints import REL_TOL, at_most
from inferonomics.optimize.objectives import objective as get_objective
from inferonomics.optimize.option_eval import OptionEval
from inferonomics.optimize.problem import Problem
from inferonomics.optimize.result import Point
from inferonomics.optimize.sizing import make_point

def _prefill_times(spec, o, isl: float, osl: float) -> tuple[float, float, float]:
    """(prefill step s, KV transfer s, TTFT with the queue empty s) of option ``o``'s shape as a prefill worker."""
    return _prefill_times_of(spec, o.tp, o.attention_dp, o.ep, float(isl), float(osl))


@lru_cache(maxsize=4096)
def _prefill_times_of(spec, tp: int, dp: int, ep: int, isl: float, osl: float) -> tuple[float, float, float]:
    from inferonomics.optimize.calibration import disagg

    shape = (tp, dp, ep, tp * dp // ep)  # moe_tp x moe_ep = tp x dp (parallel.check_shape)
    t_p = float(disagg.prefill_time(spec.arch, isl, osl, shape, 1.0, spec.precision, spec.backend, spec.env))
    kv = float(disagg.kv_transfer_time(spec.arch, isl, spec.precision, tp, spec.env))
    ttft = float(disagg.disagg_ttft_s(spec.arch, 0.0, isl, osl, shape, 1.0, 1.0, 0.0, spec.precision, spec.backend,
                                      spec.env))
    return t_p, kv, ttft


def prefill_workers(concurrency, t_p: float, kv: float, dp_p: float, osl: float, tpot) -> np.ndarray:
    """The smallest integer ``n_p >= 1`` with ``disagg_ttft_s``'s queue at 0: ``C / (n_p dp_p / t_p) <= t_p + t_kv +
    osl TPOT``, tested with that function's own arithmetic (elementwise)."""
    c = np.asarray(concurrency, dtype=float)
    cycle = t_p + kv + osl * np.asarray(tpot, dtype=float)
    n = np.maximum(1.0, np.ceil(c * t_p / (dp_p * cycle)))
    with np.errstate(divide="ignore"):  # n - 1 = 0 where n is 1: never taken down
        for _ in range(2):  # settle the rounding of one division with the queue's own expression
            down = (n > 1) & (c / ((n - 1) * 1.0 * dp_p / t_p) - cycle <= 0)
            n = np.where(down, n - 1, n)
            n = np.where(c / (n * 1.0 * dp_p / t_p) - cycle > 0, n + 1, n)
    return n


def decode_workers(tps: np.ndarray, demand: float | None) -> np.ndarray:
    """Smallest ``n_d >= 1`` with ``n_d x tps`` covering the demand (1 without one), elementwise."""
    if demand is None:
        return np.ones_like(tps)
    n = np.maximum(1.0, np.ceil(demand * (1 - REL_TOL) / tps))
    for _ in range(2):
        n = np.where((n > 1) & ((n - 1) * tps >= demand * (1 - REL_TOL)), n - 1, n)
        n = np.where(n * tps >= demand * (1 - REL_TOL), n, n + 1)
    return n


def _prefill_pool(problem: Problem, evals: list[OptionEval]) -> dict:
    """Per platform: the prefill shapes that hold a request and meet the TTFT SLO, as columns (options, chips per
    worker, attention-DP groups, prefill step s, KV transfer s)."""
    wl = problem.workload
    rows: dict = {}
    for ev in evals:
        o = ev.option
        spec = o.platform.serving
        if spec is None or o.pp != 1 or o.speculation is not None or not problem.memory.within(
                ev.memory_at(float(o.attention_dp), wl),
                                                                  ev.usable):
            continue
        t_p, kv, ttft = _prefill_times(spec, o, wl.isl, wl.osl)
        if problem.ttft is not None and not problem.ttft.admits(ttft):
            continue
        rows.setdefault(id(o.platform), []).append((o, o.chips, o.attention_dp, t_p, kv))
    return {k: (tuple(r[0] for r in v), *(np.array([r[j] for r in v], dtype=float)[:, None] for j in range(1, 5)))
            for k, v in rows.items()}


def disagg_points(problem: Problem) -> tuple[list[tuple[Point, OptionEval]], list]:
    """The best disaggregated deployment (a Point with ``mode = "disagg"``, its decode option), and misses."""
    wl = problem.workload
    if not any(p.serving is not None for p in problem.space.platforms):
        if problem.mode == "disagg":
            raise InvalidInputError("--mode", "agg or auto here: disaggregated serving needs the calibrated serving "
                                    "model (a catalog model with an architecture, not --ideal)", problem.mode)
        return [], []
    options = [o for o in problem.options() if o.platform.serving is not None]
    if not options:  # e.g. an MoE whose experts no allowed TP x attention-DP x EP shape splits
        return [], [(float("inf"), "no parallel shape of the serving model is allowed for this model")]
    dec_problem = dataclasses.replace(problem, workload=dataclasses.replace(wl, mixed=False), ttft_slo_s=None)
    decode = evaluate_options(dec_problem, options)
    pool = _prefill_pool(problem, decode)  # the same bound options: memory and usable HBM do not depend on mixed
    obj = get_objective(problem.objective)
    demand = problem.demand.tokens_per_s if problem.demand is not None else None
    # each decode option's lower bound (the fewest decode workers and one smallest prefill worker; per token, its
    # decode chips alone): options are taken in its order and the search stops where it passes the best found
    bounds: list = []
    for ev in decode:
        o, sv = ev.option, ev.curves
        pre = pool.get(id(o.platform))
        if sv is None or ev.batch_max < 1 or pre is None:
            continue
        tps_max = ev.best_batch / float(sv.tpot[ev.best_batch - 1])  # best_batch: the feasible B of most tokens/s
        price = (o.platform.price_usd_per_chip_hour or 0.0) if obj.priced else 1.0
        if obj.needs_demand:
            lb = (float(decode_workers(np.array([tps_max]), demand)[0]) * o.chips + float(pre[1].min())) * price
        else:
            lb = o.chips * price / tps_max
        bounds.append((lb, len(bounds), ev, pre))
    best = None
    for lb, _, ev, pre in sorted(bounds, key=lambda x: x[:2]):
        if best is not None and lb > best[0][0]:
            break
        o, sv = ev.option, ev.curves
        assert sv is not None  # kept above
        b = sv.feasible.astype(float)
        tpot = sv.tpot[sv.feasible - 1]
        n_d = decode_workers(b / tpot, demand)
        price = o.platform.price_usd_per_chip_hour or 0.0  # checked: priced problems price every card
        # prefill shapes down, batches across: every (prefill shape, B) at once
        opts_p, chips_p, dp_p, t_p, kv = pre
        n_p = prefill_workers(n_d * b, t_p, kv, dp_p, wl.osl, tpot)
        chips = n_d * o.chips + n_p * chips_p
        cost = chips * price if obj.priced else chips
        value = cost if obj.needs_demand else cost * tpot / (n_d * b)
        ok = np.ones(value.shape, dtype=bool)
        if problem.budget is not None:
            ok &= at_most(chips * price, problem.budget.usd_per_hour)
        limit = (problem.max_chips or {}).get(o.platform.hardware)
        if limit is not None:
            ok &= chips <= limit
        if not ok.any():
            continue
        masked = np.where(ok, value, np.inf).ravel()
        # candidates cheapest first; the TTFT (its closed-loop prefill wait grows with the clients) is checked on
        # the way down, exactly as the point will report it, until one meets the SLO
        for flat in np.lexsort((np.broadcast_to(tpot, value.shape).ravel(), masked)):
            j, i = divmod(int(flat), b.size)
            key = (float(value[j, i]), float(tpot[i]))
            if not np.isfinite(masked[flat]) or (best is not None and key >= best[0]):
                break
            if problem.ttft is not None and not problem.ttft.admits(
                    _ttft(problem, ev, opts_p[j], float(n_d[i] * b[i]), float(n_p[j, i]), float(tpot[i]))):
                continue
            best = (key, ev, int(b[i]), int(n_d[i]), opts_p[j], int(n_p[j, i]), int(chips_p[j, 0]))
            break
    points = [] if best is None else [(_point(problem, *best[1:]), best[1])]
    misses = [] if points else [(float("inf"), "no disaggregated deployment meets the SLOs and limits")]
    return points, misses


def _ttft(problem: Problem, ev: OptionEval, po, concurrency: float, n_p: float, tpot: float) -> float:
    """The disaggregated TTFT of ``concurrency`` clients on ``n_p`` prefill workers of option ``po`` beside a
    decode pool at ``tpot`` (:func:`~inferonomics.optimize.calibration.disagg.disagg_ttft_s`)."""
    from inferonomics.optimize.calibration import disagg

    wl, spec = problem.workload, ev.option.platform.serving
    assert spec is not None  # decode options are the serving model's
    shape = (po.tp, po.attention_dp, po.ep, po.tp * po.attention_dp / po.ep)
    return float(disagg.disagg_ttft_s(spec.arch, concurrency, wl.isl, wl.osl, shape, 1.0, n_p, tpot, spec.precision,
                                      spec.backend, spec.env))


def _point(problem: Problem, ev: OptionEval, batch: int, n_d: int, po, n_p: int, chips_p: int) -> Point:
    """The decode pool's point (shape, batch, TPOT, memory) with the prefill pool and the disaggregated TTFT."""
    wl = problem.workload
    dec = dataclasses.replace(problem, workload=dataclasses.replace(wl, mixed=False))
    pt = make_point(ev, dec, batch, n_d)
    ttft = _ttft(problem, ev, po, float(n_d * batch), float(n_p), pt.step_s)
    form = (("prefill_tp", po.tp), ("prefill_attention_dp", po.attention_dp), ("prefill_ep", po.ep),
            ("prefill_workers", n_p), ("prefill_chips_per_worker", chips_p), ("decode_tp", pt.tp),
            ("decode_pp", pt.pp), ("decode_attention_dp", pt.attention_dp), ("decode_ep", pt.ep),
            ("decode_workers", n_d))
    return dataclasses.replace(pt, ttft_s=ttft, mode="disagg", form=form, prefill_chips=n_p * chips_p)
