"""Disaggregated deployments in the optimizer (``--mode disagg|auto``, issue 14): the prefill pool's integer size
against the closed form ``disagg_pool_ratio``, the JSON fields, auto never worse than either mode. Exactness
against the brute-force oracle: tests/test_optimize_oracle.py::test_disaggregated_matches_oracle."""

from __future__ import annotations

import json
import math

import pytest

from cli_run import run_cli
from inferonomics.optimize.disagg_search import decode_workers, prefill_workers
from inferonomics.symbolic.formulas import get_formula


@pytest.mark.parametrize("n_d, batch", [(1, 64), (7, 64), (40, 128), (333, 32)])
def test_prefill_pool_is_the_closed_form_ratio_rounded_up(n_d, batch):
    """On the closed form's own terms (prefill compute-bound at F, decode memory-bound at W, no KV transfer) the
    pool of prefill workers is the continuous ratio disagg_pool_ratio, times the decode chips, rounded up; the one
    difference, said in the closed form's assumptions, is that a client's cycle also holds its prefill, which
    scales the ratio by osl tau / (t_p + osl tau)."""
    v = {"active_params": 37e9, "prompt_len": 1024.0, "batch": float(batch), "hbm_bandwidth_bytes_per_s": 3.35e12,
         "output_len": 1024.0, "peak_flop_per_s": 1.979e15, "total_params": 671e9, "bytes_per_weight": 1.0,
         "context": 1536.0, "kv_bytes_per_token": 70e3}
    rho = get_formula("disagg_pool_ratio").evaluate(v)
    t_d, t_pre_chips = 8, 4  # decode worker of 8 chips, prefill worker of 4
    t_p = 2 * 37e9 * 1024 / (t_pre_chips * 1.979e15)
    tau = (671e9 + batch * 1536 * 70e3) / (t_d * 3.35e12)
    n_p = int(prefill_workers(float(n_d * batch), t_p, 0.0, 1.0, 1024.0, tau))
    continuous = rho * n_d * t_d / t_pre_chips * (1024 * tau) / (t_p + 1024 * tau)
    assert n_p == max(1, math.ceil(continuous - 1e-9)), (n_p, continuous)
    assert n_p - 1 < continuous * (1 + 1e-9)


def test_decode_workers_cover_the_demand_with_the_fewest():
    import numpy as np

    tps = np.array([100.0, 3.0, 7.0, 1e6])
    n = decode_workers(tps, 1000.0)
    assert list(n) == [10, 334, 143, 1]
    assert list(decode_workers(tps, None)) == [1, 1, 1, 1]


Q = ["optimize", "--model", "llama3.1-70b", "--hardware", "h100-sxm", "--precision", "fp8", "--tpot-slo-ms", "30",
     "--ttft-slo-ms", "1000", "--demand-tokens-per-s", "20000", "--json"]


def test_modes_json_and_auto_is_the_better_of_both(capsys):
    chips = {}
    for mode in ("agg", "disagg", "auto"):
        code, out, err = run_cli(capsys, [*Q, "--mode", mode])
        assert code == 0, err
        d = json.loads(out)
        chips[mode] = d["chips"]
        if mode == "agg":
            assert d["mode"] == "agg" and "prefill_workers" not in d
        if mode == "disagg":
            assert d["mode"] == "disagg"
            assert d["decode_tp"] == d["tp"] and d["decode_workers"] == d["replicas"]
            assert d["prefill_workers"] >= 1 and d["prefill_tp"] >= 1
            assert d["chips"] == (d["decode_workers"] * d["chips_per_replica"]
                                  + d["prefill_workers"] * d["prefill_chips_per_worker"])
            assert d["step_ms"] <= 30 and d["ttft_ms"] <= 1000
            assert d["tokens_per_s"] >= 20000 * (1 - 1e-9)
    assert chips["auto"] == min(chips["agg"], chips["disagg"])


def test_bad_mode_is_refused(capsys):
    code, out, err = run_cli(capsys, [*Q, "--mode", "split"])
    assert code == 2 and "--mode" in err and "Traceback" not in err


def test_disagg_without_the_serving_model_is_refused(capsys):
    code, out, err = run_cli(capsys, ["optimize", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--tpot-slo-ms",
                                      "30", "--demand-tokens-per-s", "100", "--mode", "disagg", "--ideal"])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "calibrated serving model" in lines[0], err
