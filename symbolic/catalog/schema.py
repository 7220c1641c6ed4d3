"""Frozen records of the catalog (hardware, model, precision) and the checks that build them from TOML tables.

Every number in a catalog file carries its provenance. Hardware numbers are written as
``field = { value = ..., source = "...", retrieved = "YYYY-MM" }``, where ``source`` is either the citation
itself (URL or paper) or the key of a citation in the file's ``[citations]`` table (so a long list of
vendor URLs is written once per file); a model's architecture integers
share the ``source``/``retrieved`` of their ``[architecture]`` table; a precision's integers share the
file's top-level ``source``/``retrieved``. :func:`unsourced_numbers` finds any number that breaks this rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, overload

from sympy import Rational

from ..errors import SpecError

_RETRIEVED = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: keys a table may use for provenance
PROVENANCE_KEYS = ("source", "retrieved")
#: metadata numbers that need no source (they describe the record, not a quantity)
UNSOURCED_OK = frozenset({"year"})
PEAK_KEYS = ("bf16", "fp16", "fp8", "int8", "fp4", "fp32")
MEMORY_KINDS = ("hbm", "sram", "unified")


@dataclass(frozen=True)
class Source:
    """Where a number comes from: the original citation (URL or paper) and the month it was read."""

    source: str
    retrieved: str


# -- small typed getters ----------------------------------------------------------------------------


def _type_name(v: object) -> str:
    return type(v).__name__


@overload
def get_str(path: object, table: Mapping[str, Any], key: str, *, prefix: str = "",
            required: Literal[True] = ...) -> str: ...
@overload
def get_str(path: object, table: Mapping[str, Any], key: str, *, prefix: str = "", required: bool) -> str | None: ...
def get_str(path: object, table: Mapping[str, Any], key: str, *, prefix: str = "", required: bool = True) -> str | None:
    if key not in table:
        if required:
            raise SpecError(path, prefix + key, "a string (missing)")
        return None
    v = table[key]
    if not isinstance(v, str) or not v.strip():
        raise SpecError(path, prefix + key, f"a non-empty string, got {_type_name(v)} {v!r}")
    return v


def get_bool(path: object, table: Mapping[str, Any], key: str, default: bool, *, prefix: str = "") -> bool:
    v = table.get(key, default)
    if not isinstance(v, bool):
        raise SpecError(path, prefix + key, f"true or false, got {_type_name(v)} {v!r}")
    return v


@overload
def get_int(path: object, table: Mapping[str, Any], key: str, *, prefix: str = "", required: Literal[True] = ...,
            minimum: int = 1) -> int: ...
@overload
def get_int(path: object, table: Mapping[str, Any], key: str, *, prefix: str = "", required: bool,
            minimum: int = 1) -> int | None: ...
def get_int(path: object, table: Mapping[str, Any], key: str, *, prefix: str = "", required: bool = True,
            minimum: int = 1) -> int | None:
    if key not in table:
        if required:
            raise SpecError(path, prefix + key, f"an integer >= {minimum} (missing)")
        return None
    v = table[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise SpecError(path, prefix + key, f"an integer >= {minimum}, got {_type_name(v)} {v!r}")
    if v < minimum:
        raise SpecError(path, prefix + key, f"an integer >= {minimum}, got {v}")
    return v


def get_number(path: object, v: object, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError(path, where, f"a number > 0, got {_type_name(v)} {v!r}")
    x = float(v)
    if not (x > 0) or x == float("inf"):
        raise SpecError(path, where, f"a finite number > 0 (sizes cannot be negative or zero), got {v!r}")
    return x


_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def get_source(path: object, table: Mapping[str, Any], where: str,
               citations: Mapping[str, str] | None = None) -> Source:
    src = table.get("source")
    if not isinstance(src, str) or not src.strip():
        raise SpecError(path, f"{where}.source", "a non-empty citation string (URL or paper) for this number")
    if citations is not None and src in citations:
        src = citations[src]
    elif _KEY.match(src):
        raise SpecError(path, f"{where}.source", f"a citation or a key of [citations], got unknown key {src!r}")
    ret = table.get("retrieved")
    if not isinstance(ret, str) or not _RETRIEVED.match(ret):
        raise SpecError(path, f"{where}.retrieved", f"a date 'YYYY-MM', got {ret!r}")
    return Source(src, ret)


@overload
def get_sourced(path: object, table: Mapping[str, Any], key: str, *, prefix: str = "",
                required: Literal[True] = ..., citations: Mapping[str, str] | None = None) -> tuple[float, Source]: ...
@overload
def get_sourced(path: object, table: Mapping[str, Any], key: str, *, prefix: str = "",
                required: bool, citations: Mapping[str, str] | None = None) -> tuple[float, Source] | None: ...
def get_sourced(path: object, table: Mapping[str, Any], key: str, *, prefix: str = "",
                required: bool = True, citations: Mapping[str, str] | None = None) -> tuple[float, Source] | None:
    """Read ``key = { value = <number>, source = "...", retrieved = "YYYY-MM" }``."""
    where = prefix + key
    if key not in table:
        if required:
            raise SpecError(path, where, "a table { value, source, retrieved } (missing)")
        return None
    t = table[key]
    if not isinstance(t, dict):
        raise SpecError(path, where, f"a table {{ value = <number>, source = \"...\", retrieved = \"YYYY-MM\" }}, "
                                     f"got bare {_type_name(t)} {t!r} (every number needs a source)")
    unknown = set(t) - {"value", "source", "retrieved"}
    if unknown:
        raise SpecError(path, where, f"only value, source, retrieved; unknown keys {sorted(unknown)}")
    if "value" not in t:
        raise SpecError(path, f"{where}.value", "a number > 0 (missing)")
    return get_number(path, t["value"], f"{where}.value"), get_source(path, t, where, citations)


def check_keys(path: object, table: Mapping[str, Any], allowed: set[str] | frozenset[str], prefix: str = "") -> None:
    unknown = set(table) - set(allowed)
    if unknown:
        raise SpecError(path, prefix + sorted(unknown)[0], f"a known field (one of {', '.join(sorted(allowed))})")


def unsourced_numbers(tree: Mapping[str, Any], prefix: str = "", inherited: bool = False) -> list[str]:
    """Paths of numbers in a parsed TOML tree whose enclosing table has no ``source`` and ``retrieved``.

    A table with both keys covers its own numbers and those of nested tables; ``year`` is exempt.
    """
    covered = inherited or all(isinstance(tree.get(k), str) for k in PROVENANCE_KEYS)
    bad: list[str] = []
    for k, v in tree.items():
        where = prefix + k
        if isinstance(v, dict):
            bad += unsourced_numbers(v, where + ".", covered)
        elif isinstance(v, list):
            if any(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v) and not covered:
                bad.append(where)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and not covered and k not in UNSOURCED_OK:
            bad.append(where)
    return bad


def frozen_map(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


# -- records ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Precision:
    """A number format. ``bytes_per_element`` is an exact Rational (bits / 8, plus block scales)."""

    name: str
    display_name: str
    bits_per_element: int
    scale_bits_per_block: int | None
    block_size: int | None
    compute_key: str | None  # key into Hardware.peak_flop_per_s; None = weight-only (no compute rate)
    notes: str
    source: Source
    aliases: tuple[str, ...] = ()

    @property
    def bits(self) -> Rational:
        extra = Rational(self.scale_bits_per_block, self.block_size) if self.block_size else Rational(0)
        return Rational(self.bits_per_element) + extra

    @property
    def bytes_per_element(self) -> Rational:
        return self.bits / 8


@dataclass(frozen=True)
class Hardware:
    """One accelerator chip (per GPU package), SI units, every number with its Source in ``sources``."""

    name: str
    display_name: str
    vendor: str
    year: int
    memory_kind: str
    hbm_capacity_bytes: float
    hbm_bandwidth_bytes_per_s: float
    peak_flop_per_s: Mapping[str, float]
    link_bandwidth_bytes_per_s: float | None
    link_latency_s: float | None
    scaleup_domain_size: int | None
    power_w: float | None
    price_usd_per_chip_hour: float | None
    notes: str
    sources: Mapping[str, Source]
    aliases: tuple[str, ...] = ()
    path: str = ""
    #: streaming multiprocessors (NVIDIA) or compute units (AMD), from the architecture whitepapers; None where
    #: the catalog has no figure (the kernel-level serving model then does not apply to the card)
    sm_count: int | None = None
    #: on-chip L2 cache, bytes; None where no figure is published here
    l2_cache_bytes: float | None = None

    def ridge(self, key: str = "bf16") -> float:
        """Roofline balance point, FLOP per byte, at compute precision ``key``."""
        return self.peak_flop_per_s[key] / self.hbm_bandwidth_bytes_per_s


@dataclass(frozen=True)
class Architecture:
    """Decoder-only transformer shape; optional groups (MLA, MoE, sliding window) are None when absent."""

    n_layers: int
    d_model: int
    vocab: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_dim: int
    ffn_kind: str  # "gated" (3 matrices) | "plain" (2 matrices)
    tied_embeddings: bool
    attention: str  # MHA | GQA | MQA | MLA
    max_context: int
    norms_per_layer: int = 2
    norm_has_bias: bool = False
    final_norm: bool = True
    attn_bias: bool = False  # biases on q, k, v (and o if o_bias)
    o_bias: bool = False
    ffn_bias: bool = False
    qk_norm: bool = False
    attention_sinks: bool = False
    learned_positions: int | None = None
    # MLA
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_nope_head_dim: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None
    # MoE
    n_experts: int | None = None
    experts_per_token: int | None = None
    shared_experts: int = 0
    moe_ffn_dim: int | None = None
    first_dense_layers: int = 0
    dense_ffn_dim: int | None = None
    #: after the first dense layers, every moe_layer_step-th layer is MoE and the others dense (Llama-4
    #: Maverick: 2, HF's interleave_moe_layer_step); 1: every layer MoE
    moe_layer_step: int = 1
    router_bias: bool = False
    router_extra_per_expert: int = 0  # e.g. DeepSeek's e_score_correction_bias
    # counting convention of the published active figure: gpt-oss's model card leaves the input
    # embedding (a lookup, no matmul) out of "active"; Mixtral, Qwen3, DeepSeek and dense models keep it
    active_excludes_input_embedding: bool = False
    # sliding window
    window: int | None = None
    sliding_window_pattern: str | None = None  # "alternate": layers 0, 2, 4, ... use the window
    # hybrid linear attention (Qwen3-Next, Qwen3.5): only every full_attention_interval-th layer is full
    # attention with a KV cache; the others are Gated DeltaNet layers holding a fixed state per sequence
    full_attention_interval: int | None = None
    linear_key_heads: int | None = None
    linear_value_heads: int | None = None
    linear_key_head_dim: int | None = None
    linear_value_head_dim: int | None = None
    linear_conv_kernel: int | None = None
    attn_output_gate: bool = False  # full attention's q projection also emits a sigmoid gate (q width x 2)
    source: Source | None = None

    @property
    def is_moe(self) -> bool:
        return self.n_experts is not None


#: how an fp8 checkpoint scales its weights (:attr:`Model.fp8_scaling`)
FP8_SCALINGS = ("tensor", "block")


@dataclass(frozen=True)
class Model:
    """A model: its architecture (None when unknown) and the published parameter counts with sources."""

    name: str
    display_name: str
    published_total_params: float
    published_active_params: float | None
    weight_precision: str
    kv_precision: str
    architecture: Architecture | None
    notes: str
    sources: Mapping[str, Source] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    path: str = ""
    #: how the model's fp8 checkpoint scales its weights: "tensor" (one scale per tensor) or "block" (a scale per
    #: 128x128 block, the ``weight_block_size`` of its config.json's ``quantization_config``; sourced in ``sources``)
    fp8_scaling: str = "tensor"
