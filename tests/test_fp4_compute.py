"""Precisions as the hardware runs them: weight-only 4-bit (W4A16) against FP4 compute (NVFP4/MXFP4, both
operands 4-bit on FP4 tensor cores), decided by whether the catalog gives the card an FP4 rate."""

from __future__ import annotations

import pytest
from sympy import Rational

from inferonomics.optimize.calibration.predict import hardware_env
from inferonomics.optimize.calibration.serving import _precision
from inferonomics.optimize.serving_step import serving_precision, spec_for
from inferonomics.symbolic import catalog


def test_nvfp4_is_four_and_a_half_bits():
    # 16 E2M1 elements (4 bits) share one 8-bit FP8 scale: 4 + 8/16 = 4.5 bits
    assert catalog.precision("nvfp4").bytes_per_element == Rational(9, 16)
    assert catalog.precision("mxfp4").bytes_per_element == Rational(17, 32)


@pytest.mark.parametrize("weights, card, compute", [
    ("nvfp4", "b200", "nvfp4"), ("mxfp4", "gb200", "mxfp4"), ("nvfp4", "gb300", "nvfp4"),
    # B300: the catalog leaves its dense FP4 rate empty (its sources disagree), so it is read as weight-only
    ("nvfp4", "b300", "bf16"),
    ("nvfp4", "h100-sxm", "bf16"), ("mxfp4", "h200-sxm", "bf16"),  # Hopper has no FP4 tensor cores
    ("int4", "b200", "bf16"), ("fp4", "b200", "bf16"),  # no block scales: weight-only
    ("fp8", "b200", "fp8"), ("fp8", "a100-sxm", "bf16"),
])
def test_the_catalog_says_which_cards_compute_at_fp4(weights, card, compute):
    hw = catalog.hardware(card)
    assert ("fp4" in hw.peak_flop_per_s) == (card in ("b200", "gb200", "gb300"))  # the datasheets, as cited
    assert catalog.default_activation_precision(catalog.precision(weights), hw) == compute


def test_the_serving_model_picks_the_kernel_class_by_card():
    assert serving_precision("nvfp4", "nvfp4") == "fp4" and serving_precision("int4", "bf16") == "w4a16"
    assert serving_precision("nvfp4", "bf16") == "w4a16" and serving_precision("fp8", "fp8") == "fp8"
    # an engine's "fp4" row: FP4 GEMMs on a Blackwell card, W4A16 on a Hopper card
    assert _precision("fp4", hardware_env("b200")) == ("fp4", 0.5625, 0.5625, 1.0)
    assert _precision("fp4", hardware_env("h100-sxm")) == ("bf16", 2.0, 0.53125, 2.0)
    assert spec_for("llama3.1-70b", "b200", "nvfp4").precision == "fp4"
    assert spec_for("llama3.1-70b", "h100-sxm", "nvfp4").precision == "w4a16"
