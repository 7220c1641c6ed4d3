"""The essay's worked example as data: the numbers `inferonomics seed` starts from, each with its claim."""

from __future__ import annotations

from dataclasses import dataclass

#: The essay's claims, quoted, that the seed reproduces. Keys match `inferonomics seed --json`.
CLAIMS = {
    "hardware": "an H100 does ~3e15 8-bit FLOP/s but moves only ~3 TB/s",
    "compute_ms": "a 1.6e12-parameter 8-bit model on 20 H100s with 20-way tensor parallelism spends ~0.05 ms computing",
    "memory_ms": "... and ~27 ms reading weights per token",
    "utilization_at_batch_1": "for ~0.2% utilization",
    "utilization_at_batch_100": "batching 100 users lifts that to ~20%",
    "break_even_batch": ("the essay counts 2 FLOPs per parameter (3.2e12 ops for 1.6e12 parameters), but its ~1000 "
                         "break-even users is the raw FLOP:byte ratio F/W; 2 FLOPs per weight byte make it "
                         "F b_w/(2W) = 500"),
    "min_user_base": "a service needs about 1000 concurrent users; at 10 minutes per user per day that is ~144K users",
}


@dataclass(frozen=True)
class EssayExample:
    """The essay's model and card; values are SI and keyed by symbol name."""

    values: dict
    essay_concurrency: float
    essay_break_even_claim: float
    utilization_batches: tuple[int, int]
    illustrative: dict


def essay_example() -> EssayExample:
    values = {
        "total_params": 1.6e12,
        "active_params": 1.6e12,
        "bytes_per_weight": 1.0,  # 8-bit weights
        "peak_flop_per_s": 3e15,  # "~3e15 8-bit FLOP/s"
        "hbm_bandwidth_bytes_per_s": 3e12,  # "~3 TB/s"
        "tp": 20.0,
        "batch": 1.0,
        "context": 0.0,  # the essay ignores the KV cache
        "minutes_per_day": 10.0,
        "mean_to_trough": 1.0,  # a flat day: the essay's 144K users
    }
    # Not in the essay: figures we assume to show the refinements (KV cache, TP communication).
    # They are labelled as assumptions wherever they are printed.
    illustrative = {
        "n_layers": 160.0,
        "d_model": 25600.0,
        "kv_bytes_per_token": 327680.0,  # 2 (K,V) x 160 layers x 8 KV heads x 128 dims x 1 byte
        "n_kv_heads": 8.0,  # the 8 KV heads of the line above: past TP 8 heads are replicated
        "context_example": 4096.0,
        "link_latency_s": 1e-6,
        "allreduces_per_layer": 2.0,
        "link_bandwidth_bytes_per_s": 450e9,
        "bytes_per_activation": 2.0,
    }
    return EssayExample(values, essay_concurrency=1000.0, essay_break_even_claim=1000.0,
                        utilization_batches=(1, 100), illustrative=illustrative)


def essay_values() -> dict[str, float]:
    """The essay's figures with their labelled illustrative refinements, as symbol values (what the derivation
    documents and the web calculator open on)."""
    ex = essay_example()
    return dict(ex.values, **{k: v for k, v in ex.illustrative.items() if k != "context_example"})
