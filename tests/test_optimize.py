"""The optimizer's pieces: closed-form batch limits, infeasibility reasons, the TP relaxation, Pareto, users, essay."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferonomics.optimize.constraints import Demand, MemoryFits, TpotSLO, TtftSLO, Workload
from inferonomics.optimize.objectives import objective
from inferonomics.optimize.pareto import frontier, pareto_mask
from inferonomics.optimize.result import Status
from inferonomics.optimize.solver import (Problem, affine_pieces, closed_form_step, evaluate_option,
                                          relaxed_tp_degree, solve, step_at, users_at_utilization)
from inferonomics.optimize.space import build_space, check_tp_list, heads_allow, tp_candidates
from inferonomics.symbolic import model as M
from inferonomics.symbolic.errors import InvalidInputError, UnknownNameError
from inferonomics.symbolic.essay import essay_example
from inferonomics.symbolic.evaluate import evaluate_step
from inferonomics.symbolic.formulas import get_formula

PRICES = {"h100-sxm": 2.5, "h200-sxm": 3.5, "b200": 5.0, "mi300x": 2.0, "a100-sxm": 1.5}


@pytest.fixture(scope="module")
def space70():
    return build_space("llama3.1-70b", list(PRICES), ["bf16", "fp8"], prices=PRICES, ideal=True)


def test_affine_pieces_rebuild_the_step():
    step = M.t_step("per-op")
    pieces = affine_pieces(step)
    assert len(pieces) == 4
    assert all(p.is_polynomial(M.s.B) and M.s.B not in (p.diff(M.s.B)).free_symbols for p in pieces)


def test_batch_limit_is_the_largest_integer_under_the_slo(space70):
    problem = Problem(space70, Workload(2048, 512), tpot_slo_s=0.04)
    for opt in space70.options()[:12]:
        ev = evaluate_option(opt, problem)
        c = closed_form_step("step", True, False)
        if ev.batch_max < 1 or ev.limited_by != "tpot":
            continue
        assert step_at(c, ev.vec, ev.batch_max) <= 0.04 < step_at(c, ev.vec, ev.batch_max + 1)
        # and the compiled step is evaluate_step's
        v = dict(opt.platform.values, tp=opt.tp, batch=ev.batch_max, context=2560, prompt_len=2048, output_len=512)
        assert math.isclose(evaluate_step(v, mixed=True).step_s, step_at(c, ev.vec, ev.batch_max), rel_tol=1e-12)


def test_405b_bf16_on_8_h100_is_infeasible_with_the_numbers():
    sp_ = build_space("llama3.1-405b", ["h100-sxm"], ["bf16"], prices={"h100-sxm": 2.5}, ideal=True)
    res = solve(Problem(sp_, tpot_slo_s=0.05, demand=Demand(1000.0)))
    assert res.status is Status.INFEASIBLE
    assert "812 GB of weights" in res.reason and "8 x h100-sxm hold 640 GB" in res.reason
    assert res.as_json()["status"] == "infeasible"


def test_a_missed_ttft_names_the_engines_fixed_share():
    """SGLang's fitted request overhead (about 0.15 s, beyond the prefill and the queue) exceeds a 0.1 s TTFT SLO:
    the reason says how much of the TTFT it is."""
    from inferonomics.optimize.calibration import load_calibration

    sp_ = build_space("llama3.1-70b", ["h100-sxm"], ["fp8"], prices={"h100-sxm": 2.0}, backend="sglang")
    res = solve(Problem(sp_, tpot_slo_s=0.05, ttft_slo_s=0.1, demand=Demand(1000.0)))
    assert res.status is Status.INFEASIBLE
    fixed_ms = load_calibration().values["request_overhead_sglang_s"] * 1e3
    assert f"({fixed_ms:.4g} ms of it sglang's fitted request overhead)" in res.reason
    assert "the TTFT SLO is 100 ms" in res.reason


def test_result_is_frozen_and_reports_binding(space70):
    res = solve(Problem(space70, tpot_slo_s=0.05, demand=Demand(20000.0)))
    assert res.optimal and res.binding and res.slack and res.solve_ms > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.status = Status.INFEASIBLE  # type: ignore[misc]
    p = res.point
    assert p.fleet_tokens_per_s >= 20000 and p.batch <= p.batch_max
    j = res.as_json()
    for key in ("status", "hardware", "precision", "tp", "batch", "replicas", "chips", "step_ms", "ttft_ms",
                "tokens_per_s", "cost_usd_per_hour", "cost_usd_per_million_tokens", "utilization", "binding",
                "reason", "solve_ms"):
        assert key in j


def test_operating_batch_is_the_smallest_meeting_demand(space70):
    problem = Problem(space70, tpot_slo_s=0.05, demand=Demand(12345.0))
    p = solve(problem).point
    assert p.replicas * p.batch / p.step_s >= 12345.0
    ev = next(evaluate_option(o, problem) for o in space70.options()
              if (o.platform.hardware, o.platform.precision.label, o.tp) == (p.hardware, p.precision, p.tp))
    c = closed_form_step("step", True, False)
    assert p.replicas * (p.batch - 1) / step_at(c, ev.vec, p.batch - 1) < 12345.0


def test_constraints_describe_themselves(space70):
    res = solve(Problem(space70, tpot_slo_s=0.05, ttft_slo_s=1.0, demand=Demand(5000.0)))
    for c in (MemoryFits(), TpotSLO(0.05), TtftSLO(1.0)):
        assert c.describe() and c.residual(res.point) >= 0


def test_objectives_per_token_pick_the_same_deployment(space70):
    a = solve(Problem(space70, tpot_slo_s=0.05, objective="usd_per_mtok"))
    b = solve(Problem(space70, tpot_slo_s=0.05, objective="tokens_per_usd"))
    assert (a.point.hardware, a.point.tp, a.point.batch) == (b.point.hardware, b.point.tp, b.point.batch)
    assert math.isclose(a.objective_value * b.objective_value, 1e6, rel_tol=1e-12)
    with pytest.raises(UnknownNameError):
        objective("usd_per_watt")


def test_cost_objectives_need_prices():
    sp_ = build_space("llama3.1-8b", ["h100-sxm"], ["bf16"], ideal=True)
    with pytest.raises(InvalidInputError, match="price"):
        solve(Problem(sp_, tpot_slo_s=0.05, demand=Demand(100.0)))


def test_tp_must_split_the_heads():
    assert heads_allow(3, 64, 8) is not None and heads_allow(16, 64, 8) is None and heads_allow(8, 64, 8) is None
    with pytest.raises(InvalidInputError, match="does not divide the model's 64 attention heads"):
        check_tp_list([1, 3], 64, 8)
    assert tp_candidates(8, 64, 8) == (1, 2, 4, 8)
    assert tp_candidates(None) == (1,)


def test_demand_from_users():
    d = Demand.from_users(144_000, 10, tokens_per_active_minute=600)
    assert math.isclose(d.tokens_per_s, 144_000 * 10 / 1440 * 10)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InvalidInputError):
            Demand(bad)


def test_moe_model_solves_with_brentq():
    sp_ = build_space("mixtral-8x7b", ["h100-sxm"], ["bf16"], prices={"h100-sxm": 2.0}, ideal=True)
    assert sp_.platforms[0].is_moe
    res = solve(Problem(sp_, tpot_slo_s=0.03, demand=Demand(5000.0)))
    assert res.optimal and res.point.ep >= 1


def test_mixed_fleet_respects_chip_limits():
    prices = {"h100-sxm": 2.0, "b200": 4.0}
    sp_ = build_space("llama3.1-70b", list(prices), ["bf16"], prices=prices, ideal=True)
    res = solve(Problem(sp_, tpot_slo_s=0.05, demand=Demand(60000.0), max_chips={"h100-sxm": 8, "b200": 8}))
    assert res.optimal
    assert sum(m.chips_of("h100-sxm") for m in res.fleet) <= 8 and sum(m.chips_of("b200") for m in res.fleet) <= 8
    assert res.tokens_per_s >= 60000.0


def test_relaxed_tp_matches_closed_form():
    ex = essay_example()
    base = dict(ex.values, **{k: ex.illustrative[k] for k in ("n_layers", "d_model", "link_latency_s",
                                                               "allreduces_per_layer")})
    for alpha in (5e-7, 1e-6, 3e-6):
        v = dict(base, link_latency_s=alpha)
        closed = get_formula("optimal_tp_degree").evaluate(v)
        assert math.isclose(relaxed_tp_degree(v), closed, rel_tol=1e-5)


@settings(derandomize=True, max_examples=30, deadline=None)
@given(st.integers(1, 400), st.integers(0, 2**31))
def test_pareto_mask_matches_quadratic_check(n, seed):
    rng = np.random.default_rng(seed)
    cost = rng.integers(1, 20, n).astype(float)  # ties included
    speed = rng.integers(1, 20, n).astype(float)
    keep = pareto_mask(cost, speed)
    for i in range(n):
        dominated = np.any((cost <= cost[i]) & (speed >= speed[i]) & ((cost < cost[i]) | (speed > speed[i])))
        duplicate_kept_earlier = False
        if not dominated and not keep[i]:
            same = np.flatnonzero((cost == cost[i]) & (speed == speed[i]) & keep)
            duplicate_kept_earlier = same.size > 0
        assert keep[i] == (not dominated) or duplicate_kept_earlier


def test_frontier_is_sorted_and_non_dominated(space70):
    f = frontier(Problem(space70, tpot_slo_s=0.05, objective="usd_per_mtok"))
    cost = np.array([p.cost_usd_per_million_tokens for p in f.points])
    speed = np.array([p.tokens_per_s_per_user for p in f.points])
    assert len(f.points) > 10 and np.all(np.diff(cost) >= 0) and np.all(np.diff(speed) > 0)
    assert f.candidates > len(f.points)


def test_users_fall_with_the_target(space70):
    problem = Problem(space70, tpot_slo_s=0.05, objective="usd_per_mtok")
    lo = users_at_utilization(problem, 0.2, 10)
    hi = users_at_utilization(problem, 0.5, 10)
    assert lo.users is not None and hi.users is not None and lo.users <= hi.users
    assert hi.point.utilization >= 0.5 and math.isclose(hi.users, hi.concurrency * 144)
    none = users_at_utilization(problem, 1.0, 10)
    assert none.status is Status.INFEASIBLE and "utilization" in none.reason


def test_essay_seed_deployment():
    from inferonomics.optimize.essay import seed_deployment

    d = seed_deployment()
    assert d["deployment"]["status"] == "optimal" and d["deployment"]["step_ms"] <= 50
    # under the essay's own assumptions: memory-bound utilization is B W F^-1 2/b_w = B/500, 50 % at B = 250,
    # and 250 concurrent users at 10 minutes a day is 36,000 users
    ess = d["essay_assumptions"]["users"]
    assert ess["status"] == "optimal" and ess["concurrency"] == 250 and ess["min_user_base"] == pytest.approx(36000)
    assert "ILLUSTRATIVE" in d["assumed"]["price_note"]
