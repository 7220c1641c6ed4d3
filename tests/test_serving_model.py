"""The symbolic serving model (inferonomics.symbolic.serving, compiled by optimize.calibration.serving_model)
against an independent oracle: the frozen NumPy assembly it replaced (tests/serving_oracle.py), on every serving
row of ../shared/measurements and on a grid of deployments, to 1e-9 relative."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import serving_oracle as O
from inferonomics.optimize.calibration import serving as S
from inferonomics.optimize.calibration.calfile import calibration_for
from inferonomics.optimize.calibration.predict import hardware_env
from inferonomics.symbolic import catalog

MEASUREMENTS = Path(__file__).resolve().parents[1].parent / "shared" / "measurements"
RTOL = 1e-9


def _env(card: str) -> dict[str, float]:
    return {**hardware_env(card), **calibration_for(card)[0].values}


def _same(new, old) -> None:
    new, old = np.broadcast_arrays(np.asarray(new, dtype=float), np.asarray(old, dtype=float))
    assert (np.isnan(new) == np.isnan(old)).all()
    ok = ~np.isnan(old)
    assert np.allclose(new[ok], old[ok], rtol=RTOL, atol=0.0), np.max(np.abs(new[ok] / old[ok] - 1))


@pytest.mark.skipif(not MEASUREMENTS.is_dir(), reason="needs ../shared/measurements")
def test_every_serving_row_of_validate_agrees_with_the_numpy_oracle():
    from inferonomics.optimize.calibration import read_measurements

    meas = read_measurements(MEASUREMENTS)
    tables = [t for t in meas.tables if t.kind in ("serving_tpot", "serving_ttft")]
    assert tables, "no serving rows to compare"
    n = 0
    for t in tables:
        env = _env(t.hardware)
        if t.kind == "serving_tpot":
            _same(S.serving_tpot(t.rows, env), O.serving_tpot(t.rows, env))
        else:
            _same(S.serving_ttft(t.rows, env), O.serving_ttft(t.rows, env))
        n += len(t.rows)
    assert n > 1000  # both kinds of NVIDIA's H100 serving rows (917 each today)


#: (model, card, precision, backend, (tp, attention dp, ep) shapes): dense GQA, MoE GQA, MLA MoE with shared
#: experts, a sliding-window MoE; every serving precision, the three engines, an FP4 card and a multi-node shape
GRID = [
    ("llama3.1-8b", "h100-sxm", "bf16", "trtllm", [(1, 1, 1), (2, 1, 1), (8, 1, 1), (16, 1, 1)]),
    ("llama3.1-70b", "h100-sxm", "fp8", "trtllm", [(1, 1, 1), (4, 1, 1), (8, 1, 1), (16, 1, 1)]),
    ("llama3.1-70b", "h100-sxm", "fp8", "vllm", [(4, 1, 1), (8, 1, 1)]),
    ("llama3.1-70b", "h100-sxm", "w4a16", "sglang", [(2, 1, 1), (8, 1, 1)]),
    ("llama3.1-70b", "b200", "fp4", "trtllm", [(1, 1, 1), (4, 1, 1)]),
    ("qwen3-32b", "h100-sxm", "bf16", "sglang", [(1, 1, 1), (4, 1, 1)]),
    ("qwen3-235b-a22b", "h100-sxm", "fp8", "trtllm", [(4, 1, 1), (8, 1, 4), (1, 8, 8), (2, 8, 16)]),
    ("deepseek-v3", "h100-sxm", "fp8", "trtllm", [(8, 1, 8), (1, 16, 16), (1, 32, 32), (4, 8, 32)]),
    ("deepseek-v3", "b200", "fp4", "vllm", [(8, 1, 8), (1, 8, 8)]),
    ("gpt-oss-120b", "h100-sxm", "fp4", "vllm", [(1, 1, 1), (2, 1, 1), (4, 1, 4)]),
    ("gpt-oss-120b", "b200", "fp4", "trtllm", [(1, 1, 1), (1, 8, 8)]),
]
BATCH = np.array([0.0, 1.0, 3.0, 16.0, 100.0, 512.0, 4096.0])
WORKLOADS = [(128.0, 128.0), (1024.0, 512.0), (8192.0, 1024.0), (32768.0, 256.0)]


@pytest.mark.parametrize("model,card,prec,backend,shapes", GRID, ids=[f"{g[0]}-{g[1]}-{g[2]}-{g[3]}" for g in GRID])
def test_grid_of_deployments_agrees_with_the_numpy_oracle(model, card, prec, backend, shapes):
    a, env = catalog.model(model).architecture, _env(card)
    b = BATCH[BATCH > 0]
    for (tp, dp, ep), (isl, osl) in itertools.product(shapes, WORKLOADS):
        mtp = tp * dp / ep
        args = (a, b, isl, osl, float(tp), float(dp), float(ep), mtp, prec, backend, env)
        for mixed in (True, False):
            _same(S.serving_tpot_s(*args, mixed=mixed), O.serving_tpot_s(*args, mixed=mixed))
            new, old = S.serving_tpot_s(*args, mixed=mixed, parts=True), O.serving_tpot_s(*args, mixed=mixed, parts=True)
            assert list(new) == list(old) == list(S.STEP_PARTS)
            for k in new:
                _same(new[k], old[k])
        _same(S.serving_ttft_s(*args), O.serving_ttft_s(*args))
        # the queue-free TTFT step: the oracle's one-prompt step at its resident batch
        res = O.resident_batch(a, b, isl, osl, float(tp), float(dp), prec, env)
        _same(S.ttft_step_s(*args), O.step_time(a, res, *args[2:], prefill_tokens=isl, context=isl, one_prompt=True))
        _same(S.resident_batch(a, b, isl, osl, float(tp), float(dp), prec, env), res)
        # an explicit decode context (the sweep's and evaluate's): attention, resident KV, TPOT and TTFT
        ctx = 3 * isl
        _same(S.serving_tpot_s(*args, context=ctx), O.serving_tpot_s(*args, context=ctx))
        _same(S.serving_ttft_s(*args, context=ctx), O.serving_ttft_s(*args, context=ctx))
        _same(S.resident_memory(a, isl, osl, float(tp), float(dp), prec, env, ctx),
              O.resident_memory(a, isl, osl, float(tp), float(dp), prec, env, ctx))
        seqs = np.maximum(b / dp, 1.0)
        _same(S.decode_attention_layer(a, seqs, ctx, float(tp), prec, env),
              O.decode_attention_layer(a, seqs, ctx, float(tp), prec, env))
        # raw steps: batch 0 (prefill only), a prompt on one group, an explicit context
        for kw in ({"prefill_tokens": 4 * isl, "context": isl}, {"prefill_tokens": isl, "one_prompt": True},
                   {"context": 2 * isl}):
            step = (a, BATCH, isl, osl, float(tp), float(dp), float(ep), mtp, prec, backend, env)
            _same(S.step_time(*step, **kw), O.step_time(*step, **kw))


def test_tp_and_batch_broadcast_like_the_oracle():
    a, env = catalog.model("llama3.1-70b").architecture, _env("h100-sxm")
    tp = np.array([[1.0], [2.0], [4.0], [8.0]])
    args = (a, np.arange(1.0, 65.0), 1024.0, 512.0, tp, 1.0, 1.0, tp, "fp8", "trtllm", env)
    new = S.serving_tpot_s(*args)
    assert new.shape == (4, 64)
    _same(new, O.serving_tpot_s(*args))
    _same(S.serving_ttft_s(*args), O.serving_ttft_s(*args))


def test_scalar_inputs_take_the_float_path_and_agree():
    a, env = catalog.model("qwen3-235b-a22b").architecture, _env("h100-sxm")
    args = (a, 64.0, 1024.0, 512.0, 4.0, 1.0, 4.0, 1.0, "fp8", "trtllm", env)
    new = S.serving_tpot_s(*args)
    assert np.ndim(new) == 0
    _same(new, O.serving_tpot_s(*args))
    _same(S.serving_ttft_s(*args), O.serving_ttft_s(*args))
