"""Read catalog TOML files (package data or user files) into validated frozen records, once."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Any, Literal, overload

from ..errors import SpecError, UnknownNameError
from ..readfile import read_bytes
from .schema import (
    FP8_SCALINGS,
    MEMORY_KINDS,
    PEAK_KEYS,
    Architecture,
    Hardware,
    Model,
    Precision,
    Source,
    check_keys,
    frozen_map,
    get_bool,
    get_int,
    get_source,
    get_sourced,
    get_str,
    unsourced_numbers,
)

_HW_KEYS = {"name", "display_name", "aliases", "vendor", "year", "memory_kind", "notes", "hbm_capacity_bytes",
            "hbm_bandwidth_bytes_per_s", "peak_flop_per_s", "link_bandwidth_bytes_per_s", "link_latency_s",
            "scaleup_domain_size", "power_w", "price_usd_per_chip_hour", "citations", "sm_count", "l2_cache_bytes"}
_HW_OPTIONAL = ("link_bandwidth_bytes_per_s", "link_latency_s", "power_w", "price_usd_per_chip_hour", "l2_cache_bytes")


def parse_toml_bytes(data: bytes, path: object) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SpecError(path, "<file>", f"valid UTF-8 TOML ({e})") from e


def _check_provenance(tree: Mapping[str, Any], path: object) -> None:
    bad = unsourced_numbers(tree)
    if bad:
        raise SpecError(path, bad[0], "a number with a source: a { value, source, retrieved } table, "
                                      "or a table carrying source and retrieved")


def _aliases(tree: Mapping[str, Any], path: object) -> tuple[str, ...]:
    a = tree.get("aliases", [])
    if not isinstance(a, list) or not all(isinstance(x, str) for x in a):
        raise SpecError(path, "aliases", "a list of strings")
    return tuple(a)


def _year(tree: Mapping[str, Any], path: object, cites: Mapping[str, str]) -> tuple[int, Source | None]:
    """The release year: a bare integer (metadata) or, like every quantity, a sourced table (the memory-wall
    trend of `inferonomics balance --trend` fits on it, so it is data there)."""
    t = tree.get("year")
    if not isinstance(t, dict):
        return get_int(path, tree, "year", minimum=1900), None
    value, src = get_sourced(path, tree, "year", citations=cites)
    if value != int(value) or value < 1900:
        raise SpecError(path, "year.value", f"a whole year >= 1900, got {value!r}")
    return int(value), src


def hardware_from_tree(tree: Mapping[str, Any], path: object) -> Hardware:
    _check_provenance(tree, path)
    check_keys(path, tree, _HW_KEYS)
    cites = tree.get("citations", {})
    if not isinstance(cites, dict) or not all(isinstance(v, str) and v.strip() for v in cites.values()):
        raise SpecError(path, "citations", "a table of key = \"citation (URL or paper)\"")
    sources: dict[str, Source] = {}
    vals: dict[str, Any] = {}
    for key in ("hbm_capacity_bytes", "hbm_bandwidth_bytes_per_s", *_HW_OPTIONAL, "scaleup_domain_size", "sm_count"):
        got = get_sourced(path, tree, key, required=key.startswith("hbm_"), citations=cites)
        vals[key] = None if got is None else got[0]
        if got is not None:
            sources[key] = got[1]
    for key, what in (("scaleup_domain_size", "chips"), ("sm_count", "streaming multiprocessors (compute units)")):
        n = vals[key]
        if n is not None:
            if n != int(n):
                raise SpecError(path, f"{key}.value", f"a whole number of {what}, got {n}")
            vals[key] = int(n)
    peaks_t = tree.get("peak_flop_per_s", {})
    if not isinstance(peaks_t, dict):
        raise SpecError(path, "peak_flop_per_s", "a table keyed by precision (" + ", ".join(PEAK_KEYS) + ")")
    check_keys(path, peaks_t, set(PEAK_KEYS), "peak_flop_per_s.")
    peaks: dict[str, float] = {}
    for key in PEAK_KEYS:
        got = get_sourced(path, peaks_t, key, prefix="peak_flop_per_s.", required=False, citations=cites)
        if got is not None:
            peaks[key], sources[f"peak_flop_per_s.{key}"] = got
    year, year_src = _year(tree, path, cites)
    if year_src is not None:
        sources["year"] = year_src
    kind = get_str(path, tree, "memory_kind")
    if kind not in MEMORY_KINDS:
        raise SpecError(path, "memory_kind", f"one of {', '.join(MEMORY_KINDS)}, got {kind!r}")
    return Hardware(
        name=get_str(path, tree, "name"), display_name=get_str(path, tree, "display_name"),
        vendor=get_str(path, tree, "vendor"), year=year,
        memory_kind=kind, peak_flop_per_s=frozen_map(peaks), notes=get_str(path, tree, "notes"),
        sources=frozen_map(sources), aliases=_aliases(tree, path), path=str(path), **vals,
    )


_ARCH_REQUIRED = ("n_layers", "d_model", "vocab", "n_heads", "n_kv_heads", "head_dim", "ffn_dim", "max_context")
_LINEAR = ("full_attention_interval", "linear_key_heads", "linear_value_heads", "linear_key_head_dim",
           "linear_value_head_dim", "linear_conv_kernel")
_ARCH_INT_OPTIONAL = ("norms_per_layer", "learned_positions", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim",
                      "qk_rope_head_dim", "v_head_dim", "n_experts", "experts_per_token", "shared_experts",
                      "moe_ffn_dim", "first_dense_layers", "dense_ffn_dim", "router_extra_per_expert", "window",
                      "moe_layer_step", *_LINEAR)
_ARCH_BOOLS = ("tied_embeddings", "norm_has_bias", "final_norm", "attn_bias", "o_bias", "ffn_bias", "qk_norm",
               "attention_sinks", "router_bias", "active_excludes_input_embedding",
               "attn_output_gate")
_ZERO_OK = {"shared_experts", "first_dense_layers", "router_extra_per_expert", "norms_per_layer"}
_ATTN = ("MHA", "GQA", "MQA", "MLA")


def architecture_from_table(t: Mapping[str, Any], path: object, prefix: str = "architecture.",
                            source: Source | None = None) -> Architecture:
    allowed = {f.name for f in fields(Architecture)} - {"source"} | {"source", "retrieved"}
    check_keys(path, t, allowed, prefix)
    kw: dict[str, Any] = {}
    for k in _ARCH_REQUIRED:
        kw[k] = get_int(path, t, k, prefix=prefix)
    for k in _ARCH_INT_OPTIONAL:
        v = get_int(path, t, k, prefix=prefix, required=False, minimum=0 if k in _ZERO_OK else 1)
        if v is not None:
            kw[k] = v
    defaults: dict[str, Any] = {f.name: f.default for f in fields(Architecture)}
    for k in _ARCH_BOOLS:
        if k == "tied_embeddings" and k not in t:
            raise SpecError(path, prefix + k, "true or false (missing)")
        kw[k] = get_bool(path, t, k, defaults.get(k, False), prefix=prefix)
    kw["ffn_kind"] = get_str(path, t, "ffn_kind", prefix=prefix)
    if kw["ffn_kind"] not in ("gated", "plain"):
        raise SpecError(path, prefix + "ffn_kind", f"'gated' or 'plain', got {kw['ffn_kind']!r}")
    kw["attention"] = get_str(path, t, "attention", prefix=prefix)
    if kw["attention"] not in _ATTN:
        raise SpecError(path, prefix + "attention", f"one of {', '.join(_ATTN)}, got {kw['attention']!r}")
    if kw["attention"] == "MLA":
        for k in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
            if k not in kw:
                raise SpecError(path, prefix + k, "an integer >= 1 (required for MLA attention)")
    if "n_experts" in kw or "experts_per_token" in kw:
        for k in ("n_experts", "experts_per_token", "moe_ffn_dim"):
            if k not in kw:
                raise SpecError(path, prefix + k, "an integer >= 1 (required for a mixture-of-experts model)")
        if kw["experts_per_token"] > kw["n_experts"]:
            raise SpecError(path, prefix + "experts_per_token", f"at most n_experts ({kw['n_experts']})")
    if (kw.get("first_dense_layers") or kw.get("moe_layer_step", 1) > 1) and "dense_ffn_dim" not in kw:
        raise SpecError(path, prefix + "dense_ffn_dim", "an integer >= 1 (required with first_dense_layers "
                                                        "or moe_layer_step)")
    if "full_attention_interval" in kw:
        for k in _LINEAR[1:]:
            if k not in kw:
                raise SpecError(path, prefix + k, "an integer >= 1 (required with full_attention_interval)")
    pattern = get_str(path, t, "sliding_window_pattern", prefix=prefix, required=False)
    if pattern is not None and pattern not in ("alternate", "all"):
        raise SpecError(path, prefix + "sliding_window_pattern", f"'alternate' or 'all', got {pattern!r}")
    if (pattern is None) != ("window" not in kw):
        raise SpecError(path, prefix + "sliding_window_pattern", "given together with window")
    kw["sliding_window_pattern"] = pattern
    return Architecture(**kw, source=source)


def model_from_tree(tree: Mapping[str, Any], path: object) -> Model:
    _check_provenance(tree, path)
    check_keys(path, tree, {"name", "display_name", "aliases", "notes", "weight_precision", "kv_precision",
                            "published_total_params", "published_active_params", "architecture", "fp8_checkpoint"})
    sources: dict[str, Source] = {}
    total, sources["published_total_params"] = get_sourced(path, tree, "published_total_params")
    active = get_sourced(path, tree, "published_active_params", required=False)
    if active is not None:
        sources["published_active_params"] = active[1]
    arch = None
    if "architecture" in tree:
        t = tree["architecture"]
        if not isinstance(t, dict):
            raise SpecError(path, "architecture", "a table of architecture fields")
        src = get_source(path, t, "architecture")
        sources["architecture"] = src
        arch = architecture_from_table(t, path, source=src)
    scaling = "tensor"
    if "fp8_checkpoint" in tree:  # [fp8_checkpoint] scaling = "block" | "tensor", with its source
        t = tree["fp8_checkpoint"]
        if not isinstance(t, dict):
            raise SpecError(path, "fp8_checkpoint", "a table { scaling, source, retrieved }")
        check_keys(path, t, {"scaling", "source", "retrieved"}, "fp8_checkpoint.")
        scaling = get_str(path, t, "scaling", prefix="fp8_checkpoint.")
        if scaling not in FP8_SCALINGS:
            raise SpecError(path, "fp8_checkpoint.scaling", f"one of {', '.join(FP8_SCALINGS)}, got {scaling!r}")
        sources["fp8_checkpoint"] = get_source(path, t, "fp8_checkpoint")
    return Model(
        name=get_str(path, tree, "name"), display_name=get_str(path, tree, "display_name"),
        published_total_params=total, published_active_params=None if active is None else active[0],
        weight_precision=get_str(path, tree, "weight_precision"),
        kv_precision=get_str(path, tree, "kv_precision"),
        architecture=arch, notes=get_str(path, tree, "notes"), sources=frozen_map(sources),
        aliases=_aliases(tree, path), path=str(path), fp8_scaling=scaling,
    )


def precision_from_tree(tree: Mapping[str, Any], path: object) -> Precision:
    _check_provenance(tree, path)
    check_keys(path, tree, {"name", "display_name", "aliases", "bits_per_element", "scale_bits_per_block",
                            "block_size", "compute_key", "notes", "source", "retrieved"})
    scale = get_int(path, tree, "scale_bits_per_block", required=False)
    block = get_int(path, tree, "block_size", required=False)
    if (scale is None) != (block is None):
        raise SpecError(path, "block_size", "given together with scale_bits_per_block")
    key = get_str(path, tree, "compute_key", required=False)
    if key is not None and key not in PEAK_KEYS:
        raise SpecError(path, "compute_key", f"one of {', '.join(PEAK_KEYS)}, got {key!r}")
    return Precision(
        name=get_str(path, tree, "name"), display_name=get_str(path, tree, "display_name"),
        bits_per_element=get_int(path, tree, "bits_per_element"), scale_bits_per_block=scale,
        block_size=block, compute_key=key, notes=get_str(path, tree, "notes"),
        source=get_source(path, tree, "<file>"), aliases=_aliases(tree, path),
    )


_PARSERS: dict[str, Callable[[dict[str, Any], str], Hardware | Model | Precision]] = {
    "hardware": hardware_from_tree, "models": model_from_tree, "precisions": precision_from_tree}


def _read_path(path: str | Path) -> tuple[dict[str, Any], Path]:
    p = Path(path)
    return parse_toml_bytes(read_bytes(p, "<file>", max_bytes=16 * 1024 * 1024), p), p


def load_hardware_file(path: str | Path) -> Hardware:
    """Load one user hardware TOML (same schema as the catalog)."""
    tree, p = _read_path(path)
    return hardware_from_tree(tree, p)


def load_model_file(path: str | Path) -> Model:
    """Load one user model TOML (same schema as the catalog)."""
    tree, p = _read_path(path)
    return model_from_tree(tree, p)


@functools.cache
def load_kind(kind: str) -> Mapping[str, Any]:
    """All records of one kind ("hardware", "models", "precisions"), by name; read once per process."""
    folder = resources.files("inferonomics.symbolic.catalog").joinpath(kind)
    out: dict[str, Any] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        where = f"catalog/{kind}/{entry.name}"
        rec = _PARSERS[kind](parse_toml_bytes(entry.read_bytes(), where), where)
        if rec.name != entry.name[: -len(".toml")]:
            raise SpecError(where, "name", f"the file's slug {entry.name[:-5]!r}, got {rec.name!r}")
        out[rec.name] = rec
    return frozen_map(out)


def _norm(s: str) -> str:
    return " ".join(s.lower().replace("_", "-").split())


@functools.cache
def _index(kind: str) -> Mapping[str, str]:
    idx: dict[str, str] = {}
    for name, rec in load_kind(kind).items():
        for key in (name, rec.display_name, *rec.aliases):
            idx.setdefault(_norm(key), name)
            idx.setdefault(_norm(key).replace(" ", "-"), name)
    return frozen_map(idx)


_KIND_WORD = {"hardware": "hardware", "models": "model", "precisions": "precision"}


@overload
def lookup(kind: Literal["hardware"], name: str) -> Hardware: ...
@overload
def lookup(kind: Literal["models"], name: str) -> Model: ...
@overload
def lookup(kind: Literal["precisions"], name: str) -> Precision: ...
def lookup(kind: str, name: str) -> Hardware | Model | Precision:
    """Find a record by name, display name or alias, case-insensitively; else UnknownNameError."""
    if not isinstance(name, str):
        raise UnknownNameError(_KIND_WORD[kind], repr(name), load_kind(kind))
    idx = _index(kind)
    key = _norm(name)
    hit = idx.get(key) or idx.get(key.replace(" ", "-"))
    if hit is None:
        raise UnknownNameError(_KIND_WORD[kind], name, load_kind(kind))
    return load_kind(kind)[hit]
