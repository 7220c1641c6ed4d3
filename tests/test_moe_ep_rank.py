"""The MoE layer of the serving step under expert parallelism: the busiest EP rank's experts (an expected maximum
under uniform routing) and the block-scaled fp8 checkpoints' grouped expert kernel (a catalog fact, sourced)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from inferonomics.symbolic import catalog
from inferonomics.symbolic.catalog.loader import model_from_tree
from inferonomics.symbolic.errors import SpecError
from inferonomics.symbolic.kernel_rules import busiest_experts_touched
from inferonomics.optimize.calibration import predict as P
from inferonomics.optimize.calibration import serving as S
from inferonomics.optimize.calibration.calfile import calibration_for
from inferonomics.optimize.calibration.serving_model import checkpoint_precision


def _busiest(e, k, tokens, ep):
    """The rule given uniform routing's mean, written out here: E (1 - (1 - k/E)^T) experts touched of E."""
    return busiest_experts_touched(e, e * (1 - (1 - k / e) ** np.asarray(tokens, dtype=float)), ep)


def _busiest_monte_carlo(tokens, e, k, ep, trials, rng):
    """Exact uniform top-k routing (k distinct experts per token), experts split into ``ep`` contiguous ranks."""
    keys = rng.random((trials, tokens, e))
    chosen = np.argpartition(keys, k - 1, axis=-1)[..., :k]
    mask = np.zeros((trials, tokens, e), dtype=bool)
    np.put_along_axis(mask, chosen, True, axis=-1)
    return mask.any(axis=1).reshape(trials, ep, e // ep).sum(axis=-1).max(axis=-1)


@pytest.mark.parametrize("tokens,e,k,ep", [(1, 128, 8, 8), (4, 128, 8, 8), (16, 128, 8, 4), (16, 128, 8, 8),
                                           (64, 128, 8, 8), (8, 256, 8, 64), (2, 8, 2, 2)])
def test_busiest_rank_matches_monte_carlo(tokens, e, k, ep):
    """The binomial, independent-ranks form against routing itself (5 standard errors, or 2% where the
    approximation, not the noise, is what is left)."""
    counts = _busiest_monte_carlo(tokens, e, k, ep, 1500, np.random.default_rng(7))
    se = counts.std(ddof=1) / math.sqrt(len(counts))
    got = float(_busiest(e, k, tokens, ep))
    assert abs(counts.mean() - got) < max(5 * se, 0.02 * got), (counts.mean(), got)


def test_busiest_rank_limits():
    t = np.array([0.0, 1.0, 4.0, 16.0, 64.0, 1024.0])
    mean = 128 * (1 - (1 - 8 / 128) ** t)
    assert np.allclose(_busiest(128, 8, t, 1.0), mean)  # one rank: the mean
    busiest = _busiest(128, 8, t, 8.0)
    assert busiest[0] == 0.0 and busiest[-1] == pytest.approx(16.0)  # nothing touched; every expert of the rank
    assert np.all(busiest >= mean / 8 - 1e-12) and np.all(busiest <= 16.0 + 1e-12)
    assert np.all(np.diff(busiest) > -1e-12)
    # more ranks of the same experts: a higher maximum relative to the mean
    assert _busiest(128, 8, 4.0, 8.0) / (mean[2] / 8) > _busiest(128, 8, 4.0, 2.0) / (
        mean[2] / 2)


@pytest.mark.parametrize("name", ["deepseek-v3", "qwen3-235b-a22b", "qwen3-30b-a3b", "minimax-m2.5", "glm-5"])
def test_block_scaled_fp8_checkpoints_are_sourced(name):
    m = catalog.model(name)
    assert m.fp8_scaling == "block"
    assert "weight_block_size" in m.sources["fp8_checkpoint"].source or "block size" in m.sources[
        "fp8_checkpoint"].source
    assert catalog.model("llama3.1-70b").fp8_scaling == "tensor"


def test_fp8_checkpoint_table_is_checked():
    import tomllib
    from importlib import resources

    text = resources.files("inferonomics.symbolic.catalog").joinpath("models", "deepseek-v3.toml").read_text()
    tree = tomllib.loads(text)
    bad = copy.deepcopy(tree)
    bad["fp8_checkpoint"]["scaling"] = "channel"
    with pytest.raises(SpecError, match="fp8_checkpoint.scaling"):
        model_from_tree(bad, "m.toml")
    bad = copy.deepcopy(tree)
    del bad["fp8_checkpoint"]["source"]
    with pytest.raises(SpecError, match="fp8_checkpoint.source"):
        model_from_tree(bad, "m.toml")


def test_engine_names_resolve_to_the_block_scaled_precision():
    for path in ("deepseek-ai/DeepSeek-R1", "Qwen/Qwen3-235B-A22B-FP8", "MiniMaxAI/MiniMax-M2.5"):
        assert checkpoint_precision(catalog.resolve_model(path).model, "fp8") == "fp8_block"
    assert checkpoint_precision(catalog.resolve_model("nvidia/Llama-3.1-8B-Instruct-FP8").model, "fp8") == "fp8"
    assert checkpoint_precision(catalog.resolve_model("Qwen/Qwen3-235B-A22B-FP8").model, "bf16") == "bf16"


def _env():
    cal, _ = calibration_for("h100-sxm")
    return {**P.hardware_env("h100-sxm"), **cal.values}


def test_block_scaled_checkpoint_changes_only_its_experts():
    """fp8_block and fp8 differ in the routed experts' grouped kernel alone; at a batch that touches every expert
    the experts' weight stream is the block-scaled kernels' (eta_bw_fp8_block against eta_bw)."""
    env, a = _env(), S.architecture("Qwen/Qwen3-235B-A22B-FP8")
    kw = {"prefill_tokens": 0.0, "parts": True}
    plain = S.step_time(a, 4096.0, 1024.0, 1024.0, 8.0, 1.0, 8.0, 1.0, "fp8", "trtllm", env, **kw)
    block = S.step_time(a, 4096.0, 1024.0, 1024.0, 8.0, 1.0, 8.0, 1.0, "fp8_block", "trtllm", env, **kw)
    for part in plain:
        if part != "mlp":
            assert float(block[part]) == float(plain[part]), part
    weights = a.n_layers * 16 * 3 * a.d_model * a.moe_ffn_dim / env["hbm_bandwidth_bytes_per_s"]
    gap = weights / env["eta_bw"] - weights / env["eta_bw_fp8_block"]
    assert float(plain["mlp"] - block["mlp"]) == pytest.approx(gap, rel=0.05)


def test_busiest_rank_slows_small_batches_under_ep():
    """At 4 sequences on 8 EP ranks the busiest rank touches 6.1 experts against a mean of 3.6: against the same
    chips splitting every expert 8 ways (EP 1, the mean's weights on each), the step reads the difference in expert
    weights (the routed tokens' activation traffic, 8x larger without EP, is 2% of it)."""
    env, a = _env(), S.architecture("Qwen/Qwen3-235B-A22B-FP8")
    kw = {"prefill_tokens": 0.0, "parts": True}
    t8 = S.step_time(a, 4.0, 1024.0, 1024.0, 8.0, 1.0, 8.0, 1.0, "fp8", "trtllm", env, **kw)["mlp"]
    t1 = S.step_time(a, 4.0, 1024.0, 1024.0, 8.0, 1.0, 1.0, 8.0, "fp8", "trtllm", env, **kw)["mlp"]
    per_expert = a.n_layers * 3 * a.d_model * a.moe_ffn_dim / (env["eta_bw"] * env["hbm_bandwidth_bytes_per_s"])
    assert float(t8 - t1) == pytest.approx((6.1154 - 3.6404) * per_expert, rel=0.03)


def test_hf_config_import_reads_block_scales(tmp_path):
    """A config.json whose quantization_config gives fp8 weight blocks (MiniMax-M2.5's, GLM-5-FP8's) imports as a
    block-scaled checkpoint; the same file without the blocks, per tensor."""
    import json
    from pathlib import Path

    from inferonomics.symbolic.hf_config import model_from_hf_config

    src = Path(__file__).resolve().parents[1].parent / "shared" / "facts" / "configs" / "MiniMaxAI--MiniMax-M2.5.json"
    if not src.exists():
        pytest.skip("../shared/facts/configs not present")
    assert model_from_hf_config(src).fp8_scaling == "block"
    data = json.loads(src.read_text())
    del data["quantization_config"]["weight_block_size"]
    p = tmp_path / "config.json"
    p.write_text(json.dumps(data))
    assert model_from_hf_config(p).fp8_scaling == "tensor"


def test_busiest_rank_of_mixed_rank_sizes_equals_each_alone():
    """One call over ranks of 128 and of 4 experts (EP 2 and EP 64 of 256, as one optimizer sweep mixes them) gives
    each point what it gets alone (to rounding: NumPy sums a single column pairwise, many columns in order)."""
    e = np.full(6, 256.0)
    touched = 256 * (1 - (1 - 8 / 256) ** np.array([1.0, 8.0, 64.0, 1.0, 8.0, 64.0]))
    ep = np.array([2.0, 2.0, 2.0, 64.0, 64.0, 64.0])
    together = busiest_experts_touched(e, touched, ep)
    alone = [float(busiest_experts_touched(e[i], touched[i], ep[i])) for i in range(6)]
    assert together == pytest.approx(alone, rel=1e-13, abs=0)
    assert together[3:].tolist() != together[:3].tolist()  # the sizes really differ
