"""The decode floor (:mod:`inferonomics.optimize.calibration.bounds`): by hand on the one row below it, and which
rows of NVIDIA's serving file fall below."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inferonomics.optimize.calibration.bounds import decode_floor_s
from inferonomics.optimize.calibration.readers import read_measurements
from inferonomics.optimize.calibration.serving import architecture
from inferonomics.symbolic import catalog
from inferonomics.symbolic.architecture import dense_params

SHARED = Path(__file__).resolve().parents[2] / "shared" / "measurements"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/measurements")


@pytest.fixture(scope="module")
def tpot_table():
    meas = read_measurements(SHARED)
    return next(t for t in meas.tables if t.kind == "serving_tpot" and t.path.name == "serving_e2e.csv")


@needs_shared
def test_floor_by_hand_on_vllm_qwen3_32b_disaggregated(tpot_table):
    # line 680: TP-4 decode workers of 224 sequences, isl 4000, osl 1000, fp8: per chip a quarter of the weights
    # (1 byte each) and a quarter of the KV heads (8 KV heads x 128 x K,V x 64 layers, 1 byte) at context 4500
    r = tpot_table.rows
    i = int(np.flatnonzero(r["line"] == 680)[0])
    a = architecture("Qwen/Qwen3-32B")
    card = catalog.hardware("h100-sxm")
    kv = 224 * 4500 * a.n_layers * a.n_kv_heads * a.head_dim * 2 / 4
    by_hand = (dense_params(a) / 4 + kv) / card.hbm_bandwidth_bytes_per_s
    floor = decode_floor_s(r, "h100-sxm")
    assert floor[i] == pytest.approx(by_hand, rel=1e-9)
    assert 0.012 < floor[i] < 0.0125 and r["latency_s"][i] < floor[i]


@needs_shared
def test_only_rows_that_cannot_be_a_decode_step_fall_below_the_floor(tpot_table):
    r = tpot_table.rows
    floor = decode_floor_s(r, "h100-sxm")
    below = sorted(int(x) for x in r["line"][r["latency_s"] < floor])
    assert below == [680, 856]  # 856: gpt-oss at concurrency 512, already dropped by the monotone rule
    ratio = r["latency_s"] / floor
    assert np.nanmin(np.delete(ratio, np.flatnonzero(np.isin(r["line"], below)))) > 1.15
