"""Independent checks of the mathematics audit's fixes (issue 12, part 2).

Every expected value here is computed by hand, by brute force or by a second numerical method (a
minimisation, a root of a derivative, a simulated day), never by the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

from inferonomics.optimize.constraints import Demand
from inferonomics.symbolic import catalog
from inferonomics.symbolic.errors import ConditionError
from inferonomics.symbolic.evaluate import evaluate_step
from inferonomics.symbolic.formulas import get_formula


# -- 1. the daily swing: two ratios, each used one way ---------------------------------------------------


def _day(swing: float) -> np.ndarray:
    """Concurrency over the 1440 minutes of a day, mean 1: 1 + swing sin(2 pi minute/1440)."""
    return 1 + swing * np.sin(2 * np.pi * np.arange(1440) / 1440)


def test_min_user_base_keeps_c_users_active_at_the_trough():
    shape, m, c = _day(0.6), 10.0, 1000.0
    assert shape.mean() == pytest.approx(1.0, abs=1e-12) and shape.min() == pytest.approx(0.4, abs=1e-12)
    # brute force over the day: the smallest user base whose concurrency never dips below C
    users = brentq(lambda u: (u * m / 1440 * shape).min() - c, 1.0, 1e9, xtol=1e-9, rtol=1e-14)
    got = get_formula("min_user_base").evaluate(
        {"concurrency": c, "minutes_per_day": m, "mean_to_trough": shape.mean() / shape.min()})
    assert got == pytest.approx(users, rel=1e-9)
    assert got == pytest.approx(1440 * 1000 * 2.5 / 10, rel=1e-9)  # by hand: 360,000


def test_a_deep_night_trough_is_the_essays_million_users():
    # "for 24-hour service ... exceed this by some substantial margin, perhaps even approach 1M users":
    # a trough at a seventh of the mean: 1440 x 1000 x 7 / 10 = 1,008,000
    f = get_formula("min_user_base")
    assert f.evaluate({"concurrency": 1000.0, "minutes_per_day": 10.0, "mean_to_trough": 7.0}) == 1_008_000
    assert f.evaluate({"concurrency": 1000.0, "minutes_per_day": 10.0, "mean_to_trough": 1.0}) == 144_000


def test_demand_from_users_sizes_the_fleet_for_the_peak_of_the_day():
    shape, users, m, per_min = _day(0.6), 1e6, 10.0, 600.0
    peak = (users * m / 1440 * shape * per_min / 60).max()  # tokens/s at the busiest minute
    d = Demand.from_users(users, m, peak_to_mean=shape.max() / shape.mean(), tokens_per_active_minute=per_min)
    assert d.tokens_per_s == pytest.approx(peak, rel=1e-9)
    assert d.tokens_per_s == pytest.approx(1e6 * 10 / 1440 * 1.6 * 10, rel=1e-9)  # by hand


def test_users_plot_marks_the_user_base_whose_trough_fills_b_star():
    from inferonomics.optimize.plots import render

    v = {"total_params": 1.6e12, "bytes_per_weight": 1.0, "peak_flop_per_s": 3e15,
         "hbm_bandwidth_bytes_per_s": 3e12, "minutes_per_day": 10.0, "mean_to_trough": 2.5}
    _, marks = render("users", v, "svg")
    assert marks["user_base_at_break_even"] == pytest.approx(1440 * 2.5 * 500 / 10, rel=1e-12)


# -- 2. KV heads are replicated past t = h_kv --------------------------------------------------------------


def test_llama70b_critical_context_halves_from_tp8_to_tp16():
    v = catalog.bind("llama3.1-70b", "h100-sxm", "bf16")
    assert v["kv_bytes_per_token"] == 80 * 8 * 128 * 2 * 2  # layers x KV heads x head dim x (K, V) x bf16
    assert v["n_kv_heads"] == 8
    by_hand = 2 * v["total_params"] * 3.35e12 / (327680 * 989e12)  # 2 N W / (k F), heads not replicated
    f = get_formula("critical_context")
    assert f.evaluate(dict(v, tp=8.0)) == pytest.approx(by_hand, rel=1e-12)
    assert f.evaluate(dict(v, tp=16.0)) == pytest.approx(by_hand / 2, rel=1e-12)
    assert 725 < by_hand / 2 < 735  # the audit's ~730 tokens, not ~1,460


def test_each_chip_reads_whole_kv_heads():
    v = {"total_params": 7e10, "bytes_per_weight": 2.0, "peak_flop_per_s": 1e15, "hbm_bandwidth_bytes_per_s": 3e12,
         "kv_bytes_per_token": 327680.0, "context": 4096.0, "batch": 64.0, "n_kv_heads": 8.0}
    for t in (1, 2, 4, 8, 16, 32):
        by_hand = 7e10 * 2 / (t * 3e12) + 64 * 4096 * 327680 / (min(t, 8) * 3e12)
        assert evaluate_step(dict(v, tp=float(t))).memory_s == pytest.approx(by_hand, rel=1e-12)
    unknown = {k: x for k, x in v.items() if k != "n_kv_heads"}  # no head count: the cache splits over t
    assert evaluate_step(dict(unknown, tp=32.0)).memory_s == pytest.approx(
        (7e10 * 2 + 64 * 4096 * 327680) / (32 * 3e12), rel=1e-12)


def test_break_even_with_kv_diverges_at_the_critical_context():
    v = {"total_params": 7e10, "bytes_per_weight": 2.0, "peak_flop_per_s": 1e15, "hbm_bandwidth_bytes_per_s": 3e12,
         "kv_bytes_per_token": 327680.0, "tp": 16.0, "n_kv_heads": 8.0}
    c_star = 2 * 7e10 * 3e12 / (327680 * 1e15 * 2)  # by hand, heads replicated twice
    for eps in (1e-3, 1e-6):
        # the denominator 2NW - c k F r is 2 N W eps at c = c*(1 - eps): B*_kv = B*/eps
        got = get_formula("break_even_batch_with_kv").evaluate(dict(v, context=c_star * (1 - eps)))
        assert got == pytest.approx(1e15 * 2 / (2 * 3e12) / eps, rel=1e-6)


def _seed_brute_force() -> tuple[float, int, int, float]:
    """The seed's refined deployment by exhaustion: every TP 1..64 and batch 1..4096, step written out."""
    n, b_w, f, w, layers, d, k, h_kv = 1.6e12, 1.0, 3e15, 3e12, 160, 25600, 327680.0, 8
    alpha, beta, b_a, ctx, price, slo = 1e-6, 450e9, 2.0, 4096.0, 2.0, 0.050
    usable = 80e9 * 0.95 - 2e9
    batch = np.arange(1, 4097, dtype=float)
    best = (math.inf, 0, 0, 0.0)
    for t in range(1, 65):
        flops = 2 * n * batch + 4 * layers * d * batch * ctx  # matmuls + attention over the cache
        compute = flops / (t * f)
        memory = n * b_w / (t * w) + batch * ctx * k / (min(t, h_kv) * w)
        comm = layers * 2 * (2 * (t - 1) * alpha + 2 * (t - 1) / t * batch * d * b_a / beta)
        step = np.maximum(compute, memory) + comm
        fits = n * b_w / t + batch * ctx * k / min(t, h_kv) <= usable
        cost = np.where((step <= slo) & fits, t * price * step / (3600 * batch) * 1e6, np.inf)
        i = int(np.argmin(cost))
        if cost[i] < best[0]:
            best = (float(cost[i]), t, i + 1, float(flops[i] / (t * f * step[i])))
    return best


def test_seed_deployment_matches_a_brute_force():
    from inferonomics.optimize.essay import seed_deployment

    cost, tp, batch, util = _seed_brute_force()
    assert (tp, batch, round(util, 3), round(cost, 2)) == (29, 108, 0.081, 7.45)  # the audit's own figures
    got = seed_deployment()["deployment"]
    assert (got["tp"], got["batch"]) == (tp, batch)
    assert got["cost_usd_per_million_tokens"] == pytest.approx(cost, rel=1e-9)
    assert got["utilization"] == pytest.approx(util, rel=1e-9)


# -- 3. continuous batching all-reduces the prompt tokens too ---------------------------------------------


def test_mixed_step_all_reduces_decoded_and_prompt_tokens():
    v = {"total_params": 7e10, "bytes_per_weight": 2.0, "peak_flop_per_s": 1e15, "hbm_bandwidth_bytes_per_s": 3e12,
         "n_layers": 80.0, "d_model": 8192.0, "tp": 8.0, "batch": 32.0, "link_latency_s": 2e-6,
         "link_bandwidth_bytes_per_s": 4.5e11, "bytes_per_activation": 2.0, "prompt_len": 1024.0,
         "output_len": 256.0}

    def by_hand(tokens: float) -> float:
        return 80 * 2 * (2 * 7 * 2e-6 + 2 * 7 / 8 * tokens * 8192 * 2 / 4.5e11)

    assert evaluate_step(v, mixed=True).comm_s == pytest.approx(by_hand(32 + 32 * 1024 / 256), rel=1e-12)
    assert evaluate_step(v).comm_s == pytest.approx(by_hand(32), rel=1e-12)


# -- 4. the latency floor includes the per-layer cost -----------------------------------------------------


def test_latency_floor_includes_the_per_layer_cost():
    v = {"total_params": 7e10, "bytes_per_weight": 2.0, "peak_flop_per_s": 1e15, "hbm_bandwidth_bytes_per_s": 3e12,
         "tp": 4.0, "n_layers": 80.0, "allreduces_per_layer": 2.0, "link_latency_s": 2e-6,
         "layer_overhead_s": 5e-6, "overhead_s": 1e-4}
    by_hand = 7e10 * 2 / (4 * 3e12) + 2 * 80 * 2 * 3 * 2e-6 + 80 * 5e-6 + 1e-4
    assert get_formula("latency_floor").evaluate(v) == pytest.approx(by_hand, rel=1e-12)
    # the step model at batch 1 (no context, free bandwidth) is a second route to the same number
    assert evaluate_step(dict(v, batch=1.0)).step_s == pytest.approx(by_hand, rel=1e-12)


# -- 5. beyond c*: what "memory-bound at every batch" means ----------------------------------------------


def test_critical_context_with_attention_flops_counted():
    v = {"total_params": 8e9, "bytes_per_weight": 2.0, "peak_flop_per_s": 1e15, "hbm_bandwidth_bytes_per_s": 3e12,
         "kv_bytes_per_token": 131072.0, "n_layers": 32.0, "d_model": 4096.0, "d_attn": 4096.0, "tp": 1.0,
         "n_kv_heads": 8.0,
         "batch": 1e12}  # a batch so large that the shared weight read no longer matters

    def gap(c: float) -> float:
        r = evaluate_step(dict(v, context=c))
        return r.memory_s - r.compute_s

    crossing = brentq(gap, 1.0, 1e6, xtol=1e-9, rtol=1e-13)
    assert crossing == pytest.approx(2 * 8e9 * 3e12 / (131072 * 1e15 - 4 * 32 * 4096 * 3e12), rel=1e-6)
    # the record neglects attention FLOPs, so its c* is the lower 2NW/(kF); it says so in its assumptions
    assert get_formula("critical_context").evaluate(v) == pytest.approx(2 * 8e9 * 3e12 / (131072 * 1e15))
    assert any("4 L d_attn W" in a for a in get_formula("critical_context").assumptions)


# -- 7. two all-reduce latency laws, two optima -----------------------------------------------------------

RING = {"total_params": 1.6e12, "bytes_per_weight": 1.0, "hbm_bandwidth_bytes_per_s": 3e12, "n_layers": 160.0,
        "allreduces_per_layer": 2.0}


def test_sqrt_law_optimum_is_the_numeric_minimum():
    n, b_w, w, layers, n_ar, a, b0 = 1.6e12, 1.0, 3e12, 160, 2, 2e-6, 5e-6

    def tau(t: float) -> float:  # Epoch AI: each all-reduce costs a (sqrt(t) - 1) + b
        return n * b_w / (t * w) + layers * n_ar * (a * (math.sqrt(t) - 1) + b0)

    def dtau(t: float) -> float:
        return -n * b_w / (t * t * w) + layers * n_ar * a / (2 * math.sqrt(t))

    root = brentq(dtau, 1.0, 1e5, xtol=1e-12, rtol=1e-14)
    low = minimize_scalar(tau, bounds=(1.0, 1e5), method="bounded", options={"xatol": 1e-8}).x
    got = get_formula("optimal_tp_degree_sqrt").evaluate(dict(RING, allreduce_sqrt_latency_s=a))
    assert got == pytest.approx(root, rel=1e-10)
    assert got == pytest.approx(low, rel=1e-5)
    assert got == pytest.approx((3.2e12 / 1.92e9) ** (2 / 3), rel=1e-12)  # by hand: 1666.7^(2/3) = 140.6


def test_ring_law_optimum_is_the_numeric_minimum_and_the_laws_scale_differently():
    alpha, layers, n_ar = 1e-6, 160, 2

    def tau(t: float, n: float) -> float:  # ring: 2 (t - 1) hops of alpha per all-reduce
        return n * 1.0 / (t * 3e12) + 2 * layers * n_ar * (t - 1) * alpha

    ring, root = get_formula("optimal_tp_degree"), get_formula("optimal_tp_degree_sqrt")
    for n in (1.6e12, 8 * 1.6e12):
        low = minimize_scalar(lambda t: tau(t, n), bounds=(1.0, 1e5), method="bounded", options={"xatol": 1e-9}).x
        assert ring.evaluate(dict(RING, total_params=n, link_latency_s=alpha)) == pytest.approx(low, rel=1e-5)
    # eight times the model: sqrt(8) = 2.83 times the ring's optimum, 8^(2/3) = 4 times the sqrt law's
    big = dict(RING, total_params=8 * 1.6e12, link_latency_s=alpha, allreduce_sqrt_latency_s=alpha)
    small = dict(RING, link_latency_s=alpha, allreduce_sqrt_latency_s=alpha)
    assert ring.evaluate(big) / ring.evaluate(small) == pytest.approx(math.sqrt(8), rel=1e-12)
    assert root.evaluate(big) / root.evaluate(small) == pytest.approx(4.0, rel=1e-12)


def test_sqrt_law_optimum_exists_only_above_one_chip():
    f = get_formula("optimal_tp_degree_sqrt")
    with pytest.raises(ConditionError):  # 2 N b_w < a L n_ar W: the optimum would be below one chip
        f.evaluate(dict(RING, total_params=1e3, allreduce_sqrt_latency_s=2e-6))


# -- 8. the MoE record's bound needs B_lo >= 1 ------------------------------------------------------------


def test_moe_bound_fails_without_its_condition():
    # E = 8 experts, k = 2, a dense part of 0.01 and experts of 1 (units cancel); dense break-even 0.3,
    # so B_lo = 0.3 < 1: the record refuses, and rightly, since its error bound is then violated
    e, k, nd, ne, ridge = 8.0, 2.0, 0.01, 1.0, 0.3
    na = nd + k * ne
    v = {"dense_params": nd, "n_experts": e, "expert_params": ne, "experts_per_token": k, "active_params": na,
         "bytes_per_weight": 1.0, "peak_flop_per_s": 2 * ridge * 1e12, "hbm_bandwidth_bytes_per_s": 1e12}
    f = get_formula("moe_break_even_batch")
    with pytest.raises(ConditionError, match="B_lo >= 1"):
        f.evaluate(v)
    a = na / ridge  # 2 N_a W / (F b_w)
    exact = brentq(lambda b: a * b - nd - e * ne * (1 - (1 - k / e) ** b), 1e-9, 10.0, xtol=1e-15)
    saturated = (nd + e * ne) / a
    bound = e * ne / (nd + e * ne) * math.exp(-k * (nd + k * ne) / a / e)
    assert (saturated - exact) / saturated > bound


def test_moe_record_holds_with_its_condition_on_deepseek_v3():
    v = catalog.bind("deepseek-v3", "h200-sxm", "fp8")
    f = get_formula("moe_break_even_batch")
    sat = f.evaluate(v)
    a = 2 * v["active_params"] * v["hbm_bandwidth_bytes_per_s"] / (v["peak_flop_per_s"] * v["bytes_per_weight"])
    e, k = v["n_experts"], v["experts_per_token"]

    def residual(b: float) -> float:
        return a * b - v["dense_params"] - e * (1 - (1 - k / e) ** b) * v["expert_params"]

    exact = brentq(residual, 1.0, 2 * sat, xtol=1e-12)
    assert exact <= sat * (1 + 1e-12)  # the saturated form is an upper bound


# -- 8. the document says which figures are assumptions ---------------------------------------------------


def test_dense_example_labels_the_hop_latency_an_assumption():
    from inferonomics.optimize.derivation import examples

    dense = next(e for e in examples() if e.title.startswith("A modern dense model"))  # by title: the list grows
    alpha_us = catalog.bind("llama3.1-70b", "h100-sxm", "bf16")["link_latency_s"] * 1e6
    assert "ASSUMPTION" in dense.setting and f"alpha = {alpha_us:g} microseconds" in dense.setting
    rows = {r[0]: r[2] for r in dense.rows}
    assert rows["critical context at TP 16 (KV heads replicated)"].startswith("729")


def test_solver_memory_counts_replicated_kv_heads():
    import dataclasses

    from inferonomics.optimize.essay import essay_problem
    from inferonomics.optimize.solver import solve

    problem = essay_problem(tpot_slo_s=None)
    plat = dataclasses.replace(problem.space.platforms[0], tps=(32,))
    problem = dataclasses.replace(problem, space=dataclasses.replace(problem.space, platforms=(plat,)))
    # by hand: 80 GB less 5% and 2 GB = 74 GB usable; weights 1.6e12/32 = 50 GB; each sequence keeps
    # 4096 tokens x 327,680 B over min(32, 8) = 8 chips = 167.8 MB: floor(24e9 / 167,772,160) = 143
    assert solve(problem).point.batch == 143


# -- the API crossover, two ways ------------------------------------------------------------------------


def test_api_price_crossover_by_hand_and_by_the_step_model():
    v = {"price_usd_per_chip_hour": 2.0, "total_params": 7e10, "bytes_per_weight": 2.0,
         "hbm_bandwidth_bytes_per_s": 3.35e12, "api_price_usd_per_mtok": 1.0, "peak_flop_per_s": 9.89e14,
         "tp": 4.0}
    b_pi = get_formula("api_price_crossover").evaluate(v)
    # by hand: $2/h x 1.4e11 B / (3600 s/h x 3.35e12 B/s x $1/Mtok) x 1e6 tokens/Mtok = 23.22
    assert b_pi == pytest.approx(2 * 1.4e11 * 1e6 / (3600 * 3.35e12 * 1.0), rel=1e-12)
    # the step model's cost per Mtok at that (memory-bound) batch is the API price
    assert evaluate_step(dict(v, batch=b_pi)).cost_usd_per_million_tokens == pytest.approx(1.0, rel=1e-12)
    users = get_formula("api_price_crossover_users").evaluate(dict(v, minutes_per_day=10.0, mean_to_trough=3.0))
    assert users == pytest.approx(b_pi * 3 * 1440 / 10, rel=1e-12)


def test_economics_user_base_is_the_min_user_base_record():
    import sympy as sp

    from inferonomics.symbolic import economics

    assert sp.simplify(economics.user_base() - get_formula("min_user_base").expr) == 0


def test_sweep_memory_counts_replicated_kv_heads():
    from inferonomics.optimize.constraints import Workload
    from inferonomics.optimize.essay import essay_problem
    from inferonomics.optimize.sweep import tiles

    space = essay_problem().space
    (tile,) = tiles(space, [32], np.array([10.0]), np.array([4096.0]), Workload(2048.0, 2048.0, mixed=False),
                    essay_problem().reserve, np.float64)
    # by hand: 1.6e12/32 B of weights + 10 x 4096 x 327,680 B over min(32, 8) chips
    assert float(np.ravel(tile.memory_bytes)[0]) == pytest.approx(1.6e12 / 32 + 10 * 4096 * 327680 / 8, rel=1e-12)
