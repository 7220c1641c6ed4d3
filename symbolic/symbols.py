"""The one symbol table: every model quantity is made here once, positive, with unit, LaTeX and meaning."""

from __future__ import annotations

import keyword
from dataclasses import dataclass

from sympy import Expr, Symbol

from . import units as U
from .errors import UnknownNameError


@dataclass(frozen=True)
class SymbolInfo:
    """A model symbol with its unit (sympy.physics.units), LaTeX name, one-line meaning and group."""

    symbol: Symbol
    unit: str
    latex: str
    meaning: str
    group: str

    @property
    def name(self) -> str:
        return self.symbol.name

    @property
    def plain(self) -> str:
        """The notation in plain text, for terminals: ``\\eta_{F}`` -> ``eta_F``."""
        text = self.latex.replace(r"\mathrm{", "{").replace("\\", "")
        return text.replace("{", "").replace("}", "")


TABLE: dict[str, SymbolInfo] = {}


def _define(group: str, name: str, latex: str, unit: Expr, meaning: str) -> Symbol:
    # positive=True lets SymPy simplify sqrt/abs; never integer=True, which makes `solve` drop roots.
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise ValueError(f"symbol name {name!r} must be a plain identifier")
    sym = Symbol(name, positive=True)
    TABLE[name] = SymbolInfo(sym, unit, latex, meaning, group)
    return sym


# -- model ---------------------------------------------------------------------------------------
N = _define("model", "total_params", r"N", U.one, "total parameters (all weights stored)")
Na = _define("model", "active_params", r"N_{a}", U.one, "parameters active per token (MoE: attention + routed top-k + shared)")
L = _define("model", "n_layers", r"L", U.one, "decoder layers")
d = _define("model", "d_model", r"d", U.one, "hidden size (width of the residual stream)")
d_attn = _define("model", "d_attn", r"d_{\mathrm{attn}}", U.one, "query width n_heads x head_dim (attention FLOPs per context token)")
kv = _define("model", "kv_bytes_per_token", r"k", U.byte, "KV-cache bytes per token of context, all layers, at the KV precision")
h_kv = _define("model", "n_kv_heads", r"h_{kv}", U.one, "key/value heads per layer (MLA: 1, its one latent); TP beyond h_kv replicates heads, so a chip reads B c k/min(t, h_kv) of KV cache, not B c k/t")
E = _define("model", "n_experts", r"E", U.one, "routed experts per MoE layer")
k_top = _define("model", "experts_per_token", r"k_{e}", U.one, "routed experts each token is sent to (top-k)")
N_exp = _define("model", "expert_params", r"N_{e}", U.one, "parameters of one routed expert, summed over MoE layers")
N_dense = _define("model", "dense_params", r"N_{d}", U.one, "parameters every token reads (attention, embeddings, shared experts, dense layers)")

# -- precision -----------------------------------------------------------------------------------
b_w = _define("precision", "bytes_per_weight", r"b_{w}", U.byte, "bytes per stored weight")
b_a = _define("precision", "bytes_per_activation", r"b_{a}", U.byte, "bytes per activation element sent in all-reduces")
b_kv = _define("precision", "bytes_per_kv", r"b_{kv}", U.byte, "bytes per cached K or V element")

# -- workload ------------------------------------------------------------------------------------
B = _define("workload", "batch", r"B", U.one, "sequences decoded together in one step (concurrent users per replica)")
ctx = _define("workload", "context", r"c", U.one, "tokens of context held in each sequence's KV cache")
isl = _define("workload", "prompt_len", r"n_{\mathrm{in}}", U.one, "prompt (input) tokens per request")
osl = _define("workload", "output_len", r"n_{\mathrm{out}}", U.one, "output tokens per request")

# -- hardware (per chip) -------------------------------------------------------------------------
F = _define("hardware", "peak_flop_per_s", r"F", U.flop_per_s, "peak dense FLOP/s of one chip at the compute precision")
W = _define("hardware", "hbm_bandwidth_bytes_per_s", r"W", U.byte_per_s, "HBM bandwidth of one chip")
M = _define("hardware", "hbm_capacity_bytes", r"M", U.byte, "HBM capacity of one chip")
beta = _define("hardware", "link_bandwidth_bytes_per_s", r"\beta", U.byte_per_s, "scale-up link bandwidth per chip, one direction")
alpha = _define("hardware", "link_latency_s", r"\alpha", U.second, "latency of one hop (one ring step) of an all-reduce")
alpha_s = _define("hardware", "allreduce_sqrt_latency_s", r"\alpha_{s}", U.second, "coefficient of an all-reduce latency that grows as the square root of the degree, alpha_s (sqrt(t) - 1) + alpha_0 (Epoch AI's law; the ring's is 2 (t - 1) alpha)")
alpha_0 = _define("hardware", "allreduce_base_latency_s", r"\alpha_{0}", U.second, "fixed latency of one all-reduce under the square-root law, whatever the degree")
price = _define("hardware", "price_usd_per_chip_hour", r"p", U.usd_per_hour, "price of one chip for one hour")
power = _define("hardware", "power_w", r"P", U.watt, "power drawn by one chip")

# -- deployment ----------------------------------------------------------------------------------
t = _define("deployment", "tp", r"t", U.one, "tensor-parallel degree (chips per replica)")
R = _define("deployment", "replicas", r"R", U.one, "model replicas in the fleet")
n_ar = _define("deployment", "allreduces_per_layer", r"n_{ar}", U.one, "all-reduces per layer per step (2 for Megatron-style TP)")

# -- efficiency and overhead ---------------------------------------------------------------------
eta_F = _define("efficiency", "eta_flop", r"\eta_{F}", U.one, "achieved fraction of peak FLOP/s in matmuls")
eta_W = _define("efficiency", "eta_bw", r"\eta_{W}", U.one, "achieved fraction of HBM bandwidth when reading weights")
eta_kv = _define("efficiency", "eta_kv", r"\eta_{kv}", U.one, "achieved fraction of HBM bandwidth when reading the KV cache")
t_o = _define("efficiency", "overhead_s", r"t_{o}", U.second, "fixed overhead per step (launches, sampling, scheduling)")
t_layer = _define("efficiency", "layer_overhead_s", r"t_{\ell}", U.second, "fixed cost per layer per step (kernel launches and tails)")

# -- usage and economics -------------------------------------------------------------------------
m = _define("usage", "minutes_per_day", r"m", U.one, "minutes each user is active per day (a ratio, min/day)")
# Two daily swings, two symbols: a fleet is SIZED for the peak (rho_pk), while a user base keeps a replica
# BUSY only if even the trough of the day brings it enough users (rho_tr).
rho_pk = _define("usage", "peak_to_mean", r"\rho_{\mathrm{pk}}", U.one, "ratio of peak to mean concurrency over the day (>= 1): a fleet sized for the peak serves rho_pk times the mean demand")
rho_tr = _define("usage", "mean_to_trough", r"\rho_{\mathrm{tr}}", U.one, "ratio of mean to trough concurrency over the day (>= 1): a user base keeps C users active all day only if its mean concurrency is rho_tr C")
C = _define("usage", "concurrency", r"C", U.one, "concurrent users the service must keep active at every hour of the day (its trough)")
api = _define("usage", "api_price_usd_per_mtok", r"\pi", U.usd, "API price per million output tokens")

#: the day, in minutes; a unit conversion, not a model parameter
MINUTES_PER_DAY = 1440


def is_fraction(name: str) -> bool:
    """Whether a symbol is a fraction in (0, 1]: an achieved efficiency (eta_*, a share of a datasheet rate)
    or a named share of memory or work. More than all of a datasheet rate is not a model, it is a typo."""
    return (name.startswith("eta_") or name.endswith("_fraction")
            or name in ("prefill_in_decode_sglang", "acceptance_rate"))


def info(name_or_symbol: str | Symbol) -> SymbolInfo:
    """Look up a symbol's record by name or Symbol; unknown names raise with suggestions."""
    name = name_or_symbol.name if isinstance(name_or_symbol, Symbol) else name_or_symbol
    try:
        return TABLE[name]
    except KeyError:
        raise UnknownNameError("symbol", name, TABLE) from None


def latex_names() -> dict[Symbol, str]:
    """Symbol -> LaTeX name, for sympy.latex(symbol_names=...)."""
    return {s.symbol: s.latex for s in TABLE.values()}


def plain_names() -> dict[Symbol, Symbol]:
    """Symbol -> a Symbol named by its plain notation, for compact terminal output."""
    return {s.symbol: Symbol(s.plain, positive=True) for s in TABLE.values()}


def by_name(name: str) -> Symbol:
    return info(name).symbol


# -- calibration terms ---------------------------------------------------------------------------
# Named refinements that real silicon demands (symbolic/kernels.py uses them; fitted by
# inferonomics.optimize.calibration). Every one is a fraction of a datasheet rate, a count, or a time in
# seconds, so that a calibration taken on one card predicts another from its datasheet.
eta_F8 = _define("efficiency", "eta_flop_fp8", r"\eta_{F,8}", U.one, "achieved fraction of peak fp8 FLOP/s in fp8 matmuls")
t_kern = _define("efficiency", "kernel_overhead_s", r"t_{k}", U.second, "fixed time of one GEMM kernel (prologue, epilogue, tail) under a CUDA graph")
t_quant = _define("efficiency", "quant_overhead_s", r"t_{q}", U.second, "fixed time of the activation-quantization kernel in front of an fp8 GEMM")
t_attn = _define("efficiency", "attn_kernel_s", r"t_{a}", U.second, "fixed time of one decode-attention kernel (16-bit-KV GQA; PyTorch SDPA)")
n_sm = _define("efficiency", "sm_count", r"n_{\mathrm{SM}}", U.one, "streaming multiprocessors per chip (whitepaper count; sets attention parallelism)")
a_sat = _define("efficiency", "attn_items_per_sm", r"a_{s}", U.one, "independent attention work items (sequence x KV head, or KV block) per SM that saturate HBM")
t_item = _define("efficiency", "attn_item_s", r"t_{i}", U.second, "time one SM spends per (sequence x KV head) work item of the 16-bit-KV GQA decode-attention kernel (latency floor)")
kv_tok = _define("efficiency", "split_kv_tokens_per_block", r"c_{b}", U.one, "cached tokens per KV block of the card's split-KV decode-attention kernel (set by the kernel: kernels.split_kv_tokens)")
c_split = _define("efficiency", "attn_blocks_per_seq", r"s_{b}", U.one, "KV blocks per sequence and KV head of a split-KV (multi-block, flash-decoding) attention kernel (set by the kernel's rule, kernels.xqa_blocks)")
t_exp = _define("efficiency", "expert_overhead_s", r"t_{e}", U.second, "fixed cost per expert when experts run as separate kernels (gather, GEMMs, scatter)")
eta_link = _define("efficiency", "eta_link", r"\eta_{\beta}", U.one, "achieved fraction of datasheet scale-up link bandwidth in collectives (bus bandwidth)")
t_coll = _define("efficiency", "collective_base_s", r"t_{c}", U.second, "fixed time of one collective call, independent of the number of hops")
t_o_trt = _define("efficiency", "overhead_trtllm_s", r"t_{o,\mathrm{trt}}", U.second, "fixed overhead per decode step in TensorRT-LLM (scheduling, sampling)")
t_o_vllm = _define("efficiency", "overhead_vllm_s", r"t_{o,\mathrm{vllm}}", U.second, "fixed overhead per decode step in vLLM (scheduling, sampling)")
t_o_sgl = _define("efficiency", "overhead_sglang_s", r"t_{o,\mathrm{sgl}}", U.second, "fixed overhead per decode step in SGLang (scheduling, sampling)")
t_req_trt = _define("efficiency", "request_overhead_trtllm_s", r"t_{r,\mathrm{trt}}", U.second, "fixed time to first token beyond the prefill in TensorRT-LLM (HTTP, tokenization, admission, scheduling)")
t_req_vllm = _define("efficiency", "request_overhead_vllm_s", r"t_{r,\mathrm{vllm}}", U.second, "fixed time to first token beyond the prefill in vLLM (HTTP, tokenization, admission, scheduling)")
t_req_sgl = _define("efficiency", "request_overhead_sglang_s", r"t_{r,\mathrm{sgl}}", U.second, "fixed time to first token beyond the prefill in SGLang (HTTP, tokenization, admission, scheduling)")
eta_F8b = _define("efficiency", "eta_flop_fp8_block", r"\eta_{F,8b}", U.one, "achieved fraction of peak fp8 FLOP/s in block-scaled fp8 matmuls")
t_kern8 = _define("efficiency", "kernel_overhead_fp8_s", r"t_{k,8}", U.second, "fixed time of one fp8 GEMM kernel (scaling epilogue included) under a CUDA graph")
eta_kv_t = _define("efficiency", "eta_kv_torch", r"\eta_{kv,t}", U.one, "achieved fraction of HBM bandwidth reading the KV cache in PyTorch SDPA decode attention (no KV split)")
a_sat_t = _define("efficiency", "attn_items_per_sm_torch", r"a_{s,t}", U.one, "(sequence x KV head) work items per SM that saturate HBM in PyTorch SDPA decode attention")
n_act = _define("efficiency", "act_passes", r"n_{act}", U.one, "HBM passes over a token's activations (d + 2 ffn wide) by a layer's unfused elementwise ops (norms, activation, residuals)")
t_launch = _define("efficiency", "launch_overhead_s", r"t_{L}", U.second, "host launch latency exposed when one kernel is timed alone outside a CUDA graph")
eta_W_t = _define("efficiency", "eta_bw_torch", r"\eta_{W,t}", U.one, "achieved fraction of HBM bandwidth streaming weights in PyTorch GEMMs and elementwise ops")
t_seq = _define("efficiency", "overhead_per_seq_s", r"t_{s}", U.second, "host-side cost per sequence per decode step in a serving engine (sampling, scheduling, detokenization)")
t_eager = _define("efficiency", "eager_layer_s", r"t_{\mathrm{eager}}", U.second, "host time to dispatch one unfused decoder layer in eager PyTorch (a floor on an eager layer's time)")
t_coll_n = _define("efficiency", "nccl_base_s", r"t_{c,n}", U.second, "fixed time of one NCCL collective call (the engines' custom all-reduce has its own, t_c)")
eta_link_n = _define("efficiency", "eta_link_nccl", r"\eta_{\beta,n}", U.one, "achieved fraction of datasheet link bandwidth in NCCL collectives")
r_k = _define("efficiency", "kloop_rate_bytes_per_s", r"r_{k}", U.byte_per_s, "bytes of one weight row (along k_g) that one GEMM CTA's pipelined k-loop advances per second (its latency-bound pace when few CTAs share the chip)")
r_kb = _define("efficiency", "kloop_rate_fp8_block_bytes_per_s", r"r_{k,8b}", U.byte_per_s, "pace at which one CTA of a block-scaled fp8 GEMM loads its tiles along k (activation plus weight rows, a scale load per 128-deep block of k_g), bytes per second")
c_k = _define("efficiency", "splitk_chunk_bytes", r"c_{k}", U.byte, "deepest k_g-slice (bytes of a weight row) one CTA walks before split-K cuts k_g across more CTAs")
eta_F4 = _define("efficiency", "eta_flop_fp4", r"\eta_{F,4}", U.one, "achieved fraction of peak FP4 FLOP/s in FP4 matmuls (NVFP4/MXFP4: both operands 4-bit with block scales, on FP4 tensor cores)")
r_k4 = _define("efficiency", "kloop_rate_fp4_bytes_per_s", r"r_{k,4}", U.byte_per_s, "bytes of one weight row (along k_g) that one CTA of an FP4 GEMM advances per second; FP4 kernels walk all of k_g (no split-K)")
eta_W_8b = _define("efficiency", "eta_bw_fp8_block", r"\eta_{W,8b}", U.one, "achieved fraction of HBM bandwidth streaming weights in block-scaled fp8 GEMMs (TMA-fed, no split-K)")
p_a = _define("efficiency", "attn_overlap_exp", r"p_{a}", U.one, "soft-maximum exponent joining a split-KV decode-attention kernel's stream and its per-CTA floor (1: they add, large: the longer one alone)")
p_ov = _define("efficiency", "gemm_overlap_exp", r"p_{o}", U.one, "soft-maximum exponent joining a GEMM's streaming time and its k-loop latency (1: they add, large: the longer one alone)")
p_ov4 = _define("efficiency", "gemm_overlap_fp4_exp", r"p_{o,4}", U.one, "soft-maximum exponent joining an FP4 GEMM's streaming time and its k-loop walk (the FP4 kernels' own pipeline; cuBLAS-style kernels: p_o)")
phi_kv = _define("efficiency", "kv_memory_fraction", r"\phi_{kv}", U.one, "fraction of a serving replica's HBM the engine fills with weights plus KV cache (the rest: activations, CUDA graphs, allocator); fixed at 0.9, not fitted")
f_pd_sgl = _define("efficiency", "prefill_in_decode_sglang", r"f_{p,\mathrm{sgl}}", U.one, "share of a prompt's prefill work that lands inside SGLang's decode steps (and so in its TPOT); TRT-LLM and vLLM: 1")
L2 = _define("efficiency", "l2_capacity_bytes", r"L_2", U.byte, "on-chip L2 cache of one chip (whitepaper figure; sets which benchmark operands stay cache-resident)")
r_L2 = _define("efficiency", "l2_bandwidth_per_sm_bytes_per_s", r"r_{L2}", U.byte_per_s, "rate at which one SM re-reads an L2-resident operand; the chip's L2 serves n_SM r_L2 (an on-chip rate: the same die keeps it whatever HBM it is paired with)")
f_L2 = _define("efficiency", "l2_resident_fraction", r"f_{L2}", U.one, "fraction of the L2 a benchmark's cycled operand copies may fill and still be re-read from L2; fixed at 0.75, not fitted")
eta_Wa = _define("efficiency", "eta_bw_act", r"\eta_{W,a}", U.one, "achieved fraction of HBM bandwidth for a GEMM's activation reads and output writes (each output tile re-reads its rows of X)")
# the closed-loop TTFT queue (:func:`inferonomics.symbolic.kernels.closed_loop_ttft_wait`), one share per engine:
# how an engine's scheduler orders new prompts against the other resident requests' prompts
k_q_trt = _define("efficiency", "prompt_queue_trtllm", r"\kappa_{q,\mathrm{trt}}", U.one, "mean share of the other resident requests' prompts a new request waits behind before its own prefill in TensorRT-LLM (closed-loop benchmark)")
k_q_vllm = _define("efficiency", "prompt_queue_vllm", r"\kappa_{q,\mathrm{vllm}}", U.one, "mean share of the other resident requests' prompts a new request waits behind before its own prefill in vLLM (closed-loop benchmark)")
k_q_sgl = _define("efficiency", "prompt_queue_sglang", r"\kappa_{q,\mathrm{sgl}}", U.one, "mean share of the other resident requests' prompts a new request waits behind before its own prefill in SGLang (closed-loop benchmark)")

# -- decode-attention kernel classes (issue 15): TRT-LLM picks its XQA kernel by the KV dtype and by whether query
# heads share a KV head, and on Hopper the four run at different paces (NVIDIA's H100 rows: bf16-KV GQA costs ~3x an
# fp8-KV GQA kernel per work item at short context). t_a, t_i, eta_kv above are the 16-bit GQA class's
r_attn = _define("efficiency", "attn_item_rate_bytes_per_s", r"r_{a}", U.byte_per_s, "pace at which one split-KV decode-attention work item (one CTA: a sequence, a KV head, a block of its cache) streams its share of the KV cache")
t_qh = _define("efficiency", "attn_qhead_s", r"t_{h}", U.second, "time one SM spends per query head and head dimension of one sequence in a grouped-query (GQA) decode-attention kernel (Q load, softmax, output), beyond its work item's t_i")
eta_kv_mha = _define("efficiency", "eta_kv_mha", r"\eta_{kv,m}", U.one, "achieved fraction of HBM bandwidth reading a 16-bit KV cache in the MHA (one query head per KV head) decode-attention kernel")
t_attn_mha = _define("efficiency", "attn_kernel_mha_s", r"t_{a,m}", U.second, "fixed time of one MHA decode-attention kernel over a 16-bit KV cache")
t_item_mha = _define("efficiency", "attn_item_mha_s", r"t_{i,m}", U.second, "time one SM spends per (sequence x KV head) work item of an MHA decode-attention kernel over a 16-bit KV cache (latency floor)")
eta_kv_8 = _define("efficiency", "eta_kv_fp8", r"\eta_{kv,8}", U.one, "achieved fraction of HBM bandwidth reading an fp8 KV cache in the GQA decode-attention kernel")
t_attn_8 = _define("efficiency", "attn_kernel_fp8_s", r"t_{a,8}", U.second, "fixed time of one GQA decode-attention kernel over an fp8 KV cache")
t_item_8 = _define("efficiency", "attn_item_fp8_s", r"t_{i,8}", U.second, "time one SM spends per (sequence x KV head) work item of a GQA decode-attention kernel over an fp8 KV cache")
t_qh_8 = _define("efficiency", "attn_qhead_fp8_s", r"t_{h,8}", U.second, "time one SM spends per query head and head dimension of one sequence in a GQA decode-attention kernel over an fp8 KV cache")
eta_kv_8m = _define("efficiency", "eta_kv_fp8_mha", r"\eta_{kv,8m}", U.one, "achieved fraction of HBM bandwidth reading an fp8 KV cache in the MHA decode-attention kernel")
t_attn_8m = _define("efficiency", "attn_kernel_fp8_mha_s", r"t_{a,8m}", U.second, "fixed time of one MHA decode-attention kernel over an fp8 KV cache")
t_item_8m = _define("efficiency", "attn_item_fp8_mha_s", r"t_{i,8m}", U.second, "time one SM spends per (sequence x KV head) work item of an MHA decode-attention kernel over an fp8 KV cache")

# -- activation quantization inside FP4 GEMMs (issue 15): NVIDIA's B200 nvfp4 rows at many tokens and a small weight
# take 3x what their 4-bit operands stream: the bf16 activations are read and quantized (a scale per 16 elements)
# on the way in, at a pace of their own
t_item_t = _define("efficiency", "attn_item_torch_s", r"t_{i,t}", U.second, "time one SM spends per query head of one sequence in PyTorch SDPA decode attention (latency floor; the engines' kernels have their own per class)")
eta_q8 = _define("efficiency", "eta_quant_fp8", r"\eta_{q,8}", U.one, "achieved fraction of HBM bandwidth of the kernel that quantizes an fp8 GEMM's bf16 activations in front of it (bf16 read, fp8 written), per byte moved")
eta_q4 = _define("efficiency", "eta_quant_fp4", r"\eta_{q,4}", U.one, "achieved fraction of HBM bandwidth of an FP4 GEMM's fused activation quantization (bf16 read, NVFP4 + scales written), per byte moved")

# -- balance: the arithmetic-to-bandwidth ratio and what serving at batch 1 asks of a system ---------------
v_tok = _define("usage", "tokens_per_s_per_user", r"v", U.per_second, "output tokens per second one user is served at (the reciprocal of the time per output token)")
r_fb = _define("hardware", "flop_per_byte", r"r", U.flop_per_byte, "the chip's balance F/W: peak FLOP/s per byte/s of memory bandwidth (the roofline ridge point)")

# -- speculative decoding and multi-token prediction (issue 14) ------------------------------------------------
acc = _define("workload", "acceptance_rate", r"\alpha_{\mathrm{acc}}", U.one, "probability that the target model accepts one drafted token, i.i.d. per position (Leviathan et al. 2023's alpha)")
gamma = _define("deployment", "draft_tokens", r"\gamma", U.one, "tokens drafted per sequence per verification step (speculative decoding's lookahead, or the number of MTP heads)")
c_draft = _define("deployment", "draft_cost_ratio", r"c_{\mathrm{d}}", U.one, "time of one draft step over one target step at the same batch (a draft model of N_draft/N parameters, or MTP heads: a layer's share of the model)")

# -- pipeline parallelism (issue 14) -------------------------------------------------------------------------
pp = _define("deployment", "pp", r"n_{\mathrm{pp}}", U.one, "pipeline-parallel stages: each holds L/n_pp layers on t chips, and the batch crosses them as n_pp micro-batches of B/n_pp sequences")

#: the serving backends the calibration fits, each with its fixed per-step overhead symbol (the one table of them)
BACKEND_OVERHEADS = {"trtllm": t_o_trt, "vllm": t_o_vllm, "sglang": t_o_sgl}
