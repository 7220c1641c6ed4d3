"""The derivation documents' worked examples: the essay's example substituted numerically and under the H100's
calibration (the general closed forms at its fitted efficiencies), one modern dense model
and one MoE model from the catalog (ideal model: datasheet rates). The MoE's exact break-even batch is a root
found numerically."""

from __future__ import annotations

import sympy as sp

from inferonomics.symbolic import catalog
from inferonomics.symbolic.document import Example
from inferonomics.symbolic.formulas import get_formula


def _g(x: float, unit: str = "") -> str:
    if x == int(x) and abs(x) < 1e9:
        text = f"{int(x):,}"
    else:
        text = f"{x:,.4g}" if abs(x) < 1e6 else f"{x:.4g}"
    return f"{text} {unit}".strip()




def _essay() -> Example:
    from inferonomics.optimize.essay_numbers import seed_numbers

    n = seed_numbers(deployment=False)
    r = n["refinements"]
    return Example(
        "The essay's example",
        "A 1.6e12-parameter dense model with 8-bit weights on 20 H100s at the essay's round figures "
        "(3e15 FLOP/s, 3e12 B/s), 20-way tensor parallelism, 1000 concurrent users at 10 minutes a day. "
        "The KV and communication rows use illustrative figures (327,680 KV bytes per token, 8 KV heads, "
        "160 layers, 1 microsecond per all-reduce hop) that the essay does not give. At TP 20 the 8 KV heads "
        "are replicated 2.5 times over, which brings the critical context below the 4096-token context.",
        (
            ("compute per token", "", _g(n["compute_ms"], "ms")),
            ("weight reads per token", "", _g(n["memory_ms"], "ms")),
            ("utilization at batch 1", "utilization", f"{n['utilization_at_batch_1']:.2%}"),
            ("utilization at batch 100", "utilization", f"{n['utilization_at_batch_100']:.1%}"),
            ("break-even batch", "break_even_batch", _g(n["break_even_batch"])),
            ("minimum user base (C = 1000)", "min_user_base", _g(n["min_user_base"])),
            ("user base at C = B*", "min_user_base", _g(n["min_user_base_at_break_even"])),
            ("break-even batch at 4096 context, TP 8", "break_even_batch_with_kv",
             _g(r["break_even_batch_with_kv_tp8"])),
            ("critical context, TP 8", "critical_context", _g(r["critical_context_tp8"], "tokens")),
            ("break-even batch at 4096 context, TP 20", "break_even_batch_with_kv",
             "none: beyond the critical context" if r["break_even_batch_with_kv"] is None
             else _g(r["break_even_batch_with_kv"])),
            ("critical context, TP 20", "critical_context", _g(r["critical_context"], "tokens")),
            ("batch-1 latency with TP communication", "latency_floor", _g(r["latency_floor_ms_with_comm"], "ms")),
            ("optimal TP degree", "optimal_tp_degree", _g(r["optimal_tp_degree"])),
        ),
    )


def _essay_calibrated() -> Example:
    """The essay's example beside its calibrated counterpart: the general closed forms (efficiencies and fixed
    costs as symbols) at the H100 calibration's values, as `seed --calibrated` prints them."""
    from inferonomics.optimize.essay_numbers import calibrated_numbers, seed_numbers

    n = seed_numbers(deployment=False)
    c = calibrated_numbers("h100-sxm")
    e = c["values"]
    return Example(
        "The essay's example under the H100's calibration",
        "The same model and round rates, with the general closed forms' efficiencies and fixed costs set from the "
        f"{c['calibration_source']}, fitted on {c['calibration_hardware']} on {c['calibration_date']} (its kernel "
        f"terms mapped onto five values at the essay's 8-bit weights, fp8, {c['backend']} engine, by "
        "inferonomics.optimize.calibrated_forms), as the seed command prints them when asked for its calibrated "
        "numbers. The general "
        "break-even batch is eta_F F b_w / (2 eta_W W); the step adds the fixed costs. The essay's figures, in "
        "parentheses, are the ideal limit: efficiencies 1, fixed costs 0.",
        (
            ("compute efficiency eta_F", "", f"{e['eta_flop']:.4f}"),
            ("weight-stream efficiency eta_W", "", f"{e['eta_bw']:.4f}"),
            ("KV-stream efficiency eta_kv", "", f"{e['eta_kv']:.4f}"),
            ("fixed cost per step", "", _g(round(e["overhead_s"] * 1e6, 1), "microseconds")),
            ("fixed cost per layer", "", _g(round(e["layer_overhead_s"] * 1e6, 2), "microseconds")),
            ("break-even batch, calibrated (ideal)", "break_even_batch",
             f"{_g(round(c['break_even_batch'], 1))} ({_g(n['break_even_batch'])})"),
            ("step at batch 1, calibrated (ideal)", "",
             f"{_g(c['step_ms_at_batch_1'])} ({_g(n['memory_ms'])}) ms"),
            ("utilization at batch 1, calibrated (ideal)", "utilization",
             f"{c['utilization_at_batch_1']:.2%} ({n['utilization_at_batch_1']:.2%})"),
            ("utilization at batch 100, calibrated (ideal)", "utilization",
             f"{c['utilization_at_batch_100']:.1%} ({n['utilization_at_batch_100']:.1%})"),
            ("user base at C = B*, calibrated (ideal)", "min_user_base",
             f"{_g(round(c['min_user_base_at_break_even']))} ({_g(n['min_user_base_at_break_even'])})"),
        ),
    )


def _dense() -> Example:
    v = catalog.bind("llama3.1-70b", "h100-sxm", "bf16")
    v.update(tp=8.0, allreduces_per_layer=2.0, overhead_s=0.0, layer_overhead_s=0.0)
    c = 1024.0
    return Example(
        "A modern dense model: Llama-3.1-70B on H100 SXM, bf16",
        "Catalog figures (datasheet rates, ideal model): "
        f"N = {_g(v['total_params'])} parameters counted from the architecture, "
        f"{_g(v['kv_bytes_per_token'])} KV bytes per token (GQA, {v['n_kv_heads']:.0f} KV heads), "
        f"F = {_g(v['peak_flop_per_s'])} FLOP/s, W = {_g(v['hbm_bandwidth_bytes_per_s'])} B/s, 8-way TP. "
        f"The hop latency alpha = {v['link_latency_s'] * 1e6:g} microseconds in the latency rows is the catalog's "
        "ASSUMPTION (a placeholder, not a published figure), and so are the latency and optimal TP degree "
        "that follow from it. Past TP 8 the 8 KV heads are replicated: at TP 16 the critical context halves.",
        (
            ("break-even batch, weights only", "break_even_batch", _g(get_formula("break_even_batch").evaluate(v))),
            ("break-even batch at 1024 context", "break_even_batch_with_kv",
             _g(get_formula("break_even_batch_with_kv").evaluate(dict(v, context=c)))),
            ("critical context", "critical_context", _g(get_formula("critical_context").evaluate(v), "tokens")),
            ("critical context at TP 16 (KV heads replicated)", "critical_context",
             _g(get_formula("critical_context").evaluate(dict(v, tp=16.0)), "tokens")),
            ("break-even batch at 8192 context", "break_even_batch_with_kv", "none: beyond the critical context"),
            ("batch-1 latency at TP 8 (alpha assumed)", "latency_floor",
             _g(get_formula("latency_floor").evaluate(v) * 1e3, "ms")),
            ("optimal TP degree (alpha assumed)", "optimal_tp_degree",
             _g(get_formula("optimal_tp_degree").evaluate(v))),
        ),
    )


def moe_exact_break_even(v: dict[str, float]) -> float:
    """The MoE break-even batch as the root of its defining equation.

    mpmath's bracketing solver (SymPy already loads mpmath) rather than scipy's brentq: importing
    scipy.optimize would be a sixth of derive's run time for one root.
    """
    import mpmath

    f = get_formula("moe_break_even_batch")
    syms = sorted(f.residual.free_symbols - {f.unknown}, key=str)
    from inferonomics.symbolic.numeric import compile_scalar

    g = compile_scalar([f.unknown, *syms], f.residual, module="mpmath", cse=False)
    args = [v[s.name] if s.name != "tp" else 1.0 for s in syms]
    hi = f.evaluate(v) * 2
    with mpmath.workdps(30):
        return float(mpmath.findroot(lambda b: g(b, *args), (1e-9, hi), solver="anderson"))


def _moe() -> Example:
    v = catalog.bind("deepseek-v3", "h200-sxm", "fp8")
    dense_b = get_formula("break_even_batch").evaluate(v)
    f = get_formula("moe_break_even_batch")
    sat = f.evaluate(v)
    exact = moe_exact_break_even(v)
    if f.error_bound is None:
        raise ValueError("moe_break_even_batch lost its error bound")
    bound = float(f.error_bound.evalf(20, subs={sp.Symbol(k, positive=True): x for k, x in v.items()}))
    ratio = v["total_params"] / v["active_params"]
    return Example(
        "A mixture-of-experts model: DeepSeek-V3 on H200, fp8",
        f"{_g(v['total_params'])} parameters of which {_g(v['active_params'])} are active per token; "
        f"{v['n_experts']:.0f} routed experts, {v['experts_per_token']:.0f} per token; uniform routing. "
        "MoE raises the break-even batch roughly by total/active; the rows say by how much exactly. At a batch "
        "this large every expert is touched, so the exact root equals the saturated form and the ratio to the "
        "dense break-even batch is exactly total/active.",
        (
            ("dense break-even batch F b_w/(2W)", "break_even_batch", _g(dense_b)),
            ("total / active parameters", "", _g(ratio)),
            ("MoE break-even, all experts touched", "moe_break_even_batch", _g(sat)),
            ("MoE break-even, exact root (brentq)", "", _g(exact)),
            ("exact / dense", "", _g(exact / dense_b)),
            ("stated bound on the saturated form's error", "moe_break_even_batch", f"{bound:.2e}"),
            ("actual error of the saturated form", "",
             "below rounding" if abs(sat - exact) <= 1e-12 * sat else f"{(sat - exact) / sat:.2e}"),
        ),
    )


def examples() -> tuple[Example, ...]:
    return (_essay(), _essay_calibrated(), _dense(), _moe())
