"""Numbers from the step model: bind symbol values, evaluate every named quantity of one configuration."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import sympy as sp

from . import economics as econ
from . import model
from . import symbols as s
from .errors import InvalidInputError

#: values the ideal analytic model assumes when the caller gives none
DEFAULTS = {
    "tp": 1.0, "batch": 1.0, "context": 0.0, "kv_bytes_per_token": 0.0,
    "n_layers": 0.0, "d_model": 0.0, "allreduces_per_layer": 2.0, "bytes_per_activation": 2.0,
    "link_latency_s": 0.0, "link_bandwidth_bytes_per_s": math.inf,
    "n_kv_heads": math.inf,  # unknown head count: the KV cache splits over all t chips
    "prompt_len": 0.0, "output_len": 1.0,
    **model.IDEAL_VALUES,
}

#: the values that may be +inf: no link (free bandwidth), KV heads unknown (never replicated)
INFINITE_OK = ("link_bandwidth_bytes_per_s", "n_kv_heads")

ARGS = tuple(info.symbol for info in s.TABLE.values())


@dataclass(frozen=True)
class StepResult:
    """One configuration's decode step, in SI units (seconds, tokens/s, dollars)."""

    compute_s: float
    memory_s: float
    comm_s: float
    overhead_s: float
    step_s: float
    tokens_per_s: float
    tokens_per_s_per_user: float
    utilization: float
    memory_bound: bool
    cost_usd_per_million_tokens: float | None
    energy_j_per_token: float | None

    def as_json(self) -> dict:
        out = {
            "step_ms": self.step_s * 1e3, "compute_ms": self.compute_s * 1e3,
            "memory_ms": self.memory_s * 1e3, "comm_ms": self.comm_s * 1e3,
            "overhead_ms": self.overhead_s * 1e3, "tokens_per_s": self.tokens_per_s,
            "tokens_per_s_per_user": self.tokens_per_s_per_user, "utilization": self.utilization,
            "memory_bound": self.memory_bound,
        }
        if self.cost_usd_per_million_tokens is not None:
            out["cost_usd_per_million_tokens"] = self.cost_usd_per_million_tokens
        if self.energy_j_per_token is not None:
            out["energy_j_per_token"] = self.energy_j_per_token
        return out


@cache
def _step_point_callable(policy: str, mixed: bool, weights_key: str | None) -> Callable[..., list[float]]:
    """The step model's parts, utilization, cost and energy at one point, as one scalar callable over ARGS."""
    from .numeric import compile_scalar  # numeric loads numpy, which this module otherwise does without

    weights = None if weights_key is None else sp.sympify(weights_key, locals={k: v.symbol for k, v in s.TABLE.items()})
    parts = model.step_parts(policy, weights=weights, mixed=mixed)
    step = parts["step"]
    prefill = model.prefill_tokens_per_step() if mixed else sp.S.Zero
    flops = model.matmul_flops(prefill=prefill) + model.attention_flops(prefill=prefill)
    exprs = [parts["compute"], parts["memory"], parts["comm"], parts["overhead"], step,
             econ.utilization(step, flops), econ.cost_per_million_tokens(step), econ.energy_per_token(step)]
    return compile_scalar(ARGS, exprs, cse=False)


def bind_values(values: Mapping[str, float]) -> dict[str, float]:
    """Fill in the ideal-model defaults and check every value is a finite number >= 0 (or one of the
    documented +inf defaults, link bandwidth and KV heads); d_attn defaults to d_model."""
    out = dict(DEFAULTS)
    for k, v in values.items():
        if v is None:
            continue
        s.info(k)  # unknown names raise with suggestions
        out[k] = float(v)
    out.setdefault("d_attn", out["d_model"])
    for k, v in out.items():
        if math.isnan(v) or v < 0 or (math.isinf(v) and k not in INFINITE_OK):
            raise InvalidInputError(k, "a finite number >= 0", v)
        if s.is_fraction(k) and not 0 < v <= 1:
            raise InvalidInputError(k, "a fraction in (0, 1]", v)
    return out


def positional(bound: dict[str, float]) -> list[float]:
    """Bound values (:func:`bind_values`) as the positional arguments of a function compiled over ARGS: 1.0
    where no value is given, ``active_params`` defaulting to ``total_params`` (set in ``bound`` too)."""
    bound.setdefault("active_params", bound["total_params"])
    return [bound.get(a.name, 1.0) for a in ARGS]


def evaluate_step(values: Mapping[str, float], policy: str = "step", *, mixed: bool = False,
                  weights: str | None = None) -> StepResult:
    """Evaluate the step model at one point. ``values`` maps symbol names to SI numbers.

    Required: total_params, bytes_per_weight, peak_flop_per_s, hbm_bandwidth_bytes_per_s.
    ``weights`` optionally names a weight-bytes expression (e.g. an MoE's) in symbol names.
    """
    v = bind_values(values)
    for need in ("total_params", "bytes_per_weight", "peak_flop_per_s", "hbm_bandwidth_bytes_per_s"):
        if need not in v or v[need] <= 0:
            raise InvalidInputError(need, "a number > 0", v.get(need))
    point = positional(v)
    for need in ("batch", "tp", "peak_flop_per_s", "hbm_bandwidth_bytes_per_s", "output_len"):
        if v[need] <= 0:
            raise InvalidInputError(need, "a number > 0", v[need])
    have_price = "price_usd_per_chip_hour" in v
    have_power = "power_w" in v
    compute, memory, comm, over, step, util, cost, energy = _step_point_callable(policy, mixed, weights)(*point)
    return StepResult(
        compute_s=compute, memory_s=memory, comm_s=comm, overhead_s=over, step_s=step,
        tokens_per_s=v["batch"] / step, tokens_per_s_per_user=1.0 / step, utilization=util,
        memory_bound=memory > compute,
        cost_usd_per_million_tokens=cost if have_price else None,
        energy_j_per_token=energy if have_power else None,
    )


#: the step time as a free symbol, for figures derived from a step the caller computed (the serving model's)
_STEP = sp.Symbol("step_s", positive=True)


@cache
def _compiled_economics(mixed: bool):
    prefill = model.prefill_tokens_per_step() if mixed else sp.S.Zero
    flops = model.matmul_flops(prefill=prefill) + model.attention_flops(prefill=prefill)
    exprs = [econ.utilization(_STEP, flops), econ.cost_per_million_tokens(_STEP), econ.energy_per_token(_STEP)]
    return sp.lambdify((_STEP, *ARGS), exprs, "math")


def economics(values: Mapping[str, float], step_s: float, *, mixed: bool = True) -> dict[str, float]:
    """Utilization, $/Mtok and J/token of a step of ``step_s`` seconds (computed elsewhere, e.g. by the
    serving model) with the same builders as :func:`evaluate_step`: useful FLOPs (with ``mixed``, the
    ``B isl/osl`` prompt tokens of an average in-flight step too) over ``t F step``; the replica's price and
    power for one step shared by ``batch`` tokens. Cost and energy only where price and power are given."""
    v = bind_values(values)
    v.setdefault("active_params", v.get("total_params", 0.0))
    util, cost, energy = _compiled_economics(mixed)(float(step_s), *[v.get(a.name, 1.0) for a in ARGS])
    out = {"utilization": util}
    if "price_usd_per_chip_hour" in v:
        out["cost_usd_per_million_tokens"] = cost
    if "power_w" in v:
        out["energy_j_per_token"] = energy
    return out
