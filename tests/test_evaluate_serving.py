"""`evaluate` reports one step time: the serving model's for catalog cards (checked against the serving model
called directly and a decode step worked out by hand from the kernel formulas), the closed form's with
--ideal; context moves it; the breakdown sums to it; memory follows the serving model's resident-batch rule."""

from __future__ import annotations

import json
import math

import pytest

from cli_run import run_cli
from inferonomics.optimize import serving_step as S
from inferonomics.optimize.calibration import serving
from inferonomics.symbolic import catalog

EXAMPLE = ["evaluate", "--model", "llama3.1-70b", "--hardware", "h100-sxm", "--precision", "fp8", "--tp", "4",
           "--batch", "64", "--context", "2048", "--json"]


def _json(capsys, argv):
    code, out, err = run_cli(capsys, argv)
    assert code == 0, err
    return json.loads(out)


def test_step_is_the_serving_models_called_directly(capsys):
    d = _json(capsys, EXAMPLE)
    spec = S.spec_for("llama3.1-70b", "h100-sxm", "fp8")
    # serving_tpot_s with its own positional arguments: TP 4 attention ranks, DP 1, EP 1, experts' TP 4
    direct = serving.serving_tpot_s(spec.arch, 64.0, 1024.0, 1024.0, 4.0, 1.0, 1.0, 4.0, "fp8", "trtllm", spec.env,
                                    context=2048.0)
    assert d["step_model"] == "serving" and d["step_ms"] == pytest.approx(float(direct) * 1e3, rel=1e-12)
    # every derived figure follows that one step: 64 resident sequences advance one token per step
    assert d["resident_batch"] == 64
    assert d["tokens_per_s"] == pytest.approx(64 / (d["step_ms"] / 1e3), rel=1e-12)
    assert d["tokens_per_s_per_user"] == pytest.approx(1e3 / d["step_ms"], rel=1e-12)
    # J/token: 4 chips at the card's power for one step, shared by 64 tokens
    power = catalog.hardware("h100-sxm").power_w
    assert d["energy_j_per_token"] == pytest.approx(4 * power * d["step_ms"] / 1e3 / 64, rel=1e-12)
    assert "calibrated_tpot_ms" not in d and "h100-sxm calibration" in d["calibration"]
    lo, hi = d["step_ms_interval"]
    assert lo < d["step_ms"] < hi


def test_utilization_counts_decode_and_in_flight_prompt_flops(capsys):
    """Useful FLOPs of an average in-flight step (by hand): 2 N_a per token over B decode tokens and
    B isl/osl prompt tokens, plus attention 4 L d c per decoded token and 2 L d isl per prompt token."""
    d = _json(capsys, [*EXAMPLE, "--isl", "512", "--osl", "256"])
    v = catalog.bind(catalog.model("llama3.1-70b"), catalog.hardware("h100-sxm"), catalog.precision("fp8"))
    n_a, layers, d_attn, peak = v["active_params"], 80, 64 * 128, v["peak_flop_per_s"]
    b, prompt = 64.0, 64.0 * 512 / 256
    flops = 2 * n_a * (b + prompt) + 4 * layers * d_attn * b * 2048 + 2 * layers * d_attn * prompt * 512
    assert d["utilization"] == pytest.approx(flops / (4 * peak * d["step_ms"] / 1e3), rel=1e-9)


def test_context_moves_the_step_and_defaults_to_the_average_context(capsys):
    base = [x for x in EXAMPLE if x not in ("--context", "2048")]
    short, long = (_json(capsys, [*base, "--context", c]) for c in ("2048", "32768"))
    assert long["step_ms"] > 1.5 * short["step_ms"]
    assert long["breakdown_ms"]["decode_attention"] > 5 * short["breakdown_ms"]["decode_attention"]
    # the weight GEMMs do not depend on the context
    assert long["breakdown_ms"]["mlp"] == pytest.approx(short["breakdown_ms"]["mlp"], rel=0.1)
    # no --context: isl + osl/2 = 1024 + 512, the context the serving model averages over a request
    default = _json(capsys, base)
    at_1536 = _json(capsys, [*base, "--context", "1536"])
    assert default["context"] == 1536 and default["step_ms"] == at_1536["step_ms"]
    spec = S.spec_for("llama3.1-70b", "h100-sxm", "fp8")
    assert default["step_ms"] == pytest.approx(S.tpot(spec, 4, 64, 1024, 1024) * 1e3, rel=1e-12)


@pytest.mark.parametrize("argv", [
    EXAMPLE,
    ["evaluate", "--model", "qwen3-30b-a3b", "--hardware", "h100-sxm", "--tp", "2", "--batch", "200", "--json"],
    ["evaluate", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--backend", "sglang", "--batch", "3000",
     "--context", "30000", "--json"],
], ids=["dense-fp8", "moe", "sglang-past-the-resident-cap"])
def test_breakdown_sums_to_the_step(capsys, argv):
    d = _json(capsys, argv)
    assert set(d["breakdown_ms"]) == set(serving.STEP_PARTS)
    assert math.fsum(d["breakdown_ms"].values()) == pytest.approx(d["step_ms"], rel=1e-12)
    assert d["tokens_per_s"] == pytest.approx(d["resident_batch"] * 1e3 / d["step_ms"], rel=1e-12)


def test_memory_follows_the_resident_batch_rule(capsys):
    """Past the KV capacity the extra requests queue: the resident batch is where weights plus KV fill
    phi = 0.9 of the replica's HBM, by hand from the architecture (GQA: 8 KV heads of 128, 32 layers)."""
    d = _json(capsys, ["evaluate", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--precision", "bf16",
                       "--batch", "3000", "--context", "30000", "--json"])
    a = catalog.model("llama3.1-8b").architecture
    kv_seq = 2 * a.n_kv_heads * a.head_dim * a.n_layers * 2.0 * 30000  # K and V, bf16
    weights = d["memory_per_chip_gb"]["weights"] * 1e9
    cap = (0.9 * 80e9 - weights) / kv_seq
    assert d["resident_batch"] == pytest.approx(cap, rel=1e-9) and d["kv_capacity_sequences"] == pytest.approx(cap)
    mem = d["memory_per_chip_gb"]
    assert mem["kv_cache"] == pytest.approx(cap * kv_seq / 1e9, rel=1e-9)
    assert mem["total"] == pytest.approx(80.0, rel=1e-9) and d["fits_in_memory"]
    assert d["tokens_per_s"] == pytest.approx(cap * 1e3 / d["step_ms"], rel=1e-9)


def test_ideal_flag_gives_the_closed_form(capsys):
    from inferonomics.symbolic.evaluate import evaluate_step

    d = _json(capsys, [*EXAMPLE, "--ideal"])
    m, hw = catalog.model("llama3.1-70b"), catalog.hardware("h100-sxm")
    v = dict(catalog.bind(m, hw, catalog.precision("fp8")), tp=4, batch=64, context=2048)
    assert d["step_model"] == "ideal"
    assert d["step_ms"] == pytest.approx(evaluate_step(v).step_s * 1e3, rel=1e-12)
    assert math.fsum(d["breakdown_ms"].values()) == pytest.approx(d["step_ms"], rel=1e-12)
    # the roofline part of one step is max(compute, memory)
    assert d["breakdown_ms"]["roofline"] == pytest.approx(max(d["compute_ms"], d["memory_ms"]), rel=1e-12)


def test_raw_figures_are_refused_by_the_serving_model(capsys):
    code, _, err = run_cli(capsys, [*EXAMPLE, "--peak-flops", "1e15"])
    assert code == 2 and "--peak-flops" in err and "--ideal" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, ["evaluate", "--model", "llama3.1-8b", "--hardware", "mi300x", "--json"])
    assert code == 2 and "vllm, sglang" in err and "--ideal" in err


def test_decode_step_by_hand_from_the_kernel_formulas():
    """Llama-3.1-8B, bf16, one H100, one sequence at context 1000, decode only: per layer four GEMMs (qkv, o,
    gate+up, down) as t_k + (stream^p + chain^p)^(1/p) with stream = max(FLOPs/(eta_F F), activations/
    (eta_Wa W) + weights/(eta_W W)) and chain = min(k b_w, c_k)/r_k, one split-KV decode attention (XQA blocks,
    its pace per work item and its floor per CTA in whole waves, joined by the fitted exponent), no
    collective at TP 1; then the LM head GEMM, the engine's fixed step and one sequence's host cost."""
    spec = S.spec_for("llama3.1-8b", "h100-sxm", "bf16")
    e = spec.env
    a = spec.arch
    peak, w = e["peak_bf16"], e["hbm_bandwidth_bytes_per_s"]
    p = e["gemm_overlap_exp"]

    def gemm(m, n, k):
        stream = max(2 * m * n * k / (e["eta_flop"] * peak),
                     (m * k * 2 + m * n * 2) / (e["eta_bw_act"] * w) + k * n * 2 / (e["eta_bw"] * w))
        chain = min(k * 2, e["splitk_chunk_bytes"]) / e["kloop_rate_bytes_per_s"]
        return e["kernel_overhead_s"] + (stream ** p + chain ** p) ** (1 / p)

    d, hd, h, kvh = a.d_model, a.head_dim, a.n_heads, a.n_kv_heads
    gemms = (gemm(1, (h + 2 * kvh) * hd, d) + gemm(1, d, h * hd) + gemm(1, 2 * a.ffn_dim, d)
             + gemm(1, d, a.ffn_dim))
    # split-KV decode attention of class (bf16 KV, GQA): TensorRT-LLM's XQA rule (Hopper: a block per 128 cached
    # tokens, 1000 -> n = 7, at most round(sqrt(56)) = 7) gives 7 blocks, far below 8 waves over the 132 SMs and
    # 6000 sub-sequences, so 1 x 8 KV heads x 7 = 56 work items in one wave; each walks its share of the KV rows
    # (256 bytes each: over a 128-byte line), each costs t_i plus d_h t_h per query head of its group of 4
    kv_bytes, items = 2 * 1000 * kvh * hd * 2, 1 * kvh * 7
    stream = kv_bytes / (e["eta_kv"] * w) + kv_bytes / (items * e["attn_item_rate_bytes_per_s"])
    floor = math.ceil(items / e["sm_count"]) * (e["attn_item_s"] + h / kvh * hd * e["attn_qhead_s"])
    q = e["attn_overlap_exp"]
    compute = 4 * 1000 * h * hd / (e["eta_flop"] * peak)
    attention = e["attn_kernel_s"] + max((stream ** q + floor ** q) ** (1 / q), compute)
    by_hand = (a.n_layers * (gemms + attention) + gemm(1, a.vocab, d) + e["overhead_trtllm_s"]
               + e["overhead_per_seq_s"])
    model = S.tpot(spec, 1, 1.0, 600.0, 800.0, mixed=False, context=1000.0)
    assert float(model) == pytest.approx(by_hand, rel=1e-12)


@pytest.mark.parametrize("model, precision, serving_precision", [
    ("deepseek-v3", "fp8", "fp8_block"),  # its config.json: quantization_config.weight_block_size [128, 128]
    ("llama3.1-70b", "fp8", "fp8"),       # NVIDIA's FP8 Llama checkpoints scale per tensor
    ("llama3.1-70b", "int4", "w4a16"),    # 4-bit weights, 16-bit math
])
def test_precision_is_the_asked_one_and_the_kernel_class_is_named_beside_it(capsys, model, precision,
                                                                          serving_precision):
    d = _json(capsys, ["evaluate", "--model", model, "--hardware", "h200", "--precision", precision, "--tp", "8",
                       "--batch", "16", "--json"])
    assert (d["precision"], d["serving_precision"]) == (precision, serving_precision)


def test_weights_that_overflow_leave_no_kv_room_rather_than_a_negative_count(capsys):
    """DeepSeek-V3 at fp8 over 8 H100s: 671e9 weights at a byte each are ~84 GB a chip, past 80 GB of HBM."""
    code, out, err = run_cli(capsys, ["evaluate", "--model", "deepseek-v3", "--hardware", "h100-sxm", "--precision",
                                      "fp8", "--tp", "8", "--batch", "16", "--json"])
    d = json.loads(out)
    assert code != 0 and "do not fit" in err and not d["fits_in_memory"]
    assert d["memory_per_chip_gb"]["weights"] > 80 and d["kv_capacity_sequences"] == 0.0
