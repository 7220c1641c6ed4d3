"""`inferonomics evaluate`: the step model at one configuration, from SI flags and/or catalog names."""

from __future__ import annotations

import argparse

from inferonomics.symbolic.errors import InvalidInputError

from . import catalog_args
from ._io import batch_value, nonnegative_float, positive_float, positive_int, print_json

#: flag -> symbol name; every flag is an override on top of any catalog values
RAW_FLAGS = {
    "params": "total_params", "active_params": "active_params", "bytes_per_weight": "bytes_per_weight",
    "peak_flops": "peak_flop_per_s", "hbm_bandwidth": "hbm_bandwidth_bytes_per_s", "batch": "batch",
    "context": "context", "kv_bytes_per_token": "kv_bytes_per_token", "tp": "tp", "layers": "n_layers",
    "link_latency_s": "link_latency_s", "link_bandwidth": "link_bandwidth_bytes_per_s", "hidden": "d_model",
    "allreduces_per_layer": "allreduces_per_layer", "overhead_s": "overhead_s",
    "price_usd_per_hour": "price_usd_per_chip_hour", "power_w": "power_w",
    "prompt_len": "prompt_len", "output_len": "output_len",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate the step model for one configuration (SI units)",
                       description="With raw SI flags only this is the ideal analytic model: efficiency 1, "
                                   "no overhead unless --overhead-s is given. Catalog names add a calibration "
                                   "unless --ideal.")
    g = p.add_argument_group("model and precision")
    g.add_argument("--params", type=positive_float, help="total parameters N")
    g.add_argument("--active-params", type=positive_float, help="active parameters per token (default N)")
    g.add_argument("--bytes-per-weight", type=positive_float, help="bytes per weight b_w (1 for 8-bit)")
    g = p.add_argument_group("hardware (per chip)")
    g.add_argument("--peak-flops", type=positive_float, help="peak FLOP/s F")
    g.add_argument("--hbm-bandwidth", type=positive_float, help="HBM bandwidth W, bytes/s")
    g.add_argument("--price-usd-per-hour", type=positive_float, help="price of one chip-hour, USD")
    g.add_argument("--power-w", type=positive_float, help="power per chip, W")
    g = p.add_argument_group("workload and deployment")
    g.add_argument("--batch", type=batch_value, help="batch B (>= 1)")
    g.add_argument("--context", type=nonnegative_float, help="KV context per sequence, tokens")
    g.add_argument("--kv-bytes-per-token", type=nonnegative_float, help="KV bytes per token of context")
    g.add_argument("--tp", type=positive_int, help="tensor-parallel degree (positive integer)")
    g.add_argument("--prompt-len", type=positive_float, help="prompt tokens per request (with --mixed)")
    g.add_argument("--output-len", type=positive_float, help="output tokens per request (with --mixed)")
    g.add_argument("--mixed", action="store_true", help="continuous batching: add B*isl/osl prompt tokens per step")
    g = p.add_argument_group("communication and overhead")
    g.add_argument("--layers", type=positive_float, help="layers L")
    g.add_argument("--hidden", type=positive_float, help="hidden size d")
    g.add_argument("--link-latency-s", type=nonnegative_float, help="all-reduce hop latency alpha, s")
    g.add_argument("--link-bandwidth", type=positive_float,
                   help="link bandwidth beta, bytes/s (without it communication is latency only)")
    g.add_argument("--allreduces-per-layer", type=nonnegative_float, help="all-reduces per layer (default 2)")
    g.add_argument("--overhead-s", type=nonnegative_float, help="fixed overhead per step, s")
    p.add_argument("--overlap", choices=("step", "per-op"), default="step",
                   help="overlap policy: one roofline per step, or one per operator class")
    catalog_args.add_catalog_args(p)
    p.add_argument("--backend", choices=("trtllm", "vllm", "sglang"), default="trtllm",
                   help="serving engine whose fitted overhead the calibrated serving TPOT uses (default trtllm)")
    p.add_argument("--calibration", help="calibration TOML (default with catalog hardware: the shipped H100 fit)")
    p.add_argument("--ideal", action="store_true", help="the pure analytic model: no calibration")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def gather_values(args: argparse.Namespace) -> tuple[dict[str, float], bool]:
    """Symbol values from catalog names, then calibration, then ``--set`` and raw flags (explicit flags win).

    Returns the values and whether a catalog hardware entry was used.
    """
    values: dict[str, float] = {}
    catalog_values = catalog_args.resolve_catalog_values(args)
    used_catalog = bool(catalog_values) and bool(args.hardware or args.hardware_file)
    values.update(catalog_values)
    if args.ideal and args.calibration:
        raise InvalidInputError("--ideal", "not together with --calibration")
    if args.calibration or (used_catalog and not args.ideal):
        from inferonomics.optimize.calibration import load_calibration

        values = load_calibration(args.calibration).apply(values)
        values.update(catalog_args.parse_set(getattr(args, "set", None)))  # an explicit --set beats the fit
    for flag, name in RAW_FLAGS.items():
        v = getattr(args, flag, None)
        if v is not None:
            values[name] = v
    return values, used_catalog


def _calibrated_serving(args: argparse.Namespace, values: dict[str, float]) -> dict:
    """With a catalog model and hardware and a calibration: the validated serving model's TPOT and TTFT
    (in-flight batching at --prompt-len/--output-len, default 1024/1024), beside the step model's numbers."""
    if args.ideal or not (args.model and args.hardware):
        return {}
    from inferonomics.optimize.serving_step import calibrated_tpot_s, calibrated_ttft_s
    from inferonomics.symbolic import catalog

    precision = getattr(args, "precision", None) or catalog.model(args.model).weight_precision
    isl = args.prompt_len or 1024.0
    osl = args.output_len or 1024.0
    common = (args.model, args.hardware, precision, values.get("tp", 1.0), values.get("batch", 1.0), isl, osl,
              args.backend, args.calibration)
    return {
        "calibrated_tpot_ms": calibrated_tpot_s(*common) * 1e3,
        "calibrated_ttft_ms": calibrated_ttft_s(*common) * 1e3,
        "calibrated_model": f"serving model (kernel terms, in-flight batching, {args.backend}), "
                            f"isl {isl:g}, osl {osl:g}",
    }


def run(args: argparse.Namespace) -> int:
    from inferonomics.symbolic.evaluate import evaluate_step

    values, _ = gather_values(args)
    for flag, name in (("--params", "total_params"), ("--bytes-per-weight", "bytes_per_weight"),
                       ("--peak-flops", "peak_flop_per_s"), ("--hbm-bandwidth", "hbm_bandwidth_bytes_per_s")):
        if name not in values:
            raise InvalidInputError(flag, "a value (or --model/--hardware/--precision from the catalog)")
    values.setdefault("batch", 1.0)
    result = evaluate_step(values, args.overlap, mixed=args.mixed)
    out = result.as_json()
    out.update(_calibrated_serving(args, values))
    if args.json:
        print_json(out)
        return 0
    width = max(map(len, out))
    for k, v in out.items():
        print(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    return 0
