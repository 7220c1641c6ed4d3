"""Wide expert parallelism: an MoE whose weights fit in no scale-up domain is served by workers that span
domains (attention DP x EP over the scale-out NICs, TP inside a node), as NVIDIA's DeepSeek-R1 H100 runs are;
`evaluate` takes the worker's shape (--attention-dp, --ep, --pp) and reproduces what `optimize` chose."""

from __future__ import annotations

import json

import pytest

from cli_run import run_cli
from inferonomics.optimize.space import WIDE_EP_CHIPS, build_space, needs_wide_ep
from inferonomics.symbolic import catalog

GB = 1e9


def _json(capsys, argv, code=0):
    got, out, err = run_cli(capsys, argv)
    assert got == code, err
    return json.loads(out)


def _bound(model, hw, precision):
    m, h = catalog.model(model), catalog.hardware(hw)
    p = catalog.precision(precision)
    return catalog.bind(m, h, p, catalog.precision(m.kv_precision), catalog.default_activation_precision(p, h))


def test_wide_only_where_the_weights_fit_in_no_domain():
    """By hand: 8 x (80 GB x 0.95 - 2 GB) = 592 GB usable on an HGX H100, 8 x (141 x 0.95 - 2) = 1055.6 GB on an
    H200 (optimize's default reserves: 5% of HBM for activations and 2 GB for the framework). DeepSeek-V3 at fp8
    stores 671 GB: wide on the H100, not on the H200; Qwen3-235B at fp8 (235 GB) never."""
    assert needs_wide_ep(_bound("deepseek-v3", "h100-sxm", "fp8"), 8)
    assert not needs_wide_ep(_bound("deepseek-v3", "h200-sxm", "fp8"), 8)
    assert not needs_wide_ep(_bound("qwen3-235b-a22b", "h100-sxm", "fp8"), 8)
    widest = {hw: max(o.tp * o.attention_dp for o in build_space(model, [hw], ["fp8"]).options())
              for model, hw in (("deepseek-v3", "h100-sxm"), ("deepseek-v3", "h200-sxm"))}
    assert widest == {"h100-sxm": WIDE_EP_CHIPS, "h200-sxm": 8}
    for o in build_space("deepseek-v3", ["h100-sxm"], ["fp8"]).options():
        assert o.tp <= 8 and (o.tp * o.attention_dp) % o.ep == 0 and 256 % o.ep == 0
    assert max(o.ep for o in build_space("deepseek-v3", ["h100-sxm"], ["fp8"]).options()) == 64


def test_deepseek_on_h100_nodes_is_served_across_nodes_and_evaluate_agrees(capsys):
    """It was infeasible ('needs 671 GB of weights; 8 x h100-sxm hold 640 GB'); evaluate at the chosen worker and
    batch gives optimize's step and TTFT, and the worker's weights per chip by hand from the catalog's counts."""
    d = _json(capsys, ["optimize", "--model", "deepseek-v3", "--hardware", "h100-sxm", "--precision", "fp8",
                       "--tpot-slo-ms", "50", "--demand-tokens-per-s", "50000", "--json"])
    assert d["status"] == "optimal" and d["chips_per_replica"] > 8 and d["tp"] <= 8
    shape = [str(x) for x in ("--tp", d["tp"], "--attention-dp", d["attention_dp"], "--ep", d["ep"],
                              "--pp", d["pp"], "--batch", d["batch"])]
    e = _json(capsys, ["evaluate", "--model", "deepseek-v3", "--hardware", "h100-sxm", "--precision", "fp8",
                       *shape, "--json"])
    assert e["step_ms"] == pytest.approx(d["step_ms"], rel=1e-9)
    assert e["ttft_ms"] == pytest.approx(d["ttft_ms"], rel=1e-9)
    assert e["chips_per_replica"] == d["chips_per_replica"] == d["tp"] * d["attention_dp"] * d["pp"]
    v = _bound("deepseek-v3", "h100-sxm", "fp8")
    routed = v["total_params"] - v["dense_params"]  # the experts, split once over the worker
    per_chip = (v["dense_params"] * d["attention_dp"] + routed) * 1.0 / d["chips_per_replica"]
    assert e["memory_per_chip_gb"]["weights"] == pytest.approx(per_chip / GB, rel=1e-9)
    assert e["fits_in_memory"]


@pytest.mark.parametrize("argv", [
    ["--model", "deepseek-v3", "--precision", "fp8", "--tp", "2", "--attention-dp", "8", "--ep", "16",
     "--batch", "256"],
    ["--model", "llama3.1-405b", "--precision", "bf16", "--tp", "8", "--pp", "2", "--batch", "128"],
    ["--model", "qwen3-235b-a22b", "--precision", "fp8", "--tp", "1", "--attention-dp", "4", "--pp", "2",
     "--batch", "64"],
], ids=["wide-ep", "pp", "dp-and-pp"])
def test_a_workers_breakdown_sums_to_its_step_and_its_costs_count_every_chip(capsys, argv):
    base = ["evaluate", "--hardware", "h100-sxm", *argv, "--json"]
    e = _json(capsys, base)
    assert sum(e["breakdown_ms"].values()) == pytest.approx(e["step_ms"], rel=1e-12)
    chips = e["tp"] * e["attention_dp"] * e["pp"]
    assert e["chips_per_replica"] == chips
    power = catalog.hardware("h100-sxm").power_w
    assert e["energy_j_per_token"] == pytest.approx(chips * power * e["step_ms"] / 1e3 / e["resident_batch"],
                                                    rel=1e-12)


def test_pipeline_stages_cost_hand_offs_and_hold_more_sequences(capsys):
    """PP 2 over the same TP: each chip holds half the weights, so more sequences stay resident; the step of
    the same resident batch gains the stage hand-offs in its communication part."""
    one = _json(capsys, ["evaluate", "--model", "llama3.1-70b", "--hardware", "h100-sxm", "--tp", "2",
                         "--batch", "64", "--json"])
    two = _json(capsys, ["evaluate", "--model", "llama3.1-70b", "--hardware", "h100-sxm", "--tp", "2", "--pp", "2",
                         "--batch", "64", "--json"])
    assert two["memory_per_chip_gb"]["weights"] == pytest.approx(one["memory_per_chip_gb"]["weights"] / 2, rel=1e-9)
    assert two["kv_capacity_sequences"] > 2 * one["kv_capacity_sequences"]
    assert two["breakdown_ms"]["communication"] > one["breakdown_ms"]["communication"]


@pytest.mark.parametrize("model, precision, tp, shape", [
    ("deepseek-v3", "fp8", 2, (8, 1, 2)),
    ("deepseek-v3", "fp8", 4, (4, 1, None)),
    ("llama3.1-405b", "bf16", 8, (1, 2, None)),
    ("qwen3-235b-a22b", "fp8", 2, (2, 2, 4)),
], ids=["wide-ep", "wide-default-ep", "pp", "dp-pp-ep"])
def test_the_sweep_of_a_worker_equals_the_serving_model_point_by_point(model, precision, tp, shape):
    """Every sampled point of `sweep --attention-dp/--pp/--ep` equals serving_step.tpot of that worker (the function
    validate scores, pipelined), below and past the resident caps, with evaluate's memory rule per chip."""
    import numpy as np

    from inferonomics.optimize import serving_step as S
    from inferonomics.optimize.serving_eval import memory_per_chip
    from inferonomics.optimize.space import expert_parallel_degree
    from inferonomics.optimize.sweep import parse_range, serving_tiles

    dp, pp, ep = shape
    space = build_space(model, ["h100-sxm"], [precision], tp=[tp])
    plat = space.platforms[0]
    ep = ep or expert_parallel_degree(tp * dp, plat.n_experts)
    batch, context = parse_range("1:4000:+13", "b"), parse_range("512:65536:8", "c")
    rng = np.random.default_rng(7)
    capped = 0
    for tile in serving_tiles(space, None, batch, context, 700.0, 300.0, shape):
        assert (tile.attention_dp, tile.ep, tile.pp, tile.chips) == (dp, ep, pp, tp * dp * pp)
        for _ in range(4):
            i, j = rng.integers(tile.step_s.shape[0]), rng.integers(tile.step_s.shape[1])
            b, c = float(tile.batch[i, 0]), float(tile.context[0, j])
            want = S.tpot(plat.serving, tp, b, 700.0, 300.0, ep=ep, dp=dp, pp=pp, context=c)
            assert tile.step_s[i, j] == pytest.approx(float(want), rel=1e-12)
            mem = memory_per_chip(plat.serving, tp, b, 700.0, 300.0, c, dp=dp, pp=pp)
            assert tile.decoding[i, j] == pytest.approx(mem.resident, rel=1e-12)
            assert tile.memory_bytes[i, j] == pytest.approx((mem.weights + mem.resident * mem.kv_per_seq) / mem.chips,
                                                            rel=1e-12)
            assert bool(tile.fits[i, j]) == mem.fits
            capped += mem.resident < b
    assert capped > 0


def test_the_sweeps_best_worker_is_evaluates(capsys):
    base = ["--model", "deepseek-v3", "--hardware", "h100-sxm", "--precision", "fp8", "--tp", "2",
            "--attention-dp", "8", "--ep", "2"]
    s = _json(capsys, ["sweep", *base, "--batch", "1:2048:+37", "--context", "1024,1536,4096", "--json"])
    best = s["best"]
    assert best["chips_per_replica"] == 16 and best["tokens_per_s_per_chip"] == pytest.approx(
        best["tokens_per_s"] / 16, rel=1e-12)
    e = _json(capsys, ["evaluate", *base, "--batch", str(best["batch"]), "--context", str(best["context"]), "--json"])
    assert e["step_ms"] == pytest.approx(best["step_ms"], rel=1e-12)
    assert e["memory_per_chip_gb"]["weights"] + e["memory_per_chip_gb"]["kv_cache"] == pytest.approx(
        best["memory_gb_per_chip"], rel=1e-9)
