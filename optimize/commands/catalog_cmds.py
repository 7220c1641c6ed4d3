"""`inferonomics list` and `inferonomics show`: the catalog (hardware, models, precisions) on the terminal."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from inferonomics.symbolic import architecture as A
from inferonomics.symbolic import catalog
from inferonomics.symbolic.errors import InvalidInputError, UnknownNameError

from . import _table as T
from ._io import print_json

_KINDS = {"hardware": (catalog.list_hardware, catalog.hardware), "models": (catalog.list_models, catalog.model),
          "precisions": (catalog.list_precisions, catalog.precision)}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list catalog hardware, models or precisions with their key figures",
                       description="One catalog kind as a table of its key figures (--json: SI units).")
    p.add_argument("kind", choices=tuple(_KINDS), help="which catalog")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_list)
    s = sub.add_parser("show", help="show one catalog entry (hardware, model or precision) with sources",
                       description="Show one entry by name, display name or alias; or a model from a file.")
    s.add_argument("name", nargs="?", metavar="NAME", help="hardware, model or precision name")
    s.add_argument("--model-config", metavar="PATH", help="a Hugging Face config.json, read offline")
    s.add_argument("--model-file", metavar="PATH", help="a model TOML in the catalog schema")
    s.add_argument("--hardware-file", metavar="PATH", help="a hardware TOML in the catalog schema")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run_show)


def _sources(rec: Any) -> dict[str, dict[str, str]]:
    return {k: {"source": v.source, "retrieved": v.retrieved} for k, v in rec.sources.items()}


def hardware_json(hw: catalog.Hardware) -> dict[str, Any]:
    keys = ("name", "display_name", "vendor", "year", "memory_kind", "hbm_capacity_bytes", "hbm_bandwidth_bytes_per_s",
            "link_bandwidth_bytes_per_s", "link_latency_s", "scaleup_domain_size", "power_w", "price_usd_per_chip_hour")
    out: dict[str, Any] = {"kind": "hardware"}
    out.update({k: getattr(hw, k) for k in keys if getattr(hw, k) is not None})
    out["peak_flop_per_s"] = dict(hw.peak_flop_per_s)
    out["ridge_flop_per_byte"] = {k: hw.ridge(k) for k in hw.peak_flop_per_s}
    out.update(aliases=list(hw.aliases), notes=hw.notes, sources=_sources(hw))
    return out


def model_json(m: catalog.Model) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "model", "name": m.name, "display_name": m.display_name,
                           "weight_precision": m.weight_precision, "kv_precision": m.kv_precision,
                           "published_total_params": m.published_total_params,
                           "published_active_params": m.published_active_params}
    a = m.architecture
    if a is not None:
        kv = catalog.precision(m.kv_precision)
        out.update(total_params=A.total_params(a), active_params=A.active_params(a),
                   expert_params=A.expert_params(a), dense_params=A.dense_params(a),
                   kv_bytes_per_token=float(A.kv_bytes_per_token(a, kv)),
                   kv_elements_per_token=float(A.kv_elements_per_token(a)),
                   params_breakdown=A.breakdown(a),
                   architecture={k: v for k, v in vars(a).items() if k != "source" and v is not None})
    else:
        out.update(total_params=m.published_total_params,
                   active_params=m.published_active_params or m.published_total_params, architecture=None)
    out.update(aliases=list(m.aliases), notes=m.notes, sources=_sources(m))
    return out


def precision_json(p: catalog.Precision) -> dict[str, Any]:
    return {"kind": "precision", "name": p.name, "display_name": p.display_name,
            "bits_per_element": p.bits_per_element, "scale_bits_per_block": p.scale_bits_per_block,
            "block_size": p.block_size, "bytes_per_element": str(p.bytes_per_element),
            "bytes_per_element_float": float(p.bytes_per_element), "compute_key": p.compute_key,
            "aliases": list(p.aliases), "notes": p.notes,
            "source": {"source": p.source.source, "retrieved": p.source.retrieved}}


def _break_even(hw: catalog.Hardware, weights: str) -> float | None:
    """B* = F b_w / (2 W) (formula break_even_batch) for weights at ``weights`` computed at the card's default
    activation precision; None where the card publishes no rate for it."""
    from inferonomics.symbolic.formulas import get_formula

    wp = catalog.precision(weights)
    act = catalog.default_activation_precision(wp, hw)
    key = catalog.precision(act).compute_key
    flops = hw.peak_flop_per_s.get(key) if key is not None else None
    if not flops or not hw.hbm_bandwidth_bytes_per_s:
        return None
    return float(get_formula("break_even_batch").evaluate({"peak_flop_per_s": flops, "bytes_per_weight":
                                                            float(wp.bytes_per_element),
                                                            "hbm_bandwidth_bytes_per_s": hw.hbm_bandwidth_bytes_per_s}))


#: compute precisions shown as columns of `list hardware` (every rate is in --json and `show`)
_RATE_COLUMNS = ("bf16", "fp8", "int8", "fp4")


def _hardware_row(hw: catalog.Hardware) -> dict[str, Any]:
    ridge = hw.ridge("bf16") if "bf16" in hw.peak_flop_per_s and hw.hbm_bandwidth_bytes_per_s else None
    return {"name": hw.name, "display_name": hw.display_name, "vendor": hw.vendor,
            "hbm_capacity_bytes": hw.hbm_capacity_bytes, "hbm_bandwidth_bytes_per_s": hw.hbm_bandwidth_bytes_per_s,
            "peak_flop_per_s": dict(hw.peak_flop_per_s), "ridge_flop_per_byte_bf16": ridge,
            "break_even_batch": {w: _break_even(hw, w) for w in ("bf16", "fp8")}}


def _model_row(m: catalog.Model) -> dict[str, Any]:
    d = model_json(m)
    return {k: d.get(k) for k in ("name", "display_name", "total_params", "active_params", "kv_bytes_per_token",
                                  "weight_precision", "kv_precision")}


def _precision_row(p: catalog.Precision) -> dict[str, Any]:
    d = precision_json(p)
    return {k: d[k] for k in ("name", "display_name", "bits_per_element", "block_size", "scale_bits_per_block",
                              "bytes_per_element_float", "compute_key")}


def _list_table(kind: str, rows: list[dict[str, Any]]) -> str:
    def rate(r: dict, k: str) -> str:
        x = r["peak_flop_per_s"].get(k)
        return T.MISSING if x is None else f"{x / 1e12:,.0f}"

    if kind == "hardware":
        head = ["name", "vendor", "HBM GB", "TB/s", *(f"{k.upper()} TFLOP/s" for k in _RATE_COLUMNS),
                "FLOP/B bf16", "B* bf16", "B* fp8"]
        body = [[r["name"], r["vendor"], T.num(r["hbm_capacity_bytes"] and r["hbm_capacity_bytes"] / 1e9),
                 T.num(r["hbm_bandwidth_bytes_per_s"] and r["hbm_bandwidth_bytes_per_s"] / 1e12, 3),
                 *(rate(r, k) for k in _RATE_COLUMNS),
                 T.num(r["ridge_flop_per_byte_bf16"] and round(r["ridge_flop_per_byte_bf16"])),
                 *(T.num(b and round(b)) for b in r["break_even_batch"].values())] for r in rows]
        foot = ("FLOP/B: peak bf16 FLOP/s per byte/s of HBM; B*: the break-even batch F b_w / 2W for weights at "
                "that precision (`inferonomics show NAME` for every figure and its source)")
    elif kind == "models":
        head = ["name", "model", "params", "active", "KV/token", "weights", "KV"]
        body = [[r["name"], r["display_name"], f"{r['total_params'] / 1e9:,.1f} B",
                 f"{r['active_params'] / 1e9:,.1f} B",
                 T.si(r["kv_bytes_per_token"], "B") if r["kv_bytes_per_token"] is not None else T.MISSING,
                 r["weight_precision"], r["kv_precision"]] for r in rows]
        foot = "params and active: billions of parameters (active: per token); KV/token at the model's KV precision"
    else:
        head = ["name", "precision", "bits", "block", "bytes/element", "computes at"]
        body = [[r["name"], r["display_name"], r["bits_per_element"], r["block_size"] or T.MISSING,
                 f"{r['bytes_per_element_float']:.4g}", r["compute_key"]] for r in rows]
        foot = "bytes/element include the block scales"
    return f"{T.table(head, body)}\n{foot}"


def run_list(args: argparse.Namespace) -> int:
    names, _ = _KINDS[args.kind]
    to_row: dict[str, Callable[[str], dict[str, Any]]] = {
        "hardware": lambda n: _hardware_row(catalog.hardware(n)), "models": lambda n: _model_row(catalog.model(n)),
        "precisions": lambda n: _precision_row(catalog.precision(n))}
    rows = [to_row[args.kind](n) for n in names()]
    if args.json:
        print_json(rows)
    else:
        print(_list_table(args.kind, rows))
    return 0


def _find(name: str) -> dict[str, Any]:
    as_json: tuple[Callable[[str], dict[str, Any]], ...] = (
        lambda n: hardware_json(catalog.hardware(n)), lambda n: model_json(catalog.model(n)),
        lambda n: precision_json(catalog.precision(n)))
    for to_json in as_json:
        try:
            return to_json(name)
        except UnknownNameError:
            continue
    known = catalog.list_hardware() + catalog.list_models() + catalog.list_precisions()
    raise UnknownNameError("catalog entry", name, known)


def run_show(args: argparse.Namespace) -> int:
    given = [x for x in (args.name, args.model_config, args.model_file, args.hardware_file) if x]
    if len(given) != 1:
        raise InvalidInputError("show", "exactly one of NAME, --model-config, --model-file, --hardware-file")
    if args.model_config:
        from inferonomics.symbolic.hf_config import model_from_hf_config

        out = model_json(model_from_hf_config(args.model_config))
    elif args.model_file:
        out = model_json(catalog.load_model_file(args.model_file))
    elif args.hardware_file:
        out = hardware_json(catalog.load_hardware_file(args.hardware_file))
    else:
        out = _find(args.name)
    if args.json:
        print_json(out)
    else:
        print(_show_text(out))
    return 0


def _show_text(out: dict[str, Any]) -> str:
    """Every figure with its unit and a [n] mark naming its source; the sources listed once at the end."""
    sources = dict(out.pop("sources", None) or {})
    if isinstance(out.get("source"), dict):  # a precision: one source, for its format (bits, block, scale)
        sources["bits_per_element"] = out.pop("source")
    refs: dict[tuple[str, str], int] = {}

    def mark(*keys: str) -> str:
        for key in keys:
            src = sources.get(key)
            if src:
                n = refs.setdefault((src["source"], src["retrieved"]), len(refs) + 1)
                return f"  [{n}]"
        return ""

    rows = []
    for k, v in out.items():
        if isinstance(v, dict):
            rows.append([f"{k}:", "", mark(k)])
            rows += [[f"  {kk}", _figure_of(k, kk, vv), mark(f"{k}.{kk}")] for kk, vv in v.items()]
        else:
            rows.append([k, T.figure(k, v) if v is not None else T.MISSING, mark(k)])
    width = max(len(r[0]) for r in rows)
    lines = [f"{a:<{width}}  {b}{c}".rstrip() for a, b, c in rows]
    if refs:
        lines.append("sources:")
        lines += [f"  [{n}] {src} (retrieved {when})" for (src, when), n in refs.items()]
    return "\n".join(lines)


def _figure_of(group: str, key: str, value: object) -> str:
    """A figure inside a group takes the group's unit (peak_flop_per_s.bf16 is FLOP/s)."""
    if group in ("peak_flop_per_s", "ridge_flop_per_byte"):
        return T.figure(group, value)
    if group in ("params_breakdown",):
        return T.figure("_params", value)
    if group == "memory_per_chip_gb":
        return f"{value:.4g} GB"
    return T.figure(key, value)
