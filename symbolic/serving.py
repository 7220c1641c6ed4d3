r"""The serving step of one worker as ONE SymPy expression: the calibrated serving model, whose ideal limit is
:func:`inferonomics.symbolic.model.t_step`.

A step is a tuple of operator records (:class:`Op`), built from the architecture's numbers (constants in the
expression) and :mod:`.kernels`' builders, over the workload and shape symbols of this module (decode batch,
prompt tokens of the step, decode context, prompt length, ``tp``, attention DP, ``moe_ep``, ``moe_tp``) and the
calibration's symbols of :mod:`.symbols`. :func:`compose` joins the records under an overlap policy:

* ``"kernel"`` (the calibrated model): every kernel on its own roofline with its kernel terms (fixed time,
  k-loop chain, activation traffic, attention occupancy...), the times summed;
* ``"per-op"`` / ``"step"`` (:data:`inferonomics.symbolic.model.POLICIES`): the operators' ideal compute and
  memory times pooled into one roofline per operator class (weight matmuls, attention) or one for the step,
  as ``t_step`` does; collectives and fixed costs are added.

With efficiencies 1 and fixed costs 0 the pooled step of a dense model equals ``model.t_step`` exactly
(tests/test_serving_limit.py) for ``tp = 1`` and ``2 <= tp <= n_kv_heads``, with ``N`` and ``N_a`` bound to the
parameters the step's GEMMs read: ``t_step`` also reads the input embedding table and the norm vectors, which a
serving engine gathers (B rows) or fuses. Beyond ``n_kv_heads`` ranks the serving model reads each replicated
KV head's projection weights on every rank; ``t_step`` does not.

The step's terms (per layer unless said): the attention projections (MLA: its absorbed projections), decode
attention over the context (a sliding-window layer: within its window), causal prefill attention of the prompt
tokens, a dense gated MLP or the MoE grouped GEMMs over the experts the step's tokens touch (uniform routing,
split by EP) plus shared experts, the collectives of the parallel shape (all-reduce over ``tp``; with attention
DP the all-to-all dispatch/combine or all-gather/reduce-scatter, hierarchical past one scale-up domain), the
fp8 input quantization of engines that run it as a kernel; per step the LM head, the engine's fixed overhead
and the per-sequence host cost. Conditions that the NumPy assembly wrote as ``np.where``/``np.maximum`` are
``Piecewise``/``Max`` here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import Expr, Function, Integer, Max, Min, Piecewise, Rational, S, Symbol

from . import kernels as K
from . import symbols as s
from .architecture import breakdown, kv_elements_per_layer, n_sliding_layers
from .serving_comm import (  # noqa: F401 - the shape symbols and collectives are part of the model
    SCALEOUT_HOP_LATENCY_S, collective_span, dispatch_copies, domain, dp, ep, kernel_expr as _kernel, layer_comm,
    moe_exchange, scaleout_bw)

# -- the serving model's own variables: workload and parallel shape of one worker ---------------------------
#: sequences decoding in the step (0: a prefill-only step) and prompt tokens in it: nonnegative, so that the
#: conditions ``batch > 0`` and ``prefill > 0`` stay conditions
batch = Symbol("decode_batch", nonnegative=True)
prefill = Symbol("prefill_tokens", nonnegative=True)
#: concurrent requests offered to a replica (the resident batch is what of them decodes)
requests = Symbol("requests", nonnegative=True)
#: the share of the step's prompt tokens on the busiest attention group: 1/dp spread evenly, 1 for one prompt
prompt_share = Symbol("prompt_share", positive=True)
mtp = Symbol("moe_tp", positive=True)
#: the card's datasheet peaks per GEMM precision (``peak_flop_per_s`` of :mod:`.symbols` is "the" peak of one)
PEAKS = {p: Symbol(f"peak_{p}", positive=True) for p in ("bf16", "fp8", "fp4")}

#: the named parts of a step, in the order tables print them
STEP_PARTS = ("attention_gemms", "decode_attention", "prefill_attention", "mlp", "communication", "quantization",
              "lm_head", "engine_step", "per_sequence")

#: engines whose fp8 linear layers quantize their bf16 input in a kernel of its own before each GEMM (TRT-LLM's
#: PyTorch-flow Linear; vLLM fuses the quantization into the preceding norm)
QUANTIZES_FP8_INPUTS = ("trtllm",)

#: each engine's fitted fixed time to first token beyond the prefill
REQUEST_OVERHEAD = {"trtllm": s.t_req_trt, "vllm": s.t_req_vllm, "sglang": s.t_req_sgl}

#: GEMM precision -> (achieved fraction of peak, datasheet peak, kernel fixed time)
_RATES = {"bf16": (s.eta_F, PEAKS["bf16"], s.t_kern), "fp8": (s.eta_F8, PEAKS["fp8"], s.t_kern8),
          "fp4": (s.eta_F4, PEAKS["fp4"], s.t_kern8), "fp8_block": (s.eta_F8b, PEAKS["fp8"], s.t_kern8)}


def precision_bytes(precision: str, fp4_compute: bool) -> tuple[str, Expr, Expr, Expr]:
    """(GEMM precision, bytes per activation in, per weight, per KV element) of a serving precision, exact.

    ``w4a16``: 4-bit weights (4 bits + an 8-bit scale per 32) with 16-bit math. ``fp4``: on a card with FP4
    tensor cores both operands in NVFP4 (4 bits + an FP8 scale per 16) on the FP4 kernel class, with the FP8
    KV cache NVIDIA's FP4 checkpoints ship; elsewhere (Hopper) weight-only, as NVIDIA's H100 "fp4" rows run.
    ``fp8_block``: a block-scaled fp8 checkpoint, its MoE experts on :func:`_grouped`'s block-scaled kernel."""
    one, two = S.One, Integer(2)
    if precision in ("fp8", "fp8_block"):
        return "fp8", one, one, one
    if precision == "fp4" and fp4_compute:
        return "fp4", Rational(9, 16), Rational(9, 16), one
    if precision in ("fp4", "w4a16"):
        return "bf16", two, Rational(1, 2) + Rational(1, 32), two
    return "bf16", two, two, two


@dataclass(frozen=True)
class Op:
    """One operator of a step (seconds, already times the layers it runs in): ``time`` the calibrated kernel's
    (:mod:`.kernels`), ``compute``/``memory`` its ideal arithmetic and HBM times, which a pooled overlap policy
    joins over the operators of its ``pool`` ("matmul", "attention"; "" = never pooled: ``time`` is added)."""

    part: str
    time: Expr
    compute: Expr = S.Zero
    memory: Expr = S.Zero
    pool: str = ""


def compose(ops, overlap: str = "kernel") -> Expr:
    """The step time of ``ops`` under an overlap policy: "kernel" (each kernel on its own roofline), "per-op"
    (one roofline per operator class), "step" (one roofline for the whole step); see the module docstring."""
    if overlap == "kernel":
        return sum((o.time for o in ops), S.Zero)
    if overlap not in ("per-op", "step"):
        raise ValueError(f"overlap {overlap!r}: kernel, per-op or step")
    rest = sum((o.time for o in ops if not o.pool), S.Zero)
    pools = ("matmul", "attention") if overlap == "per-op" else (None,)
    for pool in pools:
        mine = [o for o in ops if o.pool and (pool is None or o.pool == pool)]
        rest += Max(sum((o.compute for o in mine), S.Zero), sum((o.memory for o in mine), S.Zero))
    return rest


def parts(ops) -> dict[str, Expr]:
    """The calibrated step's named parts (:data:`STEP_PARTS`), summing to ``compose(ops)``."""
    return {p: sum((o.time for o in ops if o.part == p), S.Zero) for p in STEP_PARTS}


def _gemm(part: str, m, n, k, b_in, b_w, prec: str, times=1) -> Op:
    eta, peak, t_k = _RATES[prec]
    t = _kernel(K.gemm_time, m, n, k, b_in, b_w, eta_flop=eta, peak=peak, split_k=prec != "fp4",
                replace={s.t_kern: t_k})
    return Op(part, times * t, times * 2 * m * n * k / (eta * peak), times * k * n * b_w / (s.eta_W * s.W),
              "matmul")


def _grouped(part: str, flops, weight_bytes, other_bytes, prec: str, times) -> Op:
    """A grouped kernel (fused MoE experts) of ``flops`` reading ``weight_bytes`` + ``other_bytes``; ``fp8_block`` (a
    block-scaled checkpoint's experts: DeepGEMM's grouped kernel in TensorRT-LLM) at the block-scaled kernels' rates."""
    eta, peak, t_k = _RATES[prec]
    bw = s.eta_W_8b if prec == "fp8_block" else s.eta_W
    t = _kernel(K.roofline_time, flops, weight_bytes + other_bytes, eta, peak, replace={s.t_kern: t_k, s.eta_W: bw})
    return Op(part, times * t, times * flops / (eta * peak), times * weight_bytes / (bw * s.W), "matmul")


def _attention_gemms(a, tokens, tp, b_in, b_w, prec) -> list[Op]:
    """Attention projections of one layer on one attention-TP rank (GQA/MHA: fused qkv and o, KV heads
    replicated when ranks outnumber them; MLA absorbed: latent down-projections, q up, absorbed K/V, o)."""
    L, part = a.n_layers, "attention_gemms"
    if a.attention == "MLA":
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim
        h = a.n_heads / tp
        return [_gemm(part, tokens, a.q_lora_rank + a.kv_lora_rank + a.qk_rope_head_dim, a.d_model, b_in, b_w, prec, L),
                _gemm(part, tokens, h * qk, a.q_lora_rank, b_in, b_w, prec, L),
                _gemm(part, tokens, h * a.kv_lora_rank, a.qk_nope_head_dim, 2, 2, "bf16", L),
                _gemm(part, tokens, h * a.v_head_dim, a.kv_lora_rank, 2, 2, "bf16", L),
                _gemm(part, tokens, a.d_model, h * a.v_head_dim, b_in, b_w, prec, L)]
    kvh = Max(1, a.n_kv_heads / tp)
    return [_gemm(part, tokens, (a.n_heads / tp + 2 * kvh) * a.head_dim, a.d_model, b_in, b_w, prec, L),
            _gemm(part, tokens, a.d_model, a.n_heads * a.head_dim / tp, b_in, b_w, prec, L)]


#: KV blocks per (sequence, KV head) of the split-KV decode-attention kernel, ``xqa_blocks(B, h_kv, c, n_SM, c_b)``:
#: TensorRT-LLM's XQA rule (:func:`.kernels.xqa_blocks`), the kernel's own integer choice, kept as an applied
#: function that the compiler binds to that NumPy rule (the step stays exact: no rounding of floor boundaries)
XQA_BLOCKS = Function("xqa_blocks")


def attention_class(a, tp, b_kv) -> tuple[str, object]:
    """(KV dtype of the :data:`.kernels.ATTENTION_KERNELS` class, the condition that its GQA kernel runs): query
    heads per rank ``h/t`` outnumber KV heads per rank ``max(1, h_kv/t)``, i.e. ``t < h`` for a GQA or MLA model
    (MLA: one latent "KV head"), never for MHA."""
    dt = "8" if b_kv < Rational(3, 2) else "16"
    grouped = a.attention == "MLA" or a.n_heads > a.n_kv_heads
    return dt, (tp < a.n_heads) if grouped else False


def _attention_kernel(dt: str, gqa) -> dict:
    """Replacements turning the GQA kernel of class ``dt`` into the one ``gqa`` selects (``Piecewise`` over the
    class constants; the MHA kernel has no per-query-head term)."""
    eta, t_a, t_i, t_h = K.ATTENTION_KERNELS[(dt, "gqa")]
    eta_m, t_a_m, t_i_m, _ = K.ATTENTION_KERNELS[(dt, "mha")]
    return {eta: Piecewise((eta, gqa), (eta_m, True)), t_a: Piecewise((t_a, gqa), (t_a_m, True)),
            t_i: Piecewise((t_i, gqa), (t_i_m, True)), t_h: Piecewise((t_h, gqa), (S.Zero, True))}


#: engines whose MLA decode-attention kernel does not split a sequence's cache across CTAs: one CTA per (sequence,
#: latent head) walks the whole cache. NVIDIA's H100 DeepSeek-R1 disaggregated rows show it on SGLang 0.5.8 (TP 16):
#: at concurrency 1-32 the step costs a constant ~1.2 us more per cached token (8192x1024 against 1024x1024),
#: whatever the batch, i.e. each sequence's latent cache read at one CTA's pace; TensorRT-LLM's rows (XQA's
#: multi-block rule) show no such term
UNSPLIT_MLA_DECODE = ("sglang",)


def decode_attention_layer(a, seqs, context, tp, b_kv, split_kv: bool = True) -> Expr:
    """One layer's split-KV decode attention of ``seqs`` sequences at ``context`` on a rank of ``tp``, of its
    :func:`attention_class` with :data:`XQA_BLOCKS` blocks (one block per sequence and KV head without
    ``split_kv``: :data:`UNSPLIT_MLA_DECODE`); alternate sliding-window layers see min(c, w)."""
    if a.attention == "MLA":  # one latent per token shared by every head: one KV "head" of half its width
        kvh, hd = S.One, Rational(a.kv_lora_rank + a.qk_rope_head_dim, 2)
    else:
        kvh, hd = Max(1, a.n_kv_heads / tp), a.head_dim
    heads, F16 = a.n_heads / tp, PEAKS["bf16"]
    dt, gqa = attention_class(a, tp, b_kv)
    if gqa is True or gqa is False or gqa in (S.true, S.false):
        kernel, replace = (dt, "gqa" if gqa else "mha"), {}
    else:
        kernel, replace = (dt, "gqa"), _attention_kernel(dt, gqa)
    ctxs = [context] if not a.window else [context, Min(context, a.window)]
    t = [_kernel(K.decode_attention_time, seqs, c, heads, kvh, hd, b_kv,
                 XQA_BLOCKS(seqs, kvh, c, s.n_sm, s.kv_tok) if split_kv else S.One, split=True, kernel=kernel,
                 replace={s.F: F16, **replace}) for c in ctxs]
    return (t[0] + t[1]) / 2 if a.window else t[0]


def _decode_attention(a, batch_, context, tp, b_kv, split_kv: bool = True) -> Op:
    """Split-KV decode attention of the group's sequences (:func:`decode_attention_layer`, every layer)."""
    seqs = Max(batch_ / dp, 1)
    if a.attention == "MLA":
        kvh, hd = S.One, Rational(a.kv_lora_rank + a.qk_rope_head_dim, 2)
    else:
        kvh, hd = Max(1, a.n_kv_heads / tp), a.head_dim
    heads, F16 = a.n_heads / tp, PEAKS["bf16"]
    ctxs = [context] if not a.window else [context, Min(context, a.window)]
    t = decode_attention_layer(a, seqs, context, tp, b_kv, split_kv)
    # the pooled (ideal) policies: the cache streamed at eta_kv, the attention arithmetic
    compute = sum((4 * seqs * c * heads * hd / (s.eta_F * F16) for c in ctxs), S.Zero)
    memory = sum((2 * seqs * c * kvh * hd * b_kv / (s.eta_kv * s.W) for c in ctxs), S.Zero)
    w = a.n_layers * Rational(1, len(ctxs))
    on = batch_ > 0
    return Op("decode_attention", Piecewise((a.n_layers * t, on), (S.Zero, True)),
              Piecewise((w * compute, on), (S.Zero, True)), Piecewise((w * memory, on), (S.Zero, True)), "attention")


def _prefill_attention(a, p, p_group, isl, tp) -> Op:
    """Causal attention of the busiest group's prompt tokens, each over half its prompt on average."""
    span_dim = (Rational(a.qk_nope_head_dim + a.qk_rope_head_dim + a.v_head_dim, 2) if a.attention == "MLA"
                else a.head_dim)
    tokens, heads, F16 = Max(p_group, 1), a.n_heads / tp, PEAKS["bf16"]
    t = _kernel(K.prefill_attention_time, tokens, heads, span_dim, isl / 2, replace={s.F: F16})
    compute = 4 * heads * span_dim * tokens * (isl / 2) / (s.eta_F * F16)
    L, on = a.n_layers, p > 0
    return Op("prefill_attention", Piecewise((L * t, on), (S.Zero, True)), Piecewise((L * compute, on), (S.Zero, True)),
              S.Zero, "attention")


def _mlp(a, batch_, p, tokens, tp, b_in, b_w, prec, moe_prec) -> list[Op]:
    """A dense gated MLP (gate+up, down) or the MoE's grouped GEMMs (``moe_prec``) over the experts the busiest EP
    rank touches (gate+up 2/3 of the work, down 1/3; the tokens split evenly), plus the shared experts' GEMMs."""
    L, d = a.n_layers, a.d_model
    if not a.n_experts:
        ff = a.ffn_dim / tp
        return [_gemm("mlp", tokens, 2 * ff, d, b_in, b_w, prec, L), _gemm("mlp", tokens, d, ff, b_in, b_w, prec, L)]
    all_tokens = batch_ + p  # experts see every token of the worker
    routed = all_tokens * a.experts_per_token / ep
    touched = K.experts_touched_busiest_rank(a.n_experts, a.experts_per_token, all_tokens, ep)
    ffn = a.moe_ffn_dim / mtp
    flops = 2 * routed * 3 * d * ffn
    wbytes, abytes = touched * 3 * d * ffn * b_w, routed * d * (b_in + 2) * 2
    ops = [_grouped("mlp", flops * Rational(2, 3), wbytes * Rational(2, 3), abytes * Rational(2, 3), moe_prec, L),
           _grouped("mlp", flops / 3, wbytes / 3, abytes / 3, moe_prec, L)]
    if a.shared_experts:
        sff = a.shared_experts * a.moe_ffn_dim / tp
        ops += [_gemm("mlp", tokens, 2 * sff, d, b_in, b_w, prec, L), _gemm("mlp", tokens, d, sff, b_in, b_w, prec, L)]
    return ops


def _quantization(a, tokens, tp) -> Expr:
    """Per layer: quantizing the inputs of the fp8 GEMMs (:func:`.kernels.quant_time`)."""
    o_in = a.n_heads * (a.v_head_dim if a.attention == "MLA" else a.head_dim) / tp
    widths = [a.d_model, o_in]
    if a.n_experts:
        widths += [a.d_model] + ([a.shared_experts * a.moe_ffn_dim / tp] if a.shared_experts else [])
    else:
        widths += [a.d_model, a.ffn_dim / tp]
    return sum((_kernel(K.quant_time, tokens, w) for w in widths), S.Zero)


def step_ops(a, precision: str, backend: str, *, fp4_compute: bool = False, scaleout: bool = False,
             one_prompt: bool = False, batch_=batch, p=prefill, context=s.ctx, isl=s.isl, tp=s.t,
             share=None) -> tuple[Op, ...]:
    """The operators of one step of a worker of ``tp x dp`` chips decoding ``batch_`` sequences with ``p``
    prompt tokens in the step (spread over the attention groups, or with ``one_prompt`` all on one group: a
    single request's prompt; or a ``share`` of them on the busiest group), decode context ``context``, prompt
    length ``isl`` (the prefill span)."""
    prec, b_in, b_w, b_kv = precision_bytes(precision, fp4_compute)
    if share is None:
        share = S.One if one_prompt else 1 / dp
    p_group = p * share  # prompt tokens of the busiest attention group
    tokens = batch_ / dp + p_group  # tokens one attention group sees; its TP ranks share them
    L = a.n_layers
    split_kv = not (a.attention == "MLA" and backend in UNSPLIT_MLA_DECODE)
    ops = [*_attention_gemms(a, tokens, tp, b_in, b_w, prec),
           _decode_attention(a, batch_, context, tp, b_kv, split_kv),
           _prefill_attention(a, p, p_group, isl, tp),
           *_mlp(a, batch_, p, tokens, tp, b_in, b_w, prec, "fp8_block" if precision == "fp8_block" else prec),
           Op("communication", L * layer_comm(a, tokens, tp, b_in, scaleout))]
    if prec == "fp8" and backend in QUANTIZES_FP8_INPUTS:
        ops.append(Op("quantization", L * _quantization(a, tokens, tp)))
    ops += [_gemm("lm_head", Max(batch_, 1) / dp, a.vocab / tp, a.d_model, 2, 2, "bf16"),
            Op("engine_step", K.backend_overhead(backend)),
            # the host's per-sequence cost (sampling, scheduling): each attention-DP rank's own executor for its
            # own batch/dp sequences, all ranks at once
            Op("per_sequence", batch_ / dp * s.t_seq)]
    return tuple(ops)


def weight_bytes(a, b_w, dp_=dp) -> Expr:
    """Bytes of a worker's stored weights: each attention-DP group its own copy of all but the routed experts,
    which are split once over the worker's chips."""
    counts = breakdown(a)
    experts = counts["routed_experts"]
    return ((sum(counts.values()) - experts) * dp_ + experts) * b_w


def kv_bytes_per_token(a, b_kv, tp, context) -> Expr:
    """KV bytes one sequence keeps per context token on its attention group (``max(1, h_kv/t)`` heads per rank,
    MLA's latent on every rank; a sliding-window layer holds min(c, w) tokens)."""
    if a.attention == "MLA":
        per_layer = kv_elements_per_layer(a) * tp
    else:
        per_layer = 2 * a.head_dim * Max(1, a.n_kv_heads / tp) * tp
    n_slide = n_sliding_layers(a)
    share = (a.n_layers - n_slide + n_slide * Min(context, a.window or 1) / context) if n_slide else a.n_layers
    return per_layer * share * b_kv


def average_context(isl=s.isl, osl=s.osl) -> Expr:
    """The decode attention's and resident KV's default context: a sequence's mean over its decode, ``isl + osl/2``."""
    return isl + osl / 2


def resident_batch(a, precision: str, *, fp4_compute: bool = False, offered=requests, isl=s.isl, osl=s.osl,
                   tp=s.t, context=None) -> Expr:
    """:func:`.kernels.kv_resident_batch` of ``offered`` requests on a worker of ``tp x dp`` chips, each resident
    sequence holding KV for ``context`` (default :func:`average_context`)."""
    _, _, b_w, b_kv = precision_bytes(precision, fp4_compute)
    ctx = average_context(isl, osl) if context is None else context
    return K.kv_resident_batch(offered, weight_bytes(a, b_w), kv_bytes_per_token(a, b_kv, tp, ctx) * ctx, tp * dp)


def _step(a, precision: str, backend: str, overlap: str, **kw):
    """The step as a function of (decode batch, prompt tokens, context[, busiest group's prompt share]):
    :func:`compose` of :func:`step_ops` (the share defaults to ``1/dp``, the prompt tokens spread)."""
    return lambda b, p, c, share=None: compose(step_ops(a, precision, backend, batch_=b, p=p, context=c, share=share,
                                                        **kw), overlap)


def tpot(a, precision: str, backend: str, *, mixed: bool = True, overlap: str = "kernel", step=None,
         fp4_compute: bool = False, scaleout: bool = False, context=None) -> Expr:
    """Seconds per output token at ``requests`` concurrent requests: at the resident batch ``b``, the in-flight
    mean step (:func:`.kernels.serving_step_time`) of a decode step (no prompt tokens) and a mixed step
    (``isl max(1, b/osl)`` prompt tokens), both at ``context`` (default :func:`average_context`); without
    ``mixed`` the decode step. ``step(b, p, c[, share])`` gives the step (default: :func:`step_ops` under
    ``overlap``; a compiler passes a function symbol to compile the step once)."""
    kw = {"fp4_compute": fp4_compute, "scaleout": scaleout}
    step = step or _step(a, precision, backend, overlap, **kw)
    b = resident_batch(a, precision, fp4_compute=fp4_compute, context=context)
    ctx = average_context() if context is None else context
    t_dec = step(b, S.Zero, ctx)
    if not mixed:
        return t_dec
    return K.serving_step_time(t_dec, step(b, s.isl * Max(1, b / s.osl), ctx), b, s.osl, backend)


def tpot_parts(a, precision: str, backend: str, *, mixed: bool = True, fp4_compute: bool = False,
               scaleout: bool = False, context=None) -> dict[str, Expr]:
    """:func:`tpot`'s named parts (:data:`STEP_PARTS`); the mean step is linear in its two steps, so each part
    mixes with the same weight."""
    b = resident_batch(a, precision, fp4_compute=fp4_compute, context=context)
    ctx = average_context() if context is None else context
    kw = {"fp4_compute": fp4_compute, "scaleout": scaleout, "batch_": b, "context": ctx}
    dec = parts(step_ops(a, precision, backend, p=S.Zero, **kw))
    if not mixed:
        return dec
    mix = parts(step_ops(a, precision, backend, p=s.isl * Max(1, b / s.osl), **kw))
    w = K.serving_step_time(S.Zero, S.One, b, s.osl, backend)
    return {k: dec[k] + w * (mix[k] - dec[k]) for k in STEP_PARTS}


def ttft_step(a, precision: str, backend: str, *, overlap: str = "kernel", step=None, fp4_compute: bool = False,
              scaleout: bool = False, context=None) -> Expr:
    """The step carrying one request's whole prompt (context ``isl``, all on one attention group) beside the
    resident decode batch of ``requests`` (resident at ``context``). ``step(b, p, c[, share])``: see :func:`tpot`."""
    kw = {"fp4_compute": fp4_compute, "scaleout": scaleout}
    step = step or _step(a, precision, backend, overlap, **kw)
    return step(resident_batch(a, precision, fp4_compute=fp4_compute, context=context), s.isl, s.isl, S.One)


def ttft(a, precision: str, backend: str, *, overlap: str = "kernel", step=None, fp4_compute: bool = False,
         scaleout: bool = False, context=None) -> Expr:
    """Seconds to the first token at ``requests`` concurrent clients: :func:`ttft_step`, the engine's request
    overhead, and the closed-loop queue :func:`.kernels.closed_loop_ttft_wait` (a free slot when the resident
    batch is full; the other resident requests' prompts ahead, each costing ``t_p``, a prompt-only step of one
    prompt: the prompts queued ahead, as in the wave of clients that starts a closed-loop run, are prefilled in
    steps without a decode batch to share the weight reads with, so each pays its own), at :func:`tpot`
    (``context``)."""
    kw = {"fp4_compute": fp4_compute, "scaleout": scaleout}
    step = step or _step(a, precision, backend, overlap, **kw)
    b = resident_batch(a, precision, fp4_compute=fp4_compute, context=context)
    first = step(b, s.isl, s.isl, S.One)
    t_prompt = step(S.Zero, s.isl, s.isl, S.One)
    t_out = tpot(a, precision, backend, step=step, context=context, fp4_compute=fp4_compute, scaleout=scaleout)
    wait = K.closed_loop_ttft_wait(requests, b, t_prompt, s.osl, t_out, backend)
    return first + REQUEST_OVERHEAD[backend] + wait
