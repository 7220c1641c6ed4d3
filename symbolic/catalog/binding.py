"""Bind a (model, hardware, precisions) choice to numbers for the symbol names of symbols.TABLE.

Weight, activation (compute) and KV precisions are separate: W8A16 reads 1 byte per weight but computes at
the 16-bit rate, so ``peak_flop_per_s`` is the hardware's rate at the ACTIVATION precision's compute key.
"""

from __future__ import annotations

from ..errors import InvalidInputError
from .loader import lookup
from .schema import Hardware, Model, Precision


def _prec(p: Precision | str) -> Precision:
    return p if isinstance(p, Precision) else lookup("precisions", p)


#: block-scaled 4-bit formats that FP4 tensor cores take as both operands (NVIDIA Blackwell architecture brief:
#: "second-generation Transformer Engine ... NVFP4 and MXFP4"); plain FP4 elements without block scales are not
FP4_COMPUTE_FORMATS = ("nvfp4", "mxfp4")


def default_activation_precision(weight: Precision, hw: Hardware) -> str:
    """bf16, except FP8 weights compute at FP8 when the hardware has an FP8 rate, and NVFP4/MXFP4 weights at
    FP4 (both operands 4-bit) when it has an FP4 rate.

    Weight-only formats (int8, int4, plain fp4, and NVFP4/MXFP4 on cards without FP4 tensor cores) compute at the
    activation precision, bf16 by default.
    """
    if weight.name == "fp8" and "fp8" in hw.peak_flop_per_s:
        return "fp8"
    if weight.name in FP4_COMPUTE_FORMATS and "fp4" in hw.peak_flop_per_s:
        return weight.name
    return "bf16"


def _model_values(m: Model, kv: Precision) -> dict[str, float]:
    from .. import architecture as A  # local: architecture imports the catalog

    a = m.architecture
    if a is None:  # only a published total: dense, active = total
        total = m.published_total_params
        active = m.published_active_params or total
        return {"total_params": total, "active_params": active, "n_experts": 1.0, "experts_per_token": 1.0,
                "expert_params": 0.0, "dense_params": active}
    out = {
        "total_params": float(A.total_params(a)),
        "active_params": float(A.active_params(a)),
        "n_layers": float(a.n_layers),
        "d_model": float(a.d_model),
        "d_attn": float(a.n_heads * (a.qk_nope_head_dim + a.qk_rope_head_dim if a.attention == "MLA" else a.head_dim)),  # type: ignore[operator]
        "kv_bytes_per_token": float(A.kv_bytes_per_token(a, kv)),
        # a KV head is never split across chips; MLA's one latent is read whole by every rank
        "n_kv_heads": 1.0 if a.attention == "MLA" else float(a.n_kv_heads),
        "expert_params": float(A.expert_params(a)),
        "dense_params": float(A.dense_params(a)),
        # a dense model is a one-expert MoE that always routes to it; expert_params = 0, so
        # (dense_params + touched * expert_params) = dense_params = total_params either way
        "n_experts": float(a.n_experts or 1),
        "experts_per_token": float(a.experts_per_token or 1),
    }
    return out


def model_values(model: Model | str, weight_precision: Precision | str | None = None,
                 kv_precision: Precision | str | None = None) -> dict[str, float]:
    """The model and precision half of :func:`bind` (no hardware): parameter counts and bytes."""
    m = model if isinstance(model, Model) else lookup("models", model)
    w = _prec(weight_precision or m.weight_precision)
    kv = _prec(kv_precision or m.kv_precision)
    out = _model_values(m, kv)
    out["bytes_per_weight"] = float(w.bytes_per_element)
    out["bytes_per_kv"] = float(kv.bytes_per_element)
    return out


def hardware_values(hardware: Hardware | str, activation_precision: Precision | str = "bf16") -> dict[str, float]:
    """The hardware half of :func:`bind`: per-chip numbers, with peak FLOP/s at the compute precision."""
    hw = hardware if isinstance(hardware, Hardware) else lookup("hardware", hardware)
    act = _prec(activation_precision)
    out = {"bytes_per_activation": float(act.bytes_per_element)}
    if hw.peak_flop_per_s:
        if act.compute_key is None or act.compute_key not in hw.peak_flop_per_s:
            raise InvalidInputError(
                "activation_precision",
                f"a compute precision {hw.name} has a published rate for ({', '.join(hw.peak_flop_per_s)}); "
                f"{act.name} has none there (weight-only formats compute at the activation precision)",
                act.name)
        out["peak_flop_per_s"] = hw.peak_flop_per_s[act.compute_key]
    out["hbm_bandwidth_bytes_per_s"] = hw.hbm_bandwidth_bytes_per_s
    out["hbm_capacity_bytes"] = hw.hbm_capacity_bytes
    for key in ("link_bandwidth_bytes_per_s", "link_latency_s", "power_w", "price_usd_per_chip_hour"):
        v = getattr(hw, key)
        if v is not None:
            out[key] = float(v)
    return out


def bind(model: Model | str, hardware: Hardware | str, weight_precision: Precision | str | None = None,
         kv_precision: Precision | str | None = None,
         activation_precision: Precision | str | None = None) -> dict[str, float]:
    """Numbers for the symbol names (total_params, ..., peak_flop_per_s, ..., power_w).

    ``weight_precision`` defaults to the model's default; ``kv_precision`` to the model's KV default;
    ``activation_precision`` per :func:`default_activation_precision`. ``price_usd_per_chip_hour`` appears
    only when the hardware entry has one (no catalog entry does: prices are a dated user input), and
    ``peak_flop_per_s`` is omitted for bandwidth-only hardware that publishes no FLOP/s at all (Apple,
    Cerebras): give it with ``--set``. Raises InvalidInputError if the hardware publishes rates but none at
    the compute precision. A dense model binds as n_experts = experts_per_token = 1, expert_params = 0,
    dense_params = total_params.
    """
    m = model if isinstance(model, Model) else lookup("models", model)
    hw = hardware if isinstance(hardware, Hardware) else lookup("hardware", hardware)
    w = _prec(weight_precision or m.weight_precision)
    act = _prec(activation_precision or default_activation_precision(w, hw))
    out = model_values(m, w, kv_precision)
    out.update(hardware_values(hw, act))
    return out
