"""Closed forms under a calibration: the fitted kernel model's many terms mapped onto the five efficiencies and
fixed costs a closed form carries (``eta_flop``, ``eta_bw``, ``eta_kv``, ``overhead_s``, ``layer_overhead_s``).

The mapping evaluates the calibrated kernel builders of :mod:`inferonomics.symbolic.kernels` at representative
shapes (nothing is typed in), for one card, GEMM precision and serving backend:

* ``eta_flop``: the achieved fraction of peak of a large square GEMM, ``2 n^3 / (F t_gemm(n, n, n))`` at
  n = :data:`LARGE` (the size the calibration's measured ceilings use), its fixed time and k-loop included;
* ``eta_bw``: the effective weight-stream fraction of a decode GEMM of :data:`DECODE_SHAPE` weights at the batch
  where it **turns compute-bound**, i.e. where the two arms of its roofline (:func:`kernels.gemm_time`'s
  ``max(2mnk/(eta_F F), k n b_w/(eta_W W) + (m k b_in + m n b_out)/(eta_{W,a} W))``) are equal: the weight
  bytes over the time of the whole memory arm there. The activation reads and output writes that ride along
  with the weights grow with the batch, so a closed form that counts weight bytes only needs them folded into
  its bandwidth at the batch that matters. With these two, the closed-form break-even batch
  ``eta_F F b_w / (2 eta_W W)`` is exactly that representative GEMM's compute-bound batch;
* ``eta_kv``: the KV-cache stream fraction of the serving engines' split-KV decode attention at
  :data:`ATTENTION_SHAPE` with the kernel's own KV blocks there, its fixed time excluded;
* ``layer_overhead_s``: the fixed times (the builders' shape-free terms) of one dense decoder layer's kernels:
  its four weight GEMMs (qkv, o, gate/up, down), one decode-attention kernel and, for fp8 on an engine that
  quantizes GEMM inputs in kernels of their own, the four quantization kernels; the all-reduces are the
  closed forms' communication term, not a fixed cost;
* ``overhead_s``: the backend's fitted per-step overhead plus the LM head GEMM's fixed time.

What the five numbers leave out: the k-loop latency at small batch (a GEMM narrower than the chip), the
engines' per-sequence host cost, MoE expert reads, attention occupancy at few sequences. The closed forms stay
the roofline's regimes; :mod:`inferonomics.optimize.calibration.serving` is the full model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import sympy as sp

from inferonomics.symbolic import kernels as K
from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.closedform import ClosedForm, Step
from inferonomics.symbolic.efficiency import DEFAULTS
from inferonomics.symbolic.errors import InvalidInputError
from inferonomics.symbolic.formulas import get_formula
from inferonomics.symbolic.serving import QUANTIZES_FP8_INPUTS, precision_bytes

from inferonomics.optimize.calibration.predict import split_kv_tokens

#: GEMM precisions a closed form can be calibrated at: (kernel precision, bytes per activation in, per weight), as
#: the serving model runs them (:func:`inferonomics.symbolic.serving.precision_bytes`: bf16 and fp8 weights with
#: compute at the same precision)
PRECISIONS = {p: (g, float(b_in), float(b_w)) for p in ("bf16", "fp8")
              for g, b_in, b_w, _ in [precision_bytes(p, fp4_compute=False)]}
BACKENDS = tuple(s.BACKEND_OVERHEADS)
#: the large GEMM whose achieved rate is eta_flop (n^3, the calibration's 8192^3 ceiling GEMM)
LARGE = 8192
#: (n, k) of the representative decode GEMM whose weight stream sets eta_bw (a square 8192 x 8192 weight)
DECODE_SHAPE = (8192, 8192)
#: (batch, context, heads, KV heads, head dim) of the decode attention whose KV stream sets eta_kv
ATTENTION_SHAPE = (64, 4096, 32, 8, 128)
#: kernels of one dense decoder layer: weight GEMMs, decode attention, input quantizations (fp8, some engines)
LAYER_GEMMS, LAYER_ATTENTION, LAYER_QUANTS = 4, 1, 4


@dataclass(frozen=True)
class CalibratedValues:
    """The closed forms' efficiencies and fixed costs for one card, precision and backend, and their source."""

    values: dict[str, float]  # symbol name -> value
    source: str  # which calibration, fitted on which card, carried how
    hardware: str
    precision: str
    backend: str

    def note(self) -> str:
        """One sentence for the exported file: which calibration, and the values substituted."""
        vals = ", ".join(f"{k} = {v:.6g}" for k, v in self.values.items())
        return (f"calibrated for {self.hardware} at {self.precision} ({self.backend}) from the {self.source}: "
                f"{vals} (mapping: inferonomics.optimize.calibrated_forms)")


def _x(name: str) -> sp.Symbol:
    return sp.Symbol(f"x_{name}", positive=True)


def _value(expr: sp.Expr, env: Mapping[str, float], shape: Mapping[sp.Symbol, float]) -> float:
    """A builder's expression at a shape and the calibrated symbol values."""
    subs = {**{sym: sp.Float(v) for sym, v in shape.items()},
            **{sym: sp.Float(env[sym.name]) for sym in expr.free_symbols if sym.name in env}}
    out = expr.xreplace(subs)
    if out.free_symbols:
        raise InvalidInputError("calibration", "a value for every kernel term", sorted(map(str, out.free_symbols)))
    return float(out)


def _fixed_time(expr: sp.Expr, shape_symbols: set) -> sp.Expr:
    """The terms of a kernel's time that do not depend on its shape: its fixed time."""
    return sp.Add(*(a for a in sp.Add.make_args(expr) if not (a.free_symbols & shape_symbols)))


@lru_cache(maxsize=8)  # pure; the builders' Max/Min constructors compare arguments under assumptions (slow)
def _gemm(prec: str, b_in: float, b_w: float):
    m, n, k = _x("m"), _x("n"), _x("k")
    return (m, n, k), K.gemm_time(m, n, k, sp.Float(b_in), sp.Float(b_w), split_k=prec != "fp4")


def _eta_flop(env, prec, b_in, b_w) -> float:
    (m, n, k), expr = _gemm(prec, b_in, b_w)
    t = _value(expr, env, {m: LARGE, n: LARGE, k: LARGE})
    return 2.0 * LARGE ** 3 / (env["peak_flop_per_s"] * t)


def _eta_bw(env, prec, b_in, b_w) -> float:
    """Weight bytes over the memory arm's time of the decode GEMM at the batch where its two arms are equal."""
    (m, n, k), expr = _gemm(prec, b_in, b_w)
    (roof,) = expr.atoms(sp.Max)  # the GEMM's roofline: max(compute, memory)
    compute, memory = sorted(roof.args, key=lambda a: not a.has(s.F))
    shape = {n: DECODE_SHAPE[0], k: DECODE_SHAPE[1]}
    # both arms are linear in m (FLOPs and activation bytes grow with the tokens), so they cross at
    # m* = -gap(0) / gap'; sp.solve found the same root through simplify, which alone imports sympy.physics (0.5 s)
    gap = (compute - memory).xreplace(shape)
    slope = sp.diff(gap, m)
    if slope.has(m):
        raise ValueError("the GEMM roofline's arms are no longer linear in m: solve for their crossing instead")
    m_at = -_value(gap.xreplace({m: sp.S.Zero}), env, {}) / _value(slope, env, {})
    if not m_at > 0:
        raise ValueError(f"the GEMM roofline's arms cross at m = {m_at:g}, not at a positive batch")
    stream = _value(memory, env, {**shape, m: m_at})
    return DECODE_SHAPE[0] * DECODE_SHAPE[1] * b_w / (env["hbm_bandwidth_bytes_per_s"] * stream)


@lru_cache(maxsize=4)
def _attention(b_kv: float):
    syms = batch, context, heads, kv_heads, head_dim, blocks = tuple(
        _x(n) for n in ("batch", "context", "heads", "kv_heads", "head_dim", "blocks"))
    return syms, K.decode_attention_time(batch, context, heads, kv_heads, head_dim, b_kv=sp.Float(b_kv),
                                         blocks=blocks, split=True)


def _eta_kv(env) -> float:
    """KV bytes over the split-KV kernel's time (fixed time excluded) at :data:`ATTENTION_SHAPE`, with the KV
    blocks per (sequence, KV head) the kernel's own rule gives there (:func:`~inferonomics.symbolic.kernels.
    xqa_blocks`)."""
    syms, expr = _attention(2.0)
    batch, context, _, kv_heads, head_dim = ATTENTION_SHAPE
    blocks = float(K.xqa_blocks(batch, kv_heads, context, env["sm_count"], split_kv_tokens(env)))
    shape = dict(zip(syms, (*ATTENTION_SHAPE, blocks)))
    t = _value(expr - _fixed_time(expr, set(syms)), env, shape)
    return 2 * batch * context * kv_heads * head_dim * 2.0 / (env["hbm_bandwidth_bytes_per_s"] * t)


def _fixed_costs(env, prec, b_in, b_w, backend) -> tuple[float, float]:
    """(per-layer, per-step) fixed seconds from the builders' shape-free terms."""
    (m, n, k), gemm = _gemm(prec, b_in, b_w)
    gemm_fixed = _value(_fixed_time(gemm, {m, n, k}), env, {})
    syms, att = _attention(2.0)
    att_fixed = _value(_fixed_time(att, set(syms)), env, {})
    layer = LAYER_GEMMS * gemm_fixed + LAYER_ATTENTION * att_fixed
    if prec == "fp8" and backend in QUANTIZES_FP8_INPUTS:
        qm, qk = _x("m"), _x("k")
        layer += LAYER_QUANTS * _value(_fixed_time(K.quant_time(qm, qk), {qm, qk}), env, {})
    (hm, hn, hk), head = _gemm("bf16", 2.0, 2.0)  # the LM head runs in 16 bits (calibration.serving)
    head_env = _precision_env(env, "bf16")
    step = env[K.backend_overhead(backend).name] + _value(_fixed_time(head, {hm, hn, hk}), head_env, {})
    return layer, step


def _precision_env(env, prec):
    from inferonomics.optimize.calibration.predict import with_precision  # noqa: PLC0415

    return with_precision(env, prec)


def calibrated_values(hardware: str, precision: str = "bf16", backend: str = "trtllm",
                      calibration: str | None = None) -> CalibratedValues:
    """The five closed-form values for catalog ``hardware`` from its shipped calibration (its own fit, an
    architecture sibling's or the H100's: :func:`calibration_for`), or from the file ``calibration``."""
    from inferonomics.optimize.calibration.calfile import calibration_for  # noqa: PLC0415
    from inferonomics.optimize.calibration.predict import hardware_env  # noqa: PLC0415
    from inferonomics.symbolic import catalog  # noqa: PLC0415

    if precision not in PRECISIONS:
        raise InvalidInputError("--precision", "one of " + ", ".join(PRECISIONS), precision)
    if backend not in BACKENDS:
        raise InvalidInputError("--backend", "one of " + ", ".join(BACKENDS), backend)
    name = catalog.hardware(hardware).name
    cal, source = calibration_for(name, calibration)
    prec, b_in, b_w = PRECISIONS[precision]
    env = _precision_env({**hardware_env(name), **cal.values}, prec)
    layer, step = _fixed_costs(env, prec, b_in, b_w, backend)
    values = {"eta_flop": _eta_flop(env, prec, b_in, b_w), "eta_bw": _eta_bw(env, prec, b_in, b_w),
              "eta_kv": _eta_kv(_precision_env(env, "bf16")), "overhead_s": step, "layer_overhead_s": layer}
    return CalibratedValues(values, source, name, precision, backend)


def calibrate(record: ClosedForm, cal: CalibratedValues) -> ClosedForm:
    """``record``'s general form with the calibrated values substituted: the efficiency symbols leave its
    arguments, and ``extra["calibration"]`` says which calibration (every exporter prints it)."""
    general = get_formula(record.name, efficiencies=True)
    # every carried symbol, also those the ideal form already had as arguments (the latency floor's fixed costs)
    subs = {sym: sp.Float(cal.values[sym.name]) for sym in DEFAULTS if sym in general.args}
    return replace(
        general,
        expr=general.expr.xreplace(subs),
        args=tuple(a for a in general.args if a not in subs),
        residual=general.residual.xreplace(subs),
        conditions=tuple(c.xreplace(subs) for c in general.conditions),
        bracket=None if general.bracket is None else tuple(b.xreplace(subs) for b in general.bracket),
        steps=tuple(Step(st.lhs.xreplace(subs), st.rhs.xreplace(subs), st.why) for st in general.steps),
        defaults={},
        extra={**general.extra, "calibration": cal.note(), "calibration_values": dict(cal.values)},
    )
