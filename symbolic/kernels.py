r"""Per-kernel-class time builders that real silicon demands: GEMM, decode attention, collectives, MoE.

The step model of :mod:`inferonomics.symbolic.model` puts the whole step (or each operator) on one
roofline. Measured kernels differ from that in named ways, each a term here:

* **kernel fixed time** :math:`t_k`: a GEMM never takes less than its prologue/epilogue/tail, even under a
  CUDA graph (small GEMMs are 10-20x above a roofline);
* **k-loop latency** :math:`\min(k b_w, c_k)/r_k`: a GEMM with few output tiles walks k one pipelined tile
  after another and cannot stream at the chip's bandwidth (split-K bounds the walk at :math:`c_k` bytes);
* **activation traffic** :math:`\eta_{W,a}`: a GEMM's activation reads (each output tile re-reads its rows of
  X) and output writes stream at their own fraction of the bandwidth, below a weight stream's :math:`\eta_W`;
* **activation quantization** :math:`t_q`: an fp8 GEMM fed bf16 activations first quantizes them;
* **block-scaled tiles** :math:`r_{k,8b}`: a block-scaled fp8 GEMM (DeepGEMM in TensorRT-LLM) picks its tile shape
  by a fixed rule (:func:`blockscaled_tiles`); it computes whole tiles in whole waves, each CTA loads its tiles'
  rows at a per-CTA pace, wave after wave, and the rows padding the last activation tile stream like
  activations, alongside the weights (:func:`blockscaled_gemm_time`);
* **L2 residency** :math:`r_{L2}`: a benchmark that repeats one GEMM over a few weight copies re-reads
  weights from L2, not HBM, when the copies fit in the cache (:func:`l2_resident`); real decode streams
  every layer's weights once per step, so serving predictions never use it;
* **attention parallelism**: decode attention streams the KV cache at a fraction of the bandwidth plus each
  work item's (sequence x KV head x KV block, :func:`xqa_blocks`) walk through its share at a per-item pace
  :math:`r_a`, over a latency floor per item and query head in whole waves of CTAs; each kernel class (KV dtype x
  GQA/MHA, :data:`ATTENTION_KERNELS`) has its own constants;
* **collectives**: :math:`t_c + (\sqrt{h\alpha} + \sqrt{f\,\mathrm{size}/(\eta_\beta\beta)})^2` with :math:`h`
  hops and the ring factor :math:`f = 2(t-1)/t` (all-reduce) or :math:`(t-1)/t` (all-gather, reduce-scatter,
  all-to-all): a chunked message pipelines along the ring.

Every parameter is a fraction of a datasheet rate, a count, or seconds, so that it transfers to another
card. Arguments are SymPy expressions (shapes are plain numbers or symbols of the caller's choosing).
"""

from __future__ import annotations

from sympy import Expr, Function, Integer, Max, Min, Rational, S, ceiling, sqrt

from inferonomics.symbolic import symbols as s
# the kernels' own numeric choices (tiles, KV blocks, L2 residency) live in kernel_rules; re-exported here, where the
# builders that take them as arguments are
from inferonomics.symbolic.kernel_rules import (BENCH_COPIES, BLOCKSCALED_SWAP_BELOW, BLOCKSCALED_WIDTHS,  # noqa: F401
                                                XQA_MAX_SUB_SEQ, XQA_REDUCTION_FACTOR, XQA_TARGET_WAVES,
                                                busiest_experts_touched,
                                                XQA_TOKENS_PER_BLOCK, blockscaled_swap_below, blockscaled_tiles,
                                                l2_resident, split_kv_tokens, xqa_blocks)

#: ring factor of each collective: the fraction of the message each chip sends over its link
RING_FACTORS = {"all_reduce": 2, "all_gather": 1, "reduce_scatter": 1, "alltoall": 1}


def gemm_time(m: Expr, n: Expr, k: Expr, b_in: Expr, b_w: Expr, b_out: Expr = Integer(2),
              eta_flop: Expr = s.eta_F, peak: Expr = s.F, resident: bool = False, split_k: bool = True) -> Expr:
    r"""One GEMM ``X[m,k] @ W[k,n]`` on one chip: its own roofline, the latency of its k-loop, and the
    kernel's fixed time.

    .. math:: t = t_k + \Big(\max\!\Big(\frac{2mnk}{\eta_F F} + e\,\frac{m n b_{out}}{\eta_{W,a} W},
              \frac{k n b_w}{\eta_W W} + \frac{m k b_{in} + m n b_{out}}{\eta_{W,a} W}\Big)^{p_o}
              + \Big(\frac{\min(k b_w, c_k)}{r_k}\Big)^{p_o}\Big)^{1/p_o}

    The **epilogue** (:math:`e` = 1 for the FP4 kernels, ``split_k=False``; 0 for cuBLAS-style ones, which write
    one tile's outputs under the next tile's k-loop): a block-scaled kernel writes each output tile after its
    k-loop, so its output writes add to its arithmetic instead of hiding under it. NVIDIA's B200 nvfp4 rows at
    2048-16384 tokens were predicted 20-30% fast at k = 128-1024 (where the writes cost as much as the arithmetic)
    and 10-15% slow at k >= 8192 (the fraction of the FP4 peak bent to fit both); with the term the held-out nvfp4
    median / p90 fall from 4.6% / 16.7% to 3.4% / 10.3%.

    FP4 kernels join their stream and their k-loop walk with an exponent of their own, :math:`p_{o,4}` (their own
    pipeline; sharing cuBLAS's :math:`p_o` put it where the B200's bf16, fp8 and nvfp4 rows balance, 1.55: apart,
    the cuBLAS rows take 1.14 and the nvfp4 rows 1.82, and the held-out nvfp4 median / p90 go 3.9% / 12.1% ->
    3.5% / 10.5%).

    The second term is the **k-loop latency**: a CTA walks its k-slice one pipelined k-tile after another,
    :math:`r_k` bytes of a weight row per second, however few bytes the GEMM reads in all; split-K cuts k
    into slices of at most :math:`c_k` bytes (cuBLAS; block-scaled fp8 kernels do not split, ``c_k`` = inf).
    A narrow, deep GEMM (n <= 512, decode) cannot fill the chip and is paced by this latency (1.2-1.7x its
    roofline); the soft maximum (exponent :math:`p_o`) joins the two where neither dominates.

    Parameters
    ----------
    m, n, k : tokens, output width, input width (counts)
    b_in, b_w, b_out : bytes per activation in, per weight, per output element (byte)
    eta_flop, peak : the achieved fraction and the datasheet peak (FLOP/s) at the GEMM's precision
    split_k : cuBLAS-style kernels cut k into slices of at most :math:`c_k` bytes; FP4 kernels (NVFP4 on
        Blackwell) do not: their CTAs walk all of k at their own pace :math:`r_{k,4}`, which is why NVIDIA's B200
        rows at few tokens take 14 us at k = 4096 and 37 us at k = 16384 whatever n is
    resident : the weights are re-read from L2 at :math:`\max(n_{SM} r_{L2}, \eta_W W)` (a repeated benchmark,
        see :func:`l2_resident`), not streamed from HBM: every HBM byte passes through L2, so a resident
        re-read is never slower than the stream (a card whose per-SM L2 rate, carried over from the fit,
        would say otherwise is held at the stream's rate)
    """
    stream_rate = s.eta_W * s.W
    weights = k * n * b_w / (Max(s.r_L2 * s.n_sm, stream_rate) if resident else stream_rate)
    epilogue = 0 if split_k else m * n * b_out / (s.eta_Wa * s.W)  # FP4: the tile's writes follow its k-loop
    stream = Max(2 * m * n * k / (eta_flop * peak) + epilogue,
                 (m * k * b_in + m * n * b_out) / (s.eta_Wa * s.W) + weights)
    chain = kloop_time(k, b_w) if split_k else k * b_w / s.r_k4
    p = s.p_ov if split_k else s.p_ov4  # the FP4 kernels' pipeline joins its two times its own way
    return s.t_kern + (stream ** p + chain ** p) ** (1 / p)


def blockscaled_gemm_time(m: Expr, n: Expr, k: Expr, b_in: Expr, b_w: Expr, tile_rows: Expr, waves: Expr,
                          padded_rows: Expr, tile_area: Expr, b_out: Expr = Integer(2),
                          resident: bool = False, epilogue: bool = True) -> Expr:
    r"""A block-scaled fp8 GEMM (1x128 activation and 128x128 weight scales; DeepGEMM's kernel in TensorRT-LLM),
    whose tiles are known (:func:`blockscaled_tiles`).

    .. math:: t = t_{k,8} + \Big(\max\!\Big(\frac{2 v\,n_{SM}\,\alpha\,k}{\eta_{F,8b} F}
              + \frac{m n b_{out}}{\eta_{W,a} W},
              \frac{k n b_w}{\eta_{W,8b} W} + \frac{m k b_{in} + m n b_{out}}{\eta_{W,a} W}\Big)^{p_o}
              + \Big(\frac{v\,k\,\tau\,b_w}{r_{k,8b}}\Big)^{p_o}
              + \Big(\frac{k\,\pi\,b_{in}}{\eta_{W,a} W}\Big)^{p_o}\Big)^{1/p_o}

    * **wave-quantized compute**: every SM computes whole tiles of :math:`\alpha` outputs, :math:`v` waves of them,
      so the arithmetic is that of :math:`v\,n_{SM}` tiles, not of the :math:`mn` outputs alone (a few CTAs on a
      big k, or a last wave nearly empty, run at a fraction of the chip's peak), and each tile's output writes
      follow its k-loop (the epilogue, as in :func:`gemm_time`'s FP4 kernels: H100 held-out fp8_block median /
      p90 7.4% / 30% -> 6.2% / 23%);
    * the **tile chain**: each CTA walks all of k loading :math:`\tau` rows (its activation rows plus its weight
      rows) per k step at its own pace :math:`r_{k,8b}`, and :math:`v` waves of CTAs run one after another; with
      few CTAs (narrow n) this, not HBM, sets the time;
    * the **padding traffic** :math:`\pi`: rows padding the last activation tile up to its height (its width
      when the operands are swapped), summed over the CTAs that load it, stream like activations (at
      :math:`\eta_{W,a} W`) alongside the weight stream, a third term of the soft maximum. In NVIDIA's H100 rows
      the time *falls* as m grows from 65 to 128 and from 129 to 256, by more the more CTAs load a padded
      tile (k = 16384, 65 tokens against 128: nothing with 8 CTAs, +60% with 64, 2x with 128).

    Parameters
    ----------
    tile_rows, waves, padded_rows, tile_area : :math:`\tau`, :math:`v`, :math:`\pi`, :math:`\alpha` from
        :func:`blockscaled_tiles`
    resident : weights re-read from L2 (a repeated benchmark, see :func:`l2_resident`)
    epilogue : the tile's output writes follow its k-loop (DeepGEMM's Hopper kernel, whose math warpgroups write
        them); False on Blackwell, whose kernel keeps two accumulators in tensor memory and writes one tile's outputs
        from its epilogue warps while the MMA runs the next tile's k-loop (with the writes added, NVIDIA's B200
        fp8_block rows at many tokens ran 13-19% slow at n >= 8192 with :math:`\eta_{F,8b}` at its bound of 1)
    """
    w_rate = Max(s.r_L2 * s.n_sm, s.eta_W_8b * s.W) if resident else s.eta_W_8b * s.W
    compute = 2 * waves * s.n_sm * tile_area * k / (s.eta_F8b * s.F)
    if epilogue:
        compute += m * n * b_out / (s.eta_Wa * s.W)
    stream = Max(compute, (m * k * b_in + m * n * b_out) / (s.eta_Wa * s.W) + k * n * b_w / w_rate)
    chain = waves * k * tile_rows * b_w / s.r_kb
    padding = k * padded_rows * b_in / (s.eta_Wa * s.W)
    return s.t_kern8 + (stream ** s.p_ov + chain ** s.p_ov + padding ** s.p_ov) ** (1 / s.p_ov)


def kloop_time(k: Expr, b_w: Expr) -> Expr:
    r"""Latency of one GEMM CTA's k-loop: :math:`\min(k b_w, c_k) / r_k` (its k-slice, cut by split-K)."""
    return Min(k * b_w, s.c_k) / s.r_k


def roofline_time(flops: Expr, nbytes: Expr, eta_flop: Expr = s.eta_F, peak: Expr = s.F) -> Expr:
    r"""One kernel (or a grouped kernel, e.g. a fused MoE GEMM) given its FLOPs and bytes:
    :math:`\max(\mathrm{flops}/(\eta_F F), \mathrm{bytes}/(\eta_W W)) + t_k`."""
    return Max(flops / (eta_flop * peak), nbytes / (s.eta_W * s.W)) + s.t_kern


def quant_time(m: Expr, k: Expr) -> Expr:
    r"""Quantizing ``m x k`` bf16 activations to fp8 in front of a GEMM: :math:`t_q + 3mk/(\eta_{q,8} W)`, at the
    quantization kernel's own fraction of the bandwidth (a weight stream's :math:`\eta_W` put NVIDIA's fp8 rows at
    many tokens into a narrow weight 30-45% fast on both cards: 32768 x 4096 into 128 outputs takes 3.9x the bf16
    GEMM on an H100; fitted 0.43 on the H100, 0.29 on the B200)."""
    return s.t_quant + 3 * m * k / (s.eta_q8 * s.W)


#: block-scaled kernels that quantize their bf16 activations on the way in: bytes moved per element (2 read; the
#: quantized element plus its scale's share written: NVFP4 4 bits + an FP8 scale per 16) and the bandwidth fraction
#: they move at. (fp8_block rows show a milder form of it at many tokens; adding it there too, 3.03 bytes per element,
#: lowered the held-out GEMM p90 (H100 16.8% -> 15.1%, B200 fp8_block 22.2% -> 20.9%) but raised the B200 fp8_block
#: median (7.0% -> 7.3%): not adopted yet)
FUSED_QUANT = {"fp4": (Integer(2) + Rational(9, 16), s.eta_q4)}


def fused_quant_time(m: Expr, k: Expr, fmt: str) -> Expr:
    r"""Quantizing ``m x k`` bf16 activations inside a block-scaled GEMM of format ``fmt`` (:data:`FUSED_QUANT`: NVFP4):
    no kernel of its own (NVIDIA's B200 nvfp4 rows at few tokens show no second fixed time), but :math:`b_q`
    bytes per element move at a fraction :math:`\eta_q` of the bandwidth: :math:`b_q m k / (\eta_q W)`. At
    32768 tokens x 5120 into 128 outputs the nvfp4 GEMM takes 180 us, the bf16 one 59 us: the FP4 operand alone
    would stream in 20."""
    b_q, eta = FUSED_QUANT[fmt]
    return b_q * m * k / (eta * s.W)


def attention_items(batch: Expr, kv_heads: Expr, split: bool, blocks: Expr = s.c_split) -> Expr:
    r"""Independent work items (CTAs) of a decode-attention kernel: one per (sequence, KV head),
    :math:`B h_{kv}`, times the :math:`s_b` blocks a split-KV (multi-block, flash-decoding) kernel cuts each
    sequence's cache into (:func:`xqa_blocks`). NVIDIA's rows show the product: on the H100, batch 8 with one KV
    head and batch 1 with eight take the same time at every context length."""
    return batch * kv_heads * blocks if split else batch * kv_heads


#: decode-attention kernel classes, by the KV cache's element type and whether query heads share a KV head:
#: (bandwidth fraction, fixed time, time per work item, time per query head; None: MHA, where a query head is a
#: work item). TensorRT-LLM picks a different XQA kernel for each; on the H100 they differ by up to 3x per item
ATTENTION_KERNELS = {
    ("16", "gqa"): (s.eta_kv, s.t_attn, s.t_item, s.t_qh),
    ("16", "mha"): (s.eta_kv_mha, s.t_attn_mha, s.t_item_mha, None),
    ("8", "gqa"): (s.eta_kv_8, s.t_attn_8, s.t_item_8, s.t_qh_8),
    ("8", "mha"): (s.eta_kv_8m, s.t_attn_8m, s.t_item_8m, None),
}


#: bytes of one L2 cache line: the least a split-KV kernel's walk loads per K or V row (:func:`decode_attention_time`)
KV_ROW_BYTES = 128


def attention_kernel(b_kv: float, heads, kv_heads) -> tuple[str, str]:
    """The :data:`ATTENTION_KERNELS` class of a decode-attention kernel: KV element bytes (1: fp8, else 16-bit) and
    whether there are more query heads than KV heads."""
    return ("8" if float(b_kv) < 1.5 else "16", "gqa" if float(heads) > float(kv_heads) else "mha")


def attention_occupancy(items: Expr, per_sm: Expr = s.a_sat) -> Expr:
    r"""Fraction of HBM bandwidth that ``items`` independent pieces of work can draw:
    :math:`\min(1, n_{items} / (a_s n_{SM}))`."""
    return Min(S.One, items / (per_sm * s.n_sm))


def decode_attention_time(batch: Expr, context: Expr, heads: Expr, kv_heads: Expr, head_dim: Expr,
                          b_kv: Expr = s.b_kv, blocks: Expr = s.c_split, split: bool = False,
                          kernel: tuple[str, str] = ("16", "gqa")) -> Expr:
    r"""One decode-attention kernel over a KV cache of ``context`` tokens per sequence.

    A serving engine's split-KV kernel (``split=True``, of class ``kernel``: :data:`ATTENTION_KERNELS`):

    .. math:: t = t_a + \max\!\Big(\Big(\big(\tfrac{V}{\eta_{kv} W} + \tfrac{V_r}{n\,r_a}\big)^{p_a}
              + \big(\lceil n / n_{SM} \rceil (t_i + \tfrac{h}{h_{kv}} d_h t_h)\big)^{p_a}\Big)^{1/p_a},\;
              \frac{4 B c h d_h}{\eta_F F}\Big),\quad V = 2 B c h_{kv} d_h b_{kv},\ n = B h_{kv} s_b,
              \ V_r = 2 B c h_{kv} \max(d_h b_{kv}, 128)

    * the stream: the cache's :math:`V` bytes at the class's fraction of the bandwidth, plus each of the
      :math:`n` work items walking its share at its own pace :math:`r_a` (few items: one sequence and KV head reads
      64k cached tokens at 0.7 of the H100's peak, 64 of them at 0.9). The walk goes row by row, a K or V row of
      a token and KV head at a time, and a row shorter than a 128-byte cache line takes a whole line's turn
      (:math:`V_r`): fp8 KV at head dim 64 (64-byte rows) was predicted 20-32% fast on the H100 at every group size
      and context, the 128-byte rows (bf16 at 64, fp8 at 128) were not;
    * the floor: each work item (CTA: sequence x KV head x KV block) costs its SM :math:`t_i`, each of its query
      heads :math:`d_h t_h` more (loading its Q, the softmax, writing its output: per head dimension), whatever the
      cache length, and the :math:`n` CTAs run in :math:`\lceil n/n_{SM} \rceil` whole waves (one CTA per SM at a
      time: NVIDIA's H100 rows at 64 sequences and 2 cached tokens take 9.5-10 us with 1-2 KV heads (64-128 CTAs,
      one wave), 14.5 with 4 (two waves), 23.5 with 8 (four)). (Per head dimension: NVIDIA's H100 fp8-KV GQA rows
      at short context cost 1.4x more per item at head dim 256 than at 64.)

    Stream and floor overlap as a soft maximum of fitted exponent :math:`p_a` (1: they add; 2: the root of
    squares; fitted 1.4 on the H100, 2.5 on the B200).

    PyTorch's SDPA without KV split (``split=False``) keeps the occupancy form: the stream at
    :math:`\eta_{kv,t} W \min(1, B h_{kv}/(a_{s,t} n_{SM}))`, a floor of :math:`t_{i,t}` per query head.
    """
    kv_bytes = 2 * batch * context * kv_heads * head_dim * b_kv
    compute = 4 * batch * context * heads * head_dim / (s.eta_F * s.F)
    if not split:
        stream = kv_bytes / (s.eta_kv_t * s.W * attention_occupancy(attention_items(batch, kv_heads, False), s.a_sat_t))
        return s.t_attn + Max(stream, batch * heads * s.t_item_t / s.n_sm, compute)
    eta, t_a, t_i, t_h = ATTENTION_KERNELS[kernel]
    walked = kv_bytes / (head_dim * b_kv) * Max(head_dim * b_kv, KV_ROW_BYTES)  # rows padded to a cache line
    stream = kv_bytes / (eta * s.W) + walked / (attention_items(batch, kv_heads, True, blocks) * s.r_attn)
    per_cta = t_i + (heads / kv_heads * head_dim * t_h if t_h is not None else 0)
    floor = ceiling(attention_items(batch, kv_heads, True, blocks) / s.n_sm) * per_cta
    return t_a + Max((stream ** s.p_a + floor ** s.p_a) ** (1 / s.p_a), compute)


def prefill_attention_time(tokens: Expr, heads: Expr, head_dim: Expr, span: Expr) -> Expr:
    r"""Causal attention of ``tokens`` prompt tokens, each attending to ``span`` tokens on average (half its
    prompt under the causal mask), compute-bound: :math:`t_a + 4 h d_h P\,\bar{c} / (\eta_F F)`."""
    return s.t_attn + 4 * heads * head_dim * tokens * span / (s.eta_F * s.F)


def collective_time(message_bytes: Expr, gpus: Expr = s.t, op: str = "all_reduce", nccl: bool = False) -> Expr:
    r"""One collective over ``gpus`` chips, its message cut into chunks that pipeline along the ring:

    .. math:: t = t_c + \Big(\sqrt{f(t-1)\alpha} + \sqrt{f\tfrac{t-1}{t}\tfrac{size}{\eta_\beta\beta}}\Big)^2

    ``f`` = 2 for an all-reduce (reduce-scatter + all-gather), 1 otherwise. With the message in k chunks, the
    ring pays its hops once per chunk in flight and the bytes once: :math:`(k-1+h)(\alpha + B/k)`-type sums whose
    best k gives the square of the sum of square roots (the pipelined-chain optimum). It equals the plain
    :math:`h\alpha + B` at either extreme and exceeds it by :math:`2\sqrt{h\alpha B}` where the two are
    alike: NVIDIA's H100 and B200 NCCL rows are 15% slower than the plain sum at 1-100 MB and 25-35% faster
    beyond 100 MB than a single fitted bandwidth allows.

    Two implementations carry their own fixed time and bandwidth fraction: the serving engines' custom
    all-reduce kernels (:math:`t_c, \eta_\beta`, what tensor parallelism uses in a decode step) and NCCL
    (``nccl=True``: :math:`t_{c,n}, \eta_{\beta,n}`)."""
    f = RING_FACTORS[op]
    base, eta = (s.t_coll_n, s.eta_link_n) if nccl else (s.t_coll, s.eta_link)
    hops = f * (gpus - 1) * s.alpha
    stream = f * (gpus - 1) / gpus * message_bytes / (eta * s.beta)
    return base + (sqrt(hops) + sqrt(stream)) ** 2


def elementwise_time(tokens: Expr, width_bytes: Expr) -> Expr:
    r"""Unfused elementwise ops of a layer (norms, activation, residual adds) stream each token's
    activations :math:`n_{act}` times: :math:`n_{act} T w / (\eta_W W)`, ``width_bytes`` per token."""
    return s.n_act * tokens * width_bytes / (s.eta_W * s.W)


def experts_touched(n_experts: Expr, top_k: Expr, tokens: Expr) -> Expr:
    r"""Expected distinct experts hit by ``tokens`` tokens under uniform top-k routing:
    :math:`E(1-(1-k/E)^T)`."""
    return n_experts * (1 - (1 - top_k / n_experts) ** tokens)


#: :func:`busiest_experts_touched` as an applied function of (experts, experts touched on average, EP ranks), which
#: the compiler binds to that NumPy rule (an expected maximum: no closed form)
BUSIEST_EXPERTS = Function("busiest_experts_touched")


def experts_touched_busiest_rank(n_experts: Expr, top_k: Expr, tokens: Expr, ep: Expr) -> Expr:
    r"""Experts the busiest of ``ep`` expert-parallel ranks touches (:func:`busiest_experts_touched`): the layer's
    collective waits for the rank that streams the most expert weights, not for the mean
    :math:`E(1-(1-k/E)^T)/ep`, which it exceeds most at few tokens per expert (Qwen3-235B, 8 ranks of 16 experts:
    6.1 against 3.6 at 4 tokens, 12.9 against 10.3 at 16, the same 16 from 64 on)."""
    return BUSIEST_EXPERTS(n_experts, experts_touched(n_experts, top_k, tokens), ep)


def step_tokens(batch: Expr = s.B, prompt: Expr = s.isl, output: Expr = s.osl) -> Expr:
    r"""Tokens one in-flight-batching step processes: :math:`B` decode tokens plus :math:`B n_{in}/n_{out}`
    prompt tokens of the requests admitted in steady state (each lives ``output`` steps)."""
    return batch + batch * prompt / output


def inflight_step_time(t_decode: Expr, t_mixed: Expr, batch: Expr = s.B, output: Expr = s.osl) -> Expr:
    r"""Mean step time under in-flight batching: each step admits :math:`B/n_{out}` new requests, so a
    fraction :math:`f = \min(1, B/n_{out})` of the steps also prefill a prompt chunk:
    :math:`\bar t = t_{dec} + f\,(t_{mix} - t_{dec})`. (Averaging the tokens instead would hide the
    prompt's compute under the decode step's memory time, and an MoE's expert reads under Jensen's gap.)
    ``t_mixed`` is a step with ``max(1, B/n_out)`` prompts in it."""
    return t_decode + Min(S.One, batch / output) * (t_mixed - t_decode)


def backend_overhead(backend: str) -> Expr:
    """The fixed per-step overhead symbol of a serving backend (trtllm, vllm, sglang)."""
    return s.BACKEND_OVERHEADS[backend]


def kv_resident_batch(batch: Expr, weight_bytes: Expr, kv_bytes_per_seq: Expr, chips: Expr = s.t) -> Expr:
    r"""Sequences a serving replica of ``chips`` chips keeps resident (decoding) at ``batch`` concurrent
    requests: as many as the KV cache holds in the fraction :math:`\phi_{kv}` of HBM the engine takes, after
    the weights; the other requests queue (their wait is time to first token, not time per output token).

    .. math:: B_{res} = \min\!\Big(B,\ \max\!\Big(1, \frac{\phi_{kv} M t - N b_w}{b_{kv,seq}}\Big)\Big)
    """
    return Min(batch, Max(S.One, (s.phi_kv * s.M * chips - weight_bytes) / kv_bytes_per_seq))


def prefill_share(backend: str) -> Expr:
    r"""Share of a prompt's prefill work that lands inside a backend's decode steps: :math:`f_{p,sgl}`
    (fitted) for SGLang, whose TPOT barely moves with the prompt length; 1 for TRT-LLM and vLLM (chunked
    prefill inside the running batch)."""
    return s.f_pd_sgl if backend == "sglang" else S.One


def serving_step_time(t_decode: Expr, t_mixed: Expr, batch: Expr = s.B, output: Expr = s.osl,
                      backend: str = "trtllm") -> Expr:
    r""":func:`inflight_step_time` with only the backend's share :math:`f_p` (:func:`prefill_share`) of the
    prompt work inside the decode steps: :math:`t_{dec} + f_p \min(1, B/n_{out})\,(t_{mix} - t_{dec})`."""
    return inflight_step_time(t_decode, t_decode + prefill_share(backend) * (t_mixed - t_decode), batch, output)


def prompt_queue_share(backend: str) -> Expr:
    r"""The engine's share :math:`\kappa_q` of the other resident requests' prompts that a new request waits
    behind (:func:`closed_loop_ttft_wait`)."""
    return {"trtllm": s.k_q_trt, "vllm": s.k_q_vllm, "sglang": s.k_q_sgl}[backend]


def closed_loop_ttft_wait(concurrency: Expr, resident: Expr, t_prompt: Expr, output: Expr, tpot: Expr,
                          backend: str = "trtllm") -> Expr:
    r"""Seconds a request of a closed-loop benchmark waits before its own prefill: ``concurrency`` clients
    :math:`C` each send their next request when the last one finishes, onto a replica that keeps
    ``resident`` sequences :math:`B_{res}` (:func:`kv_resident_batch`).

    .. math:: W = \max\!\Big(0, \frac{C}{B_{res}} - 1\Big)\, n_{out} \bar t
              + \kappa_q\,\big(\min(C, B_{res}) - 1\big)\, t_p

    * **a free slot**: with more clients than slots every slot stays busy, so the replica completes
      :math:`X = B_{res} / (n_{out} \bar t)` requests per second (:math:`\bar t` the TPOT); by Little's law a
      client's cycle is :math:`C/X`, of which :math:`n_{out}\bar t` is decoding: the rest is the wait (the
      closed-loop M/D/c bound at saturation; 0 while :math:`C \le B_{res}`);
    * **the prompts ahead**: an admitted request's prefill waits behind the prompts of the other
      :math:`\min(C, B_{res}) - 1` resident requests that the engine's scheduler puts first, a mean share
      :math:`\kappa_q` of them (fitted per engine: 1/2 when all clients arrive in one wave and are prefilled in
      arrival order; near 0 when arrivals are spread out and every prompt rides in the next step), each
      costing :math:`t_p`, the time one prompt adds to a step."""
    slots = Max(S.Zero, concurrency / resident - 1) * output * tpot
    ahead = prompt_queue_share(backend) * (Min(concurrency, resident) - 1) * t_prompt
    return slots + ahead
