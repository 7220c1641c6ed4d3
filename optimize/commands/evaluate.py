"""`inferonomics evaluate`: one step time at one configuration, from catalog names (the calibrated serving
model) or SI flags (the closed-form step model), and every figure derived from it."""

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
    p = sub.add_parser("evaluate", help="the step time of one configuration and what follows from it (SI units)",
                       description="One step time (step_ms, step_model says which model): a catalog model with an "
                                   "architecture on catalog hardware gets the calibrated serving model (kernel terms, "
                                   "in-flight batching, the backend's overheads; as `validate` scores it) unless "
                                   "--ideal; raw SI flags get the closed-form step model, ideal (efficiency 1, no "
                                   "overhead unless --overhead-s) unless a calibration is given. Tokens/s, "
                                   "utilization, $/Mtok and J/token follow step_ms; breakdown_ms sums to it. "
                                   "Workload: --isl/--osl (default 1024 each with a catalog model) set the prompt "
                                   "work; --context (default isl + osl/2, the serving model's average context) sets "
                                   "the decode attention's and the KV cache's context.")
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
    g.add_argument("--context", type=nonnegative_float,
                   help="KV context per sequence, tokens: decode attention and KV cache (default isl + osl/2 "
                        "with a catalog model or --isl/--osl, else 0)")
    g.add_argument("--kv-bytes-per-token", type=nonnegative_float, help="KV bytes per token of context")
    g.add_argument("--tp", type=positive_int, help="tensor-parallel degree (positive integer)")
    g.add_argument("--pp", type=positive_int, help="pipeline stages of the worker, dividing the model's layers "
                   "(serving model only; default 1)")
    g.add_argument("--attention-dp", type=positive_int, help="attention data-parallel groups of --tp ranks each, "
                   "an MoE only: a worker of tp x attention_dp x pp chips, which may span scale-up domains "
                   "(serving model only; default 1)")
    g.add_argument("--ep", type=positive_int, help="expert-parallel degree, an MoE only: dividing the experts and "
                   "tp x attention_dp (serving model only; default the largest power dividing both, as optimize "
                   "reports)")
    g.add_argument("--isl", "--prompt-len", dest="prompt_len", type=positive_float,
                   help="input (prompt) tokens per request: the serving model's in-flight prefill, the closed form's "
                        "with --mixed (default 1024 with a catalog model)")
    g.add_argument("--osl", "--output-len", dest="output_len", type=positive_float,
                   help="output tokens per request (default 1024 with a catalog model)")
    g.add_argument("--mixed", action="store_true",
                   help="closed form: continuous batching, B*isl/osl prompt tokens per step (the serving model "
                        "always batches prompts in flight)")
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
                   help="serving engine of the serving model: its fitted overheads (default trtllm)")
    p.add_argument("--calibration", metavar="FILE",
                   help="calibration TOML (default with catalog hardware: the shipped H100 fit)")
    p.add_argument("--ideal", action="store_true",
                   help="the closed-form step model at ideal values (no calibration), also for catalog names")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def gather_values(args: argparse.Namespace, serving: bool = False) -> tuple[dict[str, float], bool]:
    """Symbol values from catalog names, then calibration (the closed form's; the serving model applies its
    own), then ``--set`` and raw flags (explicit flags win).

    Returns the values and whether a catalog hardware entry was used.
    """
    values: dict[str, float] = {}
    catalog_values = catalog_args.resolve_catalog_values(args)
    used_catalog = bool(catalog_values) and bool(args.hardware or args.hardware_file)
    values.update(catalog_values)
    if args.ideal and args.calibration:
        raise InvalidInputError("--ideal", "not together with --calibration")
    if not serving and (args.calibration or (used_catalog and not args.ideal)):
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


#: flags the serving model takes; the others set figures it reads from the catalog and calibration instead
SERVING_FLAGS = ("batch", "context", "tp", "prompt_len", "output_len", "price_usd_per_hour", "power_w")
#: ``--set`` names the serving model takes as a deployment or price (the others must be in its ``env``)
_SERVING_SET = {"batch", "context", "tp", "prompt_len", "output_len", "price_usd_per_chip_hour", "power_w"}


def uses_serving(args: argparse.Namespace) -> bool:
    """The serving model applies to catalog hardware and a catalog (or config/file) model, unless --ideal."""
    return not args.ideal and bool(args.hardware) and bool(args.model or args.model_file or args.model_config)


def workload(args: argparse.Namespace, values: dict[str, float], catalog_model: bool) -> None:
    """Fill in isl, osl and context: isl/osl default to 1024 with a catalog model; context to isl + osl/2."""
    from inferonomics.optimize.serving_eval import DEFAULT_ISL, DEFAULT_OSL, average_context

    given = "prompt_len" in values or "output_len" in values
    if catalog_model or given:
        values.setdefault("prompt_len", DEFAULT_ISL)
        values.setdefault("output_len", DEFAULT_OSL)
        values.setdefault("context", average_context(values["prompt_len"], values["output_len"]))


def _serving_spec(args: argparse.Namespace):
    """(spec, calibration, which calibration in words, the precision asked for: --precision or the model's weights)
    of the serving model, or exit 2 naming why not."""
    from inferonomics.optimize.backends import backends_for, why_not
    from inferonomics.optimize.calibration import calibration_for
    from inferonomics.optimize.serving_step import ServingSpec, spec_for
    from inferonomics.symbolic import catalog

    for flag in SERVING_FLAGS + tuple(RAW_FLAGS):
        if flag not in SERVING_FLAGS and getattr(args, flag, None) is not None:
            raise InvalidInputError(_flag(args, flag, RAW_FLAGS[flag]), "not with the serving model (it reads the "
                                    "catalog's figures and the calibration): add --ideal for the closed form")
    if args.kv_precision:
        raise InvalidInputError("--kv-precision", "not with the serving model (its KV precision follows "
                                "--precision): add --ideal for the closed form")
    hw = catalog.hardware(args.hardware)
    if why := why_not(args.backend, hw):
        others = ", ".join(backends_for(hw))
        runs = f"a backend that runs on {hw.name} ({others})" if others else "a backend that runs on the card"
        raise InvalidInputError("--backend", runs + " or --ideal", f"{args.backend}: {why}")
    model = catalog_args.model_record(args)
    if model is None:
        raise InvalidInputError("--model", "a catalog model (the serving model needs its architecture) or --ideal")
    cal, how = calibration_for(hw.name, args.calibration)
    precision = args.precision or model.weight_precision
    activations = catalog.precision(args.activation_precision).name if args.activation_precision else None
    spec = spec_for(model, hw.name, precision, args.backend, cal, activations)
    overrides = {k: v for k, v in catalog_args.parse_set(args.set).items() if k not in _SERVING_SET}
    for k in overrides:
        if k not in spec.env:
            raise InvalidInputError(f"--set {k}", "a figure the serving model reads (e.g. "
                                    "eta_bw, overhead_trtllm_s) or add --ideal for the closed form")
    if overrides:  # an explicit --set beats the datasheet and the fit
        spec = ServingSpec(spec.arch, spec.precision, spec.backend, {**spec.env, **overrides}, spec.hardware)
    return spec, cal, how, catalog.precision(precision).name


def serving_figures(args: argparse.Namespace, values: dict[str, float]) -> dict:
    """Every figure from the serving model's step: the step and its parts, TTFT, throughput, utilization,
    cost, energy (at the resident batch), memory, the 80% intervals and the calibration used."""
    from inferonomics.optimize.calibration import intervals as I
    from inferonomics.optimize.serving_eval import evaluate_serving
    from inferonomics.symbolic.evaluate import economics

    spec, cal, how, asked = _serving_spec(args)
    tp, batch = int(values.get("tp", 1.0)), values["batch"]
    isl, osl, ctx = values["prompt_len"], values["output_len"], values["context"]
    dp, pp, ep = parallel_shape(args, spec.arch, tp)
    pt = evaluate_serving(spec, tp, ep, batch, isl, osl, ctx, dp=dp, pp=pp)
    b, chips = pt.resident_batch, tp * dp * pp
    out = {"step_model": "serving", "step_ms": pt.step_s * 1e3,
           "breakdown_ms": {k: v * 1e3 for k, v in pt.parts_s.items()}, "ttft_ms": pt.ttft_s * 1e3,
           "tokens_per_s": b / pt.step_s, "tokens_per_s_per_user": 1 / pt.step_s}
    # the worker's chips share one step's price and power, and its arithmetic
    out.update(economics({**values, "batch": b, "tp": float(chips)}, pt.step_s, mixed=True))
    for key, kind in (("step_ms", "serving_tpot"), ("ttft_ms", "serving_ttft")):
        if kind in cal.intervals:  # the 80% prediction interval of the fit's serving rows
            out[f"{key}_interval"] = [float(x) for x in I.apply(out[key], cal.intervals[kind])]
    out.update({"batch": batch, "resident_batch": b, "tp": tp, "attention_dp": dp, "ep": ep, "pp": pp,
                "chips_per_replica": chips, "isl": isl, "osl": osl, "context": ctx,
                "precision": asked,
                # the kernel class the serving model ran (bf16, fp8, fp8_block for a block-scaled checkpoint, w4a16,
                # fp4): several catalog precisions share one, and a checkpoint's fp8 may be block-scaled
                "serving_precision": spec.precision, "backend": spec.backend})
    out.update(pt.memory.as_json())
    out["calibration"] = f"{how}; intervals: {I.LEVEL:.0%} of the fit's serving rows"
    return out


#: the worker-shape flags only the serving model composes (the closed form spreads bytes and FLOPs over --tp chips)
SHAPE_FLAGS = ("pp", "attention_dp", "ep")


def parallel_shape(args: argparse.Namespace, arch, tp: int) -> tuple[int, int, int]:
    """(attention DP, PP, EP) of the worker from --attention-dp, --pp and --ep, checked as optimize checks its
    lists (space.pp_candidates, space.ep_candidates) and as validate checks a row's shape
    (calibration.parallel.check_shape): one line and exit 2 for a shape the model cannot take."""
    from inferonomics.optimize.calibration.parallel import check_shape
    from inferonomics.optimize.space import expert_parallel_degree

    check_shape_lists(args, arch, closed_form=False)
    dp, pp, ep = args.attention_dp or 1, args.pp or 1, args.ep
    if ep is None:
        ep = expert_parallel_degree(tp * dp, int(arch.n_experts or 1))
    elif (tp * dp) % ep:
        raise InvalidInputError("--ep", f"a divisor of tp x attention_dp = {tp * dp} chips", ep)
    check_shape(arch, tp, dp, ep, tp * dp // ep, "evaluate")
    return dp, pp, ep


def check_shape_lists(args: argparse.Namespace, arch, closed_form: bool) -> None:
    """--pp, --attention-dp and --ep as optimize checks its lists (space.parallel_lists, one element each)."""
    from inferonomics.optimize.space import parallel_lists

    pp, dp, ep = ([getattr(args, f)] if getattr(args, f, None) else None for f in SHAPE_FLAGS)
    parallel_lists(arch, pp, dp, ep, closed_form)


def closed_form_figures(args: argparse.Namespace, values: dict[str, float], calibrated: bool) -> dict:
    """The closed-form step model's figures (ideal values unless a calibration was applied), a breakdown
    whose parts sum to the step (the roofline term is max(compute, memory) per step, or their per-operator
    sum), and optimize's per-chip memory."""
    from inferonomics.symbolic.evaluate import evaluate_step

    r = evaluate_step(values, args.overlap, mixed=args.mixed)
    out = {"step_model": "closed-form" if calibrated else "ideal", **r.as_json()}
    out["breakdown_ms"] = {"roofline": (r.step_s - r.comm_s - r.overhead_s) * 1e3, "communication": r.comm_s * 1e3,
                           "overhead": r.overhead_s * 1e3}
    for k in ("batch", "tp", "context", "prompt_len", "output_len"):
        if k in values:
            out[{"prompt_len": "isl", "output_len": "osl"}.get(k, k)] = values[k]
    out.update(memory_per_chip(values))
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


def _worker(out: dict, values: dict[str, float]) -> str:
    """The worker's shape in words: TP alone, or TP x attention DP x PP and its chips."""
    tp = values.get("tp", 1.0)
    if out.get("chips_per_replica", tp) == tp:
        return f"TP {tp:g}"
    return f"TP {tp:g} x attention DP {out['attention_dp']} x PP {out['pp']} ({out['chips_per_replica']} chips)"


def run(args: argparse.Namespace) -> int:
    serving = uses_serving(args)
    values, used_catalog = gather_values(args, serving)
    for flag, name in (("--params", "total_params"), ("--bytes-per-weight", "bytes_per_weight"),
                       ("--peak-flops", "peak_flop_per_s"), ("--hbm-bandwidth", "hbm_bandwidth_bytes_per_s")):
        if name not in values:
            raise InvalidInputError(flag, "a value (or --model/--hardware/--precision from the catalog)")
    values.setdefault("batch", 1.0)
    if not serving:
        model = catalog_args.model_record(args)
        check_shape_lists(args, model.architecture if model is not None else None, closed_form=True)
    workload(args, values, catalog_model=bool(args.model or args.model_file or args.model_config))
    check_deployment(args, values)
    try:
        calibrated = bool(args.calibration) or (used_catalog and not args.ideal)
        out = serving_figures(args, values) if serving else closed_form_figures(args, values, calibrated)
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
            elif isinstance(v, list):
                v = " to ".join(f"{x:.4g}" for x in v)
            elif "utilization" in k and isinstance(v, float):
                v = T.pct(v, 2)  # a percent in text, a fraction in JSON
            print(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if out.get("fits_in_memory") is False:
        mem = out["memory_per_chip_gb"]
        reserves = mem.get("activations_and_runtime", mem.get("activations", 0.0) + mem.get("reserve", 0.0))
        print(f"inferonomics evaluate: infeasible: {mem['weights']:.4g} GB of weights, KV cache and reserves "
              f"({reserves:.4g} GB) per chip do not fit in {mem['hbm']:.4g} GB of HBM at {_worker(out, values)}",
              file=sys.stderr)
        return EXIT_INFEASIBLE
    return 0
