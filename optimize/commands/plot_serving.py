"""The calibrated serving model at the deployment `plot`'s flags name, as the batch curve the plots draw: the
step `evaluate` reports (same spec, calibration and workload rules), and the closed forms' calibrated
efficiencies for the break-even batch and the critical context."""

from __future__ import annotations

import argparse

from inferonomics.symbolic.errors import InvalidInputError


def serving_curve(args: argparse.Namespace, values: dict[str, float]):
    """(:class:`~inferonomics.optimize.plots.ServingCurve`, the values with tp, isl, osl and context filled in)."""
    from inferonomics.optimize import serving_step as S
    from inferonomics.optimize.calibrated_forms import PRECISIONS, calibrated_values
    from inferonomics.optimize.calibration.serving_model import scaling_free_precision
    from inferonomics.optimize.plots import ServingCurve
    from inferonomics.optimize.serving_eval import DEFAULT_ISL, DEFAULT_OSL, average_context, memory_per_chip
    from inferonomics.optimize.space import expert_parallel_degree

    from .evaluate import _serving_spec, check_deployment

    v = dict(values)
    if args.tp is not None:
        v["tp"] = float(args.tp)
    v.setdefault("tp", 1.0)
    check_deployment(args, v)  # TP as optimize and evaluate take it
    isl = args.isl or v.get("prompt_len", DEFAULT_ISL)
    osl = args.osl or v.get("output_len", DEFAULT_OSL)
    ctx = args.context if args.context is not None else v.get("context", average_context(isl, osl))
    v.update(prompt_len=isl, output_len=osl, context=ctx)
    spec, cal, how, _ = _serving_spec(args)
    dense = scaling_free_precision(spec.precision)  # a block-scaled checkpoint's dense GEMMs are per-tensor fp8
    if dense not in PRECISIONS:
        raise InvalidInputError("--precision", "bf16 or fp8 for the calibrated closed forms' efficiencies "
                                "(or --ideal)", spec.precision)
    tp = int(v["tp"])
    ep = expert_parallel_degree(tp, int(spec.arch.n_experts or 1))
    mem = memory_per_chip(spec, tp, 1.0, isl, osl, ctx)  # evaluate's rule: the weights and one sequence's KV
    if not mem.fits:
        raise InvalidInputError("--tp", "a degree at which the weights and one sequence's KV cache fit in HBM "
                                f"(at TP {tp} they do not: {mem.weights / tp / 1e9:.4g} GB of weights per chip)", tp)
    cap = S.resident_cap(spec, tp, isl, osl, ep=ep, context=ctx)
    eff = calibrated_values(spec.hardware or args.hardware, dense, spec.backend, args.calibration)

    def step_s(batch):
        return S.tpot(spec, tp, batch, isl, osl, ep=ep, context=ctx)

    name = catalog_name(args)
    label = (f"calibrated serving model: {name}, {spec.precision}, TP {tp}, {spec.backend}, isl/osl {isl:g}/{osl:g}; "
             f"the {how}")
    return ServingCurve(step_s, float(cap), dict(eff.values), label), v


def catalog_name(args: argparse.Namespace) -> str:
    """The model and card as the flags name them."""
    model = args.model or args.model_file or args.model_config
    return f"{model} on {args.hardware}"
