"""The derivation document shows the essay's worked example beside its calibrated counterpart: the general
break-even batch at the H100 calibration's fitted efficiencies, naming the calibration file and its date."""

from __future__ import annotations

import tomllib
from importlib.resources import files

import pytest

from inferonomics.optimize.calibrated_forms import calibrated_values
from inferonomics.optimize.derivation_examples import examples
from inferonomics.optimize.essay_numbers import calibrated_numbers


@pytest.fixture(scope="module")
def example():
    (ex,) = [e for e in examples() if "calibration" in e.title]
    return ex


def _shipped_h100() -> dict:
    return tomllib.loads(files("inferonomics.optimize").joinpath("data/calibration-h100.toml").read_text())


def test_calibrated_example_follows_the_essays(example):
    titles = [e.title for e in examples()]
    assert titles.index(example.title) == titles.index("The essay's example") + 1


def test_names_the_calibration_file_and_date(example):
    doc = _shipped_h100()
    assert "calibration-h100.toml" in example.setting
    assert f"on {doc['date']}" in example.setting and doc["hardware"] in example.setting


def test_break_even_row_is_the_general_form_by_hand(example):
    """eta_F F b_w / (2 eta_W W) at the essay's F = 3e15, W = 3e12, b_w = 1, with the fp8 values the mapping
    gives; the ideal 500 in parentheses."""
    eff = calibrated_values("h100-sxm", "fp8").values
    by_hand = eff["eta_flop"] * 3e15 * 1.0 / (2 * eff["eta_bw"] * 3e12)
    row = dict((q, v) for q, _, v in example.rows)["break-even batch, calibrated (ideal)"]
    shown, ideal = row.split(" (")
    assert float(shown.replace(",", "")) == pytest.approx(by_hand, abs=0.05)
    assert ideal == "500)"
    assert abs(by_hand - 500) > 5  # the calibration moves it


def test_seed_numbers_carry_the_date():
    n = calibrated_numbers("h100-sxm")
    assert n["calibration_date"] == _shipped_h100()["date"]
    assert "calibration-h100.toml" in n["calibration_source"]
