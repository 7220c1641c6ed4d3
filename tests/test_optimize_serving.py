"""The optimizer's calibrated TPOT/TTFT are validate's serving predictions (so the two cannot drift apart),
and the solver's batch limit on the calibrated path is the largest feasible integer batch."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from inferonomics.optimize import serving_step
from inferonomics.optimize.calibration import load_calibration
from inferonomics.optimize.constraints import Demand, Workload
from inferonomics.optimize.solver import Problem, evaluate_option, make_point, solve
from inferonomics.optimize.space import build_space

SERVING = Path("/work/shared/measurements/nvidia-silicon/serving_e2e.csv")
NAMES = {"meta-llama/Llama-3.1-70B": "llama3.1-70b", "meta-llama/Llama-3.1-8B": "llama3.1-8b",
         "Qwen/Qwen3-32B": "qwen3-32b"}


def _rows():
    from inferonomics.optimize.calibration.readers import _read_serving

    if not SERVING.exists():
        pytest.skip("NVIDIA serving measurements not present")
    return _read_serving(SERVING)


@pytest.mark.parametrize("kind", ["serving_tpot", "serving_ttft"])
def test_calibrated_equals_validate_prediction(kind):
    from inferonomics.optimize.calibration.predict import hardware_env, predict_table

    cal = load_calibration()
    table = next(t for t in _rows() if t.kind == kind)
    r = table.rows
    pred = predict_table(table, {**hardware_env(table.hardware), **cal.values})
    picked = 0
    for i in range(len(r)):
        name = NAMES.get(str(r["model_path"][i]).replace("-Instruct", "").replace("-FP8", ""))
        if r["mode"][i] != "agg" or name is None or i % 37:
            continue
        prec = "fp8" if r["precision"][i] == "fp8" else "bf16"
        b = r["batch_size"][i] if np.isfinite(r["batch_size"][i]) else r["silicon_concurrency"][i]
        tp = r["tp_size"][i] if np.isfinite(r["tp_size"][i]) and r["tp_size"][i] > 0 else 1.0
        fn = serving_step.calibrated_tpot_s if kind == "serving_tpot" else serving_step.calibrated_ttft_s
        ours = fn(name, table.hardware, prec, tp, b, float(r["isl"][i]), float(r["osl"][i]), str(r["backend"][i]), cal)
        assert math.isclose(ours, pred[i], rel_tol=1e-9, abs_tol=0), (i, ours, pred[i])
        picked += 1
    assert picked >= 5


def test_solver_point_uses_the_public_function():
    cal = load_calibration()
    space = build_space("llama3.1-8b", ["h100-sxm"], ["bf16", "fp8"], tp=[1, 2], prices={"h100-sxm": 2.5},
                        backend="vllm")
    wl = Workload(2048, 256)
    problem = Problem(space, wl, tpot_slo_s=0.02, ttft_slo_s=0.5, demand=Demand(1e4))
    res = solve(problem)
    assert res.optimal
    p = res.point
    w = "fp8" if p.precision.startswith("w=fp8") or p.precision == "fp8" else "bf16"
    tpot = serving_step.calibrated_tpot_s("llama3.1-8b", "h100-sxm", w, p.tp, p.batch, 2048, 256, "vllm", cal)
    ttft = serving_step.calibrated_ttft_s("llama3.1-8b", "h100-sxm", w, p.tp, p.batch, 2048, 256, "vllm", cal)
    assert p.step_s == pytest.approx(tpot, rel=1e-12) and p.ttft_s == pytest.approx(ttft, rel=1e-12)
    js = res.as_json()
    assert js["step_model"].startswith("calibrated serving model (vllm")
    assert "not the serving model" in js["breakdown_model"]


def test_batch_max_is_largest_feasible_integer():
    space = build_space("llama3.1-70b", ["h100-sxm"], ["fp8"], tp=[2, 4, 8], prices={"h100-sxm": 2.5})
    problem = Problem(space, Workload(1024, 512), tpot_slo_s=0.03, ttft_slo_s=0.8, demand=Demand(1e4))
    for o in space.options():
        ev = evaluate_option(o, problem)
        spec = o.platform.serving
        b = np.arange(1, ev.tpot.size + 1, dtype=float)
        shape = {"ep": o.ep, "dp": o.attention_dp, "pp": o.pp}
        ok = (serving_step.tpot(spec, o.tp, b, 1024, 512, **shape) <= 0.03 * (1 + 1e-9)) & (
            serving_step.ttft(spec, o.tp, b, 1024, 512, **shape) <= 0.8 * (1 + 1e-9))
        expect = int(b[ok].max()) if ok.any() else 0
        assert ev.batch_max == expect
        if expect:
            pt = make_point(ev, problem, expect, 1)
            assert pt.step_s <= 0.03 * (1 + 1e-9)
            assert 0 < pt.utilization < 1


def test_ideal_and_raw_paths_keep_the_closed_form():
    space = build_space("llama3.1-8b", ["h100-sxm"], ["bf16"], ideal=True, prices={"h100-sxm": 2.5})
    assert all(p.serving is None for p in space.platforms)
    res = solve(Problem(space, Workload(), tpot_slo_s=0.02, demand=Demand(1e4)))
    assert res.point.step_model.startswith("closed-form")


def test_unknown_backend():
    from inferonomics.symbolic.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        build_space("llama3.1-8b", ["h100-sxm"], ["bf16"], backend="tgi")


def test_resident_cap_flattens_tpot():
    """Past the KV-capacity cap the extra requests queue: TPOT is that of the resident batch."""
    spec = serving_step.spec_for("qwen3-32b", "h100-sxm", "bf16")
    cap = serving_step.resident_cap(spec, 1, 1024, 512)
    assert 1 <= cap < 64
    b = np.array([1.0, math.floor(cap), 64.0, 512.0])
    t = serving_step.tpot(spec, 1, b, 1024, 512)
    assert t[0] < t[1] and t[2] == t[3]
    assert serving_step.resident_cap(spec, 2, 1024, 512) > 2 * cap  # a second chip's HBM is all KV room
