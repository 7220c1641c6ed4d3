"""The optimizer against a brute-force oracle on random small instances: feasible, and never worse (gap 0)."""

from __future__ import annotations

import math
import os
import sys

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from inferonomics.optimize.constraints import Demand, Workload
from inferonomics.optimize.result import Status
from inferonomics.optimize.solver import Problem, solve
from inferonomics.optimize.space import DecisionSpace, Platform, PrecisionChoice

sys.path.insert(0, os.path.dirname(__file__))
import oracle  # noqa: E402

settings.register_profile("optimize-ci", derandomize=True, deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
CI = settings.get_profile("optimize-ci")

log_uniform = lambda lo, hi: st.floats(math.log(lo), math.log(hi)).map(math.exp)  # noqa: E731


@st.composite
def platforms(draw, name: str, moe: bool = False, tps=(1, 2, 4, 8), max_tps: int = 4, priced: bool = True):
    total = draw(log_uniform(2e8, 2e10))
    values = {
        "total_params": total, "active_params": total,
        "bytes_per_weight": draw(st.sampled_from([0.5, 1.0, 2.0])),
        "peak_flop_per_s": draw(log_uniform(2e13, 2e15)),
        "hbm_bandwidth_bytes_per_s": draw(log_uniform(2e11, 5e12)),
        "hbm_capacity_bytes": draw(log_uniform(1.2e10, 1.5e11)),
        "kv_bytes_per_token": draw(log_uniform(1e4, 1e6)),
        "n_layers": float(draw(st.integers(4, 80))), "d_model": float(draw(st.sampled_from([1024, 4096, 8192]))),
        "link_latency_s": draw(log_uniform(1e-7, 1e-5)), "link_bandwidth_bytes_per_s": draw(log_uniform(5e10, 1e12)),
        "eta_flop": draw(st.floats(0.3, 1.0)), "eta_bw": draw(st.floats(0.3, 1.0)), "eta_kv": draw(st.floats(0.3, 1.0)),
        "overhead_s": draw(st.floats(0.0, 3e-3)), "layer_overhead_s": draw(st.floats(0.0, 2e-5)),
    }
    n_exp = 1
    if moe:
        n_exp = draw(st.sampled_from([8, 16, 64]))
        k = draw(st.integers(1, 4))
        share = draw(st.floats(0.3, 0.9))
        values.update(n_experts=float(n_exp), experts_per_token=float(k), dense_params=total * (1 - share),
                      expert_params=total * share / n_exp,
                      active_params=total * (1 - share) + k * total * share / n_exp)
    chosen = tuple(sorted(draw(st.sets(st.sampled_from(tps), min_size=1, max_size=min(max_tps, len(tps))))))
    price = draw(st.floats(0.5, 10.0)) if priced else None
    return Platform(name, PrecisionChoice("p", "p", "p"), values, chosen, price, n_exp)


@st.composite
def problems(draw, moe: bool = False, objective: str | None = None, max_batch: int = 48, n_hw: int = 2,
             tps=(1, 2, 4, 8), limits: bool = False, max_tps: int = 4, priced: bool = True):
    plats = tuple(draw(platforms(f"hw{i}", moe, tps, max_tps, priced)) for i in range(draw(st.integers(1, n_hw))))
    wl = Workload(isl=float(draw(st.integers(16, 2048))), osl=float(draw(st.integers(16, 1024))),
                  mixed=draw(st.booleans()), policy=draw(st.sampled_from(["step", "per-op"])))
    space = DecisionSpace("test-model", plats)
    # SLOs and demand relative to the first platform at TP 1, batch 1, so a fair share are feasible
    from inferonomics.symbolic.evaluate import evaluate_step
    v = dict(plats[0].values, tp=1.0, batch=1.0, context=wl.context, prompt_len=wl.isl, output_len=wl.osl)
    base = evaluate_step(v, wl.policy, mixed=wl.mixed,
                         weights=oracle.moe_weights_text(wl.mixed) if moe else None).step_s
    tpot = base * draw(st.floats(0.3, 4.0))
    ttft = draw(st.one_of(st.none(), st.floats(0.05, 5.0)))
    demand = Demand(draw(st.floats(0.2, 40.0)) / base)
    obj = objective or draw(st.sampled_from(["usd_per_hour", "usd_per_mtok", "tokens_per_usd"] if priced
                                            else ["chips", "chip_hours_per_mtok", "tokens_per_chip_hour"]))
    max_chips = None
    budget = None
    if limits:
        max_chips = {p.hardware: draw(st.integers(1, 6)) for p in plats}
        budget = draw(st.one_of(st.none(), st.floats(1.0, 400.0))) if priced else None
    return Problem(space, wl, tpot_slo_s=tpot, ttft_slo_s=ttft, demand=demand, objective=obj,
                   max_batch=max_batch, max_chips=max_chips, budget_usd_per_hour=budget,
                   fleet="mixed" if limits else "homogeneous")


@st.composite
def fleet_problems(draw, priced: bool = True):
    """Two or three similar hardware types (one TP each) under tight chip limits, so mixes pay off."""
    import dataclasses

    first = draw(platforms("hw0", tps=(1, 2), max_tps=1, priced=priced))
    plats = [first]
    for i in range(1, draw(st.integers(2, 3))):
        scale = {k: draw(st.floats(0.5, 2.0)) for k in ("peak_flop_per_s", "hbm_bandwidth_bytes_per_s")}
        values = dict(first.values, **{k: first.values[k] * f for k, f in scale.items()})
        plats.append(dataclasses.replace(first, hardware=f"hw{i}", values=values,
                                         tps=(draw(st.sampled_from([1, 2])),),
                                         price_usd_per_chip_hour=draw(st.floats(0.5, 10.0)) if priced else None))
    wl = Workload(isl=float(draw(st.integers(16, 512))), osl=float(draw(st.integers(16, 512))), mixed=False)
    from inferonomics.symbolic.evaluate import evaluate_step
    v = dict(first.values, tp=1.0, batch=1.0, context=wl.context, prompt_len=wl.isl, output_len=wl.osl)
    base = evaluate_step(v).step_s
    return Problem(DecisionSpace("fleet-model", tuple(plats)), wl, tpot_slo_s=base * draw(st.floats(1.5, 4.0)),
                   demand=Demand(draw(st.floats(1.0, 30.0)) / base),
                   objective="usd_per_hour" if priced else "chips", max_batch=6,
                   max_chips={p.hardware: draw(st.integers(1, 6)) for p in plats},
                   budget_usd_per_hour=draw(st.one_of(st.none(), st.floats(5.0, 200.0))) if priced else None,
                   fleet="mixed")


def _check_feasible(problem, res):
    for c in problem.constraints():
        for member in res.fleet:
            if c.name in ("demand", "budget", "chips") and len(res.fleet) > 1:
                continue
            assert c.satisfied(member), (c.describe(), c.residual(member))


def _gap(problem, res, best):
    event(res.status.value)
    if best is None:
        assert res.status is Status.INFEASIBLE, res
        assert res.reason
        return
    assert res.status is Status.OPTIMAL, (res.reason, best)
    ours = oracle.objective_value(problem.objective, oracle.evaluate_choice(problem, res.point))
    theirs = oracle.objective_value(problem.objective, best)
    # optimality gap 0 up to rounding: on a flat stretch of cost per token (batches past the point where the
    # replica count stops changing) two batches tie exactly in real arithmetic and differ in the last bit
    # depending on the order of the float operations, which is not a wrong optimum
    assert ours <= theirs + 1e-12 * abs(theirs), (ours, theirs, res.point, best)


@settings(CI)
@given(problems())
def test_dense_matches_oracle(problem):
    res = solve(problem)
    best = oracle.homogeneous_optimum(problem)
    assume(best is not None or res.status is Status.INFEASIBLE)
    if res.optimal:
        _check_feasible(problem, res)
    _gap(problem, res, best)


def _solve_feasible_and_optimal(problem):
    """Solve; where the oracle finds a deployment, the solver's is feasible and costs exactly the oracle's."""
    res = solve(problem)
    best = oracle.homogeneous_optimum(problem)
    assume(best is not None)
    _check_feasible(problem, res)
    _gap(problem, res, best)
    return res


@settings(CI)
@given(problems(objective="usd_per_hour"))
def test_cost_objective_matches_oracle(problem):
    res = _solve_feasible_and_optimal(problem)
    # the operating batch is the smallest that still meets the demand with these replicas
    p = res.point
    assert p.batch <= p.batch_max
    assert p.replicas * p.batch / p.step_s >= problem.demand.tokens_per_s * (1 - 1e-9)


@settings(CI, max_examples=25)
@given(problems(moe=True, max_batch=32))
def test_moe_brentq_matches_oracle(problem):
    _solve_feasible_and_optimal(problem)


@settings(CI, max_examples=40)
@given(st.booleans().flatmap(lambda priced: fleet_problems(priced)))
def test_mixed_fleet_matches_oracle(problem):
    res = solve(problem)
    best = oracle.fleet_optimum(problem, r_cap=6)
    # the oracle caps replicas at 6 per option; only compare where the solver's fleet is inside that cap
    assume(res.status is Status.INFEASIBLE or all(m.replicas <= 6 for m in res.fleet))
    event(f"{res.status.value}, {len(res.fleet)} fleet member(s)")
    if best is None:
        assert res.status is Status.INFEASIBLE, res.fleet
    else:
        assert res.status is Status.OPTIMAL, res.reason
        assert best * (1 - 1e-12) <= res.objective_value <= best * (1 + 1e-12)  # gap 0 up to summation order
        assert sum(m.fleet_tokens_per_s for m in res.fleet) >= problem.demand.tokens_per_s * (1 - 1e-9)
        for h, n in problem.max_chips.items():
            assert sum(m.chips_of(h) for m in res.fleet) <= n


# -- the calibrated serving model (not monotone in B by construction): same gap-0 promise ------------------

_CAL_SPACES: dict = {}


def _cal_space(model: str, backend: str):
    from inferonomics.optimize.space import build_space

    key = (model, backend)
    if key not in _CAL_SPACES:
        _CAL_SPACES[key] = build_space(model, ["h100-sxm", "h200-sxm"], ["bf16", "fp8"], tp=[1, 2, 4, 8],
                                       prices={"h100-sxm": 2.5, "h200-sxm": 3.5}, backend=backend)
    return _CAL_SPACES[key]


@st.composite
def calibrated_problems(draw):
    import dataclasses

    from inferonomics.optimize import serving_step

    space = _cal_space(draw(st.sampled_from(["llama3.1-8b", "qwen3-32b"])),
                       draw(st.sampled_from(["trtllm", "vllm", "sglang"])))
    plats = [p for p in space.platforms if draw(st.booleans())] or [space.platforms[0]]
    plats = [dataclasses.replace(p, tps=tuple(sorted(draw(st.sets(st.sampled_from(p.tps), min_size=1, max_size=2)))))
             for p in plats]
    assert all(p.serving is not None for p in plats)
    wl = Workload(isl=float(draw(st.integers(16, 4096))), osl=float(draw(st.integers(4, 1024))),
                  mixed=draw(st.booleans()))
    p0 = plats[0]
    base = float(serving_step.tpot(p0.serving, p0.tps[0], 1.0, wl.isl, wl.osl, mixed=wl.mixed))
    base_ttft = float(serving_step.ttft(p0.serving, p0.tps[0], 1.0, wl.isl, wl.osl))
    ttft = draw(st.one_of(st.none(), st.floats(0.8, 3.0).map(lambda f: f * base_ttft)))
    return Problem(dataclasses.replace(space, platforms=tuple(plats)), wl, tpot_slo_s=base * draw(st.floats(0.8, 3.0)),
                   ttft_slo_s=ttft, demand=Demand(draw(st.floats(0.5, 200.0)) / base),
                   objective=draw(st.sampled_from(["usd_per_hour", "usd_per_mtok", "tokens_per_usd"])),
                   max_batch=draw(st.integers(1, 40)), fleet="homogeneous")


@settings(CI, max_examples=30)
@given(calibrated_problems())
def test_calibrated_serving_matches_oracle(problem):
    res = solve(problem)
    best = oracle.homogeneous_optimum(problem)
    if res.optimal:
        _check_feasible(problem, res)
        assert res.point.step_model.startswith("calibrated serving model")
    _gap(problem, res, best)


# -- no prices: the objective counts chips (chip-hours), exactly as the oracle counts them ---------------------


@settings(CI)
@given(problems(priced=False))
def test_unpriced_objectives_match_oracle(problem):
    """chips, chip_hours_per_mtok and tokens_per_chip_hour, dense, with every $ field None."""
    res = solve(problem)
    best = oracle.homogeneous_optimum(problem)
    assume(best is not None or res.status is Status.INFEASIBLE)
    if res.optimal:
        _check_feasible(problem, res)
        assert res.point.cost_usd_per_hour is None and res.point.cost_usd_per_million_tokens is None
        assert res.as_json()["cost_usd_per_hour"] is None
    _gap(problem, res, best)


@settings(CI, max_examples=20)
@given(problems(moe=True, max_batch=32, priced=False, objective="chips"))
def test_unpriced_moe_matches_oracle(problem):
    _solve_feasible_and_optimal(problem)


def test_one_card_without_a_price_takes_the_fewest_chips():
    """By hand: a 140 GB model on 80 GB cards (TP 2, 4 or 8) with a demand one TP-2 replica covers many times
    over: the answer is 2 chips, whatever a price would have been."""
    values = {"total_params": 7e10, "active_params": 7e10, "bytes_per_weight": 2.0, "peak_flop_per_s": 1e15,
              "hbm_bandwidth_bytes_per_s": 3e12, "hbm_capacity_bytes": 8e10, "kv_bytes_per_token": 1e5,
              "n_layers": 80.0, "d_model": 8192.0}
    space = DecisionSpace("m", (Platform("card", PrecisionChoice("p", "p", "p"), values, (1, 2, 4, 8)),))
    res = solve(Problem(space, Workload(128.0, 128.0, mixed=False), tpot_slo_s=1.0, demand=Demand(1.0),
                        objective="chips"))
    assert res.optimal and res.objective_value == 2 and res.point.tp == 2 and res.point.replicas == 1
    assert res.cost_usd_per_hour is None


def test_prices_for_some_cards_and_not_others_are_refused():
    import dataclasses

    import pytest

    from inferonomics.symbolic.errors import InvalidInputError

    values = {"total_params": 1e9, "bytes_per_weight": 2.0, "peak_flop_per_s": 1e15,
              "hbm_bandwidth_bytes_per_s": 3e12, "hbm_capacity_bytes": 8e10}
    a = Platform("a", PrecisionChoice("p", "p", "p"), values, (1,), 2.0)
    space = DecisionSpace("m", (a, dataclasses.replace(a, hardware="b", price_usd_per_chip_hour=None)))
    for objective in ("usd_per_hour", "chips"):
        with pytest.raises(InvalidInputError, match="but not for the rest.*b=<"):
            solve(Problem(space, tpot_slo_s=1.0, demand=Demand(1.0), objective=objective))


def _unpriced(problem):
    """The same problem with every price removed and the objective's chip-count counterpart."""
    import dataclasses

    from inferonomics.optimize.objectives import UNPRICED

    plats = tuple(dataclasses.replace(p, price_usd_per_chip_hour=None) for p in problem.space.platforms)
    return dataclasses.replace(problem, space=dataclasses.replace(problem.space, platforms=plats),
                               objective=UNPRICED[problem.objective])


@settings(CI, max_examples=15)
@given(calibrated_problems())
def test_calibrated_serving_unpriced_matches_oracle(problem):
    problem = _unpriced(problem)
    res = solve(problem)
    best = oracle.homogeneous_optimum(problem)
    if res.optimal:
        _check_feasible(problem, res)
        assert res.cost_usd_per_hour is None
    _gap(problem, res, best)


# -- parallel shapes (TP x PP x attention DP x EP) on the calibrated serving model: the same gap-0 promise -------

_PAR_SPACES: dict = {}


def _par_space(model: str):
    from inferonomics.optimize.space import build_space

    if model not in _PAR_SPACES:
        moe = model != "llama3.1-8b"
        _PAR_SPACES[model] = build_space(model, ["h100-sxm", "h200-sxm"], ["bf16", "fp8"], tp=[1, 2, 4],
                                         pp=[1, 2, 4], attention_dp=[1, 2, 4] if moe else None,
                                         ep=[1, 2, 4, 8] if moe else None,
                                         prices={"h100-sxm": 2.5, "h200-sxm": 3.5})
    return _PAR_SPACES[model]


@st.composite
def parallel_problems(draw):
    """A dense and an MoE model with a few drawn PP, attention-DP and EP degrees per platform (the oracle walks
    every shape, batch and replica count)."""
    import dataclasses

    from inferonomics.optimize import serving_step

    space = _par_space(draw(st.sampled_from(["llama3.1-8b", "mixtral-8x7b"])))
    plats = [p for p in space.platforms if draw(st.booleans())] or [space.platforms[0]]
    pick = lambda xs: tuple(sorted(draw(st.sets(st.sampled_from(xs), min_size=1, max_size=2))))  # noqa: E731
    plats = [dataclasses.replace(p, tps=pick(p.tps), pps=pick(p.pps), dps=pick(p.dps),
                                 eps=None if p.eps is None else pick(p.eps)) for p in plats]
    wl = Workload(isl=float(draw(st.integers(16, 4096))), osl=float(draw(st.integers(4, 1024))),
                  mixed=draw(st.booleans()))
    p0 = plats[0]
    base = float(serving_step.tpot(p0.serving, p0.tps[0], 1.0, wl.isl, wl.osl, pp=p0.pps[0], mixed=wl.mixed))
    base_ttft = float(serving_step.ttft(p0.serving, p0.tps[0], 1.0, wl.isl, wl.osl, pp=p0.pps[0]))
    ttft = draw(st.one_of(st.none(), st.floats(0.8, 3.0).map(lambda f: f * base_ttft)))
    return Problem(dataclasses.replace(space, platforms=tuple(plats)), wl, tpot_slo_s=base * draw(st.floats(0.8, 3.0)),
                   ttft_slo_s=ttft, demand=Demand(draw(st.floats(0.5, 200.0)) / base),
                   objective=draw(st.sampled_from(["usd_per_hour", "usd_per_mtok", "tokens_per_usd"])),
                   max_batch=draw(st.integers(1, 24)), fleet="homogeneous", speculation=draw(speculations()))


def speculations():
    """No speculation, or speculative decoding to try on and off (acceptance, drafted tokens, draft cost)."""
    from inferonomics.optimize.speculation import Speculation

    return st.one_of(st.none(), st.builds(Speculation, st.floats(0.0, 0.95), st.integers(1, 4), st.floats(0.0, 0.3)))


@settings(CI, max_examples=25)
@given(parallel_problems())
def test_parallel_shapes_match_oracle(problem):
    res = solve(problem)
    best = oracle.homogeneous_optimum(problem)
    if res.optimal:
        _check_feasible(problem, res)
        p = res.point
        event(f"pp {p.pp}, attention dp {p.attention_dp}, ep {p.ep}, speculation {p.speculation is not None}")
        assert p.chips == p.replicas * p.tp * p.pp * p.attention_dp
    _gap(problem, res, best)


# -- disaggregated deployments (--mode disagg|auto): the oracle counts both pools up on every shape and batch ------


@st.composite
def disagg_problems(draw):
    import dataclasses

    problem = draw(parallel_problems())
    mode = draw(st.sampled_from(["disagg", "auto"]))
    return dataclasses.replace(problem, mode=mode, max_batch=min(problem.max_batch, 12),
                               objective=draw(st.sampled_from(["usd_per_hour", "usd_per_mtok", "tokens_per_usd"])))


@settings(CI, max_examples=25)
@given(disagg_problems())
def test_disaggregated_matches_oracle(problem):
    res = solve(problem)
    best = oracle.homogeneous_optimum(problem)
    if res.optimal:
        _check_feasible(problem, res)
        p = res.point
        event(f"mode {p.mode}, speculation {p.speculation is not None}")
        if p.mode == "disagg":
            f = dict(p.form)
            assert p.chips == p.replicas * p.chips_per_replica + f["prefill_workers"] * f["prefill_chips_per_worker"]
            js = res.as_json()
            assert js["mode"] == "disagg" and js["decode_workers"] == p.replicas and js["prefill_workers"] >= 1
        if problem.mode == "disagg":
            assert p.mode == "disagg"
    _gap(problem, res, best)
