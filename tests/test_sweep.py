"""The vectorised sweep: the same model as evaluate_step, the grid semantics, and the CSV rows."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from inferonomics.optimize.space import build_space
from inferonomics.optimize.sweep import parse_range, sweep, tiles
from inferonomics.symbolic.errors import InvalidInputError
from inferonomics.symbolic.evaluate import evaluate_step


@pytest.fixture(scope="module")
def space():
    return build_space("llama3.1-70b", ["h100-sxm", "mi300x"], ["bf16", "fp8"], ideal=False)


def test_parse_range():
    assert parse_range("1:4", "b").tolist() == [1, 2, 3, 4]
    assert parse_range("0:100:3", "c").tolist() == [0, 50, 100]
    assert parse_range("1,8,64", "b").tolist() == [1, 8, 64]
    for bad in ("", "4:1", "1:2:0", "a:b", "1.5:3", "-1:3", "1:2:3:4", "nan", "1:inf", "0:1:inf"):
        with pytest.raises(InvalidInputError):
            parse_range(bad, "--batch", minimum=0)
    # a range too big to hold is refused before any memory is allocated, naming its size
    for huge in ("1:1e12", "0:1:20000000"):
        with pytest.raises(InvalidInputError, match="at most 10,000,000 values per axis"):
            parse_range(huge, "--batch", minimum=0)


def test_tiles_equal_evaluate_step(space):
    batch = parse_range("1:300", "b")
    context = parse_range("0:32768:7", "c")
    rng = np.random.default_rng(0)
    for tile in tiles(space, None, batch, context):
        for _ in range(3):
            i, j = rng.integers(tile.step_s.shape[0]), rng.integers(tile.step_s.shape[1])
            plat = next(p for p in space.platforms
                        if p.hardware == tile.hardware and p.precision.label == tile.precision)
            v = dict(plat.values, tp=tile.tp, batch=float(tile.batch[i, 0]), context=float(tile.context[0, j]))
            assert math.isclose(tile.step_s[i, j], evaluate_step(v).step_s, rel_tol=1e-12)


def test_summary_counts_and_rows(space):
    batch, context = parse_range("1:100", "b"), parse_range("0:8192:5", "c")
    buf = io.StringIO()
    from inferonomics.optimize.sweep import csv_writer

    s = sweep(space, None, batch, context, sink=csv_writer(buf, space.model))
    n_tp = sum(len(p.tps) for p in space.platforms)
    assert s.configs == n_tp * 100 * 5
    lines = buf.getvalue().splitlines()
    assert len(lines) == s.configs + 1 and lines[0].startswith("model,hardware")
    assert s.best["fits_memory"] and s.best["tokens_per_s_per_chip"] >= s.worst["tokens_per_s_per_chip"]


def test_float32_is_close_to_float64(space):
    batch, context = parse_range("1:512", "b"), parse_range("0:32768:9", "c")
    a = [t.step_s.copy() for t in tiles(space, [2], batch, context)]
    b = [t.step_s.copy() for t in tiles(space, [2], batch, context, dtype=np.float32)]
    for x, y in zip(a, b):
        assert y.dtype == np.float32
        assert np.allclose(x, y, rtol=1e-5)


def test_throughput_is_millions_per_second(space):
    batch, context = parse_range("1:2048", "b"), parse_range("0:32768:32", "c")
    sweep(space, [1], batch, context)  # warm-up: compile
    s = sweep(space, None, batch, context)


# -- the serving model's grid -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def serving_space():
    # a dense model, an MoE and a sliding-window model: the parts the grid splits differ in each
    return {m: build_space(m, ["h100-sxm", "b200"], ["bf16", "fp8"]) for m in ("llama3.1-70b", "qwen3-30b-a3b",
                                                                                 "gemma2-27b")}


@pytest.mark.parametrize("model", ["llama3.1-70b", "qwen3-30b-a3b", "gemma2-27b"])
def test_serving_tiles_equal_the_serving_model_point_by_point(serving_space, model):
    """Every sampled grid point equals serving_step.tpot at that (batch, context) -- the function `validate`
    scores -- with the resident batch and the memory of its own rule, past the caps as well as below."""
    from inferonomics.optimize import serving_step as S
    from inferonomics.optimize.serving_eval import memory_per_chip
    from inferonomics.optimize.space import expert_parallel_degree
    from inferonomics.optimize.sweep import serving_tiles

    space = serving_space[model]
    batch, context = parse_range("1:3000:+7", "b"), parse_range("512:32768:9", "c")
    rng = np.random.default_rng(1)
    seen_capped = 0
    for tile in serving_tiles(space, None, batch, context, 700.0, 300.0):
        plat = next(p for p in space.platforms if p.hardware == tile.hardware and p.serving.precision == tile.precision)
        ep = expert_parallel_degree(tile.tp, plat.n_experts)
        for _ in range(2):
            i, j = rng.integers(tile.step_s.shape[0]), rng.integers(tile.step_s.shape[1])
            b, c = float(tile.batch[i, 0]), float(tile.context[0, j])
            want = S.tpot(plat.serving, tile.tp, b, 700.0, 300.0, ep=ep, context=c)
            assert tile.step_s[i, j] == pytest.approx(float(want), rel=1e-12)
            mem = memory_per_chip(plat.serving, tile.tp, b, 700.0, 300.0, c)
            assert tile.decoding[i, j] == pytest.approx(mem.resident, rel=1e-12)
            assert tile.memory_bytes[i, j] == pytest.approx((mem.weights + mem.resident * mem.kv_per_seq) / tile.tp,
                                                            rel=1e-12)
            assert bool(tile.fits[i, j]) == mem.fits
            seen_capped += mem.resident < b
    assert seen_capped > 0  # the sample reached the queueing region


def test_serving_sweep_is_fast_enough_to_matter(serving_space):
    space = serving_space["llama3.1-70b"]
    batch, context = parse_range("1:2048", "b"), parse_range("512:32768:32", "c")
    from inferonomics.optimize.constraints import Workload

    sweep(space, [1], batch[:16], context, workload=Workload(1024, 1024), serving=True)
    s = sweep(space, None, batch, context, workload=Workload(1024, 1024), serving=True)
