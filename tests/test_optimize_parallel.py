"""The optimizer's parallel shapes (TP x PP x attention DP x EP, issue 14): the deployment a real engine runs where
one scale-up domain cannot hold the model, memory per chip by hand, the pipeline's resident cap by hand, and bad
shapes refused. Exactness against the brute-force oracle: tests/test_optimize_oracle.py."""

from __future__ import annotations

import json

import pytest

from cli_run import run_cli
from inferonomics.optimize.constraints import Demand, Workload
from inferonomics.optimize.solver import Problem, solve
from inferonomics.optimize.space import build_space

Q405 = ["optimize", "--model", "llama3.1-405b", "--hardware", "h100-sxm", "--precision", "bf16",
        "--tpot-slo-ms", "60", "--demand-tokens-per-s", "1000"]


def test_llama_405b_bf16_on_h100_nodes_runs_tp8_pp2(capsys):
    """812 GB of bf16 weights do not fit 8 x 80 GB: TP alone is infeasible (the answer before PP), and the
    optimizer now finds the deployment engines run, TP 8 x PP 2 on 16 chips."""
    code, out, err = run_cli(capsys, [*Q405, "--pp", "1", "--json"])
    assert code == 3 and "needs 812 GB of weights" in err
    d = json.loads(out)
    assert d["status"] == "infeasible" and d["mode"] == "agg" and d["pp"] is None
    code, out, err = run_cli(capsys, [*Q405, "--json"])
    assert code == 0, err
    d = json.loads(out)
    assert (d["tp"], d["pp"], d["attention_dp"], d["ep"], d["mode"]) == (8, 2, 1, 1, "agg")
    assert d["chips_per_replica"] == 16 and d["chips"] == 16 * d["replicas"]
    assert d["step_ms"] <= 60


def test_pipelined_memory_per_chip_by_hand():
    """Weights / (tp pp) plus each sequence's KV at isl + osl spread over the KV heads' chips and the stages."""
    space = build_space("llama3.1-405b", ["h100-sxm"], ["bf16"], tp=[8], pp=[2])
    res = solve(Problem(space, Workload(1024, 1024), tpot_slo_s=0.06, demand=Demand(500.0), objective="chips"))
    assert res.optimal
    p, v = res.point, space.platforms[0].values
    # 126 layers x 8 KV heads x 128 dims x (K and V) x 2 bytes per token, over min(8 chips, 8 KV heads)
    assert v["kv_bytes_per_token"] == 126 * 8 * 128 * 2 * 2
    by_hand = (v["total_params"] * 2 / 8 + p.batch * 2048 * v["kv_bytes_per_token"] / 8) / 2
    assert p.memory_bytes == pytest.approx(by_hand, rel=1e-12)
    assert p.memory_bytes <= p.usable_bytes


def test_pipelined_resident_cap_by_hand():
    """A pp-stage worker keeps resident what tp x pp chips hold: (phi M t pp - W) / kv_seq."""
    from inferonomics.optimize import serving_step
    from inferonomics.optimize.calibration.serving_model import resident_memory

    spec = serving_step.spec_for("llama3.1-70b", "h100-sxm", "bf16")
    env = spec.env
    w, kv = resident_memory(spec.arch, 1024.0, 512.0, 2.0, 1.0, spec.precision, env)
    for pp in (1, 2, 4):
        by_hand = (env["kv_memory_fraction"] * env["hbm_capacity_bytes"] * 2 * pp - w) / kv
        got = serving_step.resident_cap(spec, 2, 1024.0, 512.0, pp=pp)
        assert got == pytest.approx(max(1.0, by_hand), rel=1e-12)
    # TP 2 x PP 4 and TP 8 are both 8 chips holding the same weights and (unreplicated: 8 KV heads) KV
    assert serving_step.resident_cap(spec, 2, 1024.0, 512.0, pp=4) == pytest.approx(
        serving_step.resident_cap(spec, 8, 1024.0, 512.0), rel=1e-12)


def test_pipeline_stages_cost_hand_offs_at_batch_one():
    """At one sequence the micro-batch is the batch: PP adds only its pp - 1 stage hand-offs to TPOT."""
    from inferonomics.optimize import serving_step
    from inferonomics.optimize.calibration.pipeline import pipeline_hop_s

    spec = serving_step.spec_for("llama3.1-70b", "h100-sxm", "bf16")
    t1 = float(serving_step.tpot(spec, 4, 1.0, 1024.0, 512.0))
    for pp in (2, 4):
        tp_pp = float(serving_step.tpot(spec, 4, 1.0, 1024.0, 512.0, pp=pp))
        hop = float(pipeline_hop_s(spec.arch, 1.0, spec.env))
        assert hop > 0 and tp_pp == pytest.approx(t1 + (pp - 1) * hop, rel=1e-12)


def test_moe_options_cover_attention_dp_and_ep_shapes():
    """Default MoE candidates: attention DP and EP powers of two within the scale-up domain, every shape valid
    by parallel.check_shape (moe_tp x moe_ep = tp x dp, EP dividing the experts)."""
    from inferonomics.optimize.calibration.parallel import check_shape
    from inferonomics.symbolic import catalog

    a = catalog.model("mixtral-8x7b").architecture
    space = build_space("mixtral-8x7b", ["h100-sxm"], ["bf16"])
    shapes = {(o.tp, o.attention_dp, o.ep, o.pp) for o in space.options()}
    assert (1, 8, 8, 1) in shapes and (8, 1, 1, 1) in shapes and (2, 2, 4, 2) in shapes
    for tp, dp, ep, pp in shapes:
        assert tp * dp <= 8 and pp in (1, 2, 4)
        check_shape(a, tp, dp, ep, tp * dp / ep)
    dense = build_space("llama3.1-8b", ["h100-sxm"], ["bf16"])
    assert {(o.attention_dp, o.ep) for o in dense.options()} == {(1, 1)}
    ideal = build_space("llama3.1-8b", ["h100-sxm"], ["bf16"], ideal=True)
    assert {o.pp for o in ideal.options()} == {1}  # the closed-form step model has no pipeline


OPT_CAL = ["optimize", "--hardware", "h100-sxm", "--tpot-slo-ms", "50", "--demand-tokens-per-s", "100"]


@pytest.mark.parametrize("argv, needle", [
    (["--model", "llama3.1-8b", "--pp", "3"], "divisors of the model's 32 layers"),
    (["--model", "mixtral-8x7b", "--ep", "16"], "divisors of the model's 8 experts"),
    (["--model", "mixtral-8x7b", "--ep", "3"], "divisors of the model's 8 experts"),
    (["--model", "llama3.1-8b", "--attention-dp", "2"], "1 for a dense model"),
    (["--model", "llama3.1-8b", "--ep", "2"], "1 for a dense model"),
    (["--model", "llama3.1-8b", "--pp", "2", "--ideal"], "calibrated serving model"),
    (["--model", "llama3.1-8b", "--pp", "0"], "--pp"),
], ids=["pp-not-dividing-layers", "ep-above-experts", "ep-not-dividing", "dp-dense", "ep-dense", "pp-ideal", "pp-0"])
def test_bad_parallel_shapes_are_one_line_exit_2(argv, needle, capsys):
    code, out, err = run_cli(capsys, [*OPT_CAL, *argv])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err
