"""Hypothesis invariants of the step model (monotonicity, scaling, utilization bounds, regimes)."""

from __future__ import annotations

import math

from hypothesis import assume, given
from hypothesis import strategies as st

from inferonomics.symbolic.evaluate import evaluate_step
from inferonomics.symbolic.formulas import get_formula
from strategies import dense_configs

POLICIES = st.sampled_from(["step", "per-op"])
RATES = ("peak_flop_per_s", "hbm_bandwidth_bytes_per_s", "link_bandwidth_bytes_per_s")


def step(v, policy, mixed=False):
    return evaluate_step(v, policy, mixed=mixed).step_s


@given(dense_configs(), POLICIES, st.floats(1.01, 8), st.booleans())
def test_time_non_decreasing_in_batch_and_context(v, policy, k, mixed):
    base = step(v, policy, mixed)
    assert step(dict(v, batch=v["batch"] * k), policy, mixed) >= base * (1 - 1e-12)
    assert step(dict(v, context=v["context"] * k), policy, mixed) >= base * (1 - 1e-12)


@given(dense_configs(), POLICIES, st.floats(1.01, 8), st.sampled_from(RATES))
def test_time_non_increasing_in_rates(v, policy, k, rate):
    assert step(dict(v, **{rate: v[rate] * k}), policy) <= step(v, policy) * (1 + 1e-12)


@given(dense_configs(), POLICIES, st.floats(0.1, 10))
def test_scaling_every_rate_divides_time(v, policy, k):
    # rates up by k and fixed times (latency, overheads) down by k: the whole step shrinks by k
    scaled = dict(v, **{r: v[r] * k for r in RATES},
                  link_latency_s=v["link_latency_s"] / k, overhead_s=v["overhead_s"] / k,
                  layer_overhead_s=v["layer_overhead_s"] / k)
    assert math.isclose(step(scaled, policy), step(v, policy) / k, rel_tol=1e-9)


@given(dense_configs(), POLICIES, st.booleans())
def test_utilization_in_unit_interval(v, policy, mixed):
    u = evaluate_step(v, policy, mixed=mixed).utilization
    assert 0 < u <= 1


@given(dense_configs(), st.floats(0.01, 0.99), st.floats(1.01, 100))
def test_memory_below_break_even_compute_above(v, below, above):
    # the weights-only ideal model of the closed form
    p = dict(v, context=0.0, kv_bytes_per_token=0.0, n_layers=0.0, overhead_s=0.0, layer_overhead_s=0.0,
             eta_flop=1.0, eta_bw=1.0, eta_kv=1.0)
    bstar = get_formula("break_even_batch").evaluate(p)
    assume(bstar * below >= 1)
    lo = evaluate_step(dict(p, batch=bstar * below))
    hi = evaluate_step(dict(p, batch=bstar * above))
    assert lo.memory_bound and lo.memory_s > lo.compute_s
    assert not hi.memory_bound and hi.compute_s >= hi.memory_s


@given(dense_configs(), st.floats(1.01, 4), st.floats(0.1, 20))
def test_cost_per_token_non_increasing_in_batch_while_memory_bound(v, k, price):
    v = dict(v, price_usd_per_chip_hour=price)
    a, b = evaluate_step(v), evaluate_step(dict(v, batch=v["batch"] * k))
    assume(b.memory_bound)
    assert b.cost_usd_per_million_tokens <= a.cost_usd_per_million_tokens * (1 + 1e-12)
