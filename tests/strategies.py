"""Hypothesis strategies and a plain sampler over plausible ranges of every model symbol."""

from __future__ import annotations

import math
import random

from hypothesis import strategies as st

#: symbol name -> (low, high) of a log-uniform plausible range, SI units
RANGES = {
    "total_params": (1e8, 2e12), "active_params": (1e8, 2e12), "n_layers": (8, 200), "d_model": (512, 32768),
    "d_attn": (512, 32768), "kv_bytes_per_token": (1e3, 1e6), "n_experts": (2, 512), "experts_per_token": (1, 16),
    "expert_params": (1e6, 1e10), "dense_params": (1e8, 1e11),
    "bytes_per_weight": (0.5, 4), "bytes_per_activation": (1, 4), "bytes_per_kv": (0.5, 2),
    "batch": (1, 4096), "context": (1, 131072), "prompt_len": (16, 32768), "output_len": (16, 8192),
    "peak_flop_per_s": (1e13, 1e16), "hbm_bandwidth_bytes_per_s": (1e11, 1e13), "hbm_capacity_bytes": (1e10, 3e11),
    "link_bandwidth_bytes_per_s": (1e10, 2e12), "link_latency_s": (1e-7, 2e-5),
    "allreduce_sqrt_latency_s": (1e-7, 5e-5), "allreduce_base_latency_s": (1e-7, 5e-5), "n_kv_heads": (1, 128),
    "price_usd_per_chip_hour": (0.2, 20), "power_w": (50, 2000),
    "tp": (1, 64), "replicas": (1, 1000), "allreduces_per_layer": (1, 4),
    "eta_flop": (0.3, 1), "eta_bw": (0.3, 1), "eta_kv": (0.3, 1), "overhead_s": (1e-6, 1e-3),
    "layer_overhead_s": (1e-7, 1e-4),
    "minutes_per_day": (1, 600), "peak_to_mean": (1, 5), "mean_to_trough": (1, 10), "concurrency": (1, 1e5),
    "api_price_usd_per_mtok": (0.05, 100), "tokens_per_s_per_user": (1, 2000), "flop_per_byte": (1, 5000),
    "acceptance_rate": (0.05, 0.99), "draft_tokens": (1, 16), "draft_cost_ratio": (1e-3, 1),
    "pp": (1, 16),
    # results used as unknowns
    "utilization": (1e-4, 1), "time_per_token": (1e-4, 1), "user_base": (1, 1e8), "cost_ratio": (1, 1e4),
    "tokens_per_step": (1, 17), "spec_speedup": (0.01, 17), "G_{pp}": (1e-3, 16), r"\tau_{pp}": (1e-4, 1),
}


def log_uniform(rng: random.Random, name: str) -> float:
    lo, hi = RANGES[name]
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def sample_point(names, rng: random.Random) -> dict[str, float]:
    return {n: log_uniform(rng, n) for n in names}


def log_floats(name: str) -> st.SearchStrategy[float]:
    lo, hi = RANGES[name]
    return st.floats(math.log(lo), math.log(hi)).map(math.exp)


@st.composite
def dense_configs(draw) -> dict[str, float]:
    """A dense-model decode configuration with communication and overheads."""
    v = {n: draw(log_floats(n)) for n in (
        "total_params", "n_layers", "d_model", "kv_bytes_per_token", "bytes_per_weight", "bytes_per_activation",
        "batch", "context", "peak_flop_per_s", "hbm_bandwidth_bytes_per_s", "link_bandwidth_bytes_per_s",
        "link_latency_s", "eta_flop", "eta_bw", "eta_kv", "overhead_s", "layer_overhead_s", "prompt_len", "output_len")}
    v["active_params"] = v["total_params"]
    v["d_attn"] = v["d_model"]
    v["tp"] = float(draw(st.sampled_from([1, 2, 4, 8, 16])))
    v["allreduces_per_layer"] = 2.0
    return v
