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
(uniform routing), split by expert parallelism. A worker is ``tp x attention_dp`` chips
(:mod:`.parallel`: per-group batch, all-to-all dispatch/combine, collectives across nodes, KV and
non-expert weights per attention group); MLA (DeepSeek-V3) runs its absorbed projections and reads its
one latent per token. Disaggregated rows (separate prefill/decode pools) are :mod:`.disagg`'s; pipeline
stages pass micro-batches (:func:`_pipelined`). Rows of models missing from the catalog get NaN.
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


def _attention_gemms(a, tokens, tp, b_in, b_w, env, prec) -> np.ndarray:
    """The attention projections of one layer on one attention-TP rank. GQA/MHA: fused qkv and o, split by
    ``tp`` (KV heads replicated when ranks outnumber them). MLA (DeepSeek-V3), absorbed as engines run it in
    decode: the down-projections of q and of the KV latent (replicated on every rank), q's up-projection,
    the per-head absorbed K and V up-projections (one batched GEMM each), and o -- the heads split ``tp``
    ways."""
    from inferonomics.optimize.calibration.predict import gemm  # noqa: PLC0415

    if a.attention == "MLA":
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim
        h = a.n_heads / tp
        down = gemm(tokens, a.q_lora_rank + a.kv_lora_rank + a.qk_rope_head_dim, a.d_model, b_in, b_w, env, prec)
        q_up = gemm(tokens, h * qk, a.q_lora_rank, b_in, b_w, env, prec)
        absorb = (gemm(tokens, h * a.kv_lora_rank, a.qk_nope_head_dim, 2.0, 2.0, env, "bf16")
                  + gemm(tokens, h * a.v_head_dim, a.kv_lora_rank, 2.0, 2.0, env, "bf16"))
        return down + q_up + absorb + gemm(tokens, a.d_model, h * a.v_head_dim, b_in, b_w, env, prec)
    kvh = np.maximum(1.0, a.n_kv_heads / tp)
    qkv = gemm(tokens, (a.n_heads / tp + 2 * kvh) * a.head_dim, a.d_model, b_in, b_w, env, prec)
    return qkv + gemm(tokens, a.d_model, a.n_heads * a.head_dim / tp, b_in, b_w, env, prec)


def _attention_kv_shape(a, tp):
    """(KV heads, head dim) the decode-attention kernel streams per rank: MLA reads one latent of
    ``kv_lora_rank + rope`` elements per token shared by every head (as one KV head of half that width,
    the kernel term counting K and V), GQA ``max(1, h_kv/tp)`` heads of ``head_dim``."""
    if a.attention == "MLA":
        return 1.0, (a.kv_lora_rank + a.qk_rope_head_dim) / 2
    return np.maximum(1.0, a.n_kv_heads / tp), a.head_dim


def decode_attention_layer(a, seqs, context, tp, precision: str, env) -> np.ndarray | float:
    """One layer's split-KV decode attention of ``seqs`` sequences at ``context`` on a rank of ``tp`` (alternate
    layers of a sliding-window model within the window): the one context term of :func:`step_time`."""
    from inferonomics.optimize.calibration.predict import decode_attention  # noqa: PLC0415

    kvh, hd = _attention_kv_shape(a, tp)
    att = [decode_attention(seqs, c, a.n_heads / tp, kvh, hd, _precision(precision, env)[3], env, split=True)
           for c in ((context, np.minimum(context, a.window)) if a.window else (context,))]
    return (att[0] + att[1]) / 2 if a.window else att[0]


def step_time(a, batch, isl, osl, tp, dp, ep, mtp, precision: str, backend: str, env, *,
              prefill_tokens=None, context=None, one_prompt: bool = False, parts: bool = False):
    """Seconds of one step of a worker of ``tp x dp`` chips (:mod:`.parallel`: ``dp`` attention groups of
    ``tp`` ranks, experts over ``mtp x ep`` = the same chips) decoding ``batch`` sequences; ``prefill_tokens``
    (the worker's prompt tokens in the step) defaults to B*isl/osl (in-flight batching). A group's decode
    attention covers its ``batch/dp`` sequences; a batch of 0 is a prefill-only step. The prompt tokens are
    spread evenly over the groups (many admitted requests), or with ``one_prompt`` all land on one group (a
    single request's prompt: that group sets the step). With ``parts`` a dict of the named parts of
    the step (:data:`STEP_PARTS`; seconds, summing to the step) instead of the total."""
    from inferonomics.optimize.calibration.parallel import layer_comm_time  # noqa: PLC0415
    from inferonomics.optimize.calibration.predict import (  # noqa: PLC0415 - predict imports this module
        gemm, prefill_attention, roofline)

    prec, b_in, b_w, b_kv = _precision(precision, env)
    p = batch * isl / osl if prefill_tokens is None else prefill_tokens
    ctx = isl + osl / 2 if context is None else context
    p_group = p if one_prompt else p / dp  # prompt tokens of the busiest attention group
    tokens = batch / dp + p_group  # tokens one attention group sees; its TP ranks share them
    seqs = np.maximum(batch / dp, 1.0)
    att = _attention_gemms(a, tokens, tp, b_in, b_w, env, prec)
    att_d = np.where(batch > 0, decode_attention_layer(a, seqs, ctx, tp, precision, env), 0.0)
    span_dim = (a.qk_nope_head_dim + a.qk_rope_head_dim + a.v_head_dim) / 2 if a.attention == "MLA" else a.head_dim
    att_p = np.where(p > 0, prefill_attention(np.maximum(p_group, 1), a.n_heads / tp, span_dim, isl / 2, env), 0.0)
    if a.n_experts:
        all_tokens = batch + p  # experts see every token of the worker
        routed = all_tokens * a.experts_per_token / ep  # uniform routing: every EP rank an equal share
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
    comm = layer_comm_time(tokens, tp, dp, ep, bool(a.n_experts), a.experts_per_token or 1, a.d_model, b_in, env)
    quant = (_input_quantization(a, tokens, tp, tp, env) if prec == "fp8" and backend in QUANTIZES_FP8_INPUTS
             else 0.0)
    head = gemm(np.maximum(batch, 1.0) / dp, a.vocab / tp, a.d_model, 2.0, 2.0, env, "bf16")
    if parts:  # an engine fuses norms/rotary into these kernels
        n = a.n_layers
        return {"attention_gemms": n * att, "decode_attention": n * att_d, "prefill_attention": n * att_p,
                "mlp": n * mlp, "communication": n * comm, "quantization": n * quant, "lm_head": head,
                "engine_step": np.full(np.shape(head), env[_BACKENDS[backend]]),
                # the host's per-sequence cost (sampling, scheduling) is paid by each attention-DP rank's own
                # executor for its own batch/dp sequences, all ranks at once
                "per_sequence": batch / dp * env["overhead_per_seq_s"]}
    layer = att + att_d + att_p + mlp + comm + quant
    return a.n_layers * layer + head + env[_BACKENDS[backend]] + batch / dp * env["overhead_per_seq_s"]


#: the named parts of :func:`step_time` (``parts=True``), in the order tables print them
STEP_PARTS = ("attention_gemms", "decode_attention", "prefill_attention", "mlp", "communication", "quantization",
              "lm_head", "engine_step", "per_sequence")


#: engines whose fp8 linear layers quantize their bf16 input in a kernel of its own before each GEMM: TRT-LLM's
#: PyTorch-flow Linear does (NVIDIA's GEMM collector times exactly that module, and its fp8 rows carry the
#: quantization: quant_overhead_s is fitted there); vLLM fuses the quantization into the preceding norm
QUANTIZES_FP8_INPUTS = ("trtllm",)


def _input_quantization(a, tokens, tp, attn_tp, env) -> np.ndarray:
    """Per layer: quantizing the inputs of the fp8 GEMMs (qkv and o; gate/up and down, or for an MoE the one
    input of its fused expert kernel and its shared experts') -- :func:`inferonomics.symbolic.kernels.quant_time`."""
    from inferonomics.optimize.calibration.predict import compiled  # noqa: PLC0415

    q = compiled("quant_time", ("m", "k"))
    o_in = a.n_heads * (a.v_head_dim if a.attention == "MLA" else a.head_dim) / attn_tp
    t = q({"m": tokens, "k": a.d_model}, env) + q({"m": tokens, "k": o_in}, env)
    if a.n_experts:
        t = t + q({"m": tokens, "k": a.d_model}, env)
        if a.shared_experts:
            t = t + q({"m": tokens, "k": a.shared_experts * a.moe_ffn_dim / tp}, env)
    else:
        t = t + q({"m": tokens, "k": a.d_model}, env) + q({"m": tokens, "k": a.ffn_dim / tp}, env)
    return t


def _weight_bytes(a, b_w: float, dp=1.0):
    """Bytes of the stored weights of one worker (every parameter at the row's weight precision): each of
    the ``dp`` attention groups keeps its own copy of everything but the routed experts, which are split
    once over all the worker's chips."""
    from inferonomics.symbolic.architecture import breakdown  # noqa: PLC0415

    parts = breakdown(a)
    experts = float(parts["routed_experts"])
    return ((float(sum(parts.values())) - experts) * dp + experts) * b_w


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


def resident_memory(a, isl, osl, tp, dp, precision: str, env, context=None):
    """(worker's weight bytes, one sequence's KV bytes at ``context``, default ``isl + osl/2``)."""
    _, _, b_w, b_kv = _precision(precision, env)
    ctx = isl + osl / 2 if context is None else context
    return _weight_bytes(a, b_w, dp), _kv_bytes_per_token(a, b_kv, tp, ctx) * ctx  # KV lives in its attention group


def resident_batch(a, batch, isl, osl, tp, dp, precision: str, env, context=None) -> np.ndarray:
    """Sequences a worker of ``tp x dp`` chips keeps decoding at ``batch`` concurrent requests:
    :func:`inferonomics.symbolic.kernels.kv_resident_batch` (``min(B, (phi M t - weights) / kv_per_seq)``,
    at least 1), each resident sequence holding KV for the average context ``isl + osl/2`` (paged KV: a
    sequence's blocks grow as it decodes; the same average context as its decode attention). Requests beyond
    the cap queue. ``phi`` is ``kv_memory_fraction`` (fixed, not fitted); the weights are every stored
    parameter at the row's weight precision, the non-expert ones once per attention-DP group; a sequence's KV
    is held by its attention group (replicated over its TP ranks past the KV heads). ``context``: not the average."""
    from inferonomics.optimize.calibration.predict import compiled  # noqa: PLC0415

    if not np.isfinite(env.get("hbm_capacity_bytes", np.nan)):  # a card of unknown capacity: no cap
        return np.asarray(batch, dtype=float)
    weights, kv_seq = resident_memory(a, isl, osl, tp, dp, precision, env, context)
    return compiled("kv_resident_batch", ("batch", "weight_bytes", "kv_bytes_per_seq", "chips"))(
        {"batch": batch, "weight_bytes": weights, "kv_bytes_per_seq": kv_seq, "chips": tp * dp}, env)


def serving_tpot_s(a, batch, isl, osl, tp, dp, ep, mtp, precision: str, backend: str, env, *,
                   mixed: bool = True, parts: bool = False, context=None):
    """Seconds per output token of a replica at ``batch`` concurrent requests (arrays broadcast).

    The steps run at the resident batch :func:`resident_batch` (requests beyond it wait in the queue: their
    wait is TTFT, not TPOT). Under in-flight batching (``mixed``) the mean step is
    :func:`inferonomics.symbolic.kernels.serving_step_time` of a pure-decode step and a step carrying
    ``isl * max(1, B/osl)`` prompt tokens, with the backend's share of prompt work inside decode steps
    (``prefill_in_decode_sglang`` for SGLang, 1 for TRT-LLM and vLLM); without ``mixed``, the decode step.
    With ``parts``, :func:`step_time`'s named parts of that mean step (they sum to it). ``context`` (default
    ``isl + osl/2``): the decode attention's and resident KV's context, apart from the prompt work."""
    from inferonomics.optimize.calibration.predict import compiled  # noqa: PLC0415

    b = resident_batch(a, batch, isl, osl, tp, dp, precision, env, context)
    args = (a, b, isl, osl, tp, dp, ep, mtp, precision, backend, env)
    t_dec = step_time(*args, prefill_tokens=np.zeros_like(b), parts=parts, context=context)
    if not mixed:  # decode-only steps: no prompt tokens ever
        return t_dec
    t_mix = step_time(*args, prefill_tokens=isl * np.maximum(1.0, b / osl), parts=parts, context=context)
    mean = compiled("serving_step_time", ("t_dec", "t_mix", "batch", "osl"), backend=backend)
    if parts:  # the mean step is linear in the two steps: each part mixes with the same weight
        w = mean({"t_dec": 0.0, "t_mix": 1.0, "batch": b, "osl": osl}, env)
        return {k: (1 - w) * t_dec[k] + w * t_mix[k] for k in t_dec}
    return mean({"t_dec": t_dec, "t_mix": t_mix, "batch": b, "osl": osl}, env)


def request_overhead_s(backend: str, env) -> float:
    """The engine's fitted fixed time to first token beyond the prefill."""
    return env[_REQUEST[backend]]


def serving_ttft_s(a, batch, isl, osl, tp, dp, ep, mtp, precision: str, backend: str, env, context=None):
    """Seconds to the first token: the request's whole prompt in one step (context ``isl``) beside the
    resident decode batch, plus the backend's ``request_overhead_<backend>_s`` (HTTP, tokenization, admission,
    scheduling), plus the closed-loop queue at ``batch`` concurrent clients
    (:func:`inferonomics.symbolic.kernels.closed_loop_ttft_wait`: a free slot when the resident batch is full,
    and the prompts of the other resident requests scheduled ahead, each costing what one prompt adds to a
    step)."""
    from inferonomics.optimize.calibration.predict import compiled  # noqa: PLC0415

    b = resident_batch(a, batch, isl, osl, tp, dp, precision, env, context)
    args = (a, b, isl, osl, tp, dp, ep, mtp, precision, backend, env)
    first = step_time(*args, prefill_tokens=isl, context=isl, one_prompt=True)
    t_prompt = np.maximum(first - step_time(*args, prefill_tokens=np.zeros_like(b)), 0.0)
    wait = compiled("closed_loop_ttft_wait", ("concurrency", "resident", "t_prompt", "output", "tpot"),
                    backend=backend)(
        {"concurrency": batch, "resident": b, "t_prompt": t_prompt, "output": osl,
         "tpot": serving_tpot_s(a, batch, isl, osl, tp, dp, ep, mtp, precision, backend, env, context=context)},
        env)
    return first + request_overhead_s(backend, env) + wait


def _shape(r: np.ndarray, pool: str, n_experts, implied_dp=None) -> tuple[np.ndarray, ...]:
    """(tp, dp, ep, moe_tp) of each row's pool (``pool`` is "" for aggregated rows, else "prefill_" or
    "decode_"); empty or 0 = the engine default: attention DP 1, EP 1, the experts' TP over the rest.

    ``tp_size`` is the attention TP of each of ``attention_dp_size`` groups (aiconfigurator's convention,
    ``moe_tp x moe_ep = tp x dp``). Where a row leaves ``attention_dp_size`` empty but its concurrency is a
    multiple ``k > 1`` of its per-rank ``batch_size`` (``implied_dp``: TRT-LLM's attention DP over the TP
    ranks, as on NVIDIA's gpt-oss rows), the worker is the ``moe_tp x moe_ep = tp`` chips run as ``k``
    attention-DP groups of ``tp/k``."""
    tp, dp = _col(r, f"{pool}tp_size", 1.0), _col(r, f"{pool}attention_dp_size", np.nan)
    if implied_dp is not None:
        k = np.where(np.isfinite(dp), 1.0, implied_dp)
        tp = np.where(k > 1, tp / k, tp)
        dp = np.where(k > 1, k, dp)
    dp = np.where(np.isfinite(dp) & (dp > 0), dp, 1.0)
    ep = _col(r, f"{pool}moe_ep_size", 1.0)
    mtp = _col(r, f"{pool}moe_tp_size", np.nan)
    return tp, dp, ep, np.where(np.isfinite(mtp), mtp, tp * dp / ep)


def _check_rows(a, r, shapes, mask) -> None:
    from inferonomics.optimize.calibration.parallel import check_shape  # noqa: PLC0415

    seen = set()
    for i in np.flatnonzero(mask):
        for pool, (tp, dp, ep, mtp) in shapes.items():
            key = (pool, tp[i], dp[i], ep[i], mtp[i])
            if key not in seen:
                seen.add(key)
                check_shape(a, tp[i], dp[i], ep[i], mtp[i], f"serving row line {int(r['line'][i])} {pool}".strip())


def _serving(r: np.ndarray, env, ttft: bool) -> np.ndarray:
    """Predictions for aggregated and disaggregated rows (:mod:`.disagg`); pipeline parallelism splits the
    layers over ``pp`` stages that pass ``pp`` micro-batches of ``B/pp`` along: a token's step is the
    whole stack at ``B/pp`` (:func:`_pipelined`)."""
    from inferonomics.optimize.calibration import disagg  # noqa: PLC0415

    out = np.full(len(r), np.nan)
    dis = r["mode"] == "disagg"
    per_rank = r["silicon_concurrency"] / r["batch_size"]  # sequences per attention-DP rank (agg rows)
    implied = np.where(np.isfinite(per_rank) & (per_rank > 1), np.round(per_rank), 1.0)
    agg = _shape(r, "", None, implied)
    dec, pre = _shape(r, "decode_", None), _shape(r, "prefill_", None)
    nd = _col(r, "decode_num_workers", 1.0)
    # a worker decodes batch_size sequences per attention-DP group; a disaggregated row's concurrency C
    # spreads over n_d decode workers
    conc = np.where(np.isfinite(r["silicon_concurrency"]), r["silicon_concurrency"], r["batch_size"] * agg[1])
    conc = np.where(dis & ~np.isfinite(conc), r["decode_batch_size"] * dec[1] * nd, conc)
    batch = np.where(dis, r["decode_batch_size"] * dec[1], r["batch_size"] * agg[1])
    batch = np.where(~np.isfinite(batch), conc / np.where(dis, nd, 1.0), batch)
    keys = np.char.add(np.char.add(r["model_path"].astype(str), "|"),
                       np.char.add(np.char.add(r["precision"].astype(str), "|"), r["backend"].astype(str)))
    ok = np.isin(r["mode"], ("agg", "disagg")) & np.isfinite(batch)
    for key in np.unique(keys[ok]):
        model_path, prec, backend = str(key).split("|")
        a = architecture(model_path)
        if a is None or backend not in _BACKENDS:
            continue
        sel = ok & (keys == key)
        _check_rows(a, r, {"": agg}, sel & ~dis)
        _check_rows(a, r, {"decode": dec, "prefill": pre}, sel & dis)
        shape = tuple(np.where(dis, d, g)[sel] for d, g in zip(dec, agg))
        pp = np.where(dis, _col(r, "decode_pp_size", 1.0), _col(r, "pp_size", 1.0))[sel]
        isl, osl, b = r["isl"][sel], r["osl"][sel], batch[sel]
        tpot_agg = _pipelined(serving_tpot_s, a, b, isl, osl, shape, pp, prec, backend, env, mixed=True)
        tpot_dis = _pipelined(serving_tpot_s, a, b, isl, osl, shape, pp, prec, backend, env, mixed=False)
        d = dis[sel]
        tpot = np.where(d, tpot_dis, tpot_agg)
        if not ttft:
            out[sel] = tpot
            continue
        ttft_agg = _pipelined(serving_ttft_s, a, b, isl, osl, shape, pp, prec, backend, env)
        pshape = tuple(x[sel] for x in pre)
        ttft_dis = disagg.disagg_ttft_s(a, conc[sel], isl, osl, pshape, _col(r, "prefill_batch_size", 1.0)[sel],
                                        _col(r, "prefill_num_workers", 1.0)[sel], tpot_dis, prec, backend, env)
        out[sel] = np.where(d, ttft_dis, ttft_agg)
    return out


def parallel_rows(r: np.ndarray) -> np.ndarray:
    """Rows whose serving worker (the decode pool of a disaggregated row) runs attention data parallelism
    (given, or implied by a concurrency that is a multiple of the per-rank batch) or expert parallelism."""
    dis = r["mode"] == "disagg"
    per_rank = r["silicon_concurrency"] / r["batch_size"]
    implied = np.where(np.isfinite(per_rank) & (per_rank > 1), np.round(per_rank), 1.0)
    _, dp_a, ep_a, _ = _shape(r, "", None, implied)
    _, dp_d, ep_d, _ = _shape(r, "decode_", None)
    return np.where(dis, (dp_d > 1) | (ep_d > 1), (dp_a > 1) | (ep_a > 1))


def _pipelined(fn, a, batch, isl, osl, shape, pp, prec, backend, env, **kw) -> np.ndarray:
    """``fn`` (TPOT or TTFT) of a worker whose layers are split over ``pp`` pipeline stages: the stages hold
    ``1/pp`` of the weights each and pass ``pp`` micro-batches of ``B/pp`` sequences along, so a token
    crosses every layer at ``B/pp`` sequences (the whole stack's time at ``B/pp``) plus ``pp - 1`` hand-offs
    of its micro-batch's activations between stages (one all-to-all between two chips each)."""
    from inferonomics.optimize.calibration.parallel import collective_span  # noqa: PLC0415

    if np.all(pp <= 1):
        return fn(a, batch, isl, osl, *shape, prec, backend, env, **kw)
    t = fn(a, np.maximum(batch / pp, 1.0), isl, osl, *shape, prec, backend, env, **kw)
    hop = collective_span("alltoall", np.maximum(batch / pp, 1.0) * a.d_model * 2.0, 2.0, env)
    return t + (pp - 1) * hop


def serving_tpot(r: np.ndarray, env) -> np.ndarray:
    return _serving(r, env, ttft=False)


def serving_ttft(r: np.ndarray, env) -> np.ndarray:
    return _serving(r, env, ttft=True)
