"""The inverse closed forms of the essay's question (issue 16), each against a root found by bisection on an
independent forward computation: the step model (evaluate_step), never the record's own residual."""

from __future__ import annotations

import math
import random

import pytest

from inferonomics.symbolic.evaluate import evaluate_step
from inferonomics.symbolic.formulas import get_formula


def _bisect(f, lo: float, hi: float, n: int = 200) -> float:
    """Plain bisection on a sign change of ``f`` in log space (the unknowns span decades)."""
    a, b = math.log(lo), math.log(hi)
    fa = f(math.exp(a))
    assert fa * f(math.exp(b)) < 0, "no sign change in the bracket"
    for _ in range(n):
        m = (a + b) / 2
        fm = f(math.exp(m))
        if (fm < 0) == (fa < 0):
            a, fa = m, fm
        else:
            b = m
    return math.exp((a + b) / 2)


def _chip(rng: random.Random) -> dict:
    """A random chip, model and precision over plausible decades, memory-bound at batch 1."""
    while True:
        p = {"total_params": 10 ** rng.uniform(9, 12.3), "bytes_per_weight": rng.choice([0.5, 1.0, 2.0]),
             "peak_flop_per_s": 10 ** rng.uniform(13.5, 16), "hbm_bandwidth_bytes_per_s": 10 ** rng.uniform(11, 13.3),
             "tp": float(rng.randint(1, 16))}
        if p["peak_flop_per_s"] * p["bytes_per_weight"] > 4 * p["hbm_bandwidth_bytes_per_s"]:
            return p


def _forward_break_even(p: dict) -> float:
    """The batch at which the step model's compute time reaches its memory time, by bisection."""
    return _bisect(lambda b: (lambda r: r.compute_s - r.memory_s)(evaluate_step(dict(p, batch=b))), 1e-3, 1e7)


@pytest.mark.parametrize("seed", range(8))
def test_bandwidth_for_break_even_batch_against_the_step_model(seed):
    rng = random.Random(seed)
    p = _chip(rng)
    target = 10 ** rng.uniform(0, 3)
    # the bandwidth at which the step model's compute and memory times meet at the target batch
    root = _bisect(lambda w: (lambda r: r.compute_s - r.memory_s)(
        evaluate_step(dict(p, batch=target, hbm_bandwidth_bytes_per_s=w))), 1e6, 1e20)
    got = get_formula("bandwidth_for_break_even_batch").evaluate(dict(p, batch=target))
    assert got == pytest.approx(root, rel=1e-9)
    # and at that bandwidth the forward break-even batch is the target
    assert _forward_break_even(dict(p, hbm_bandwidth_bytes_per_s=got)) == pytest.approx(target, rel=1e-9)


def test_bandwidth_for_break_even_batch_by_hand():
    # essay H100: F = 3e15, 8-bit weights; batch 1 needs F b_w / 2 = 1.5e15 B/s, 500x today's 3e12
    f = get_formula("bandwidth_for_break_even_batch")
    assert f.evaluate({"peak_flop_per_s": 3e15, "bytes_per_weight": 1.0, "batch": 1.0}) == pytest.approx(1.5e15)
    assert f.failed_conditions({"peak_flop_per_s": 3e15, "bytes_per_weight": 1.0, "batch": 0.5})


@pytest.mark.parametrize("seed", range(8))
def test_bandwidth_for_batch1_speed_against_the_step_model(seed):
    rng = random.Random(100 + seed)
    p = _chip(rng)
    v, eta = 10 ** rng.uniform(0, 3), rng.uniform(0.4, 1.0)
    p.update(peak_flop_per_s=1e30, tp=1.0, eta_bw=eta)  # ample compute: the system is bandwidth-bound
    root = _bisect(lambda w: evaluate_step(dict(p, batch=1.0, hbm_bandwidth_bytes_per_s=w)).tokens_per_s_per_user - v,
                   1e6, 1e22)
    got = get_formula("bandwidth_for_batch1_speed").evaluate(dict(p, tokens_per_s_per_user=v))
    assert got == pytest.approx(root, rel=1e-9)


def test_bandwidth_for_batch1_speed_by_hand():
    # 70e9 params at 2 bytes, 100 tokens/s, 80 % of bandwidth: 70e9 * 2 * 100 / 0.8 = 1.75e13 B/s
    got = get_formula("bandwidth_for_batch1_speed").evaluate(
        {"total_params": 7e10, "bytes_per_weight": 2.0, "tokens_per_s_per_user": 100.0, "eta_bw": 0.8})
    assert got == pytest.approx(1.75e13)


def test_chips_to_hold_model_by_counting():
    f = get_formula("chips_to_hold_model")
    for n, bw, cap in ((7e10, 2.0, 2.3e8), (7e10, 2.0, 8e10), (1.6e12, 1.0, 4.4e10), (4.05e11, 0.5, 1.41e11)):
        count = 1
        while count * cap < n * bw:  # add chips until the weights fit
            count += 1
        got = f.evaluate({"total_params": n, "bytes_per_weight": bw, "hbm_capacity_bytes": cap})
        assert math.ceil(got - 1e-9) == count
        assert got == pytest.approx(_bisect(lambda t: t * cap - n * bw, 1e-3, 1e9), rel=1e-9)
    # Groq: 230 MB per chip, a 70B model in 16-bit: 140e9 / 230e6 = 608.7 -> 609 chips
    assert math.ceil(f.evaluate({"total_params": 7e10, "bytes_per_weight": 2.0, "hbm_capacity_bytes": 2.3e8})) == 609


@pytest.mark.parametrize("seed", range(6))
def test_min_user_base_vs_balance_against_forward_concurrency(seed):
    rng = random.Random(200 + seed)
    p = _chip(rng)
    m, rho = 10 ** rng.uniform(0, 2.5), rng.uniform(1, 4)
    bstar = _forward_break_even(p)
    # forward: a user base gives C = U m / (1440 rho) concurrent users (min_user_base's convention);
    # find the user base whose concurrency is the forward break-even batch
    root = _bisect(lambda u: u * m / (1440 * rho) - bstar, 1e-3, 1e15)
    r = p["peak_flop_per_s"] / p["hbm_bandwidth_bytes_per_s"]
    got = get_formula("min_user_base_vs_balance").evaluate(
        {"flop_per_byte": r, "bytes_per_weight": p["bytes_per_weight"], "minutes_per_day": m, "mean_to_trough": rho})
    assert got == pytest.approx(root, rel=1e-9)


def test_min_user_base_vs_balance_by_hand():
    # essay: r = 3e15/3e12 = 1000 FLOP/byte, 8-bit: B* = 500; 500 x 1440 / 10 = 72,000 users
    got = get_formula("min_user_base_vs_balance").evaluate(
        {"flop_per_byte": 1000.0, "bytes_per_weight": 1.0, "minutes_per_day": 10.0, "mean_to_trough": 1.0})
    assert got == pytest.approx(72_000)


@pytest.mark.parametrize("seed", range(6))
def test_single_user_cost_ratio_against_the_step_model_costs(seed):
    rng = random.Random(300 + seed)
    p = _chip(rng)
    p["price_usd_per_chip_hour"] = rng.uniform(0.5, 10)
    bstar = _forward_break_even(p)
    alone = evaluate_step(dict(p, batch=1.0)).cost_usd_per_million_tokens
    shared = evaluate_step(dict(p, batch=bstar)).cost_usd_per_million_tokens
    got = get_formula("single_user_cost_ratio").evaluate(p)
    assert got == pytest.approx(alone / shared, rel=1e-9)


def test_single_user_cost_ratio_by_hand_and_condition():
    f = get_formula("single_user_cost_ratio")
    # the essay's "a thousand times" is the raw FLOP:byte ratio F/W; two FLOPs per parameter make it 3e15 / (2 x 3e12) = 500
    assert f.evaluate({"peak_flop_per_s": 3e15, "bytes_per_weight": 1.0, "hbm_bandwidth_bytes_per_s": 3e12}) == 500
    assert f.failed_conditions({"peak_flop_per_s": 1e12, "bytes_per_weight": 1.0, "hbm_bandwidth_bytes_per_s": 3e12})


def test_quantization_moves_the_wall_but_does_not_remove_it():
    # weight-only 4-bit at the same F halves B* and the bandwidth needed; fp8 compute with fp8 weights
    # (F doubles, b_w halves) leaves B* where bf16 had it: no precision sends it to 1
    f = get_formula("break_even_batch")
    bf16 = f.evaluate({"peak_flop_per_s": 9.89e14, "bytes_per_weight": 2.0, "hbm_bandwidth_bytes_per_s": 3.35e12})
    w4a16 = f.evaluate({"peak_flop_per_s": 9.89e14, "bytes_per_weight": 0.5, "hbm_bandwidth_bytes_per_s": 3.35e12})
    fp8 = f.evaluate({"peak_flop_per_s": 1.979e15, "bytes_per_weight": 1.0, "hbm_bandwidth_bytes_per_s": 3.35e12})
    assert w4a16 == pytest.approx(bf16 / 4)
    assert fp8 == pytest.approx(bf16, rel=1e-3)
    assert w4a16 > 1  # still above one: the wall moved, it did not go away
    assert "no precision removes it" in " ".join(get_formula("bandwidth_for_break_even_batch").assumptions)
