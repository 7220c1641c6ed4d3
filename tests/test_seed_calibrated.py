"""`seed --calibrated`: the essay's example under a card's calibration, checked by hand and in its ideal limit."""

from __future__ import annotations

import json

import pytest

from inferonomics.optimize import calibrated_forms, essay_numbers
from inferonomics.optimize.calibrated_forms import CalibratedValues

from cli_run import run_cli

# the essay's example, written out (symbolic/essay.py cites the essay for each)
N, B_W, F, W, T = 1.6e12, 1.0, 3e15, 3e12, 20


def test_break_even_batch_and_utilization_by_hand():
    c = essay_numbers.calibrated_numbers("h100-sxm")
    v = c["values"]
    # B* = eta_F F b_w / (2 eta_W W): the general form of the break-even batch
    assert c["break_even_batch"] == pytest.approx(v["eta_flop"] * F * B_W / (2 * v["eta_bw"] * W), rel=1e-12)
    # utilization = useful FLOPs over what the chips could do in the step: 2 N B / (t F step)
    assert c["utilization_at_batch_1"] == pytest.approx(2 * N / (T * F * c["step_ms_at_batch_1"] / 1e3), rel=1e-9)
    # batch 1 is memory-bound: weights at eta_W, plus the fixed costs of the step model t_o + L t_layer, where
    # the essay's example names no layers (L = 0: evaluate's default, as for its communication)
    by_hand = N * B_W / (T * v["eta_bw"] * W) + v["overhead_s"]
    assert c["step_ms_at_batch_1"] / 1e3 == pytest.approx(by_hand, rel=1e-9)
    # batch 100 is below B* (~440): the same memory-bound step, so utilization grows exactly linearly
    assert c["utilization_at_batch_100"] == pytest.approx(100 * c["utilization_at_batch_1"], rel=1e-12)
    assert "h100-sxm calibration" in c["calibration"]


def test_the_ideal_limit_is_the_essay(monkeypatch):
    """With efficiencies 1 and fixed costs 0 the calibrated numbers are the essay's (seed's ideal ones)."""
    ideal = CalibratedValues({"eta_flop": 1.0, "eta_bw": 1.0, "eta_kv": 1.0, "overhead_s": 0.0,
                              "layer_overhead_s": 0.0}, "ideal values", "h100-sxm", "fp8", "trtllm")
    monkeypatch.setattr(calibrated_forms, "calibrated_values", lambda *a, **k: ideal)
    c = essay_numbers.calibrated_numbers()
    n = essay_numbers.seed_numbers(deployment=False)
    assert c["break_even_batch"] == pytest.approx(F * B_W / (2 * W)) == pytest.approx(n["break_even_batch"])
    assert c["utilization_at_batch_1"] == pytest.approx(n["utilization_at_batch_1"], rel=1e-12)
    assert c["utilization_at_batch_100"] == pytest.approx(n["utilization_at_batch_100"], rel=1e-12)
    assert c["step_ms_at_batch_1"] == pytest.approx(n["memory_ms"], rel=1e-12)


def test_cli_prints_and_refuses(capsys):
    code, out, _ = run_cli(capsys, ["seed", "--calibrated", "--hardware", "b200", "--json"])
    assert code == 0
    c = json.loads(out)["calibrated"]
    assert "b200 calibration" in c["calibration"]
    code, out, _ = run_cli(capsys, ["seed", "--calibrated"])
    assert code == 0 and "Under a card's calibration" in out and "break-even batch B*" in out
    code, _, err = run_cli(capsys, ["seed", "--hardware", "b200"])
    assert code == 2 and "--hardware" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, ["seed", "--calibrated", "--hardware", "nope"])
    assert code == 2 and "nope" in err and len(err.strip().splitlines()) == 1
