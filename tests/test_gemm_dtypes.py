"""GEMM dtypes another card's measurement file may carry: FP4 uses the card's FP4 datasheet rate,
weight-only formats compute at 16 bits, and a dtype we have no model for is not predicted at all."""

from __future__ import annotations

import numpy as np
import pytest

from inferonomics.optimize.calibration import load_calibration, read_measurements
from inferonomics.optimize.calibration.predict import GEMM_DTYPES, hardware_env, predict_table
from inferonomics.optimize.calibration.validate import validate

HEADER = "kernel_source,dtype,m,n,k,latency_ms\n"


@pytest.fixture()
def b200_dir(tmp_path):
    rows = [f"trtllm,{dt},8192,8192,8192,1.0" for dt in ("bfloat16", "fp8", "nvfp4", "int4_wo", "w2a2_exotic")]
    (tmp_path / "gemm_b200_sxm.csv").write_text(HEADER + "\n".join(rows) + "\n")
    return tmp_path


def _predictions(directory):
    meas = read_measurements(directory)
    cal = load_calibration()
    table = meas.tables[0]
    env = {**hardware_env(table.hardware), **cal.values}
    return table, predict_table(table, env)


def test_fp4_runs_at_the_fp4_rate_and_unknown_dtypes_are_not_predicted(b200_dir):
    table, pred = _predictions(b200_dir)
    by = dict(zip(table.rows["dtype"].astype(str), pred))
    assert table.hardware == "b200"
    # a large square GEMM is compute-bound: bf16 : fp8 : fp4 follow the datasheet rates 2.25 : 4.5 : 9 PF/s
    assert by["bfloat16"] > 1.5 * by["fp8"] > 1.5 * by["nvfp4"]
    # weight-only int4 computes at the 16-bit rate, so it is no faster than bf16 when compute-bound
    assert by["int4_wo"] == pytest.approx(by["bfloat16"], rel=0.05)
    assert np.isnan(by["w2a2_exotic"])


def test_validate_counts_rows_it_does_not_predict(b200_dir):
    summary = validate(read_measurements(b200_dir), load_calibration()).summary
    entry = summary["by_file"]["gemm_b200_sxm.csv:gemm"]
    assert entry["not_predicted"] == 1
    assert entry["all"]["rows"] == 4


def test_every_dtype_has_a_compute_precision_and_byte_sizes():
    for dtype, (precision, b_in, b_w, _) in GEMM_DTYPES.items():
        assert precision in ("bf16", "fp8", "fp8_block", "fp4"), dtype
        assert 0 < b_w <= 2 and 0 < b_in <= 2 and b_w <= b_in, dtype  # weights never wider than inputs
