"""Parameter and KV-cache counts of a decoder-only transformer, from its architecture record.

Conventions (checked against the published totals in tests/test_catalog_models.py):

* embeddings: ``vocab * d_model`` for the input table, and again for the output head unless tied;
  learned position embeddings add ``learned_positions * d_model``.
* attention: MHA/GQA/MQA project ``d -> n_heads*head_dim`` (q), ``d -> n_kv_heads*head_dim`` (k, v) and
  ``n_heads*head_dim -> d`` (o). MLA (DeepSeek-V2/V3) projects q through a low-rank ``q_lora_rank``
  (with its RMSNorm) and k/v through one shared latent ``kv_lora_rank`` plus a decoupled RoPE key of
  ``qk_rope_head_dim`` (with its RMSNorm), then up-projects to per-head nope keys and values.
* hybrid linear attention (Qwen3.5): only every ``full_attention_interval``-th layer is full attention (its q
  projection doubled when ``attn_output_gate``); the others are Gated DeltaNet layers: q, k (``linear_key_heads``
  of ``linear_key_head_dim``), v and an output gate z (``linear_value_heads`` of ``linear_value_head_dim``)
  projected from d, two per-value-head scalars (beta, the decay) projected from d, a depthwise causal conv of
  ``linear_conv_kernel`` taps over q, k and v, two per-value-head vectors (A, dt bias), a gated RMSNorm of the
  value head width, and the output projection. They cache nothing per token (a fixed state per sequence).
* FFN: gated (SwiGLU/GeGLU) = 3 matrices of ``d x ffn``, plain (GELU) = 2.
* MoE layers: routed experts + shared experts + a router ``d x n_experts`` (+ bias / correction bias);
  the first ``first_dense_layers`` layers use a dense FFN of ``dense_ffn_dim``, and after them only every
  ``moe_layer_step``-th layer is MoE (Llama-4 Maverick interleaves dense and MoE layers).
* norms: ``norms_per_layer`` vectors of ``d`` per layer (x2 with bias), a final norm, QK-norm vectors.

Active parameters are those a token uses: everything except the routed experts it was not sent to. Both
embedding tables are counted (the convention behind Mixtral's 12.9B, Qwen3's 22B and "active = total" for
dense models) unless the architecture sets ``active_excludes_input_embedding`` (gpt-oss's model card,
whose 5.13B leaves out the input embedding lookup).
"""

from __future__ import annotations

from sympy import Rational

from .catalog.schema import Architecture, Model
from .errors import InvalidInputError


def _arch(model: Model | Architecture) -> Architecture:
    arch = model if isinstance(model, Architecture) else model.architecture
    if arch is None:
        raise InvalidInputError(f"model {getattr(model, 'name', '?')}", "an architecture to count parameters from "
                                "(this entry gives only a published total)")
    return arch


def attention_params(a: Architecture) -> int:
    """Attention weights (and biases, norms inside attention) of ONE layer."""
    d = a.d_model
    if a.attention == "MLA":
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim  # type: ignore[operator]
        q = d * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * a.n_heads * qk  # type: ignore[operator]
        kv = (d * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank  # type: ignore[operator]
              + a.kv_lora_rank * a.n_heads * (a.qk_nope_head_dim + a.v_head_dim))  # type: ignore[operator]
        o = a.n_heads * a.v_head_dim * d  # type: ignore[operator]
        return q + kv + o
    q_width = a.n_heads * a.head_dim
    kv_width = a.n_kv_heads * a.head_dim
    n = d * q_width * (2 if a.attn_output_gate else 1) + 2 * d * kv_width + q_width * d
    if a.attn_bias:
        n += q_width + 2 * kv_width
    if a.o_bias:
        n += d
    if a.qk_norm:
        n += 2 * a.head_dim
    if a.attention_sinks:
        n += a.n_heads
    return n


def n_linear_attention_layers(a: Architecture) -> int:
    """Layers of linear attention (Gated DeltaNet) in a hybrid model; 0 when every layer is full attention."""
    return 0 if a.full_attention_interval is None else a.n_layers - a.n_layers // a.full_attention_interval


def linear_attention_params(a: Architecture) -> int:
    """Weights of ONE Gated DeltaNet layer (HF Qwen3-Next/Qwen3.5 ``linear_attn``)."""
    d = a.d_model
    kh, kd = _given(a.linear_key_heads, "linear_key_heads"), _given(a.linear_key_head_dim, "linear_key_head_dim")
    vh = _given(a.linear_value_heads, "linear_value_heads")
    vd = _given(a.linear_value_head_dim, "linear_value_head_dim")
    k_width, v_width = kh * kd, vh * vd
    proj = d * (2 * k_width + 2 * v_width) + d * 2 * vh  # q, k, v, z; beta and decay a
    conv = (2 * k_width + v_width) * _given(a.linear_conv_kernel, "linear_conv_kernel")
    return proj + conv + 2 * vh + vd + v_width * d


def _given(width: int | None, name: str) -> int:
    """A width that only some architectures have, read where the caller's branch needs it (the loader
    requires it for those architectures, so None here is a bug, not bad input)."""
    if width is None:
        raise ValueError(f"this architecture has no {name}")
    return width


def ffn_params(a: Architecture, width: int) -> int:
    """One FFN (or one expert) of intermediate size ``width``."""
    mats = 3 if a.ffn_kind == "gated" else 2
    n = mats * a.d_model * width
    if a.ffn_bias:
        n += (mats - 1) * width + a.d_model  # up (and gate) biases of width, down bias of d
    return n


def n_moe_layers(a: Architecture) -> int:
    return (a.n_layers - a.first_dense_layers) // a.moe_layer_step if a.is_moe else 0


def breakdown(model: Model | Architecture) -> dict[str, int]:
    """Parameters by component, summed over layers. Keys: embedding, unembedding, positions, attention,
    dense_ffn, shared_experts, routed_experts, router, norms."""
    a = _arch(model)
    norm_vec = a.d_model * (2 if a.norm_has_bias else 1)
    moe_layers = n_moe_layers(a)
    dense_layers = a.n_layers - moe_layers
    dense_width = a.dense_ffn_dim if (a.is_moe and a.dense_ffn_dim) else a.ffn_dim
    out = {
        "embedding": a.vocab * a.d_model,
        "unembedding": 0 if a.tied_embeddings else a.vocab * a.d_model,
        "positions": (a.learned_positions or 0) * a.d_model,
        "attention": ((a.n_layers - n_linear_attention_layers(a)) * attention_params(a)
                      + (n_linear_attention_layers(a) * linear_attention_params(a) if a.full_attention_interval else 0)),
        "dense_ffn": dense_layers * ffn_params(a, dense_width),
        "shared_experts": 0,
        "routed_experts": 0,
        "router": 0,
        "norms": a.n_layers * a.norms_per_layer * norm_vec + (norm_vec if a.final_norm else 0),
    }
    if a.is_moe:
        e = a.n_experts
        out["routed_experts"] = moe_layers * e * ffn_params(a, a.moe_ffn_dim)  # type: ignore[operator,arg-type]
        out["shared_experts"] = moe_layers * a.shared_experts * ffn_params(a, a.moe_ffn_dim)  # type: ignore[arg-type]
        per_router = a.d_model * e + (e if a.router_bias else 0) + a.router_extra_per_expert * e  # type: ignore[operator]
        out["router"] = moe_layers * per_router
    return out


def total_params(model: Model | Architecture) -> int:
    """Every stored parameter (for DeepSeek-V3, the 671B main model without the MTP module)."""
    return sum(breakdown(model).values())


def expert_params(model: Model | Architecture) -> int:
    """Parameters of ONE routed expert summed over all MoE layers (0 for a dense model)."""
    a = _arch(model)
    return breakdown(a)["routed_experts"] // a.n_experts if a.is_moe else 0  # type: ignore[operator]


def dense_params(model: Model | Architecture) -> int:
    """Parameters every token reads: all but the routed experts."""
    return total_params(model) - breakdown(model)["routed_experts"]


def active_params(model: Model | Architecture) -> int:
    """Parameters used per token: dense params + top-k routed experts."""
    a = _arch(model)
    k = a.experts_per_token if a.is_moe else 0
    skip = breakdown(a)["embedding"] if (a.active_excludes_input_embedding and not a.tied_embeddings) else 0
    return dense_params(a) + k * expert_params(a) - skip  # type: ignore[operator]


def n_sliding_layers(a: Architecture) -> int:
    if a.window is None:
        return 0
    return a.n_layers if a.sliding_window_pattern == "all" else (a.n_layers + 1) // 2


def kv_elements_per_layer(a: Architecture) -> int:
    """Cached elements per token per layer: MLA keeps ONE latent (kv_lora_rank + rope dim), else K and V."""
    if a.attention == "MLA":
        return a.kv_lora_rank + a.qk_rope_head_dim  # type: ignore[operator]
    return 2 * a.n_kv_heads * a.head_dim


def kv_elements_per_token(model: Model | Architecture, context: int | float | None = None) -> Rational:
    """KV-cache elements per token of context, all layers.

    Without ``context`` every layer caches every token. With ``context`` = c, a sliding-window layer holds
    only min(c, window) tokens, so its per-token share is the AVERAGE min(c, window)/c: at long context the
    figure falls toward the full-attention layers' share (exact Rational).
    """
    a = _arch(model)
    per = kv_elements_per_layer(a)
    n_slide = n_sliding_layers(a)
    full = (a.n_layers - n_slide - n_linear_attention_layers(a)) * per  # linear layers cache no tokens
    if context is None or n_slide == 0:
        return Rational(full + n_slide * per)
    if not context > 0:
        raise InvalidInputError("context", "a number of tokens > 0", context)
    c = Rational(context)
    share = min(c, Rational(a.window)) / c
    return full + n_slide * per * share


def kv_bytes_per_token(model: Model | Architecture, kv_precision: object,
                       context: int | float | None = None) -> Rational:
    """KV-cache bytes per token: elements x bytes per element of ``kv_precision`` (name or Precision)."""
    from .catalog.loader import lookup  # the loader alone: the catalog package's binding imports this module

    p = kv_precision if hasattr(kv_precision, "bytes_per_element") else lookup("precisions", str(kv_precision))
    return kv_elements_per_token(model, context) * p.bytes_per_element
