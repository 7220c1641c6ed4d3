"""`inferonomics evaluate`: the step model at one configuration, from SI flags and/or catalog names."""

from __future__ import annotations

import argparse
import math
import sys

from inferonomics.symbolic.errors import InvalidInputError

from . import _table as T
from . import catalog_args
from .optimize_cmd import overlap_flag
from ._io import batch_value, nonnegative_float, positive_float, positive_int, print_json

#: a configuration whose weights, KV cache and reserves do not fit in HBM: printed, and exit code 3 as optimize's
#: infeasible answers
EXIT_INFEASIBLE = 3

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
    g.add_argument("--isl", "--prompt-len", dest="prompt_len", type=positive_float,
                   help="input (prompt) tokens per request, with --mixed and for the calibrated TPOT (default 1024)")
    g.add_argument("--osl", "--output-len", dest="output_len", type=positive_float,
                   help="output tokens per request, with --mixed and for the calibrated TPOT (default 1024)")
    g.add_argument("--mixed", action="store_true", help="continuous batching: add B*isl/osl prompt tokens per step")
    g = p.add_argument_group("communication and overhead")
    g.add_argument("--layers", type=positive_float, help="layers L")
    g.add_argument("--hidden", type=positive_float, help="hidden size d")
    g.add_argument("--link-latency-s", type=nonnegative_float, help="all-reduce hop latency alpha, s")
    g.add_argument("--link-bandwidth", type=positive_float,
                   help="link bandwidth beta, bytes/s (without it communication is latency only)")
    g.add_argument("--allreduces-per-layer", type=nonnegative_float, help="all-reduces per layer (default 2)")
    g.add_argument("--overhead-s", type=nonnegative_float, help="fixed overhead per step, s")
    overlap_flag(p, dest="overlap")
    catalog_args.add_catalog_args(p)
    p.add_argument("--backend", choices=("trtllm", "vllm", "sglang"), default="trtllm",
                   help="serving engine whose fitted overhead the calibrated serving TPOT uses (default trtllm)")
    p.add_argument("--calibration", metavar="FILE",
                   help="calibration TOML (default with catalog hardware: the shipped H100 fit)")
    p.add_argument("--ideal", action="store_true", help="the pure analytic model: no calibration")
    p.add_argument("--json", action="store_true", help="print JSON")
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
        from inferonomics.optimize.calibration import calibration_for, load_calibration

        # a catalog card gets its own fit, else its architecture sibling's, else the H100's
        cal = (calibration_for(args.hardware, args.calibration)[0] if args.hardware
               else load_calibration(args.calibration))
        values = cal.apply(values)
        values.update(catalog_args.parse_set(getattr(args, "set", None)))  # an explicit --set beats the fit
    for flag, name in RAW_FLAGS.items():
        v = getattr(args, flag, None)
        if v is not None:
            values[name] = v
    return values, used_catalog


def _calibrated_serving(args: argparse.Namespace, values: dict[str, float]) -> dict:
    """With a catalog model and hardware and a calibration: the validated serving model's TPOT and TTFT
    (in-flight batching at --isl/--osl, default 1024/1024), beside the step model's numbers."""
    if args.ideal or not (args.model and args.hardware):
        return {}
    from inferonomics.optimize.serving_step import calibrated_tpot_s, calibrated_ttft_s
    from inferonomics.symbolic import catalog

    from inferonomics.optimize.backends import backends_for, why_not

    hw = catalog.hardware(args.hardware)
    if why := why_not(args.backend, hw):  # no TPOT for an engine on a card it does not run on
        others = ", ".join(backends_for(hw))
        return {"calibrated_model": f"none: {why}" + (f"; try --backend {others}" if others else "")}
    precision = getattr(args, "precision", None) or catalog.model(args.model).weight_precision
    isl = args.prompt_len or 1024.0
    osl = args.output_len or 1024.0
    from inferonomics.optimize.calibration import calibration_for
    from inferonomics.optimize.calibration import intervals as I

    common = (args.model, args.hardware, precision, values.get("tp", 1.0), values.get("batch", 1.0), isl, osl,
              args.backend, args.calibration)
    cal, how = calibration_for(args.hardware, args.calibration)
    out = {"calibrated_tpot_ms": calibrated_tpot_s(*common) * 1e3, "calibrated_ttft_ms": calibrated_ttft_s(*common) * 1e3}
    for key, kind in (("calibrated_tpot_ms", "serving_tpot"), ("calibrated_ttft_ms", "serving_ttft")):
        if kind in cal.intervals:  # the 80% prediction interval of the fit's serving rows
            out[f"{key}_interval"] = [float(x) for x in I.apply(out[key], cal.intervals[kind])]
    out["calibrated_model"] = (f"serving model (kernel terms, in-flight batching, {args.backend}), isl {isl:g}, "
                               f"osl {osl:g}; {how}; intervals: {I.LEVEL:.0%} of the fit's serving rows")
    return out


def _flag(args: argparse.Namespace, name: str, symbol: str) -> str:
    return f"--{name.replace('_', '-')}" if getattr(args, name, None) is not None else f"--set {symbol}"


def check_deployment(args: argparse.Namespace, values: dict[str, float]) -> None:
    """TP and batch as optimize takes them: TP a whole number that splits the model's heads (space.heads_allow,
    the rule optimize applies) and is at most the hardware's scale-up domain; a batch of at least 1."""
    from inferonomics.optimize.space import heads_allow

    tp, flag = values.get("tp", 1.0), _flag(args, "tp", "tp")
    if tp != int(tp) or tp < 1:
        raise InvalidInputError(flag, "a positive integer (chips per replica)", tp)
    if values.get("batch", 1.0) < 1:
        raise InvalidInputError(_flag(args, "batch", "batch"), "a number >= 1", values["batch"])
    m, hw = catalog_args.model_record(args), catalog_args.hardware_record(args)
    arch = m.architecture if m is not None else None
    if arch is not None:
        why = heads_allow(int(tp), arch.n_heads, arch.n_kv_heads if arch.attention != "MLA" else None)
        if why is not None:
            raise InvalidInputError(flag, f"a degree the model's heads split evenly: {why}", int(tp))
    if hw is not None and tp > (hw.scaleup_domain_size or 1):
        raise InvalidInputError(flag, f"at most {hw.name}'s scale-up domain ({hw.scaleup_domain_size or 1} chips), "
                                "as optimize takes it", int(tp))


def memory_per_chip(values: dict[str, float]) -> dict:
    """Per-chip HBM under optimize's convention (optimize.constraints): weights/TP, the KV cache of B sequences
    at the context/TP, the activation reserve (a fraction of HBM) and the framework reserve; {} without an
    HBM capacity."""
    from inferonomics.optimize.constraints import ACTIVATION_RESERVE_FRACTION, FRAMEWORK_RESERVE_BYTES, REL_TOL

    hbm = values.get("hbm_capacity_bytes")
    if not hbm:
        return {}
    tp = values.get("tp", 1.0)
    parts = {
        "weights": values["total_params"] * values["bytes_per_weight"] / tp,
        "kv_cache": values.get("batch", 1.0) * values.get("context", 0.0) * values.get("kv_bytes_per_token", 0.0) / tp,
        "activations": ACTIVATION_RESERVE_FRACTION * hbm,
        "reserve": FRAMEWORK_RESERVE_BYTES,
    }
    total = sum(parts.values())
    return {"fits_in_memory": total <= hbm * (1 + REL_TOL),
            "memory_per_chip_gb": {**{k: v / 1e9 for k, v in parts.items()}, "total": total / 1e9, "hbm": hbm / 1e9}}


def _finite(out: dict, args: argparse.Namespace) -> None:
    bad = [k for k, v in out.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise InvalidInputError("evaluate", "inputs within range: " + ", ".join(bad) + " came out infinite or NaN "
                                f"(check the largest inputs: {_largest(args)})")


def _largest(args: argparse.Namespace) -> str:
    given = {f: getattr(args, f) for f in RAW_FLAGS if isinstance(getattr(args, f, None), (int, float))}
    top = sorted(given.items(), key=lambda kv: -abs(kv[1]))[:2]
    return ", ".join(f"{_SPELLING.get(k, '--' + k.replace('_', '-'))} {v:g}" for k, v in top) or "--set values"


#: flags whose destination is not their canonical spelling
_SPELLING = {"prompt_len": "--isl", "output_len": "--osl"}


def run(args: argparse.Namespace) -> int:
    from inferonomics.symbolic.evaluate import evaluate_step

    values, _ = gather_values(args)
    for flag, name in (("--params", "total_params"), ("--bytes-per-weight", "bytes_per_weight"),
                       ("--peak-flops", "peak_flop_per_s"), ("--hbm-bandwidth", "hbm_bandwidth_bytes_per_s")):
        if name not in values:
            raise InvalidInputError(flag, "a value (or --model/--hardware/--precision from the catalog)")
    values.setdefault("batch", 1.0)
    check_deployment(args, values)
    try:
        out = evaluate_step(values, args.overlap, mixed=args.mixed).as_json()
        _finite(out, args)
        out.update(memory_per_chip(values))
        out.update(_calibrated_serving(args, values))
    except (OverflowError, ZeroDivisionError):
        raise InvalidInputError("evaluate", f"inputs within range (a result overflowed; check the largest inputs: "
                                f"{_largest(args)})") from None
    _finite(out, args)
    if args.json:
        print_json(out)
    else:
        width = max(map(len, out))
        for k, v in out.items():
            if isinstance(v, dict):
                v = ", ".join(f"{kk} {vv:.4g}" for kk, vv in v.items())
            elif "utilization" in k and isinstance(v, float):
                v = T.pct(v, 2)  # a percent in text, a fraction in JSON
            print(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if out.get("fits_in_memory") is False:
        mem = out["memory_per_chip_gb"]
        print(f"inferonomics evaluate: infeasible: {mem['total']:.4g} GB per chip (weights {mem['weights']:.4g} GB, "
              f"KV cache {mem['kv_cache']:.4g} GB, reserves {mem['activations'] + mem['reserve']:.4g} GB) do not fit "
              f"in {mem['hbm']:.4g} GB of HBM at TP {values.get('tp', 1.0):g}", file=sys.stderr)
        return EXIT_INFEASIBLE
    return 0
