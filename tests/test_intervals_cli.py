"""Prediction intervals where users meet them: evaluate prints them, optimize --slo-confidence plans with them."""

from __future__ import annotations

import json
import math

import pytest

from inferonomics.optimize.calibration import intervals as I
from inferonomics.optimize.calibration import load_calibration
from inferonomics.optimize.cli import main

OPT = ["optimize", "--model", "llama3.1-70b", "--hardware", "h100-sxm,b200", "--precision", "bf16,fp8",
       "--tpot-slo-ms", "30", "--demand-tokens-per-s", "50000", "--price-usd-per-hour", "h100-sxm=2.5,b200=5", "--json"]


def _run(argv, capsys):
    rc = main(argv)
    return rc, capsys.readouterr()


def test_pessimistic_factor_by_hand():
    lo, hi = -0.2, 0.3
    assert I.pessimistic_factor((lo, hi), 0.9) == pytest.approx(math.exp(hi))  # 0.9 is the 80% interval's top
    assert I.pessimistic_factor((lo, hi), 0.1) == pytest.approx(math.exp(lo))
    assert I.pessimistic_factor((lo, hi), 0.5) == pytest.approx(math.exp(0.05))


def test_slo_confidence_meets_the_slo_at_the_pessimistic_end(capsys):
    rc, out = _run(OPT, capsys)
    plain = json.loads(out.out)
    rc2, out2 = _run([*OPT, "--slo-confidence", "0.9"], capsys)
    sure = json.loads(out2.out)
    assert rc == rc2 == 0
    hi = load_calibration(hardware=sure["hardware"]).intervals["serving_tpot"][1]
    assert sure["step_ms"] * math.exp(hi) <= 30 * (1 + 1e-9)  # the 90th percentile of the truth meets the SLO
    assert plain["step_ms"] * math.exp(hi) > 30  # the plain answer would not have: the flag changed the plan
    assert sure["cost_usd_per_hour"] >= plain["cost_usd_per_hour"]
    assert any("probability 0.9" in n for n in sure["notes"])


@pytest.mark.parametrize("value", ["0", "1", "1.5", "nan", "-0.2"])
def test_slo_confidence_outside_zero_one_is_refused(value, capsys):
    rc, out = _run([*OPT, "--slo-confidence", value], capsys)
    assert rc == 2 and "--slo-confidence" in out.err and len(out.err.strip().splitlines()) == 1


def test_evaluate_prints_the_interval_of_its_calibrated_prediction(capsys):
    rc, out = _run(["evaluate", "--model", "llama3.1-70b", "--hardware", "b200", "--precision", "nvfp4", "--tp", "1",
                    "--batch", "64", "--context", "2048", "--json"], capsys)
    d = json.loads(out.out)
    lo, hi = load_calibration(hardware="b200").intervals["serving_tpot"]
    assert rc == 0 and d["step_ms_interval"] == pytest.approx(
        [d["step_ms"] * math.exp(lo), d["step_ms"] * math.exp(hi)])
    assert "b200 calibration" in d["calibration"]
