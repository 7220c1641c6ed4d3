"""Pipeline parallelism's closed forms: each satisfies its defining equation, reduces to the one-stage forms at
n_pp = 1, and agrees with the serving model's pipelined composition (calibration.serving._pipelined) in its
ideal limit; the stages to fit are the fewest whole stages, by brute force."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import sympy as sp

from inferonomics.symbolic import catalog
from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.formulas import get_formula

PP = ("pp_token_time", "pp_throughput_gain", "pp_break_even_batch", "pp_stages_to_fit")


def _stack(batch):
    """The essay's weights-only step of the whole stack on t chips, written out by hand."""
    return sp.Max(2 * s.N * batch / (s.t * s.F), s.N * s.b_w / (s.t * s.W))


def test_token_time_satisfies_its_definition_symbolically():
    f = get_formula("pp_token_time")
    hop = (sp.sqrt(s.alpha) + sp.sqrt(s.B * s.d * s.b_a / (2 * s.pp * s.beta))) ** 2
    assert sp.simplify(f.expr - (_stack(s.B / s.pp) + (s.pp - 1) * hop)) == 0


def test_break_even_batch_turns_the_micro_batch_compute_bound():
    f = get_formula("pp_break_even_batch")
    micro = f.expr / s.pp
    assert sp.simplify(2 * s.N * micro / (s.t * s.F) - s.N * s.b_w / (s.t * s.W)) == 0


def test_gain_times_pipelined_time_is_the_one_stage_time():
    g, tau = get_formula("pp_throughput_gain"), get_formula("pp_token_time")
    assert sp.simplify(g.expr * tau.expr - _stack(s.B)) == 0


def test_one_stage_reduces_to_the_known_forms():
    tau = get_formula("pp_token_time").expr.subs(s.pp, 1)
    assert sp.simplify(tau - _stack(s.B)) == 0  # the essay's step on t chips
    assert get_formula("pp_throughput_gain").expr.subs(s.pp, 1) == 1
    assert sp.simplify(get_formula("pp_break_even_batch").expr.subs(s.pp, 1)
                       - get_formula("break_even_batch").expr) == 0
    fit = get_formula("pp_stages_to_fit").expr
    assert sp.simplify(fit.subs(s.t, 1).args[0] - get_formula("chips_to_hold_model").expr) == 0


def test_gain_tends_to_the_stage_count_when_compute_bound_and_hand_offs_vanish():
    g = get_formula("pp_throughput_gain")
    v = {"total_params": 7e10, "peak_flop_per_s": 1e15, "hbm_bandwidth_bytes_per_s": 3e12, "bytes_per_weight": 2.0,
         "tp": 8.0, "d_model": 8192.0, "bytes_per_activation": 2.0, "link_latency_s": 1e-15,
         "link_bandwidth_bytes_per_s": 1e30}
    for pp in (2.0, 4.0):
        bstar = 1e15 * 2.0 / (2 * 3e12)
        assert g.evaluate(dict(v, pp=pp, batch=pp * bstar * 3)) == pytest.approx(pp, rel=1e-9)
        assert g.evaluate(dict(v, pp=pp, batch=bstar / 2)) == pytest.approx(1.0, rel=1e-9)  # memory-bound: no gain


def test_stages_to_fit_is_the_fewest_whole_stages_by_brute_force():
    f = get_formula("pp_stages_to_fit")
    rng = random.Random(3)
    for _ in range(200):
        v = {"total_params": math.exp(rng.uniform(math.log(1e9), math.log(2e12))), "bytes_per_weight": rng.choice(
            (0.5, 1.0, 2.0)), "tp": float(rng.choice((1, 2, 4, 8))), "hbm_capacity_bytes": rng.choice((80e9, 141e9, 192e9))}
        need = v["total_params"] * v["bytes_per_weight"]
        brute = next(p for p in range(1, 10_000) if p * v["tp"] * v["hbm_capacity_bytes"] >= need)
        assert f.evaluate(v) == brute


def test_llama_405b_bf16_on_nodes_of_eight_h100_needs_two_stages():
    v = catalog.bind("llama3.1-405b", "h100-sxm", "bf16")  # 811.7 GB of weights, 8 x 80 GB per node
    assert get_formula("pp_stages_to_fit").evaluate(dict(v, tp=8.0)) == 2
    assert get_formula("pp_stages_to_fit").evaluate(dict(v, tp=8.0, bytes_per_weight=1.0)) == 1  # fp8 fits one


@pytest.mark.parametrize("pp", [1.0, 2.0, 4.0])
@pytest.mark.parametrize("batch", [4.0, 64.0, 1024.0])  # at least one sequence per micro-batch, as _pipelined
def test_agrees_with_the_serving_models_pipelined_composition_in_the_ideal_limit(pp, batch):
    """_pipelined with the stack at the essay's step (its ideal limit) and the serving model's own two-chip
    all-to-all at fixed time 0 and link efficiency 1: the closed form's time, to rounding."""
    from inferonomics.optimize.calibration.calfile import calibration_for
    from inferonomics.optimize.calibration.predict import hardware_env
    from inferonomics.optimize.calibration.serving import _pipelined

    arch = catalog.model("llama3.1-405b").architecture
    v = catalog.bind("llama3.1-405b", "h100-sxm", "bf16")
    env = {**hardware_env("h100-sxm"), **calibration_for("h100-sxm")[0].values, "collective_base_s": 0.0,
           "eta_link": 1.0}
    N, F, W, bw, tp = v["total_params"], v["peak_flop_per_s"], v["hbm_bandwidth_bytes_per_s"], 2.0, 8.0

    def ideal_stack(a, b, isl, osl, t, dp, ep, mtp, prec, backend, env_, **kw):
        return np.maximum(2 * N * b / (t * F), N * bw / (t * W))

    shape = tuple(np.array([x]) for x in (tp, 1.0, 1.0, tp))
    got = _pipelined(ideal_stack, arch, np.array([batch]), np.array([1024.0]), np.array([1024.0]), shape,
                     np.array([pp]), "bf16", "trtllm", env)[0]
    # the composition runs the micro-batches of the sequences the worker keeps resident (its KV cache over all
    # tp x pp chips; tested by hand in test_optimize_parallel): the closed form is evaluated at that batch
    from inferonomics.optimize.calibration.pipeline import stage_env
    from inferonomics.optimize.calibration.serving_model import resident_batch
    resident = float(resident_batch(arch, np.array([batch]), np.array([1024.0]), np.array([1024.0]), tp, 1.0, "bf16",
                                    stage_env(env, pp), None)[0]) if pp > 1 else batch
    closed = get_formula("pp_token_time").evaluate({
        "total_params": N, "batch": resident, "pp": pp, "tp": tp, "peak_flop_per_s": F, "hbm_bandwidth_bytes_per_s": W,
        "bytes_per_weight": bw, "link_latency_s": env["link_latency_s"], "d_model": float(arch.d_model),
        "bytes_per_activation": 2.0, "link_bandwidth_bytes_per_s": env["link_bandwidth_bytes_per_s"]})
    assert got == pytest.approx(closed, rel=1e-12)
    if pp > 1:  # the hand-offs are in it: the one-stage time at B/n_pp falls short of it
        assert got > float(ideal_stack(arch, resident / pp, 0, 0, tp, 1, 1, tp, "", "", env)) * (1 + 1e-9)


@pytest.mark.parametrize("name", PP)
@pytest.mark.parametrize("fmt", ["python", "numpy", "c", "javascript", "json", "latex"])
def test_export_each_form_in_every_language(name, fmt, tmp_path, capsys):
    from cli_run import run_cli

    code, out, err = run_cli(capsys, ["export", "--formula", name, "--format", fmt, "-o", str(tmp_path / "f")])
    assert code == 0, err
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    assert name in text and len(text) > 200
