"""FROZEN copy (2026-11-29, evening: main after the kernels, ttft and evalsweep merges) of the NumPy serving assembly as it stood before the serving model moved into
``inferonomics.symbolic.serving``: ``optimize/calibration/{serving,parallel,disagg}.py`` and predict.py's
per-kernel wrappers, one module, untouched arithmetic. It is the independent oracle of
tests/test_serving_model.py: the symbolic, fused model must give the same numbers (1e-9 relative) on every
serving row and on a grid of deployments. Do not edit it to follow the model; it is the model's past.
"""
# ruff: noqa
from __future__ import annotations

from functools import lru_cache

import math

import numpy as np
from sympy import Symbol, lambdify

from inferonomics.symbolic import kernels as K
from inferonomics.symbolic.symbols import TABLE


# ---- predict.py (kernel wrappers)
def _x(name: str) -> Symbol:
    return Symbol(f"x_{name}", positive=True)


@lru_cache(maxsize=None)
def compiled(builder: str, shape: tuple[str, ...], **static: object):
    """``kernels.<builder>`` over shape symbols ``x_<name>``, compiled to NumPy: f(shapes: dict, env: dict)."""
    syms = [_x(n) for n in shape]
    expr = getattr(K, builder)(*syms, **static)
    params = sorted((p for p in expr.free_symbols if p.name in TABLE), key=lambda p: p.name)
    fn = lambdify(syms + params, expr, "numpy", cse=True)

    def call(shapes: dict[str, object], env: dict[str, float]) -> np.ndarray:
        return fn(*[shapes[n] for n in shape], *[env[p.name] for p in params])

    call.params = tuple(p.name for p in params)  # type: ignore[attr-defined]
    return call



#: GEMM kernel families: a serving engine's GEMMs (NVIDIA's TRT-LLM measurements) stream weights at
#: eta_bw, PyTorch's (ours: torch.matmul, torch._scaled_mm) at eta_bw_torch; both pay the same in-graph
#: fixed time (kernel_overhead_s, kernel_overhead_fp8_s)
_FAMILY_BW = {"engine": "eta_bw", "torch": "eta_bw_torch"}


def with_precision(env: dict[str, float], precision: str, family: str = "engine") -> dict[str, float]:
    """``env`` with ``peak_flop_per_s``, ``eta_flop``, the weight-streaming ``eta_bw`` and the GEMM fixed time
    ``kernel_overhead_s`` set for GEMMs at ``precision`` (bf16, fp8, fp8_block, fp4) of kernel ``family``
    (engine or torch). Block-scaled fp8 GEMMs read their own terms (``eta_bw_fp8_block``,
    ``kloop_rate_fp8_block_bytes_per_s``...) directly: see :func:`gemm`."""
    out = dict(env)
    out["eta_bw"] = env[_FAMILY_BW[family]]
    if precision == "fp4":
        # FP4 compute (NVFP4/MXFP4): its own fraction of the datasheet FP4 peak and k-loop pace (fitted on a
        # card that has FP4 tensor cores), the fixed time of the other block-scaled low-precision kernels
        out["peak_flop_per_s"], out["eta_flop"] = env.get("peak_fp4", env["peak_fp8"]), env["eta_flop_fp4"]
        out["kernel_overhead_s"] = env["kernel_overhead_fp8_s"]
    elif precision.startswith("fp8"):
        eta = env["eta_flop_fp8_block"] if precision == "fp8_block" else env["eta_flop_fp8"]
        out["peak_flop_per_s"], out["eta_flop"] = env["peak_fp8"], eta
        out["kernel_overhead_s"] = env["kernel_overhead_fp8_s"]
    else:
        out["peak_flop_per_s"] = env["peak_bf16"]
    return out


def gemm(m, n, k, b_in, b_w, env: dict[str, float], precision: str = "bf16", family: str = "engine",
         resident: bool = False) -> np.ndarray:
    """Time of GEMMs ``[m,k] @ [k,n]`` (arrays broadcast) at ``precision``; ``resident``: weights re-read from L2."""
    e = with_precision(env, precision, family)
    if precision == "fp8_block":  # its own tile model: the tiles are the kernel's choice, decided numerically
        tile_rows, waves, padded, area = K.blockscaled_tiles(m, n, env["sm_count"])
        f = compiled("blockscaled_gemm_time",
                     ("m", "n", "k", "b_in", "b_w", "tile_rows", "waves", "padded_rows", "tile_area"),
                     resident=resident)
        return f({"m": m, "n": n, "k": k, "b_in": b_in, "b_w": b_w, "tile_rows": tile_rows, "waves": waves,
                  "padded_rows": padded, "tile_area": area}, e)
    f = compiled("gemm_time", ("m", "n", "k", "b_in", "b_w"), resident=resident, split_k=precision != "fp4")
    return f({"m": m, "n": n, "k": k, "b_in": b_in, "b_w": b_w}, e)


def benchmark_gemm(m, n, k, b_in, b_w, env: dict[str, float], precision: str) -> np.ndarray:
    """A GEMM as NVIDIA's collector times it: repeated over a few weight copies, which stay in L2 when they fit
    (:func:`inferonomics.symbolic.kernels.l2_resident`)."""
    m, n, k = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (m, n, k)))
    hot = K.l2_resident(k * n * b_w, env["l2_capacity_bytes"], env["l2_resident_fraction"])
    out = np.empty(m.shape)
    for resident in (False, True):
        sel = hot == resident
        if sel.any():
            out[sel] = gemm(m[sel], n[sel], k[sel], b_in, b_w, env, precision, resident=resident)
    return out


def roofline(flops, nbytes, env: dict[str, float], precision: str = "bf16") -> np.ndarray:
    """A grouped kernel given its FLOPs and bytes: max(compute, memory) + kernel fixed time."""
    e = with_precision(env, precision)
    return compiled("roofline_time", ("flops", "nbytes"))({"flops": flops, "nbytes": nbytes}, e)


def decode_attention(batch, context, heads, kv_heads, head_dim, b_kv, env, split: bool,
                     one_block: bool = False) -> np.ndarray:
    """Decode attention (arrays broadcast). A split-KV engine kernel gets its KV blocks from the kernel's rule
    (:func:`~inferonomics.symbolic.kernels.xqa_blocks`) and its class per row (KV dtype x GQA/MHA,
    :data:`~inferonomics.symbolic.kernels.ATTENTION_KERNELS`)."""
    e = with_precision(env, "bf16")
    shape = ("batch", "context", "heads", "kv_heads", "head_dim", "b_kv")
    if not split:
        f = compiled("decode_attention_time", shape, split=False)
        return f({"batch": batch, "context": context, "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim,
                  "b_kv": b_kv}, e)
    b, c, h, hkv, hd, bkv = np.broadcast_arrays(*(np.asarray(a, dtype=float)
                                                  for a in (batch, context, heads, kv_heads, head_dim, b_kv)))
    tokens = env.get("split_kv_tokens_per_block") or K.split_kv_tokens(env.get("fp4_tensor_cores", 0.0))
    blocks = K.xqa_blocks(b, hkv, c, env["sm_count"], tokens)
    if one_block:  # DELIBERATELY NEW (2026-11-29, night, branch disagg): SGLang's MLA kernel does not split the KV
        blocks = np.ones_like(blocks)
    out = np.full(b.shape, np.nan)
    fp8, gqa = bkv < 1.5, h > hkv
    for kernel in K.ATTENTION_KERNELS:
        sel = (fp8 == (kernel[0] == "8")) & (gqa == (kernel[1] == "gqa"))
        if sel.any():
            f = compiled("decode_attention_time", (*shape, "blocks"), split=True, kernel=kernel)
            out[sel] = f({"batch": b[sel], "context": c[sel], "heads": h[sel], "kv_heads": hkv[sel],
                          "head_dim": hd[sel], "b_kv": bkv[sel], "blocks": blocks[sel]}, e)
    return out if out.ndim else float(out)


def prefill_attention(tokens, heads, head_dim, span, env) -> np.ndarray:
    e = with_precision(env, "bf16")
    f = compiled("prefill_attention_time", ("tokens", "heads", "head_dim", "span"))
    return f({"tokens": tokens, "heads": heads, "head_dim": head_dim, "span": span}, e)


def collective(op: str, nbytes, gpus, env, nccl: bool = False) -> np.ndarray:
    return compiled("collective_time", ("nbytes", "gpus"), op=op, nccl=nccl)({"nbytes": nbytes, "gpus": gpus}, env)




# ---- parallel.py



#: scale-out (RDMA NIC) bandwidth per chip, one direction, bytes/s, of each card's reference platform
#: (facts table ``scaleout_bw_Gbps_per_chip``: DGX H100/H200/B200 and GB200 NVL72 carry one 400 Gb/s
#: ConnectX-7 per GPU). Cards not listed have no scale-out figure: their collectives stay in one domain.
SCALEOUT_BYTES_PER_S = {"h100-sxm": 400e9 / 8, "h200-sxm": 400e9 / 8, "b200": 400e9 / 8, "gb200": 400e9 / 8}


#: latency of one network hop of an NCCL ring (InfiniBand/RoCE between nodes), seconds: NCCL's own tuning
#: model (src/graph/tuning.cc, ``hwLat[NCCL_HW_NET]``, Ring/LL: 2.7 us, against 0.6 us for an NVLink hop,
#: where our fitted ``link_latency_s`` is 0.48 us). Used for the hops of a collective between nodes.
SCALEOUT_HOP_LATENCY_S = 2.7e-6


def dispatch_copies(top_k, ep):
    """Expected distinct EP ranks a token's ``top_k`` experts land on under uniform routing:
    ``ep (1 - (1 - 1/ep)^k)`` (1 at ``ep = 1``; at most ``min(k, ep)``)."""
    ep = np.asarray(ep, dtype=float)
    return ep * (1 - (1 - 1 / ep) ** top_k)


def alltoall_bytes(tokens_local, top_k, ep, d_model, bytes_per_element):
    """Bytes one rank puts into one dispatch (or combine) all-to-all: each of its ``tokens_local`` tokens'
    ``d_model`` activations once per distinct EP rank it is routed to (:func:`dispatch_copies`)."""
    return tokens_local * dispatch_copies(top_k, ep) * d_model * bytes_per_element


def per_rank_batch(batch, dp):
    """Sequences one attention-data-parallel group decodes (the worker's batch split evenly ``dp`` ways)."""
    return np.asarray(batch, dtype=float) / dp


def collective_span(op: str, nbytes, gpus, env) -> np.ndarray:
    """One collective over ``gpus`` chips, hierarchical past one scale-up domain of ``D`` chips
    (``scaleup_domain_size``): the intra-node collective over ``min(gpus, D)`` chips, plus, across the
    ``N = gpus/D`` nodes, an NCCL collective over the scale-out NICs (``scaleout_bandwidth_bytes_per_s``
    replaces the link bandwidth, :data:`SCALEOUT_HOP_LATENCY_S` the hop latency). Each chip drives its own
    NIC (NCCL runs one ring per NIC), so an all-reduce/all-gather/reduce-scatter moves its ``1/D`` shard
    between nodes, an all-to-all the ``(N-1)/N`` of its message bound for other nodes."""

    gpus = np.asarray(gpus, dtype=float)
    domain = env.get("scaleup_domain_size", np.inf)
    out_bw = env.get("scaleout_bandwidth_bytes_per_s", np.nan)
    inside = np.minimum(gpus, domain)
    t = np.where(inside > 1, collective(op, nbytes, np.maximum(inside, 2), env), 0.0)
    nodes = gpus / inside
    if not np.isfinite(out_bw) or not np.any(nodes > 1):
        return t
    shard = nbytes if op == "alltoall" else nbytes / inside
    nic = {**env, "link_bandwidth_bytes_per_s": out_bw, "link_latency_s": SCALEOUT_HOP_LATENCY_S}
    across = collective(op, shard, np.maximum(nodes, 2), nic, nccl=True)
    return t + np.where(nodes > 1, across, 0.0)


def moe_exchange_time(tokens_group, tp, dp, ep, top_k, d_model, b_in, env) -> np.ndarray:
    """Per MoE layer, the traffic that moves tokens to their experts and back when attention is data
    parallel (``dp > 1``); 0 at ``dp = 1`` (the FFN all-reduce of :func:`layer_comm_time` covers it).
    ``tokens_group``: tokens of one attention group."""
    chips = tp * dp
    local = tokens_group / tp  # the group's tokens, split among its TP ranks for the exchange
    a2a = (collective_span("alltoall", alltoall_bytes(local, top_k, ep, d_model, b_in), chips, env)
           + collective_span("alltoall", alltoall_bytes(local, top_k, ep, d_model, 2.0), chips, env))
    every = tokens_group * dp  # all-gather every token, reduce-scatter the outputs (experts split by TP only)
    agrs = (collective_span("all_gather", every * d_model * b_in, chips, env)
            + collective_span("reduce_scatter", every * d_model * 2.0, chips, env))
    return np.where(dp > 1, np.where(ep > 1, a2a, agrs), 0.0)


def layer_comm_time(tokens_group, tp, dp, ep, moe: bool, top_k, d_model, b_in, env) -> np.ndarray:
    """Collectives of one layer: the attention output's all-reduce over ``tp``; then for the FFN either
    the same all-reduce (``dp = 1``) or the exchange of :func:`moe_exchange_time` (``dp > 1``; a dense FFN
    inside an attention group keeps its all-reduce over ``tp``)."""
    ar = np.where(tp > 1, collective_span("all_reduce", tokens_group * d_model * 2.0, np.maximum(tp, 2), env), 0.0)
    if not moe:
        return 2 * ar
    return ar + np.where(dp > 1, moe_exchange_time(tokens_group, tp, dp, ep, top_k, d_model, b_in, env), ar)


def check_shape(a, tp, dp, ep, mtp, where: str = "parallel shape") -> None:
    """Raise InvalidInputError when a parallel shape cannot hold the model: attention TP not dividing the
    query heads (or KV heads not dividing evenly when fewer ranks than KV heads), EP larger than the expert
    count or not dividing it, or ``moe_tp x moe_ep`` differing from ``tp x dp``."""
    from inferonomics.symbolic.errors import InvalidInputError  # noqa: PLC0415

    for name, v in (("tp", tp), ("attention_dp", dp), ("moe_ep", ep), ("moe_tp", mtp)):
        if not (v >= 1 and float(v).is_integer()):
            raise InvalidInputError(f"{where} {name}", "a whole number >= 1", v)
    if a.n_heads % tp:
        raise InvalidInputError(f"{where} tp", f"a divisor of the model's {a.n_heads} attention heads", tp)
    if a.n_kv_heads > tp and a.n_kv_heads % tp and a.attention != "MLA":
        raise InvalidInputError(f"{where} tp", f"a divisor of the model's {a.n_kv_heads} KV heads", tp)
    if a.n_experts:
        if ep > a.n_experts or a.n_experts % ep:
            raise InvalidInputError(f"{where} moe_ep", f"a divisor of the model's {a.n_experts} experts", ep)
        if mtp * ep != tp * dp:
            raise InvalidInputError(f"{where} moe_tp x moe_ep", f"tp x attention_dp = {tp * dp:g} chips",
                                    mtp * ep)


# ---- disagg.py




def kv_transfer_time(a, isl, precision: str, tp_prefill, env) -> np.ndarray:
    """Seconds to move one request's KV cache of ``isl`` tokens (every layer, at the row's KV precision) from its
    prefill group's ``tp`` ranks, each over its own NIC (NCCL-class transport: the fitted NCCL fixed time and
    bandwidth fraction); over the scale-up link where no NIC figure is known."""
    _, _, _, b_kv = _precision(precision, env)
    # DELIBERATELY NEW (2026-12-08, branch disagg3): each rank sends the KV it holds (max(1, h_kv/t) heads; MLA's
    # whole latent on every rank), not 1/t of the unreplicated cache
    nbytes = _kv_bytes_per_token(a, b_kv, tp_prefill, isl) * isl / tp_prefill
    bw = env.get("scaleout_bandwidth_bytes_per_s", env["link_bandwidth_bytes_per_s"])
    return env["nccl_base_s"] + nbytes / (env["eta_link_nccl"] * bw)


def disagg_tpot_s(a, batch_decode, isl, osl, shape, precision: str, backend: str, env) -> np.ndarray:
    """Seconds per output token on a decode worker of ``shape = (tp, dp, ep, mtp)`` at ``batch_decode``."""

    return serving_tpot_s(a, batch_decode, isl, osl, *shape, precision, backend, env, mixed=False)


def prefill_time(a, isl, osl, shape, prefill_batch, precision: str, backend: str, env) -> np.ndarray:
    """Seconds of one prefill-only step of a prefill worker: ``prefill_batch`` prompts of ``isl`` tokens
    per attention-DP group."""

    dp = shape[1]
    return step_time(a, np.zeros_like(np.asarray(isl, dtype=float)), isl, osl, *shape, precision, backend, env,
                     prefill_tokens=prefill_batch * dp * isl, context=isl)


def disagg_ttft_s(a, concurrency, isl, osl, prefill_shape, prefill_batch, prefill_workers, tpot, precision: str,
                  backend: str, env, slots=None) -> np.ndarray:
    """Seconds to the first token (see the module docstring); ``tpot`` is the decode pool's."""

    t_p = prefill_time(a, isl, osl, prefill_shape, prefill_batch, precision, backend, env)
    kv = kv_transfer_time(a, isl, precision, prefill_shape[0], env)
    # DELIBERATELY NEW (2026-11-29, night, branch disagg): the decode worker's first step is part of the TTFT, and
    # the prefill queue is the closed loop's mean-value analysis (one queue of demand t_p/k, the rest a delay)
    first = t_p + kv + tpot + request_overhead_s(backend, env)
    # DELIBERATELY NEW (2026-11-30, branch disagg2): a decode pool of fewer slots than clients makes the surplus
    # wait for a free slot (Little's law on the saturated pool), which also lengthens every client's cycle
    slot = 0.0 if slots is None else np.maximum(0.0, np.asarray(concurrency) / slots - 1) * osl * tpot
    first_out = first + slot
    demand = t_p / (prefill_workers * prefill_batch * prefill_shape[1])
    think = first_out + osl * tpot - demand
    c = np.broadcast_to(np.floor(concurrency), np.shape(demand))
    queue = np.zeros(np.shape(demand))
    for i in np.ndindex(queue.shape):
        q = 0.0
        r = demand[i]
        for n in range(1, int(c[i]) + 1):
            r = demand[i] * (1 + q)
            q = n * r / (r + think[i])
        queue[i] = r - demand[i]
    return queue + first_out


# ---- serving.py (main, 2026-11-29 evening)

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
    if p in ("fp8", "fp8_block"):  # DELIBERATELY NEW (2026-12-08, branch moe3): fp8_block, a block-scaled checkpoint
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


def decode_attention_layer(a, seqs, context, tp, precision: str, env, backend: str = "trtllm") -> np.ndarray:
    """One layer's split-KV decode attention of ``seqs`` sequences at ``context`` on a rank of ``tp`` (alternate
    layers of a sliding-window model within the window): the one context term of :func:`step_time`."""

    kvh, hd = _attention_kv_shape(a, tp)
    one = a.attention == "MLA" and backend == "sglang"
    att = [decode_attention(seqs, c, a.n_heads / tp, kvh, hd, _precision(precision, env)[3], env, split=True,
                            one_block=one)
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

    prec, b_in, b_w, b_kv = _precision(precision, env)
    p = batch * isl / osl if prefill_tokens is None else prefill_tokens
    ctx = isl + osl / 2 if context is None else context
    p_group = p if one_prompt else p / dp  # prompt tokens of the busiest attention group
    tokens = batch / dp + p_group  # tokens one attention group sees; its TP ranks share them
    seqs = np.maximum(batch / dp, 1.0)
    att = _attention_gemms(a, tokens, tp, b_in, b_w, env, prec)
    att_d = np.where(batch > 0, decode_attention_layer(a, seqs, ctx, tp, precision, env, backend), 0.0)
    span_dim = (a.qk_nope_head_dim + a.qk_rope_head_dim + a.v_head_dim) / 2 if a.attention == "MLA" else a.head_dim
    att_p = np.where(p > 0, prefill_attention(np.maximum(p_group, 1), a.n_heads / tp, span_dim, isl / 2, env), 0.0)
    if a.n_experts:
        all_tokens = batch + p  # experts see every token of the worker
        routed = all_tokens * a.experts_per_token / ep  # uniform routing: every EP rank an equal share
        touched = a.n_experts * (1 - (1 - a.experts_per_token / a.n_experts) ** all_tokens) / ep
        # DELIBERATELY NEW (2026-12-08, branch moe3): the layer waits for the EP rank that touches the most experts
        # (an expected maximum, kernel_rules.busiest_experts_touched; the mean for one rank), and a block-scaled
        # fp8 checkpoint's ("fp8_block") grouped expert kernel runs at the block-scaled rates (eta_bw_fp8_block,
        # eta_flop_fp8_block, the fp8 kernels' fixed time)
        touched = K.busiest_experts_touched(a.n_experts, touched * ep, ep)  # the rule, given the mean over all E
        moe_prec, moe_env = prec, env
        if precision == "fp8_block":
            moe_prec, moe_env = "fp8_block", {**env, "eta_bw": env["eta_bw_fp8_block"]}
        ffn = a.moe_ffn_dim / mtp
        flops = 2 * routed * 3 * a.d_model * ffn
        nbytes = touched * 3 * a.d_model * ffn * b_w + routed * a.d_model * (b_in + 2) * 2
        mlp = (roofline(flops * 2 / 3, nbytes * 2 / 3, moe_env, moe_prec)
               + roofline(flops / 3, nbytes / 3, moe_env, moe_prec))
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

    b = resident_batch(a, batch, isl, osl, tp, dp, precision, env, context)
    args = (a, b, isl, osl, tp, dp, ep, mtp, precision, backend, env)
    first = step_time(*args, prefill_tokens=isl, context=isl, one_prompt=True)
    # deliberately new term (2026-11-29, night, branch ttftq): a prompt ahead costs its own prompt-only step
    t_prompt = step_time(a, np.zeros_like(b), isl, osl, tp, dp, ep, mtp, precision, backend, env, prefill_tokens=isl,
                         context=isl, one_prompt=True)
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
    # DELIBERATELY NEW (2026-12-08, branch moe): a recorded attention DP as wide as the TP (dp == tp > 1) is run on
    # the TP ranks: tp chips of attention TP 1, and an EP recorded over all tp x dp chips spans those tp chips
    recorded = _col(r, f"{pool}attention_dp_size", np.nan)
    same = (recorded > 1) & (recorded == _col(r, f"{pool}tp_size", 1.0))
    spans_all = ep * np.where(np.isfinite(mtp), mtp, 1.0) == tp * dp
    ep = np.where(same & spans_all, ep / dp, ep)
    tp = np.where(same, 1.0, tp)
    return tp, dp, ep, np.where(np.isfinite(mtp), mtp, tp * dp / ep)


def _check_rows(a, r, shapes, mask) -> None:

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

    out = np.full(len(r), np.nan)
    dis = r["mode"] == "disagg"
    per_rank = r["silicon_concurrency"] / r["batch_size"]  # sequences per attention-DP rank (agg rows)
    implied = np.where(np.isfinite(per_rank) & (per_rank > 1), np.round(per_rank), 1.0)
    agg = _shape(r, "", None, implied)
    dec, pre = _shape(r, "decode_", None), _shape(r, "prefill_", None)
    # a worker decodes batch_size sequences per attention-DP group; a disaggregated row's concurrency C
    # spreads over n_d decode workers
    conc = np.where(np.isfinite(r["silicon_concurrency"]), r["silicon_concurrency"], r["batch_size"] * agg[1])
    nd = _col(r, "decode_num_workers", 1.0)
    # DELIBERATELY NEW (2026-12-08, branch disagg3): a TRT-LLM disaggregated row without pool labels has the fewest
    # decode workers n whose clients C/n are ceil(1.2 b) for a power of two b (the sweep's grid)
    given = np.isfinite(r["decode_num_workers"]) & (r["decode_num_workers"] > 0)
    for i in np.flatnonzero(dis & (r["backend"] == "trtllm") & ~given & np.isfinite(conc)):
        for n in range(1, 65):
            if any(abs(conc[i] / n - math.ceil(1.2 * 2 ** k - 1e-9)) < 1e-6 for k in range(17)):
                nd[i] = n
                break
    conc = np.where(dis & ~np.isfinite(conc), r["decode_batch_size"] * dec[1] * nd, conc)
    batch = np.where(dis, r["decode_batch_size"] * dec[1], r["batch_size"] * agg[1])
    batch = np.where(~np.isfinite(batch), conc / np.where(dis, nd, 1.0), batch)
    # DELIBERATELY NEW (2026-11-30, branch disagg2): NVIDIA's TRT-LLM disaggregated runs offer a decode worker
    # ceil(1.2 b) clients for a max batch b
    trt = dis & (r["backend"] == "trtllm")
    cap = np.where(trt, np.minimum(batch, np.maximum(1.0, np.floor(conc / nd / 1.2 + 1e-9))), batch)
    keys = np.char.add(np.char.add(r["model_path"].astype(str), "|"),
                       np.char.add(np.char.add(r["precision"].astype(str), "|"), r["backend"].astype(str)))
    ok = np.isin(r["mode"], ("agg", "disagg")) & np.isfinite(batch)
    for key in np.unique(keys[ok]):
        model_path, prec, backend = str(key).split("|")
        a = architecture(model_path)
        if a is None or backend not in _BACKENDS:
            continue
        # DELIBERATELY NEW (2026-12-08, branch moe3): the fp8 weights of a checkpoint the catalog says block-scales
        # them (fp8_scaling "block": DeepSeek-V3/R1, Qwen3-235B-A22B-FP8, MiniMax-M2.5) serve as "fp8_block"
        if prec == "fp8" and catalog.resolve_model(model_path).model.fp8_scaling == "block":
            prec = "fp8_block"
        sel = ok & (keys == key)
        _check_rows(a, r, {"": agg}, sel & ~dis)
        _check_rows(a, r, {"decode": dec, "prefill": pre}, sel & dis)
        shape = tuple(np.where(dis, d, g)[sel] for d, g in zip(dec, agg))
        pp = np.where(dis, _col(r, "decode_pp_size", 1.0), _col(r, "pp_size", 1.0))[sel]
        isl, osl, b = r["isl"][sel], r["osl"][sel], batch[sel]
        tpot_agg = _pipelined(serving_tpot_s, a, b, isl, osl, shape, pp, prec, backend, env, mixed=True)
        b_dis = np.minimum(b, cap[sel])
        tpot_dis = _pipelined(serving_tpot_s, a, b_dis, isl, osl, shape, pp, prec, backend, env, mixed=False)
        d = dis[sel]
        tpot = np.where(d, tpot_dis, tpot_agg)
        if not ttft:
            out[sel] = tpot
            continue
        ttft_agg = _pipelined(serving_ttft_s, a, b, isl, osl, shape, pp, prec, backend, env)
        pshape = tuple(x[sel] for x in pre)
        ttft_dis = disagg_ttft_s(a, conc[sel], isl, osl, pshape, _col(r, "prefill_batch_size", 1.0)[sel],
                                        _col(r, "prefill_num_workers", 1.0)[sel], tpot_dis, prec, backend, env,
                                        slots=nd[sel] * resident_batch(a, b_dis, isl, osl, shape[0], shape[1], prec,
                                                                       env))
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

    if np.all(pp <= 1):
        return fn(a, batch, isl, osl, *shape, prec, backend, env, **kw)
    t = fn(a, np.maximum(batch / pp, 1.0), isl, osl, *shape, prec, backend, env, **kw)
    hop = collective_span("alltoall", np.maximum(batch / pp, 1.0) * a.d_model * 2.0, 2.0, env)
    return t + (pp - 1) * hop


def serving_tpot(r: np.ndarray, env) -> np.ndarray:
    return _serving(r, env, ttft=False)


def serving_ttft(r: np.ndarray, env) -> np.ndarray:
    return _serving(r, env, ttft=True)
