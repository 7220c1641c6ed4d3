"""Catalog flags shared by commands (--model, --hardware, --precision, ..., --set) and their resolution
into symbol values."""

from __future__ import annotations

import argparse
import math

from inferonomics.symbolic import catalog
from inferonomics.symbolic.errors import InvalidInputError, UnknownNameError
from inferonomics.symbolic.symbols import TABLE

_FLAGS = ("model", "hardware", "precision", "kv_precision", "activation_precision", "model_config",
          "hardware_file", "model_file", "set")


def add_catalog_args(parser: argparse.ArgumentParser) -> None:
    """Add the catalog flags to ``parser`` (in their own argument group)."""
    g = parser.add_argument_group("catalog (names from `inferonomics list`)")
    g.add_argument("--model", metavar="NAME", help="catalog model (e.g. llama3.1-70b)")
    g.add_argument("--hardware", metavar="NAME", help="catalog hardware (e.g. h100-sxm)")
    g.add_argument("--precision", metavar="NAME", help="weight precision (default: the model's)")
    g.add_argument("--kv-precision", metavar="NAME", help="KV-cache precision (default: the model's, bf16)")
    g.add_argument("--activation-precision", metavar="NAME",
                   help="compute precision (default bf16; fp8 for fp8 weights on fp8 hardware)")
    g.add_argument("--model-config", metavar="PATH", help="a Hugging Face config.json, read offline")
    g.add_argument("--hardware-file", metavar="PATH", help="a hardware TOML in the catalog schema")
    g.add_argument("--model-file", metavar="PATH", help="a model TOML in the catalog schema")
    g.add_argument("--set", metavar="KEY=VALUE", action="append", default=None,
                   help="override one symbol value (KEY from the symbol table, VALUE > 0); repeatable")


def parse_set(items: list[str] | None) -> dict[str, float]:
    """``["KEY=VALUE", ...]`` -> {symbol name: float}; unknown keys suggest close symbol names."""
    out: dict[str, float] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError("--set", "KEY=VALUE", item)
        if key not in TABLE:
            raise UnknownNameError("symbol", key, TABLE)
        try:
            value = float(text)
        except ValueError:
            raise InvalidInputError(f"--set {key}", "a number > 0", text) from None
        if not math.isfinite(value) or value <= 0:
            raise InvalidInputError(f"--set {key}", "a finite number > 0", text)
        out[key] = value
    return out


def _model(args: argparse.Namespace) -> catalog.Model | None:
    given = [f for f in ("model", "model_file", "model_config") if getattr(args, f, None)]
    if len(given) > 1:
        raise InvalidInputError("--" + given[1].replace("_", "-"), f"not together with --{given[0].replace('_', '-')}")
    if args.model:
        return catalog.model(args.model)
    if args.model_file:
        return catalog.load_model_file(args.model_file)
    if args.model_config:
        from inferonomics.symbolic.hf_config import model_from_hf_config

        return model_from_hf_config(args.model_config)
    return None


def _hardware(args: argparse.Namespace) -> catalog.Hardware | None:
    if args.hardware and args.hardware_file:
        raise InvalidInputError("--hardware-file", "not together with --hardware")
    if args.hardware:
        return catalog.hardware(args.hardware)
    if args.hardware_file:
        return catalog.load_hardware_file(args.hardware_file)
    return None


def model_record(args: argparse.Namespace) -> catalog.Model | None:
    """The model named by --model, --model-file or --model-config (None without one)."""
    return _model(args)


def hardware_record(args: argparse.Namespace) -> catalog.Hardware | None:
    """The hardware named by --hardware or --hardware-file (None without one)."""
    return _hardware(args)


def resolve_catalog_values(args: argparse.Namespace) -> dict[str, float]:
    """Symbol values bound from the catalog flags, then ``--set`` overrides; {} when none was given."""
    if not any(getattr(args, f, None) for f in _FLAGS):
        return {}
    m, hw = _model(args), _hardware(args)
    w = catalog.precision(args.precision) if args.precision else None
    kv = catalog.precision(args.kv_precision) if args.kv_precision else None
    act = catalog.precision(args.activation_precision) if args.activation_precision else None
    values: dict[str, float] = {}
    if m is not None and hw is not None:
        values = catalog.bind(m, hw, w, kv, act)
    elif m is not None:
        values = catalog.model_values(m, w, kv)
        if act is not None:
            values["bytes_per_activation"] = float(act.bytes_per_element)
    elif hw is not None:
        values = catalog.hardware_values(hw, act or "bf16")
        if w is not None:
            values["bytes_per_weight"] = float(w.bytes_per_element)
        if kv is not None:
            values["bytes_per_kv"] = float(kv.bytes_per_element)
    else:
        for name, p in (("bytes_per_weight", w), ("bytes_per_kv", kv), ("bytes_per_activation", act)):
            if p is not None:
                values[name] = float(p.bytes_per_element)
    values.update(parse_set(getattr(args, "set", None)))
    return values
