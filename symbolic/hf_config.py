"""Read a Hugging Face ``config.json`` offline into a catalog Model (architecture only; nothing is fetched).

Supported ``architectures``: LlamaForCausalLM, MistralForCausalLM, MixtralForCausalLM, Qwen2ForCausalLM,
Qwen3ForCausalLM, Qwen3MoeForCausalLM, DeepseekV3ForCausalLM, GptOssForCausalLM, Gemma2ForCausalLM,
MiniMaxM2ForCausalLM (its full-width QK-norm is counted per head: 0.4M parameters short), and, reading their
``text_config``, the multimodal wrappers' text decoders: Llama4ForConditionalGeneration (interleaved MoE layers,
one shared expert), KimiK25ForConditionalGeneration (DeepSeek-V3's MLA and MoE), Qwen3_5MoeForConditionalGeneration
(hybrid Gated DeltaNet and gated full attention); GlmMoeDsaForCausalLM reads as DeepSeek-V3's MLA and MoE with
GLM-5's widths, its sparse-attention indexer (about 0.1% of the weights) left out. Vision encoders and MTP
layers are never counted.
The Model's ``published_total_params`` is the count from the config itself (a config publishes no total);
its source names the file.
"""

from __future__ import annotations

import builtins

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .catalog.loader import architecture_from_table
from .catalog.schema import Model, Source
from .errors import SpecError
from .readfile import read_text

SUPPORTED = ("LlamaForCausalLM", "MistralForCausalLM", "MixtralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM",
             "Qwen3MoeForCausalLM", "DeepseekV3ForCausalLM", "GptOssForCausalLM", "Gemma2ForCausalLM",
             "MiniMaxM2ForCausalLM", "Llama4ForConditionalGeneration", "KimiK25ForConditionalGeneration",
             "GlmMoeDsaForCausalLM", "Qwen3_5MoeForConditionalGeneration")
#: architectures whose text decoder is DeepSeek-V3's (MLA + MoE with a score-correction bias)
_DEEPSEEK_LIKE = ("DeepseekV3ForCausalLM", "KimiK25ForConditionalGeneration", "GlmMoeDsaForCausalLM")


class _Cfg:
    """Typed access to config fields; every failure is a SpecError naming file and field."""

    def __init__(self, data: Mapping[str, Any], path: Path):
        self.data, self.path = data, path

    def int(self, key: str, default: int | None = None, *, minimum: int = 1) -> int:
        v = self.data.get(key, default)
        if v is None:
            raise SpecError(self.path, key, f"an integer >= {minimum} (missing)")
        if isinstance(v, bool) or not isinstance(v, int):
            raise SpecError(self.path, key, f"an integer >= {minimum}, got {type(v).__name__} {v!r}")
        if v < minimum:
            raise SpecError(self.path, key, f"an integer >= {minimum}, got {v}")
        return v

    def bool(self, key: str, default: bool) -> bool:
        v = self.data.get(key, default)
        if not isinstance(v, bool):
            raise SpecError(self.path, key, f"true or false, got {type(v).__name__} {v!r}")
        return v

    def opt_int(self, key: str) -> builtins.int | None:  # `int` here would name the method above
        return None if self.data.get(key) is None else self.int(key)


def _read(path: Path) -> dict[str, Any]:
    text = read_text(path, "<file>", max_bytes=16 * 1024 * 1024)  # a config.json is a few KB
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(path, f"line {e.lineno}", f"valid JSON ({e.msg})") from e
    except (ValueError, RecursionError) as e:  # a number over Python's digit limit, deep nesting
        raise SpecError(path, "<file>", f"valid JSON ({str(e).splitlines()[0][:80]})") from None
    if not isinstance(data, dict):
        raise SpecError(path, "<file>", "a JSON object at the top level")
    return data


def _architecture_name(c: _Cfg) -> str:
    archs = c.data.get("architectures")
    if not isinstance(archs, list) or not archs or not isinstance(archs[0], str):
        raise SpecError(c.path, "architectures", "a non-empty list of architecture names")
    if archs[0] not in SUPPORTED:
        raise SpecError(c.path, "architectures", f"one of {', '.join(SUPPORTED)}, got {archs[0]!r}")
    return archs[0]


def _base(c: _Cfg) -> dict[str, Any]:
    d, heads = c.int("hidden_size"), c.int("num_attention_heads")
    kv = c.int("num_key_value_heads", heads)
    hd = c.data.get("head_dim")
    # grouped-query attention shares each KV head among heads/kv query heads: kv must divide heads
    if kv > heads or heads % kv:
        raise SpecError(c.path, "num_key_value_heads", f"a divisor of num_attention_heads ({heads}), got {kv}")
    if hd is None and d % heads:
        raise SpecError(c.path, "hidden_size", f"a multiple of num_attention_heads ({heads}) when head_dim is "
                                               f"absent, got {d}")
    return dict(n_layers=c.int("num_hidden_layers"), d_model=d, vocab=c.int("vocab_size"), n_heads=heads,
                n_kv_heads=kv, head_dim=c.int("head_dim") if hd is not None else d // heads,
                ffn_dim=c.int("intermediate_size", c.data.get("moe_intermediate_size")), ffn_kind="gated", max_context=c.int("max_position_embeddings"),
                tied_embeddings=c.bool("tie_word_embeddings", False), attention="GQA" if kv < heads else "MHA")


def _window(c: _Cfg, a: dict[str, Any], pattern: str) -> None:
    w = c.opt_int("sliding_window")
    types = c.data.get("layer_types")
    if types is not None:  # newer configs list each layer's attention kind; it wins over the default pattern
        if not isinstance(types, list) or len(types) != a["n_layers"]:
            raise SpecError(c.path, "layer_types", f"a list of {a['n_layers']} attention kinds")
        sliding = [i for i, t in enumerate(types) if t == "sliding_attention"]
        if not sliding:
            return
        if len(sliding) == a["n_layers"]:
            pattern = "all"
        elif sliding == list(range(0, a["n_layers"], 2)):
            pattern = "alternate"
        else:
            raise SpecError(c.path, "layer_types", "sliding layers all, none, or alternating from layer 0")
    if w is not None and c.bool("use_sliding_window", True):
        a.update(window=w, sliding_window_pattern=pattern)


def _extra(name: str, c: _Cfg, a: dict[str, Any]) -> None:
    if a["n_kv_heads"] == 1:
        a["attention"] = "MQA"
    if name == "MistralForCausalLM":
        _window(c, a, "all")
    elif name == "MixtralForCausalLM":
        a.update(n_experts=c.int("num_local_experts"), experts_per_token=c.int("num_experts_per_tok"),
                 moe_ffn_dim=a["ffn_dim"])
        _window(c, a, "all")
    elif name == "Qwen2ForCausalLM":
        a["attn_bias"] = True
    elif name in ("Qwen3ForCausalLM", "Qwen3MoeForCausalLM"):
        a["qk_norm"] = True
        if name == "Qwen3MoeForCausalLM":
            if c.data.get("mlp_only_layers") or c.int("decoder_sparse_step", 1) != 1:
                raise SpecError(c.path, "mlp_only_layers", "empty with decoder_sparse_step 1 (every layer MoE)")
            a.update(n_experts=c.int("num_experts"), experts_per_token=c.int("num_experts_per_tok"),
                     moe_ffn_dim=c.int("moe_intermediate_size"))
    elif name in _DEEPSEEK_LIKE:
        a.update(attention="MLA", q_lora_rank=c.int("q_lora_rank"), kv_lora_rank=c.int("kv_lora_rank"),
                 qk_nope_head_dim=c.int("qk_nope_head_dim"), qk_rope_head_dim=c.int("qk_rope_head_dim"),
                 v_head_dim=c.int("v_head_dim"), n_experts=c.int("n_routed_experts"),
                 experts_per_token=c.int("num_experts_per_tok"), shared_experts=c.int("n_shared_experts", 0, minimum=0),
                 moe_ffn_dim=c.int("moe_intermediate_size"),
                 first_dense_layers=c.int("first_k_dense_replace", 0, minimum=0), dense_ffn_dim=a["ffn_dim"],
                 router_extra_per_expert=1 if c.data.get("topk_method") == "noaux_tc" else 0)
        a["head_dim"] = a["qk_nope_head_dim"] + a["qk_rope_head_dim"]
        a["ffn_dim"] = a["moe_ffn_dim"]
    elif name == "GptOssForCausalLM":
        a.update(attn_bias=c.bool("attention_bias", True), o_bias=c.bool("attention_bias", True), ffn_bias=True,
                 router_bias=True, attention_sinks=True, active_excludes_input_embedding=True,
                 n_experts=c.int("num_local_experts"), experts_per_token=c.int("num_experts_per_tok"),
                 moe_ffn_dim=a["ffn_dim"])
        _window(c, a, "alternate")
    elif name == "MiniMaxM2ForCausalLM":
        a.update(qk_norm=c.bool("use_qk_norm", False), n_experts=c.int("num_local_experts"),
                 experts_per_token=c.int("num_experts_per_tok"), moe_ffn_dim=a["ffn_dim"],
                 router_extra_per_expert=1 if c.bool("use_routing_bias", False) else 0)
        if c.int("shared_intermediate_size", 0, minimum=0):
            raise SpecError(c.path, "shared_intermediate_size", "0 (shared experts are not read for MiniMax-M2)")
    elif name == "Llama4ForConditionalGeneration":
        step = c.int("interleave_moe_layer_step", 1)
        # its QK-norm is a weightless L2 norm: no parameters
        a.update(n_experts=c.int("num_local_experts"), experts_per_token=c.int("num_experts_per_tok"),
                 shared_experts=1, moe_ffn_dim=a["ffn_dim"], moe_layer_step=step)
        if step > 1:
            a["dense_ffn_dim"] = c.int("intermediate_size_mlp")
    elif name == "Qwen3_5MoeForConditionalGeneration":
        moe = c.int("moe_intermediate_size")
        if c.int("shared_expert_intermediate_size", moe) != moe:
            raise SpecError(c.path, "shared_expert_intermediate_size", f"equal to moe_intermediate_size ({moe})")
        a.update(qk_norm=True, attn_output_gate=c.bool("attn_output_gate", False),
                 full_attention_interval=c.int("full_attention_interval"),
                 linear_key_heads=c.int("linear_num_key_heads"), linear_value_heads=c.int("linear_num_value_heads"),
                 linear_key_head_dim=c.int("linear_key_head_dim"),
                 linear_value_head_dim=c.int("linear_value_head_dim"),
                 linear_conv_kernel=c.int("linear_conv_kernel_dim"), n_experts=c.int("num_experts"),
                 experts_per_token=c.int("num_experts_per_tok"), shared_experts=1, moe_ffn_dim=moe)
    elif name == "Gemma2ForCausalLM":
        a.update(tied_embeddings=c.bool("tie_word_embeddings", True), norms_per_layer=4)
        _window(c, a, "alternate")


def _compressed_bits(q: Mapping[str, Any]) -> int | None:
    """Bits of the integer weights of a compressed-tensors checkpoint (Kimi-K2.5: 4), when one group says so."""
    groups = q.get("config_groups")
    if not isinstance(groups, dict):
        return None
    for g in groups.values():
        w = g.get("weights") if isinstance(g, dict) else None
        if isinstance(w, dict) and w.get("type") == "int" and isinstance(w.get("num_bits"), int):
            return int(w["num_bits"])
    return None


def model_from_hf_config(path: str | Path, name: str | None = None) -> Model:
    """Build a Model from a local Hugging Face config.json (SpecError names the file and field on failure)."""
    from .architecture import active_params, total_params

    p = Path(path)
    data = _read(p)
    text = data.get("text_config")
    if isinstance(text, dict):  # a multimodal wrapper: the text decoder's fields, the wrapper's name and quantization
        data = {**text, **{k: data[k] for k in ("architectures", "quantization_config", "_name_or_path") if k in data}}
    c = _Cfg(data, p)
    arch_name = _architecture_name(c)
    a = _base(c)
    _extra(arch_name, c, a)
    if a.get("experts_per_token", 1) > a.get("n_experts", 1):
        raise SpecError(p, "num_experts_per_tok", f"at most the {a['n_experts']} experts, got {a['experts_per_token']}")
    src = Source(f"{p} (Hugging Face config.json, read offline)",
                 time.strftime("%Y-%m", time.gmtime(p.stat().st_mtime)))
    arch = architecture_from_table(a, p, prefix="", source=src)
    label = name or str(c.data.get("_name_or_path") or (p.parent.name if p.name == "config.json" else p.stem))
    weight, scaling = "bf16", "tensor"
    if isinstance(c.data.get("quantization_config"), dict):
        method = c.data["quantization_config"].get("quant_method")
        if method == "fp8" and c.data["quantization_config"].get("weight_block_size"):
            scaling = "block"  # a scale per weight block (DeepSeek's 128x128), not per tensor
        weight = {"fp8": "fp8", "mxfp4": "mxfp4"}.get(str(method), "bf16")
        if method == "compressed-tensors" and _compressed_bits(c.data["quantization_config"]) == 4:
            weight = "int4"
    return Model(name=label, display_name=label, published_total_params=float(total_params(arch)),
                 published_active_params=float(active_params(arch)), weight_precision=weight, kv_precision="bf16",
                 architecture=arch, notes=f"Imported from {p} ({arch_name}); totals are counted, not published.",
                 sources={"architecture": src, **({"fp8_checkpoint": src} if scaling == "block" else {})},
                 path=str(p), fp8_scaling=scaling)
