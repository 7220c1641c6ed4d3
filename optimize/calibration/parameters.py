"""The calibration's parameters: what is fitted and within which physical bounds, and what is set.

Kept apart from :mod:`.fit` (SciPy) so that reading a calibration file can check its values against the same
bounds without importing the fitting machinery.
"""

from __future__ import annotations

#: fitted parameters: name -> (initial value, lower bound, upper bound). Efficiencies are fractions of the
#: datasheet rate in (0, 1]; times are seconds >= 0; counts are positive.
PARAMETERS: dict[str, tuple[float, float, float]] = {
    "eta_flop": (0.7, 0.05, 1.0),
    "eta_flop_fp8": (0.6, 0.05, 1.0),
    "eta_flop_fp8_block": (0.5, 0.05, 1.0),
    "eta_bw": (0.85, 0.05, 1.0),
    "eta_bw_torch": (0.85, 0.05, 1.0),
    "eta_bw_fp8_block": (0.85, 0.05, 1.0),
    "eta_bw_act": (0.7, 0.05, 1.0),
    "kernel_overhead_s": (4e-6, 0.0, 1e-3),
    "kernel_overhead_fp8_s": (8e-6, 0.0, 1e-3),
    "kloop_rate_bytes_per_s": (1.7e9, 1e7, 1e12),
    "kloop_rate_fp8_block_bytes_per_s": (1e9, 1e7, 1e12),
    "eta_flop_fp4": (0.5, 0.05, 1.0),
    "kloop_rate_fp4_bytes_per_s": (5e8, 1e7, 1e12),
    "splitk_chunk_bytes": (6e3, 128.0, 1e7),
    "gemm_overlap_exp": (1.3, 1.0, 10.0),
    "gemm_overlap_fp4_exp": (1.3, 1.0, 10.0),
    # per SM: 1.6x the H100's HBM rate over its 132 SMs is ~40 GB/s; the bounds span 1-1000 GB/s
    "l2_bandwidth_per_sm_bytes_per_s": (40e9, 1e9, 1e12),
    "launch_overhead_s": (5e-6, 0.0, 1e-3),
    "quant_overhead_s": (4e-6, 0.0, 1e-3),
    "eta_kv_torch": (0.9, 0.05, 1.0),
    "attn_items_per_sm_torch": (0.5, 1e-3, 1e3),
    "layer_overhead_s": (30e-6, 0.0, 1e-2),
    "act_passes": (6.0, 0.0, 100.0),
    "eager_layer_s": (4e-4, 0.0, 1e-1),
    "expert_overhead_s": (15e-6, 0.0, 1e-2),
    "eta_link": (0.8, 0.05, 1.0),
    "link_latency_s": (1e-6, 0.0, 1e-3),
    "collective_base_s": (8e-6, 0.0, 1e-3),
    "eta_link_nccl": (0.8, 0.05, 1.0),
    "nccl_base_s": (15e-6, 0.0, 1e-3),
    "overhead_trtllm_s": (2e-3, 0.0, 1.0),
    "overhead_vllm_s": (3e-3, 0.0, 1.0),
    "overhead_sglang_s": (3e-3, 0.0, 1.0),
    "overhead_per_seq_s": (10e-6, 0.0, 1e-2),
    "request_overhead_trtllm_s": (50e-3, 0.0, 10.0),
    "request_overhead_vllm_s": (50e-3, 0.0, 10.0),
    "request_overhead_sglang_s": (50e-3, 0.0, 10.0),
    "prefill_in_decode_sglang": (0.5, 0.0, 1.0),
    # the closed-loop TTFT queue (kernels.closed_loop_ttft_wait): share of the other resident requests' prompts
    # a new one waits behind; 0 (every prompt rides in the next step) to 1 (behind all of them)
    "prompt_queue_trtllm": (0.1, 0.0, 1.0),
    "prompt_queue_vllm": (0.1, 0.0, 1.0),
    "prompt_queue_sglang": (0.1, 0.0, 1.0),
    # -- decode attention (issue 15): one pace per work item, and per kernel class (KV dtype x GQA/MHA,
    # kernels.ATTENTION_KERNELS) a bandwidth fraction, a fixed time, a time per work item and (GQA) per query head
    "attn_item_rate_bytes_per_s": (3e10, 1e7, 1e13),
    **{f"eta_kv{c}": (0.85, 0.05, 1.0) for c in ("", "_mha", "_fp8", "_fp8_mha")},
    **{f"attn_kernel{c}_s": (9e-6, 0.0, 1e-3) for c in ("", "_mha", "_fp8", "_fp8_mha")},
    **{f"attn_item{c}_s": (1e-6, 0.0, 1e-3) for c in ("", "_mha", "_fp8", "_fp8_mha")},
    "attn_qhead_s": (1e-9, 0.0, 1e-5),
    "attn_qhead_fp8_s": (1e-9, 0.0, 1e-5),
    # the soft maximum of a split-KV kernel's stream and its per-CTA floor in whole waves (2: the root of squares)
    "attn_overlap_exp": (2.0, 1.0, 10.0),
}

#: activation quantization's bandwidth fractions, fitted with the GEMMs: block-scaled GEMMs' fused one (issue 15;
#: kernels.fused_quant_time) and the kernel of its own in front of a per-tensor fp8 GEMM (kernels.quant_time)
GEMM_QUANT_PARAMETERS = ("eta_quant_fp4", "eta_quant_fp8")
PARAMETERS.update({n: (0.5, 0.05, 1.0) for n in GEMM_QUANT_PARAMETERS})

#: the decode-attention stage's parameters (fit.STAGES)
ATTENTION_PARAMETERS = ("attn_item_rate_bytes_per_s", "eta_kv", "eta_kv_mha", "eta_kv_fp8", "eta_kv_fp8_mha",
                        "attn_kernel_s", "attn_kernel_mha_s", "attn_kernel_fp8_s", "attn_kernel_fp8_mha_s",
                        "attn_item_s", "attn_item_mha_s", "attn_item_fp8_s", "attn_item_fp8_mha_s",
                        "attn_qhead_s", "attn_qhead_fp8_s", "attn_overlap_exp")

#: terms of the serving model that are set, not fitted (shipped in the calibration file with uncertainty 0):
#: the engines fill ~90% of HBM with weights + KV cache (vLLM's default gpu_memory_utilization 0.9, TRT-LLM's
#: free_gpu_memory_fraction 0.9 of what the weights leave; SGLang sets a similar static fraction per card); fitting it
#: made the held-out serving errors worse, as did fitting a TRT-LLM/vLLM share of prompt work in decode steps.
#: The usable L2 fraction is read off NVIDIA's H100 GEMM rows, whose time steps up between 7.3 and 8.4 MB of
#: weights at every k and dtype (5 copies of 0.70-0.80 of 50 MiB); a hard threshold has no gradient to fit.
#: (A split-KV attention kernel's blocks per sequence are no longer a parameter: they follow the kernel's own rule,
#: kernels.xqa_blocks, and each block streams at a fitted pace, attn_item_rate_bytes_per_s.)
FIXED: dict[str, float] = {"kv_memory_fraction": 0.9, "l2_resident_fraction": 0.75}
#: PyTorch SDPA's per-query-head floor shared the engine kernel's t_i until that became per work item and class.
#: It binds on none of our layer rows (a fit leaves it where it starts: no row depends on it), so it is set, at
#: the value the shared term last had (0.338 us, fitted on NVIDIA's attention rows), and keeps the layer
#: predictions where they were
FIXED["attn_item_torch_s"] = 3.38e-7


def physical_range(name: str) -> tuple[float, float] | None:
    """The closed interval a parameter's value must lie in (None: not a calibration parameter). Fitted ones
    keep their fit bounds; the set fractions lie in (0, 1]."""
    if name in PARAMETERS:
        return PARAMETERS[name][1], PARAMETERS[name][2]
    if name in FIXED:
        return 1e-9, 1.0
    return None
