"""Closed forms under calibrated efficiencies (issue 13, item 3).

Three checks per general form: it solves its defining equation in the efficiency-carrying step model
(``model.t_step``, symbolically), it reduces to the ideal form (written out here by hand) at efficiencies 1 and
fixed costs 0, and, calibrated, its break-even batch lands where the full calibrated serving model's decode
step turns compute-bound (found numerically, by brentq).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import brentq
from sympy import Max, Min, sqrt

from inferonomics.optimize.calibrated_forms import calibrate, calibrated_values
from inferonomics.symbolic import economics, model
from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.efficiency import DEFAULTS
from inferonomics.symbolic.formulas import GENERAL_FORMULAS, get_formula

q = sp.Symbol("q", positive=True)  # t <= h_kv: h_kv = t (1 + q); t > h_kv: h_kv = t/(1 + q)
REGIMES = {"heads not replicated": {s.h_kv: s.t * (1 + q)}, "heads replicated": {s.h_kv: s.t / (1 + q)}}


def _dense_step(policy="step", comm=False, **subs):
    """model.t_step with efficiencies, for a dense model (N_a = N), its Max arms and its fixed part."""
    step = model.t_step(policy, comm=comm).xreplace({s.Na: s.N, **{s.by_name(k): v for k, v in subs.items()}})
    (roof,) = [a for a in sp.Add.make_args(step) if isinstance(a, Max)]
    compute, memory = sorted(roof.args, key=lambda a: not a.has(s.F))
    return compute, memory, step - roof


def _zero(expr) -> bool:
    return sp.simplify(sp.together(expr)) == 0


# -- each general form solves its defining equation in the efficiency-carrying step model ----------------------
def test_break_even_batch_balances_the_step_models_two_arms():
    g = get_formula("break_even_batch", efficiencies=True)
    compute, memory, fixed = _dense_step(context=0)  # weights only
    assert fixed == s.L * s.t_layer + s.t_o  # the fixed costs sit outside the roofline: they drop out
    assert _zero((compute - memory).xreplace({s.B: g.expr}))


@pytest.mark.parametrize("regime", REGIMES)
def test_break_even_with_kv_and_critical_context_solve_the_step_model(regime):
    sub = REGIMES[regime]
    compute, memory, _ = _dense_step(d_attn=0)  # attention FLOPs neglected (the record says so)
    g = get_formula("break_even_batch_with_kv", efficiencies=True)
    assert _zero((compute - memory).xreplace({s.B: g.expr.xreplace(sub)}).xreplace(sub))
    c = get_formula("critical_context", efficiencies=True)
    growth = sp.diff(compute - memory, s.B).xreplace(sub)  # per sequence: compute minus memory
    assert _zero(growth.xreplace({s.ctx: c.expr.xreplace(sub)}))


@pytest.mark.parametrize("regime", REGIMES)
def test_utilization_is_useful_flops_over_the_step_in_each_regime(regime):
    sub = REGIMES[regime]
    compute, memory, fixed = _dense_step(d_attn=0)
    g = get_formula("utilization", efficiencies=True).expr.xreplace(sub)
    (arm_c, arm_m) = sorted(g.args, key=lambda a: a.has(s.kv))  # Min's compute arm has no KV term
    useful = economics.utilization(S_STEP := sp.Symbol("step"), flops=model.matmul_flops()).xreplace({s.Na: s.N})
    assert _zero(arm_c - useful.xreplace({S_STEP: compute + fixed}).xreplace(sub))
    assert _zero(arm_m - useful.xreplace({S_STEP: memory + fixed}).xreplace(sub))


def test_latency_floor_is_the_step_at_batch_one():
    g = get_formula("latency_floor", efficiencies=True)
    # batch 1, weights only, the all-reduce latency-bound (a tiny message: b_a -> 0)
    step = model.t_step("step", comm=True).xreplace({s.Na: s.N, s.B: 1, s.ctx: 0, s.b_a: 0, s.d_attn: 0})
    assert _zero(step - g.expr)


def test_tp_forms_solve_the_batch_one_step():
    read = model.t_memory(model.weight_bytes())
    latency = model.t_comm(1).xreplace({s.b_a: 0})
    cross = get_formula("tp_comm_crossover", efficiencies=True)
    assert _zero((read - latency).xreplace({s.t: cross.expr}))
    opt = get_formula("optimal_tp_degree", efficiencies=True)
    assert _zero(sp.diff(read + latency, s.t).xreplace({s.t: opt.expr}))


def test_api_crossover_prices_the_memory_bound_step_with_its_fixed_costs():
    _, memory, fixed = _dense_step(context=0)
    g = get_formula("api_price_crossover", efficiencies=True)
    cost = economics.cost_per_million_tokens(memory + fixed)
    assert _zero((cost - s.api).xreplace({s.B: g.expr}))


def test_inverse_forms_solve_the_break_even_balance():
    compute, memory, _ = _dense_step(context=0)
    w = get_formula("bandwidth_for_break_even_batch", efficiencies=True)
    assert _zero((compute - memory).xreplace({s.W: w.expr}))
    bstar = get_formula("break_even_batch", efficiencies=True).expr
    u = get_formula("min_user_base_vs_balance", efficiencies=True)
    assert _zero(u.expr - get_formula("min_user_base").expr.xreplace({s.C: bstar.xreplace({s.F: s.r_fb * s.W})}))
    ratio = get_formula("single_user_cost_ratio", efficiencies=True)
    # cost per token alone (batch 1, memory-bound) over cost per token at B* (compute-bound), from the step model
    alone = economics.cost_per_token(memory).xreplace({s.B: 1})
    busy = economics.cost_per_token(compute).xreplace({s.B: bstar})
    assert _zero(ratio.expr - alone / busy)


@pytest.mark.parametrize("name", [n for n in GENERAL_FORMULAS if n != "utilization"])  # utilization: per regime
@pytest.mark.parametrize("regime", REGIMES)
def test_every_general_form_solves_its_own_residual(name, regime):
    g = get_formula(name, efficiencies=True)
    sub = REGIMES[regime]
    assert _zero(g.residual.xreplace({g.unknown: g.expr}).xreplace(sub))


# -- ... and reduces to the ideal form at efficiencies 1, fixed costs 0 ----------------------------------------
_r = Max(1, s.t / s.h_kv)
IDEAL_BY_HAND = {  # the essay's forms, written out again here
    "break_even_batch": s.F * s.b_w / (2 * s.W),
    "break_even_batch_with_kv": s.N * s.b_w * s.F / (2 * s.N * s.W - s.ctx * s.kv * _r * s.F),
    "critical_context": 2 * s.N * s.W / (s.kv * s.F * _r),
    "utilization": Min(1, 2 * s.N * s.B * s.W / (s.F * (s.N * s.b_w + s.B * s.ctx * s.kv * _r))),
    "latency_floor": Max(2 * s.N / (s.t * s.F), s.N * s.b_w / (s.t * s.W)) + 2 * s.L * s.n_ar * (s.t - 1) * s.alpha,
    "optimal_tp_degree": sqrt(s.N * s.b_w / (2 * s.W * s.L * s.n_ar * s.alpha)),
    "tp_comm_crossover": sp.Rational(1, 2) + sqrt(sp.Rational(1, 4) + s.N * s.b_w / (2 * s.L * s.n_ar * s.alpha * s.W)),
    "api_price_crossover": 10**6 * s.price * s.N * s.b_w / (3600 * s.W * s.api),
    "bandwidth_for_break_even_batch": s.F * s.b_w / (2 * s.B),
    "min_user_base_vs_balance": 1440 * s.rho_tr * s.r_fb * s.b_w / (2 * s.m),
    "single_user_cost_ratio": s.F * s.b_w / (2 * s.W),
    "api_price_crossover_users": 1440 * s.rho_tr * 10**6 * s.price * s.N * s.b_w / (3600 * s.W * s.api * s.m),
}


def test_every_general_form_has_a_hand_written_ideal():
    assert set(IDEAL_BY_HAND) == set(GENERAL_FORMULAS)


@pytest.mark.parametrize("name", sorted(IDEAL_BY_HAND))
def test_general_form_reduces_to_the_ideal_one(name):
    g = get_formula(name, efficiencies=True)
    assert _zero(g.expr.xreplace(DEFAULTS) - IDEAL_BY_HAND[name])
    # today's record is that limit too (the latency floor's ideal record keeps its fixed costs as arguments)
    assert _zero(get_formula(name).expr.xreplace(DEFAULTS) - IDEAL_BY_HAND[name])
    assert set(g.defaults) <= set(DEFAULTS) and all(a in g.args for a in get_formula(name).args)


def test_general_form_binds_with_its_defaults():
    g = get_formula("break_even_batch", efficiencies=True)
    v = {"peak_flop_per_s": 989e12, "bytes_per_weight": 2.0, "hbm_bandwidth_bytes_per_s": 3.35e12}
    assert g.evaluate(v) == pytest.approx(989e12 * 2 / (2 * 3.35e12), rel=1e-12)
    assert g.evaluate({**v, "eta_flop": 0.5}) == pytest.approx(989e12 / 3.35e12 / 2, rel=1e-12)


# -- calibrated: the closed form's break-even batch against the full calibrated serving model -------------------
HUGE = 1e30


def _weight_gemms(arch, batch, tp, precision, env):
    """Seconds of a decode step's weight GEMMs (attention projections, MLP, LM head) in the calibrated serving
    model: calibration.serving.step_time's parts, no prompt tokens."""
    from inferonomics.optimize.calibration import serving

    p = serving.step_time(arch, np.asarray(float(batch)), 1024.0, 1024.0, float(tp), 1.0, 1.0, float(tp),
                          precision, "trtllm", env, prefill_tokens=0.0, parts=True)
    return float(p["attention_gemms"] + p["mlp"] + p["lm_head"])


def compute_bound_batch(model_name, hardware, precision, tp):
    """The batch at which the full calibrated serving model's decode step TURNS COMPUTE-BOUND: where the FLOP time
    of its weight GEMMs (attention projections, MLP, LM head, at their shapes on one of ``tp`` chips) reaches their
    memory-stream time (weights plus activation reads and output writes), each GEMM's two roofline arms taken
    from the calibrated kernel model with its fixed time and k-loop latency removed. The arms are read off the
    model itself: the stream arm at an unbounded FLOP rate, the FLOP arm at an unbounded bandwidth."""
    from inferonomics.optimize.calibration.calfile import calibration_for
    from inferonomics.optimize.calibration.predict import hardware_env
    from inferonomics.symbolic import catalog

    arch = catalog.resolve_model(model_name).model.architecture
    env = {**hardware_env(hardware), **calibration_for(hardware)[0].values}
    env.update(kernel_overhead_s=0.0, kernel_overhead_fp8_s=0.0, kloop_rate_bytes_per_s=HUGE,
               kloop_rate_fp4_bytes_per_s=HUGE, kloop_rate_fp8_block_bytes_per_s=HUGE)
    flops_only = dict(env, hbm_bandwidth_bytes_per_s=HUGE)
    stream_only = dict(env, peak_bf16=HUGE, peak_fp8=HUGE, peak_fp4=HUGE)

    def gap(b):
        return (_weight_gemms(arch, b, tp, precision, flops_only)
                - _weight_gemms(arch, b, tp, precision, stream_only))

    assert gap(1.0) < 0 < gap(1e5)  # memory-bound at batch 1, compute-bound far out
    return brentq(gap, 1.0, 1e5, xtol=1e-6)


PAIRS = [("llama3.1-8b", "h100-sxm", "bf16", 1), ("llama3.1-70b", "h100-sxm", "fp8", 2),
         ("llama3.1-8b", "b200", "bf16", 1), ("llama3.1-70b", "b200", "fp8", 2)]


@pytest.mark.parametrize("model_name, hardware, precision, tp", PAIRS)
def test_calibrated_break_even_batch_is_where_the_serving_step_turns_compute_bound(model_name, hardware, precision,
                                                                                     tp):
    from inferonomics.symbolic import catalog

    cal = calibrated_values(hardware, precision)
    form = calibrate(get_formula("break_even_batch"), cal)
    h = catalog.hardware(hardware)
    closed = form.evaluate({"peak_flop_per_s": float(h.peak_flop_per_s[precision]),
                            "bytes_per_weight": {"bf16": 2.0, "fp8": 1.0}[precision],
                            "hbm_bandwidth_bytes_per_s": float(h.hbm_bandwidth_bytes_per_s)})
    numeric = compute_bound_batch(model_name, hardware, precision, tp)
    assert closed == pytest.approx(numeric, rel=0.10)


def test_calibrated_values_are_physical_and_say_their_source():
    cal = calibrated_values("h200-sxm", "fp8", "vllm")
    assert all(0 < cal.values[k] <= 1 for k in ("eta_flop", "eta_bw", "eta_kv"))
    assert 0 < cal.values["layer_overhead_s"] < cal.values["overhead_s"] < 0.01  # microseconds vs a millisecond
    assert "h100-sxm" in cal.source and "sibling" in cal.source  # carried from the H100 fit


# -- export --calibrated ---------------------------------------------------------------------------------------
def _export(capsys, *argv):
    from cli_run import run_cli

    return run_cli(capsys, ["export", *argv])


@pytest.mark.parametrize("fmt", ["latex", "python", "numpy", "c", "javascript", "json"])
def test_export_calibrated_says_which_calibration_in_every_language(capsys, fmt):
    code, out, err = _export(capsys, "--formula", "break_even_batch", "--calibrated", "--hardware", "h200-sxm",
                             "--format", fmt)
    assert code == 0, err
    assert "calibrated for h200-sxm at bf16 (trtllm) from the h100-sxm calibration" in out  # a sibling's fit
    # the efficiencies are substituted: they appear only in the sentence naming the calibration, not as arguments
    assert fmt == "json" or all("calibrat" in line for line in out.splitlines() if "eta_flop" in line)
    if fmt == "latex":
        assert r"\paragraph{Calibration.}" in out
    if fmt == "json":
        import json

        doc = json.loads(out)
        assert set(doc["calibration"]["values"]) == set(DEFAULTS_NAMES)
        assert [a["name"] for a in doc["args"]] == ["peak_flop_per_s", "bytes_per_weight", "hbm_bandwidth_bytes_per_s"]


DEFAULTS_NAMES = [sym.name for sym in DEFAULTS]


def test_exported_calibrated_python_computes_the_calibrated_break_even_batch(capsys):
    code, out, _ = _export(capsys, "--formula", "break_even_batch", "--calibrated", "--hardware", "b200",
                           "--precision", "fp8", "--backend", "vllm", "--format", "python")
    assert code == 0
    ns: dict = {}
    exec(compile(out, "break_even_batch.py", "exec"), ns)  # noqa: S102 - our own generated file
    v = calibrated_values("b200", "fp8", "vllm").values
    # by hand: eta_F F b_w / (2 eta_W W) at the B200's fp8 peak and bandwidth
    assert ns["break_even_batch"](4.5e15, 1.0, 8e12) == pytest.approx(v["eta_flop"] * 4.5e15 / (2 * v["eta_bw"] * 8e12),
                                                                     rel=1e-12)


def test_exported_calibrated_latency_floor_has_its_fixed_costs_substituted(capsys):
    code, out, _ = _export(capsys, "--formula", "latency_floor", "--calibrated", "--format", "python")
    assert code == 0
    assert "overhead_s" not in out.split("def latency_floor(")[1].split(")")[0]  # no longer arguments
    ns: dict = {}
    exec(compile(out, "latency_floor.py", "exec"), ns)  # noqa: S102
    v = calibrated_values("h100-sxm").values
    n, bw, w, f = 8e9, 2.0, 3.35e12, 989e12
    by_hand = max(2 * n / (f * v["eta_flop"]), n * bw / (w * v["eta_bw"])) + 32 * v["layer_overhead_s"] + v["overhead_s"]
    assert ns["latency_floor"](n, bw, w, f, 1.0, 32.0, 2.0, 1e-6) == pytest.approx(by_hand, rel=1e-12)


def test_calibrated_json_loads_back(capsys, tmp_path):
    from inferonomics.symbolic.export import load_formula

    target = tmp_path / "b.json"
    code, _, err = _export(capsys, "--formula", "critical_context", "--calibrated", "--format", "json", "-o", str(target))
    assert code == 0, err
    loaded = load_formula(target)
    assert {a.name for a in loaded.args} == {"total_params", "hbm_bandwidth_bytes_per_s", "kv_bytes_per_token",
                                             "peak_flop_per_s", "tp", "n_kv_heads"}


@pytest.mark.parametrize("argv, word", [
    (["--formula", "min_user_base", "--calibrated"], "min_user_base"),  # no step time, no efficiencies
    (["--formula", "break_even_batch", "--calibrated", "--hardware", "h99"], "h99"),
    (["--formula", "break_even_batch", "--hardware", "b200"], "--calibrated"),
    (["--all", "--calibrated"], "--all"),
    (["--formula", "break_even_batch", "--calibrated", "--precision", "fp2"], "fp2"),
    (["--formula", "break_even_batch", "--calibrated", "--backend", "tgi"], "tgi"),
    (["--formula", "no_such_formula", "--calibrated"], "no_such_formula"),
])
def test_bad_calibrated_flags_exit_2_with_one_line(capsys, argv, word):
    code, out, err = _export(capsys, *argv, "--format", "c")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and word in err
