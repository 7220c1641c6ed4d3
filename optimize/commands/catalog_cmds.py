"""`inferonomics list` and `inferonomics show`: the catalog (hardware, models, precisions) on the terminal."""

from __future__ import annotations

import argparse
from typing import Any

from inferonomics.symbolic import architecture as A
from inferonomics.symbolic import catalog
from inferonomics.symbolic.errors import InvalidInputError, UnknownNameError

from ._io import print_json

_KINDS = {"hardware": (catalog.list_hardware, catalog.hardware), "models": (catalog.list_models, catalog.model),
          "precisions": (catalog.list_precisions, catalog.precision)}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list catalog hardware, models or precisions",
                       description="List the names of one catalog kind.")
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


def run_list(args: argparse.Namespace) -> int:
    names, get = _KINDS[args.kind]
    recs = [get(n) for n in names()]
    if args.json:
        print_json([{"name": r.name, "display_name": r.display_name} for r in recs])
        return 0
    width = max(len(r.name) for r in recs)
    for r in recs:
        print(f"{r.name:<{width}}  {r.display_name}")
    return 0


def _find(name: str) -> dict[str, Any]:
    for kind, (_, get), to_json in (("hardware", _KINDS["hardware"], hardware_json),
                                    ("models", _KINDS["models"], model_json),
                                    ("precisions", _KINDS["precisions"], precision_json)):
        try:
            return to_json(get(name))  # type: ignore[operator]
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
        return 0
    for k, v in out.items():
        if isinstance(v, dict):
            if k == "sources":
                continue
            print(f"{k}:")
            for kk, vv in v.items():
                print(f"  {kk:<28} {vv:.6g}" if isinstance(vv, float) else f"  {kk:<28} {vv}")
        else:
            print(f"{k:<30} {v:.6g}" if isinstance(v, float) else f"{k:<30} {v}")
    return 0
