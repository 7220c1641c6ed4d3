"""What the web calculator shows: its inputs (each a CLI flag and a URL parameter) and its outputs (closed
forms wired by name), as data. Any closed form of ``all_formulas()`` can be added to OUTPUTS by name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Input:
    """A number the page takes: its flag (also its URL parameter, without the dashes) and its symbol."""

    flag: str
    symbol: str
    label: str
    group: str
    #: smallest value allowed, and whether it may equal it (the CLI's positive/nonnegative types)
    low: float = 0.0
    low_inclusive: bool = False
    integer: bool = False
    #: catalog part that fills it: "model" (with the weight precision), "hardware", or "" (never)
    source: str = ""


@dataclass(frozen=True)
class Output:
    """A closed form shown on the page: its name in ``all_formulas()``, a label, and how to say it to people:
    the number is multiplied by ``scale`` and followed by ``unit`` (``%`` for a fraction)."""

    name: str
    label: str
    unit: str = ""
    scale: float = 1.0


#: The page's inputs. Flags are `inferonomics evaluate`'s where it has one (``evaluate.RAW_FLAGS``), else
#: the usage commands' (``--minutes-per-day``, ``--mean-to-trough``); ``concurrency`` has no CLI flag yet.
INPUTS: tuple[Input, ...] = (
    Input("tp", "tp", "tensor-parallel degree", "deployment", low=1, low_inclusive=True, integer=True),
    Input("batch", "batch", "batch (concurrent sequences per replica)", "deployment", low=1, low_inclusive=True),
    Input("context", "context", "context per sequence, tokens", "deployment", low_inclusive=True),
    Input("concurrency", "concurrency", "concurrent users at peak", "usage"),
    Input("minutes-per-day", "minutes_per_day", "active minutes per user per day", "usage"),
    Input("mean-to-trough", "mean_to_trough", "daily swing (mean over trough concurrency)", "usage",
          low=1, low_inclusive=True),
    Input("price-usd-per-hour", "price_usd_per_chip_hour", "price of one chip-hour, USD", "usage"),
    Input("params", "total_params", "parameters", "model", source="model"),
    Input("bytes-per-weight", "bytes_per_weight", "bytes per weight", "model", source="model"),
    Input("kv-bytes-per-token", "kv_bytes_per_token", "KV-cache bytes per token", "model", low_inclusive=True,
          source="model"),
    Input("layers", "n_layers", "layers", "model", source="model"),
    Input("kv-heads", "n_kv_heads", "KV heads (a TP degree beyond them replicates the KV cache)", "model",
          low=1, low_inclusive=True, source="model"),
    Input("peak-flops", "peak_flop_per_s", "peak FLOP/s per chip", "hardware", source="hardware"),
    Input("hbm-bandwidth", "hbm_bandwidth_bytes_per_s", "HBM bandwidth per chip, bytes/s", "hardware",
          source="hardware"),
    Input("link-latency-s", "link_latency_s", "all-reduce hop latency, s", "hardware", low_inclusive=True,
          source="hardware"),
    Input("allreduces-per-layer", "allreduces_per_layer", "all-reduces per layer", "deployment",
          low_inclusive=True),
    Input("overhead-s", "overhead_s", "fixed overhead per step, s", "deployment", low_inclusive=True),
)

#: The page's outputs, in order. A name absent from ``all_formulas()`` is left out of the page (and listed
#: in its footer as not available): cost per million tokens has no closed form yet, and
#: ``single_user_cost_ratio`` appears once formulas.py has it.
OUTPUTS: tuple[Output, ...] = (
    Output("break_even_batch", "break-even batch, weights only", "sequences"),
    Output("break_even_batch_with_kv", "break-even batch with the KV cache", "sequences"),
    Output("critical_context", "critical context", "tokens"),
    Output("utilization", "utilization at the chosen batch", "%", 100.0),
    Output("latency_floor", "latency floor (batch 1, with TP communication)", "ms per token", 1e3),
    Output("min_user_base", "minimum user base", "users"),
    Output("cost_per_million_tokens", "cost per million tokens", "USD"),
    Output("single_user_cost_ratio", "single-user cost ratio", "x"),
    Output("optimal_tp_degree", "latency-optimal TP degree", "chips"),
)

#: the three catalog choices, in the order the page shows them
CATALOG_FLAGS = ("model", "hardware", "precision")
GROUPS = (("deployment", "Deployment"), ("usage", "Users and price"), ("model", "Model (raw numbers)"),
          ("hardware", "Card (raw numbers)"), ("other", "Other arguments"))
