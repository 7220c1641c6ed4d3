"""Speculative decoding's closed forms against independent computations (issue 14).

Tokens per step against a Monte-Carlo simulation of acceptance and the finite geometric sum; the speed-up and
its break-even batch against a brute-force scan over batches of the step model's throughput (symbolic.model
t_step, step policy) with and without speculation; and a hand-worked MTP example.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from inferonomics.symbolic import model
from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.errors import ConditionError
from inferonomics.symbolic.formulas import get_formula

TOKENS = get_formula("spec_decode_tokens_per_step")
SPEEDUP = get_formula("spec_decode_speedup")
BREAK_EVEN = get_formula("spec_decode_break_even_batch")


def _simulate_tokens(alpha: float, gamma: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """Tokens per verification round: the leading run of accepted drafts, plus the target's own token."""
    accepted = rng.random((rounds, gamma)) < alpha
    # the first rejection stops the round; all-accepted rounds keep every draft
    run = np.where(accepted.all(axis=1), gamma, np.argmin(accepted, axis=1))
    return run + 1.0


@pytest.mark.parametrize(("alpha", "gamma"), [(0.3, 1), (0.6, 3), (0.8, 5), (0.9, 8), (0.5, 16)])
def test_tokens_per_step_matches_monte_carlo(alpha, gamma):
    tokens = _simulate_tokens(alpha, gamma, 200_000, np.random.default_rng(14))
    closed = TOKENS.evaluate({"acceptance_rate": alpha, "draft_tokens": gamma})
    stderr = tokens.std(ddof=1) / math.sqrt(tokens.size)
    assert abs(tokens.mean() - closed) < 4 * stderr + 1e-12
    assert 1 <= closed <= gamma + 1


@pytest.mark.parametrize("gamma", range(1, 9))
def test_tokens_per_step_is_the_finite_geometric_sum(gamma):
    for alpha in (0.05, 0.5, 0.77, 0.99):
        direct = sum(alpha**i for i in range(gamma + 1))
        assert TOKENS.evaluate({"acceptance_rate": alpha, "draft_tokens": gamma}) == pytest.approx(direct, rel=1e-13)


def test_tokens_per_step_limits_and_conditions():
    a, g = s.acc, s.gamma
    assert sp.limit(TOKENS.expr.subs(g, 4), a, 1, "-") == 5  # everything accepted: gamma + 1
    assert sp.limit(TOKENS.expr, a, 0, "+") == 1  # nothing accepted: the target's own token
    with pytest.raises(ConditionError, match="acceptance rate"):
        TOKENS.evaluate({"acceptance_rate": 1.0, "draft_tokens": 3})
    with pytest.raises(ConditionError, match="at least one token"):
        TOKENS.evaluate({"acceptance_rate": 0.5, "draft_tokens": 0.5})
    assert [x.name for x in TOKENS.args] == ["acceptance_rate", "draft_tokens"]


# -- the step model, brute force -----------------------------------------------------------------------------
CHIP = {"peak_flop_per_s": 1979e12, "hbm_bandwidth_bytes_per_s": 4.8e12, "bytes_per_weight": 1.0}  # H200, fp8


def _step_time():
    """t_step(B) of the ideal step-policy model, weights only (no cache), as a NumPy function of the batch."""
    step = model.ideal(model.t_step("step", comm=False))
    fixed = {s.N: 7e10, s.Na: 7e10, s.t: 8, s.F: CHIP["peak_flop_per_s"], s.W: CHIP["hbm_bandwidth_bytes_per_s"],
             s.b_w: CHIP["bytes_per_weight"], s.ctx: 0, s.kv: 1, s.d_attn: 8192, s.L: 80, s.h_kv: 8}
    return sp.lambdify([s.B], step.xreplace(fixed), "numpy")


STEP = _step_time()


def _throughputs(batches, alpha, gamma, cost):
    """Tokens per second of a replica without and with speculation, from the step model alone."""
    plain = STEP(batches)
    verify = STEP((gamma + 1) * batches)  # gamma + 1 tokens per sequence through the same weights
    gained = sum(alpha**i for i in range(gamma + 1))  # expected tokens per round, summed directly
    return batches / plain, batches * gained / (gamma * cost * plain + verify)


@pytest.mark.parametrize(("alpha", "gamma", "cost"), [(0.8, 4, 0.05), (0.7, 2, 0.1), (0.9, 1, 0.02), (0.6, 6, 0.01)])
def test_break_even_batch_is_where_brute_force_throughputs_cross(alpha, gamma, cost):
    batches = np.arange(1, 600, dtype=float)
    plain, spec = _throughputs(batches, alpha, gamma, cost)
    pays = spec >= plain
    assert pays[0] and not pays[-1]
    last = batches[pays][-1]
    assert pays[: int(last)].all()  # one crossing: speculation pays below it, never above
    values = dict(CHIP, acceptance_rate=alpha, draft_tokens=gamma, draft_cost_ratio=cost)
    closed = BREAK_EVEN.evaluate(values)
    assert last <= closed < last + 1
    b_star = CHIP["peak_flop_per_s"] * CHIP["bytes_per_weight"] / (2 * CHIP["hbm_bandwidth_bytes_per_s"])
    assert b_star / (gamma + 1) < closed < b_star


@pytest.mark.parametrize(("alpha", "gamma", "cost"), [(0.8, 4, 0.05), (0.5, 3, 0.3), (0.95, 8, 0.002)])
def test_speedup_equals_brute_force_ratio_at_every_batch(alpha, gamma, cost):
    batches = np.array([1.0, 7.0, 30.0, 41.0, 100.0, 150.0, 206.0, 207.0, 500.0, 4000.0])
    plain, spec = _throughputs(batches, alpha, gamma, cost)
    for b, ratio in zip(batches, spec / plain):
        got = SPEEDUP.evaluate(dict(CHIP, acceptance_rate=alpha, draft_tokens=gamma, draft_cost_ratio=cost, batch=b))
        assert got == pytest.approx(ratio, rel=1e-12)


def test_speedup_is_one_at_the_break_even_batch_and_leviathan_at_small_batch():
    values = dict(CHIP, acceptance_rate=0.8, draft_tokens=4, draft_cost_ratio=0.05)
    b_spec = BREAK_EVEN.evaluate(values)
    assert SPEEDUP.evaluate(dict(values, batch=b_spec)) == pytest.approx(1.0, rel=1e-12)
    # Leviathan et al. 2023, eq. (1) with their c: (1 - a^(g+1)) / ((1 - a)(g c + 1)), by hand 3.3616/1.2
    assert SPEEDUP.evaluate(dict(values, batch=1)) == pytest.approx(3.3616 / 1.2, rel=1e-12)
    assert SPEEDUP.evaluate(dict(values, batch=1000)) == pytest.approx(3.3616 / 5.2, rel=1e-12)


def test_mtp_example_by_hand():
    """DeepSeek-V3-style MTP: one head (gamma = 1) accepted 85% of the time, costing 2% of a step, on an H200 in fp8.

    B* = 1979e12/(2 x 4.8e12) = 206.1458333; E = 1.85; B*_spec = B* (1.85 - 0.02)/2 = 188.6234375.
    """
    values = dict(CHIP, acceptance_rate=0.85, draft_tokens=1, draft_cost_ratio=0.02)
    assert TOKENS.evaluate(values) == pytest.approx(1.85, rel=1e-14)
    assert BREAK_EVEN.evaluate(values) == pytest.approx(188.6234375, rel=1e-12)


def test_break_even_needs_speculation_to_pay_at_small_batch():
    # E = 1.5 for alpha = 0.5, gamma = 1; a draft costing 0.6 of a step makes a round dearer than 1.5 plain steps
    with pytest.raises(ConditionError, match="speculation pays at small batch"):
        BREAK_EVEN.evaluate(dict(CHIP, acceptance_rate=0.5, draft_tokens=1, draft_cost_ratio=0.6))


def test_steps_say_it_is_the_bandwidth_wall_the_other_way_around():
    text = " ".join(st.why for st in BREAK_EVEN.steps)
    assert "bandwidth wall at batch 1 the other way around" in text
