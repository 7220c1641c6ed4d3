"""The kernels' own numeric choices, which the time builders of :mod:`inferonomics.symbolic.kernels` take as
arguments: a block-scaled GEMM's tiles (DeepGEMM's rule), a split-KV decode-attention kernel's KV blocks
(TensorRT-LLM's rule), and whether a benchmark's repeated weights stay in L2.

Each is a discrete rule of the kernel or the benchmark, applied to plain numbers or NumPy arrays: integer choices
with floors and thresholds, not part of the symbolic step (the serving model keeps the KV-block rule as an applied
function bound to :func:`xqa_blocks`).
"""

from __future__ import annotations


#: DeepGEMM's candidate tile widths (get_best_gemm_config: 16, 24, ..., 128) and the token count below which
#: TensorRT-LLM swaps the operands (the weight then fills the 128-row side of the tile)
BLOCKSCALED_WIDTHS = tuple(range(16, 129, 8))
BLOCKSCALED_SWAP_BELOW = 32
#: ... per kernel family: DeepGEMM's Hopper kernel swaps below 32 tokens; Blackwell's block-scaled fp8 kernels keep
#: the weights on the tile's height at every token count (tokens across the width, padded to a multiple of 8 at
#: most). NVIDIA's B200 fp8_block rows show no step where a 64/128-row token tile would pad: 10.4 us at 64 and 65
#: tokens (n = k = 4096), 10.8 at 128, 11.3 at 129, where the H100's rows step up by 20-60%. With the Hopper rule
#: on the B200, held-out fp8_block median / p90 6.9% / 20.5%; with the weights always on the height 5.8% / 16.8% in a
#: GEMM-only refit (swapping below 257 tokens only: 5.8% / 18.4%), 6.2% / 21.0% in the shipped joint fit (all B200
#: GEMMs 5.02% / 14.81%; below 257 only: 5.04% / 15.05%)
BLOCKSCALED_SWAP_BELOW_BY_FAMILY = {"deepgemm": float(BLOCKSCALED_SWAP_BELOW), "trtllm-gen": float("inf")}


def blockscaled_swap_below(fp4_tensor_cores: float) -> float:
    """Token count below which the card's block-scaled fp8 kernel swaps its operands
    (:data:`BLOCKSCALED_SWAP_BELOW_BY_FAMILY`): Blackwell's kernels (the cards with FP4 tensor cores) always, DeepGEMM's
    Hopper kernel below 32."""
    return BLOCKSCALED_SWAP_BELOW_BY_FAMILY["trtllm-gen" if float(fp4_tensor_cores) > 0 else "deepgemm"]


#: token widths of DeepGEMM's Blackwell (SM100) kernel with swapped operands (deep_gemm heuristics/sm100.hpp,
#: get_layout_candidates; TensorRT-LLM runs it for fp8_block on SM100: linear.py -> fp8_swap_ab_gemm): the weights
#: fill the 128-row UMMA side, the tokens take 16..256 in steps of 16, and two CTAs along n (cluster_n = 2, which the
#: rule prefers whenever ceil(n/128) is even) share one activation tile by TMA multicast, each loading half of it.
#: NVIDIA's B200 fp8_block fit rows, median / p90: 7.1% / 24.4% with the Hopper widths 16..128 and no multicast,
#: 6.6% / 21.8% with these and the epilogue under the next tile's k-loop (held out 6.2% / 21.0% -> 5.8% / 16.9%;
#: :func:`~inferonomics.symbolic.kernels.blockscaled_gemm_time`, ``epilogue``)
SM100_WIDTHS = tuple(range(16, 257, 16))


def blockscaled_tiles(m, n, n_sm, swap_below=BLOCKSCALED_SWAP_BELOW, sm100=False):
    r"""Tiles of a block-scaled fp8 GEMM ``[m,k] @ [k,n]`` on ``n_sm`` SMs, by the rule DeepGEMM's
    ``get_best_gemm_config`` applies (TensorRT-LLM 1.x): tile height 64 rows when the tiled side has at most
    64 rows, else 128; of the widths 16..128 the one with the fewest waves, then the fullest last wave, then
    the narrowest. Below ``swap_below`` tokens (32 on Hopper; every count on Blackwell,
    :func:`blockscaled_swap_below`) TensorRT-LLM swaps the operands (weights tiled 128 rows high, tokens across).

    Returns ``(tile_rows, waves, padded_rows, tile_area)`` as arrays: rows one CTA loads per k step, waves of
    CTAs, rows padding the activation tile (times the CTAs that load it), and outputs per tile (height x
    width). Plain numbers or NumPy arrays: tile selection is a property of the kernel, not of the symbolic
    step.

    ``sm100``: DeepGEMM's Blackwell kernel instead (:data:`SM100_WIDTHS`): weight tiles 128 rows high, token widths
    16..256, and with an even number of weight tiles (and of SMs) the CTAs run in multicast pairs, each loading half
    of the shared token tile's rows and of its padding."""
    import numpy as np

    m, n = np.broadcast_arrays(np.asarray(m, dtype=float), np.asarray(n, dtype=float))
    swap = m < swap_below
    rows, cols = np.where(swap, n, m), np.where(swap, m, n)  # the side tiled by height, the side by width
    height = np.full(rows.shape, 128.0) if sm100 else np.where(rows <= 64, 64.0, 128.0)
    widths = np.asarray(SM100_WIDTHS if sm100 else BLOCKSCALED_WIDTHS, dtype=float)
    tiles = np.ceil(rows / height)[..., None] * np.ceil(cols[..., None] / widths)
    waves = np.ceil(tiles / n_sm)
    last = tiles - (waves - 1) * n_sm
    # lexicographic (waves, -last, width) as one score: last <= n_sm < 1e6 / 1e3, widths < 1e3
    pick = np.argmin(waves * 1e9 - last * 1e3 + widths, axis=-1)
    width = widths[pick]
    waves = np.take_along_axis(waves, pick[..., None], axis=-1)[..., 0]
    pair = np.where(sm100 & (np.ceil(n / 128.0) % 2 == 0) & (n_sm % 2 == 0), 2.0, 1.0)
    act_rows = np.where(swap, np.minimum(m, width), np.minimum(m, height)) / pair
    tile_rows = act_rows + np.where(swap, height, width)
    pad_per_tile = np.where(swap, np.ceil(m / width) * width - m, np.ceil(m / height) * height - m)
    pad_tiles = np.where(swap, np.ceil(n / height), np.ceil(n / width)) / pair
    return tile_rows, waves, pad_per_tile * pad_tiles, height * width


#: weight copies NVIDIA's GEMM collector cycles through at most (aiconfigurator's collect_gemm.py:
#: min(5, ceil(L2 / weight bytes)) copies, so that repeated calls are meant to miss the cache)
BENCH_COPIES = 5


def l2_resident(weight_bytes, l2_bytes, fraction):
    r"""Whether a benchmark that cycles :math:`\min(5, \lceil L_2/w \rceil)` copies of ``weight_bytes`` keeps them
    in L2: the copies fit in the usable part :math:`f_{L2} L_2` of the cache. Only weights under
    :math:`f_{L2} L_2 / 5` qualify (above that the copies fill the cache by construction). Plain numbers or
    NumPy arrays (the decision is a property of the measurement, not of the symbolic step)."""
    import numpy as np

    w = np.asarray(weight_bytes, dtype=float)
    copies = np.minimum(BENCH_COPIES, np.ceil(l2_bytes / np.maximum(w, 1.0)))
    return (l2_bytes > 0) & (copies * w <= fraction * l2_bytes)


#: TensorRT-LLM's split-KV (multi-block) rule (1.x, decoderXQAImplCommon.h computeMultiBlockCount): n blocks of
#: ``tokens`` cached tokens each (:func:`split_kv_tokens`), at most round(sqrt(8 n)) of them (so that the final
#: reduction over blocks cannot dominate), at most this many waves of CTAs over the SMs, at most this many
#: sub-sequences per sequence in the workspace
XQA_REDUCTION_FACTOR = 8
XQA_TARGET_WAVES = 8
XQA_MAX_SUB_SEQ = 6000
#: cached tokens per KV block: XQA's kMinHistoryTokensPerBlock (128) on Hopper; Blackwell's decode attention runs
#: TensorRT-LLM's trtllm-gen kernels, whose B200 rows split like blocks of 512 (held-out median / p90 4.5% / 18% at
#: 512 per block, 4.6% / 22% at XQA's 128: at 64 sequences and 256-512 cached tokens 128 predicts waves the
#: B200 does not run, +15%); XQA's 128 on the H100 rows: 11.0% against 12.1% at 512
XQA_TOKENS_PER_BLOCK = {"xqa": 128.0, "trtllm-gen": 512.0}


def split_kv_tokens(fp4_tensor_cores: float) -> float:
    """Cached tokens per KV block of the card's split-KV decode kernel (:data:`XQA_TOKENS_PER_BLOCK`): trtllm-gen's on
    a Blackwell card (the cards with FP4 tensor cores), XQA's otherwise."""
    return XQA_TOKENS_PER_BLOCK["trtllm-gen" if float(fp4_tensor_cores) > 0 else "xqa"]


def xqa_blocks(batch, kv_heads, context, n_sm, tokens=XQA_TOKENS_PER_BLOCK["xqa"]):
    r"""KV blocks per (sequence, KV head) of a split-KV decode-attention kernel, by TensorRT-LLM's rule (1.x): one per
    ``tokens`` cached tokens (:func:`split_kv_tokens`), :math:`n = \lfloor c/\mathrm{tokens} \rfloor`, capped at
    :math:`\mathrm{round}(\sqrt{8n})` (XQA: 16 blocks at 4096 tokens, 64 at 65536), cut back so that the
    :math:`B h_{kv} s_b` CTAs make at most :data:`XQA_TARGET_WAVES` waves over the SMs, and to the workspace's
    :data:`XQA_MAX_SUB_SEQ` sub-sequences per sequence; at least 1. NVIDIA's H100 rows step where the rule does: 16
    sequences x 8 KV heads take 10 us at 128 cached tokens (one block: 128 CTAs, one wave over 132 SMs) and 21 us at
    256 (two blocks: two waves). Plain numbers or NumPy arrays: the kernel's choice, not part of the symbolic step."""
    import numpy as np

    b, h, c, tok = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (batch, kv_heads, context, tokens)))
    n = np.floor(c / tok)
    # std::round rounds half away from zero (np.round: half to even); sqrt(8 n) is never a half-integer anyway
    blocks = np.maximum(np.minimum(n, np.floor(np.sqrt(n * XQA_REDUCTION_FACTOR) + 0.5)), 1.0)
    waves = b * h * blocks / n_sm / XQA_TARGET_WAVES
    blocks = np.maximum(np.where(waves > 1, np.floor(blocks / np.maximum(waves, 1)), blocks), 1.0)
    return np.maximum(np.minimum(blocks, np.floor(XQA_MAX_SUB_SEQ / np.maximum(b, 1.0))), 1.0)



def busiest_experts_touched(n_experts, touched, ep):
    r"""Expected experts touched on the busiest of ``ep`` expert-parallel ranks, each holding :math:`E_r = E/ep` of the
    :math:`E` experts, when ``touched`` of them are touched on average (uniform routing:
    :func:`inferonomics.symbolic.kernels.experts_touched`, :math:`E(1-(1-k/E)^T)`, the one place that formula lives):
    an expert is touched with :math:`q` = ``touched``:math:`/E`; a rank's count is taken as
    :math:`\mathrm{Bin}(E_r, q)` and the ranks' counts as independent, so

    .. math:: \mathbb{E}[\max] = \sum_{j=0}^{E_r-1} \big(1 - F(j)^{ep}\big),\qquad F \text{ the CDF of }
              \mathrm{Bin}(E_r, q)

    (the busiest rank streams the most expert weights, and the layer's collective waits for it). A Monte Carlo of
    exact top-8-of-128 routing agrees within 0.3% at 4-64 tokens on 4 and 8 ranks (6.10 against 6.12 at 4 tokens
    on 8 ranks, the mean being 3.64). One rank: the mean :math:`E q`. Plain numbers or NumPy arrays: an order
    statistic without a closed form, which the serving model keeps as an applied function bound to this rule."""
    import numpy as np

    e, u, r = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (n_experts, touched, ep)))
    per, q = e / r, np.minimum(u / e, 1.0)
    out = np.array(per * q, dtype=float)  # one rank: the mean
    # every rank touches all of its experts once q rounds to 1 (Qwen3-30B-A3B: from ~600 tokens), none at q = 0;
    # the order statistic costs E_r terms a point, so it runs only between, where there are ranks to take it over
    out[(r > 1) & (q >= 1.0)] = per[(r > 1) & (q >= 1.0)]
    wide = (r > 1) & (q > 0.0) & (q < 1.0)
    # one call per rank size: a call walks j up to its largest E_r, so 4-expert ranks beside 128-expert ones
    # (EP 64 and EP 2 in one optimizer sweep) would pay 129 terms each; the same sums, term for term
    for size in np.unique(per[wide]):
        sel = wide & (per == size)
        out[sel] = _busiest_of_ranks(per[sel], q[sel], r[sel])
    return out


def _busiest_of_ranks(per, q, r):
    """:func:`busiest_experts_touched` for ``r > 1`` ranks of ``per`` experts each, touched with ``q``."""
    import numpy as np

    j = np.arange(int(np.max(per, initial=0.0)) + 1, dtype=float).reshape((-1,) + (1,) * per.ndim)
    inside = j <= per
    with np.errstate(divide="ignore", invalid="ignore"):
        # log C(E_r, j) as a running sum of log((E_r - i + 1) / i), i = 1..j
        steps = np.where((j >= 1) & inside, np.log(np.maximum(per - j + 1, 1.0)) - np.log(np.maximum(j, 1.0)), 0.0)
        log_pmf = np.cumsum(steps, axis=0) + j * np.log(q) + (per - j) * np.log1p(-q)
        pmf = np.exp(np.where(inside & ~np.isnan(log_pmf), log_pmf, -np.inf))
    cdf = np.minimum(np.cumsum(pmf, axis=0), 1.0)
    return np.sum(np.where(j < per, 1.0 - cdf ** r, 0.0), axis=0)
