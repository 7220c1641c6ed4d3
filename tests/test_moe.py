"""MoE economics: expected experts touched (vs Monte-Carlo routing and H100 measurements), weight bytes,
and the closed-form break-even batch against a numerical root."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from sympy import lambdify

from inferonomics.symbolic import catalog
from inferonomics.symbolic import moe
from inferonomics.symbolic.symbols import TABLE

S = {n: TABLE[n].symbol for n in TABLE}
B, E, K = S["batch"], S["n_experts"], S["experts_per_token"]
MEASURED = Path(__file__).resolve().parents[1].parent / "shared" / "measurements" / "h100" / "moe_decode.csv"

touched = lambdify((B, E, K), moe.expected_experts_touched(), "numpy")
touched_lo = lambdify((B, E, K), moe.expected_experts_touched_lower(), "numpy")


def test_uses_the_symbol_table():
    assert moe.expected_experts_touched().free_symbols == {B, E, K}
    w = moe.moe_weight_bytes()
    assert {s.name for s in w.free_symbols} == {"batch", "n_experts", "experts_per_token", "dense_params",
                                                "expert_params", "bytes_per_weight"}


def test_limits():
    assert touched(1, 8, 2) == pytest.approx(2)
    assert touched(2, 8, 2) == pytest.approx(3.5)
    assert touched(10_000, 256, 8) == pytest.approx(256)
    assert touched(1, 1, 1) == pytest.approx(1)  # a dense model is one expert, always touched


def _monte_carlo(b, e, k, trials, rng):
    # each token picks k distinct experts uniformly: the k smallest of e uniform keys
    keys = rng.random((trials, b, e))
    chosen = np.argpartition(keys, k - 1, axis=-1)[..., :k]
    mask = np.zeros((trials, b, e), dtype=bool)
    np.put_along_axis(mask, chosen, True, axis=-1)
    return mask.any(axis=1).sum(axis=1)


@pytest.mark.parametrize("b,e,k", [(1, 8, 2), (4, 8, 2), (16, 8, 2), (8, 128, 8), (32, 128, 8), (16, 256, 8),
                                   (64, 32, 4)])
def test_matches_monte_carlo(b, e, k):
    rng = np.random.default_rng(1234)
    counts = _monte_carlo(b, e, k, 2000, rng)
    se = counts.std(ddof=1) / math.sqrt(len(counts)) + 1e-9
    assert abs(counts.mean() - touched(b, e, k)) < 5 * se + 1e-6


@pytest.mark.parametrize("e,k", [(8, 1), (8, 2), (32, 4), (128, 8), (256, 8), (64, 6)])
def test_lower_bound_and_its_error(e, k):
    b = np.arange(1, 4000, dtype=float)
    exact, lo = touched(b, e, k), touched_lo(b, e, k)
    assert np.all(lo <= exact + 1e-9)
    assert np.max(1 - lo / exact) <= k / (2 * e) + 1e-12


def test_against_h100_measurements():
    if not MEASURED.exists():
        pytest.skip(f"measurements not found at {MEASURED} (CI has ../shared next to the clone)")
    rows = list(csv.DictReader(MEASURED.open()))
    assert rows
    rng = np.random.default_rng(7)
    for r in rows:
        b, e, k = int(r["batch"]), int(r["experts"]), int(r["top_k"])
        # the column was computed with the same formula, rounded to 3 decimals
        assert touched(b, e, k) == pytest.approx(float(r["expected_touched_uniform"]), abs=6e-4)
        # one routed draw per row: it must lie within the Monte-Carlo 0.05%..99.95% range
        mc = _monte_carlo(b, e, k, 2000, rng) if b <= 64 else None
        got = int(r["experts_touched"])
        assert k <= got <= e
        if mc is not None:
            lo, hi = np.quantile(mc, [0.0005, 0.9995])
            assert lo - 1 <= got <= hi + 1, r


def test_weight_bytes_between_active_and_total():
    v = catalog.bind("deepseek-v3", "h100")
    f = lambdify((B, E, K, S["dense_params"], S["expert_params"], S["bytes_per_weight"]), moe.moe_weight_bytes(),
                 "numpy")
    args = (v["n_experts"], v["experts_per_token"], v["dense_params"], v["expert_params"], v["bytes_per_weight"])
    assert f(1, *args) == pytest.approx(v["active_params"] * v["bytes_per_weight"])
    assert f(1e5, *args) == pytest.approx(v["total_params"] * v["bytes_per_weight"])
    assert f(1, *args) < f(16, *args) < f(256, *args)


def _values(name, hw, **kw):
    v = catalog.bind(name, hw, **kw)
    return {S[k]: x for k, x in v.items()}


def _exact_root(v):
    """Bisection on 2 N_a B / F = (N_d + touched(B) N_e) b_w / W (no context)."""
    na, nd, ne = v[S["active_params"]], v[S["dense_params"]], v[S["expert_params"]]
    f, w, bw, e, k = (v[S[n]] for n in ("peak_flop_per_s", "hbm_bandwidth_bytes_per_s", "bytes_per_weight",
                                         "n_experts", "experts_per_token"))

    def g(b):
        return 2 * na * b / f - (nd + touched(b, e, k) * ne) * bw / w

    lo, hi = 1.0, 1e7
    assert g(lo) < 0 < g(hi)
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if g(mid) < 0 else (lo, mid)
    return (lo + hi) / 2


@pytest.mark.parametrize("name,hw,scale", [
    ("deepseek-v3", "h100", 1.0), ("mixtral-8x7b", "h100", 1.0), ("qwen3-235b-a22b", "mi300x", 1.0),
    ("gpt-oss-120b", "b200", 1.0), ("qwen3-235b-a22b", "h100", 0.02), ("deepseek-v3", "h100", 0.01),
    ("mixtral-8x7b", "h100", 0.01),
])
def test_breakeven_closed_forms_vs_root(name, hw, scale):
    v = _values(name, hw)
    v[S["peak_flop_per_s"]] *= scale  # small scales make a low-ridge chip, where not all experts are touched
    exact = _exact_root(v)
    sat = float(moe.moe_breakeven_batch_saturated().subs(v))
    refined = float(moe.moe_breakeven_batch_refined().subs(v))
    bound = float(moe.moe_breakeven_relative_error_bound().subs(v))
    assert exact <= refined * (1 + 1e-9) and refined <= sat * (1 + 1e-9)
    assert (sat - exact) / sat <= bound + 1e-9
    if scale == 1.0:
        assert (sat - exact) / sat < 1e-3  # real chips: every expert is touched at break-even


def test_saturated_is_dense_times_ratio():
    v = _values("mixtral-8x7b", "h100")
    sat = float(moe.moe_breakeven_batch_saturated().subs(v))
    dense = float(moe.dense_breakeven_batch().subs(v))
    assert sat == pytest.approx(dense * v[S["total_params"]] / v[S["active_params"]], rel=1e-9)
    assert dense == pytest.approx(989e12 * 2 / (2 * 3.35e12))


def test_saturated_with_context_solves_the_balance():
    v = _values("deepseek-v3", "h200")
    ctx = 4096.0
    b = float(moe.moe_breakeven_batch_saturated(context=S["context"]).subs({**v, S["context"]: ctx}))
    f, w = v[S["peak_flop_per_s"]], v[S["hbm_bandwidth_bytes_per_s"]]
    compute = 2 * v[S["active_params"]] * b / f
    memory = (v[S["total_params"]] * v[S["bytes_per_weight"]] + b * ctx * v[S["kv_bytes_per_token"]]) / w
    assert compute == pytest.approx(memory, rel=1e-9)
