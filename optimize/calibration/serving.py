"""Predict end-to-end serving TPOT and TTFT rows (NVIDIA aiconfigurator-core 0.12.0 measurement data,
Apache-2.0) from the catalog's model architecture, per-kernel times and the calibration.

:func:`serving_tpot_s` and :func:`serving_ttft_s` are the one place the serving arithmetic lives (``validate``
and the optimizer's :mod:`inferonomics.optimize.serving_step` both call them). At ``B`` concurrent requests a
replica of ``t`` chips decodes only the sequences whose KV cache fits in the fraction ``kv_memory_fraction``
of its HBM after the weights (:func:`inferonomics.symbolic.kernels.kv_resident_batch`, :func:`resident_batch`);
the others queue, so TPOT is the step time at that resident batch. Under in-flight batching
(``mode == agg``) every step decodes the resident batch ``B`` and admits ``B/osl`` new requests on average, so
a fraction ``min(1, B/osl)`` of the steps also prefill a whole prompt
(:func:`inferonomics.symbolic.kernels.inflight_step_time`); of that prompt work a backend's share
``prefill_share`` lands inside the decode steps (:func:`inferonomics.symbolic.kernels.serving_step_time`:
fitted for SGLang, whose measured TPOT barely moves with the prompt; 1 for TRT-LLM and vLLM).
Per layer: the weight GEMMs over all step tokens
(sharded over TP), decode attention over the average context ``isl + osl/2`` (split-KV kernels), causal
prefill attention of the prompt tokens, the per-layer fixed cost and two all-reduces; per step: the LM head
and the backend's fixed overhead. MoE layers run as grouped GEMMs over the experts the step's tokens touch
(uniform routing), split by expert parallelism. Rows the model does not cover get NaN: disaggregated
serving (separate prefill/decode pools) and models missing from the catalog.
"""

from __future__ import annotations

import numpy as np

from inferonomics.symbolic import catalog
from inferonomics.symbolic.errors import UnknownNameError

_BACKENDS = {"trtllm": "overhead_trtllm_s", "vllm": "overhead_vllm_s", "sglang": "overhead_sglang_s"}
#: each engine's fixed time to first token beyond the prefill (the engines' front ends and schedulers differ:
#: SGLang's measured TTFT sits near a second where TRT-LLM's and vLLM's sit near 0.1-0.2 s)
_REQUEST = {"trtllm": "request_overhead_trtllm_s", "vllm": "request_overhead_vllm_s",
            "sglang": "request_overhead_sglang_s"}


def architecture(model_path: str):
    """The catalog architecture for a Hugging Face model path (resolved as engines write names, e.g.
    ``nvidia/Llama-3.1-8B-Instruct-FP8``, and including models registered from a measurement folder's
    ``configs/*.json``), or None when neither knows it."""
    try:
        return catalog.resolve_model(model_path).model.architecture
    except UnknownNameError:
        return None


def _col(r: np.ndarray, name: str, default: float) -> np.ndarray:
    v = r[name].astype(float)
    return np.where(np.isfinite(v) & (v > 0), v, default)


def fp4_compute(env) -> bool:
    """Whether the card computes FP4 GEMMs on FP4 tensor cores (the catalog gives it an FP4 rate)."""
    return float(env.get("fp4_tensor_cores", 0.0)) > 0


def _precision(p: str, env) -> tuple[str, float, float, float]:
    """(GEMM precision, bytes per activation in, per weight, per KV element) of a serving precision.

    ``w4a16``: 4-bit weights (4 bits + an 8-bit scale per 32) with 16-bit math. ``fp4``: what an engine runs
    for FP4 weights: on a card with FP4 tensor cores both operands in NVFP4 (4 bits + an FP8 scale per 16) on
    the FP4 kernel class, with the FP8 KV cache NVIDIA's FP4 checkpoints ship (kv_cache_quant_algo FP8);
    elsewhere (Hopper) weight-only, as NVIDIA's H100 "fp4" serving rows run."""
    if p == "fp8":
        return "fp8", 1.0, 1.0, 1.0
    if p == "fp4" and fp4_compute(env):
        return "fp4", 0.5625, 0.5625, 1.0
    if p in ("fp4", "w4a16"):
        return "bf16", 2.0, 0.5 + 1 / 32, 2.0
    return "bf16", 2.0, 2.0, 2.0


def step_time(a, batch, isl, osl, tp, dp, ep, mtp, precision: str, backend: str, env, *,
              prefill_tokens=None, context=None) -> np.ndarray:
    """Seconds of one step of a replica; ``prefill_tokens`` defaults to B*isl/osl (in-flight batching)."""
    from inferonomics.optimize.calibration.predict import (  # noqa: PLC0415 - predict imports this module
        collective, decode_attention, gemm, prefill_attention, roofline)

    prec, b_in, b_w, b_kv = _precision(precision, env)
    p = batch * isl / osl if prefill_tokens is None else prefill_tokens
    ctx = isl + osl / 2 if context is None else context
    tokens = (batch + p) / dp  # tokens one attention rank sees; TP ranks share them
    heads_q = a.n_heads * a.head_dim
    attn_tp = tp / dp  # attention data parallelism replaces tensor parallelism for attention
    kvh = np.maximum(1.0, a.n_kv_heads / attn_tp)
    qkv = gemm(tokens, (a.n_heads / attn_tp + 2 * kvh) * a.head_dim, a.d_model, b_in, b_w, env, prec)
    o = gemm(tokens, a.d_model, heads_q / attn_tp, b_in, b_w, env, prec)
    att_d = decode_attention(batch / dp, ctx, a.n_heads / attn_tp, kvh, a.head_dim, b_kv, env, split=True)
    if a.window:  # alternate layers attend only within the window
        att_w = decode_attention(batch / dp, np.minimum(ctx, a.window), a.n_heads / attn_tp, kvh, a.head_dim,
                                 b_kv, env, split=True)
        att_d = (att_d + att_w) / 2
    att_p = np.where(p > 0, prefill_attention(np.maximum(p / dp, 1), a.n_heads / attn_tp, a.head_dim,
                                               isl / 2, env), 0.0)
    if a.n_experts:
        all_tokens = batch + p  # experts see every token of the replica
        routed = all_tokens * a.experts_per_token / ep
        touched = a.n_experts * (1 - (1 - a.experts_per_token / a.n_experts) ** all_tokens) / ep
        ffn = a.moe_ffn_dim / mtp
        flops = 2 * routed * 3 * a.d_model * ffn
        nbytes = touched * 3 * a.d_model * ffn * b_w + routed * a.d_model * (b_in + 2) * 2
        mlp = roofline(flops * 2 / 3, nbytes * 2 / 3, env, prec) + roofline(flops / 3, nbytes / 3, env, prec)
        if a.shared_experts:
            sff = a.shared_experts * a.moe_ffn_dim / tp
            mlp = mlp + gemm(tokens, 2 * sff, a.d_model, b_in, b_w, env, prec) + gemm(
                tokens, a.d_model, sff, b_in, b_w, env, prec)
    else:
        ff = a.ffn_dim / tp
        mlp = gemm(tokens, 2 * ff, a.d_model, b_in, b_w, env, prec) + gemm(tokens, a.d_model, ff, b_in, b_w,
                                                                           env, prec)
    comm = np.where(tp > 1, 2 * collective("all_reduce", tokens * a.d_model * 2.0, np.maximum(tp, 2), env), 0.0)
    layer = qkv + o + att_d + att_p + mlp + comm  # an engine fuses norms/rotary into these kernels
    if prec == "fp8" and backend in QUANTIZES_FP8_INPUTS:
        layer = layer + _input_quantization(a, tokens, tp, attn_tp, env)
    head = gemm(batch / dp, a.vocab / attn_tp, a.d_model, 2.0, 2.0, env, "bf16")
    return a.n_layers * layer + head + env[_BACKENDS[backend]] + batch * env["overhead_per_seq_s"]


#: engines whose fp8 linear layers quantize their bf16 input in a kernel of its own before each GEMM: TRT-LLM's
#: PyTorch-flow Linear does (NVIDIA's GEMM collector times exactly that module, and its fp8 rows carry the
#: quantization: quant_overhead_s is fitted there); vLLM fuses the quantization into the preceding norm
QUANTIZES_FP8_INPUTS = ("trtllm",)


def _input_quantization(a, tokens, tp, attn_tp, env) -> np.ndarray:
    """Per layer: quantizing the inputs of the fp8 GEMMs (qkv and o; gate/up and down, or for an MoE the one
    input of its fused expert kernel and its shared experts') -- :func:`inferonomics.symbolic.kernels.quant_time`."""
    from inferonomics.optimize.calibration.predict import compiled  # noqa: PLC0415

    q = compiled("quant_time", ("m", "k"))
    t = q({"m": tokens, "k": a.d_model}, env) + q({"m": tokens, "k": a.n_heads * a.head_dim / attn_tp}, env)
    if a.n_experts:
        t = t + q({"m": tokens, "k": a.d_model}, env)
        if a.shared_experts:
            t = t + q({"m": tokens, "k": a.shared_experts * a.moe_ffn_dim / tp}, env)
    else:
        t = t + q({"m": tokens, "k": a.d_model}, env) + q({"m": tokens, "k": a.ffn_dim / tp}, env)
    return t


def _weight_bytes(a, b_w: float) -> float:
    """Bytes of the stored weights of one replica (every parameter at the row's weight precision)."""
    from inferonomics.symbolic.architecture import total_params  # noqa: PLC0415

    return float(total_params(a)) * b_w


def _kv_bytes_per_token(a, b_kv: float, attn_tp, context):
    """KV-cache bytes one sequence keeps per token of its context on a replica: each attention-TP rank of the
    sequence's attention group holds ``max(1, h_kv/t_a)`` KV heads (a head is replicated when the ranks
    outnumber the KV heads; MLA's one latent on every rank); a sliding-window layer holds min(context, window)
    tokens."""
    from inferonomics.symbolic.architecture import kv_elements_per_layer, n_sliding_layers  # noqa: PLC0415

    if a.attention == "MLA":
        per_layer = kv_elements_per_layer(a) * attn_tp
    else:
        per_layer = 2 * a.head_dim * np.maximum(1.0, a.n_kv_heads / attn_tp) * attn_tp
    n_slide = n_sliding_layers(a)
    share = (a.n_layers - n_slide + n_slide * np.minimum(context, a.window or 1) / context) if n_slide else a.n_layers
    return per_layer * share * b_kv


def resident_batch(a, batch, isl, osl, tp, dp, precision: str, env) -> np.ndarray:
    """Sequences a replica of ``tp`` chips keeps decoding at ``batch`` concurrent requests:
    :func:`inferonomics.symbolic.kernels.kv_resident_batch` (``min(B, (phi M t - weights) / kv_per_seq)``,
    at least 1), each resident sequence holding KV for the average context ``isl + osl/2`` (paged KV: a
    sequence's blocks grow as it decodes; the same average context as its decode attention). Requests beyond
    the cap queue. ``phi`` is ``kv_memory_fraction`` (fixed, not fitted); the weights are every stored
    parameter at the row's weight precision."""
    from inferonomics.optimize.calibration.predict import compiled  # noqa: PLC0415

    if not np.isfinite(env.get("hbm_capacity_bytes", np.nan)):  # a card of unknown capacity: no cap
        return np.asarray(batch, dtype=float)
    _, _, b_w, b_kv = _precision(precision, env)
    ctx = isl + osl / 2
    kv_seq = _kv_bytes_per_token(a, b_kv, tp / dp, ctx) * ctx
    return compiled("kv_resident_batch", ("batch", "weight_bytes", "kv_bytes_per_seq", "chips"))(
        {"batch": batch, "weight_bytes": _weight_bytes(a, b_w), "kv_bytes_per_seq": kv_seq, "chips": tp}, env)


def serving_tpot_s(a, batch, isl, osl, tp, dp, ep, mtp, precision: str, backend: str, env, *,
                   mixed: bool = True) -> np.ndarray:
    """Seconds per output token of a replica at ``batch`` concurrent requests (arrays broadcast).

    The steps run at the resident batch :func:`resident_batch` (requests beyond it wait in the queue: their
    wait is TTFT, not TPOT). Under in-flight batching (``mixed``) the mean step is
    :func:`inferonomics.symbolic.kernels.serving_step_time` of a pure-decode step and a step carrying
    ``isl * max(1, B/osl)`` prompt tokens, with the backend's share of prompt work inside decode steps
    (``prefill_in_decode_sglang`` for SGLang, 1 for TRT-LLM and vLLM); without ``mixed``, the decode step."""
    from inferonomics.optimize.calibration.predict import compiled  # noqa: PLC0415

    b = resident_batch(a, batch, isl, osl, tp, dp, precision, env)
    args = (a, b, isl, osl, tp, dp, ep, mtp, precision, backend, env)
    t_dec = step_time(*args, prefill_tokens=np.zeros_like(b))
    if not mixed:  # decode-only steps: no prompt tokens ever
        return t_dec
    t_mix = step_time(*args, prefill_tokens=isl * np.maximum(1.0, b / osl))
    return compiled("serving_step_time", ("t_dec", "t_mix", "batch", "osl"), backend=backend)(
        {"t_dec": t_dec, "t_mix": t_mix, "batch": b, "osl": osl}, env)


def request_overhead_s(backend: str, env) -> float:
    """The engine's fitted fixed time to first token beyond the prefill."""
    return env[_REQUEST[backend]]


def serving_ttft_s(a, batch, isl, osl, tp, dp, ep, mtp, precision: str, backend: str, env) -> np.ndarray:
    """Seconds to the first token: the request's whole prompt in one step (context ``isl``) beside the
    resident decode batch, plus the backend's ``request_overhead_<backend>_s`` (HTTP, tokenization, admission,
    scheduling)."""
    b = resident_batch(a, batch, isl, osl, tp, dp, precision, env)
    return step_time(a, b, isl, osl, tp, dp, ep, mtp, precision, backend, env, prefill_tokens=isl,
                     context=isl) + request_overhead_s(backend, env)


def _serving(r: np.ndarray, env, ttft: bool) -> np.ndarray:
    out = np.full(len(r), np.nan)
    batch = np.where(np.isfinite(r["batch_size"]), r["batch_size"], r["silicon_concurrency"])
    tp, dp = _col(r, "tp_size", 1.0), _col(r, "attention_dp_size", 1.0)
    ep, mtp = _col(r, "moe_ep_size", 1.0), _col(r, "moe_tp_size", 1.0)
    keys = np.char.add(np.char.add(r["model_path"].astype(str), "|"),
                       np.char.add(np.char.add(r["precision"].astype(str), "|"), r["backend"].astype(str)))
    ok = (r["mode"] == "agg") & np.isfinite(batch) & (r["pp_size"] <= 1)
    for key in np.unique(keys[ok]):
        model_path, prec, backend = str(key).split("|")
        a = architecture(model_path)
        if a is None or backend not in _BACKENDS:
            continue
        sel = ok & (keys == key)
        args = (a, batch[sel], r["isl"][sel], r["osl"][sel], tp[sel], dp[sel], ep[sel], mtp[sel], prec, backend, env)
        out[sel] = serving_ttft_s(*args) if ttft else serving_tpot_s(*args)
    return out


def serving_tpot(r: np.ndarray, env) -> np.ndarray:
    return _serving(r, env, ttft=False)


def serving_ttft(r: np.ndarray, env) -> np.ndarray:
    return _serving(r, env, ttft=True)
