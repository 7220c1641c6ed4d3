"""The symbolic serving model (:mod:`inferonomics.symbolic.serving`) compiled once per (architecture, precision,
backend, card flags) and evaluated on NumPy arrays with a calibration ``env``; the one place of the calibration
package that turns SymPy into code (:func:`compile_expr`).

``env`` maps symbol names (``eta_flop``, ``peak_bf16``, ``hbm_bandwidth_bytes_per_s``...) to values
(:func:`.predict.hardware_env` plus a calibration). Arrays broadcast; a scalar ``tp`` with an array of batches
costs one vectorised call.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.core.parameters import evaluate

from inferonomics.symbolic import serving as SM
from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.kernels import busiest_experts_touched, split_kv_tokens, xqa_blocks
from inferonomics.symbolic.symbols import BACKEND_OVERHEADS
from inferonomics.symbolic.numpy_dag import compile_dag, free_symbols

STEP_PARTS = SM.STEP_PARTS
QUANTIZES_FP8_INPUTS = SM.QUANTIZES_FP8_INPUTS
#: serving backend -> the symbol of its fixed per-step overhead (:func:`~inferonomics.symbolic.kernels.backend_overhead`)
BACKENDS = {b: sym.name for b, sym in BACKEND_OVERHEADS.items()}


def env_value(name: str, env) -> float:
    """The value of symbol ``name`` in ``env``; a card without an FP4 rate computes "fp4" at its fp8 peak, one
    without a scale-up domain figure has an unbounded domain."""
    v = env.get(name)
    if v is not None:
        return v
    if name == "peak_fp4":
        return env["peak_fp8"]
    if name == "scaleup_domain_size":
        return np.inf
    if name == "split_kv_tokens_per_block":  # the card's split-KV kernel, from its architecture
        return split_kv_tokens(float(env.get("fp4_tensor_cores", 0.0)))
    raise KeyError(f"calibration environment has no value for {name!r}")


def _xqa_blocks(batch, kv_heads, context, n_sm, tokens) -> tuple[np.ndarray]:
    return (xqa_blocks(batch, kv_heads, context, n_sm, tokens),)


def _busiest_experts(n_experts, touched, ep) -> tuple[np.ndarray]:
    return (busiest_experts_touched(n_experts, touched, ep),)


#: the applied functions of the serving model and the NumPy rules that compute them
#: (:data:`inferonomics.symbolic.serving.XQA_BLOCKS`: the kernel's block choice;
#: :data:`inferonomics.symbolic.kernels.BUSIEST_EXPERTS`: the busiest EP rank's experts)
FUNCTIONS: dict[str, Callable[..., tuple[np.ndarray]]] = {"xqa_blocks": _xqa_blocks,
                                                          "busiest_experts_touched": _busiest_experts}


def checkpoint_precision(model, precision: str) -> str:
    """The serving precision of catalog ``model``'s weights at serving precision ``precision``: ``fp8_block`` for the
    fp8 weights of a checkpoint that block-scales them (``Model.fp8_scaling``, sourced in the catalog), else
    ``precision``."""
    return "fp8_block" if precision == "fp8" and getattr(model, "fp8_scaling", "tensor") == "block" else precision


def scaling_free_precision(precision: str) -> str:
    """:func:`checkpoint_precision` undone: the serving precision of the GEMMs outside a block-scaled checkpoint's
    experts, which run per-tensor fp8 (``symbolic.serving.precision_bytes``), as the closed forms' efficiencies do."""
    return "fp8" if precision == "fp8_block" else precision


class Compiled:
    """``exprs`` over ``args`` (in that order) and the parameters they read from ``env`` (by name):
    ``f(values, env)`` -> tuple of arrays, or the one array of a single expression."""

    def __init__(self, exprs, args, functions: dict | None = None, arrays=None) -> None:
        args = tuple(args)
        single = isinstance(exprs, sp.Basic)
        exprs = (exprs,) if single else tuple(exprs)
        free = free_symbols(exprs)
        params = tuple(sorted(free - set(args), key=lambda x: x.name))
        self.args, self.param_symbols = args, params
        self.params = tuple(p.name for p in params)
        self._single = single
        #: the generated function over (args..., params...) -> tuple, without conversions
        self.raw = compile_dag(exprs, args + params, {**FUNCTIONS, **(functions or {})}, arrays)

    def __call__(self, values, env):
        # scalars stay NumPy scalars (the float path: no 0-d array per operation), the rest become float arrays
        vals = [np.float64(v) if isinstance(v, (float, int)) else np.asarray(v, dtype=float) for v in values]
        vals += [np.float64(env_value(p, env)) for p in self.params]
        with np.errstate(all="ignore"):
            out = self.raw(*vals)
        return out[0] if self._single else out


def compile_expr(exprs, args) -> Compiled:
    """Compile a SymPy expression (or a sequence of them) over ``args``, its other symbols bound from ``env``
    by name (:func:`inferonomics.symbolic.numpy_dag.compile_dag`: linear in the expression's size)."""
    return Compiled(exprs, args)


def fp4_compute(env) -> bool:
    """Whether the card computes FP4 GEMMs on FP4 tensor cores (the catalog gives it an FP4 rate)."""
    return float(env.get("fp4_tensor_cores", 0.0)) > 0


def scaleout(env) -> bool:
    """Whether the card has a scale-out NIC figure (collectives past its scale-up domain cross nodes)."""
    return bool(np.isfinite(env.get("scaleout_bandwidth_bytes_per_s", np.nan)))


def _precision(p: str, env) -> tuple[str, float, float, float]:
    """(GEMM precision, bytes per activation in, per weight, per KV element) of serving precision ``p`` on the
    card of ``env`` (:func:`inferonomics.symbolic.serving.precision_bytes`)."""
    prec, b_in, b_w, b_kv = SM.precision_bytes(p, fp4_compute(env))
    return prec, float(b_in), float(b_w), float(b_kv)


_STEP_ARGS = (SM.batch, SM.prefill, s.ctx, s.isl, s.t, SM.dp, SM.ep, SM.mtp, SM.prompt_share)
#: the serving composites' arguments; ``ctx`` the decode attention's and resident KV's context (callers pass the
#: average ``isl + osl/2`` by default)
_SERVING_ARGS = (SM.requests, s.isl, s.osl, s.t, SM.dp, SM.ep, SM.mtp, s.ctx)
#: the arguments callers pass as arrays most often (a curve over batches): operations free of them go first
_ARRAYS = (SM.batch, SM.prefill, SM.requests)


@lru_cache(maxsize=None)
def _step(a, precision: str, backend: str, fp4: bool, out: bool, parts: bool = False) -> Compiled:
    """The step over :data:`_STEP_ARGS` (the busiest group's share of the prompt tokens an argument: one
    compiled step serves a prompt spread over the groups and a single request's)."""
    # built unevaluated: SymPy's Max/Min would search their nested arguments for provable orderings (seconds per
    # step, never succeeding); the tree then also keeps the order of operations the builders wrote
    with evaluate(False):
        ops = SM.step_ops(a, precision, backend, share=SM.prompt_share, fp4_compute=fp4, scaleout=out)
        exprs = tuple(SM.parts(ops).values()) if parts else SM.compose(ops)
    return Compiled(exprs, _STEP_ARGS, arrays=_ARRAYS)


def _call(step: Compiled):
    """``step`` as a function symbol of (decode batch, prompt tokens, context[, the busiest group's prompt share,
    default ``1/dp``]), applied over the serving arguments and its own parameters: the compiled composite calls
    the compiled step."""
    fn = sp.Function("step")
    return ((lambda b, p, c, share=None: fn(b, p, c, s.isl, s.t, SM.dp, SM.ep, SM.mtp,
                                            1 / SM.dp if share is None else share, *step.param_symbols)),
            {"step": step.raw})


@lru_cache(maxsize=None)
def model(a, precision: str, backend: str, fp4: bool, out: bool, what: str, flag: bool = False) -> Compiled:
    """The compiled serving model of architecture ``a``: ``what`` is "step" (over :data:`_STEP_ARGS`), "tpot"
    (``flag``: in-flight mixed steps), "ttft_step" (the one-prompt step), "ttft" (with overhead and queue) or
    "resident"; with a ``_parts`` suffix the named parts. The composites call the compiled step (:func:`_step`)
    at the arguments their formulas give; the context is :data:`_SERVING_ARGS`' ``ctx``."""
    kw = {"fp4_compute": fp4, "scaleout": out, "context": s.ctx}
    if what in ("step", "step_parts"):
        return _step(a, precision, backend, fp4, out, what == "step_parts")
    fns = None
    with evaluate(False):
        if what == "tpot":
            step, fns = _call(_step(a, precision, backend, fp4, out))
            exprs = SM.tpot(a, precision, backend, mixed=flag, step=step, **kw)
        elif what == "tpot_parts":
            exprs = tuple(SM.tpot_parts(a, precision, backend, mixed=flag, **kw).values())
        elif what in ("ttft_step", "ttft"):
            step, fns = _call(_step(a, precision, backend, fp4, out))
            exprs = (SM.ttft_step if what == "ttft_step" else SM.ttft)(a, precision, backend, step=step, **kw)
        elif what == "resident":
            exprs = SM.resident_batch(a, precision, fp4_compute=fp4, context=s.ctx)
        else:
            raise ValueError(what)
    return Compiled(exprs, _SERVING_ARGS, fns, arrays=_ARRAYS)


def _named(values) -> dict[str, np.ndarray]:
    shape = np.broadcast_shapes(*(np.shape(v) for v in values))
    return {k: np.broadcast_to(np.asarray(v, dtype=float), shape) for k, v in zip(STEP_PARTS, values)}


def _flags(env) -> tuple[bool, bool]:
    return fp4_compute(env), scaleout(env)


def step_time(a, batch, isl, osl, tp, dp, ep, mtp, precision: str, backend: str, env, *,
              prefill_tokens=None, context=None, one_prompt: bool = False, parts: bool = False):
    """Seconds of one step of a worker of ``tp x dp`` chips decoding ``batch`` sequences
    (:func:`inferonomics.symbolic.serving.step_ops`); ``prefill_tokens`` (the worker's prompt tokens in the
    step) defaults to B*isl/osl (in-flight batching), ``context`` to ``isl + osl/2``. A batch of 0 is a
    prefill-only step; with ``one_prompt`` the prompt tokens all land on one attention group. With ``parts`` a
    dict of the named parts of the step (:data:`STEP_PARTS`; seconds, summing to the step)."""
    p = batch * isl / osl if prefill_tokens is None else prefill_tokens
    ctx = isl + osl / 2 if context is None else context
    f = model(a, precision, backend, *_flags(env), "step_parts" if parts else "step")
    out = f((batch, p, ctx, isl, tp, dp, ep, mtp, 1.0 if one_prompt else 1 / np.asarray(dp, dtype=float)), env)
    return _named(out) if parts else out


def _context(isl, osl, context):
    return isl + osl / 2 if context is None else context


@lru_cache(maxsize=None)
def _attention_layer(a, precision: str, fp4: bool) -> Compiled:
    b_kv = SM.precision_bytes(precision, fp4)[3]
    with evaluate(False):
        expr = SM.decode_attention_layer(a, SM.batch, s.ctx, s.t, b_kv)
    return Compiled(expr, (SM.batch, s.ctx, s.t), arrays=(SM.batch, s.ctx))


def decode_attention_layer(a, seqs, context, tp, precision: str, env) -> np.ndarray | float:
    """One layer's split-KV decode attention of ``seqs`` sequences at ``context`` on a rank of ``tp`` (alternate
    layers of a sliding-window model within the window): the one context term of :func:`step_time`
    (:func:`inferonomics.symbolic.serving.decode_attention_layer`)."""
    return _attention_layer(a, precision, fp4_compute(env))((seqs, context, tp), env)


@lru_cache(maxsize=None)
def _memory(a, precision: str, fp4: bool) -> Compiled:
    _, _, b_w, b_kv = SM.precision_bytes(precision, fp4)
    with evaluate(False):
        exprs = (SM.weight_bytes(a, b_w), SM.kv_bytes_per_token(a, b_kv, s.t, s.ctx) * s.ctx)
    return Compiled(exprs, (s.ctx, s.t, SM.dp))


def resident_memory(a, isl, osl, tp, dp, precision: str, env, context=None):
    """(worker's weight bytes, one sequence's KV bytes at ``context``, default ``isl + osl/2``)."""
    w, kv = _memory(a, precision, fp4_compute(env))((_context(isl, osl, context), tp, dp), env)
    return w, kv


def resident_batch(a, batch, isl, osl, tp, dp, precision: str, env, context=None) -> np.ndarray:
    """Sequences a worker of ``tp x dp`` chips keeps decoding at ``batch`` concurrent requests
    (:func:`inferonomics.symbolic.serving.resident_batch`; KV at ``context``, default ``isl + osl/2``); a card of
    unknown HBM capacity: no cap."""
    if not np.isfinite(env.get("hbm_capacity_bytes", np.nan)):
        return np.asarray(batch, dtype=float)
    f = model(a, precision, "trtllm", *_flags(env), "resident")
    return f((batch, isl, osl, tp, dp, 1.0, 1.0, _context(isl, osl, context)), env)


def _capped_env(env):
    """``env`` with an infinite HBM capacity where it has none (the resident cap then never binds)."""
    return env if np.isfinite(env.get("hbm_capacity_bytes", np.nan)) else {**env, "hbm_capacity_bytes": np.inf}


def serving_tpot_s(a, batch, isl, osl, tp, dp, ep, mtp, precision: str, backend: str, env, *,
                   mixed: bool = True, parts: bool = False, context=None):
    """Seconds per output token of a replica at ``batch`` concurrent requests (arrays broadcast): the steps run
    at the resident batch; under in-flight batching (``mixed``) the mean of a decode and a mixed step
    (:func:`inferonomics.symbolic.serving.tpot`), else the decode step. With ``parts`` its named parts.
    ``context`` (default ``isl + osl/2``): the decode attention's and resident KV's context."""
    f = model(a, precision, backend, *_flags(env), "tpot_parts" if parts else "tpot", mixed)
    out = f((batch, isl, osl, tp, dp, ep, mtp, _context(isl, osl, context)), _capped_env(env))
    return _named(out) if parts else out


def ttft_step_s(a, batch, isl, osl, tp, dp, ep, mtp, precision: str, backend: str, env, context=None):
    """Seconds of the step carrying one request's whole prompt beside the resident decode batch
    (:func:`inferonomics.symbolic.serving.ttft_step`): the time to first token without overhead and queue."""
    f = model(a, precision, backend, *_flags(env), "ttft_step")
    return f((batch, isl, osl, tp, dp, ep, mtp, _context(isl, osl, context)), _capped_env(env))


def serving_ttft_s(a, batch, isl, osl, tp, dp, ep, mtp, precision: str, backend: str, env, context=None):
    """Seconds to the first token at ``batch`` concurrent clients (:func:`inferonomics.symbolic.serving.ttft`):
    the one-prompt step, the engine's request overhead and the closed-loop queue
    (:func:`inferonomics.symbolic.kernels.closed_loop_ttft_wait`)."""
    f = model(a, precision, backend, *_flags(env), "ttft")
    return f((batch, isl, osl, tp, dp, ep, mtp, _context(isl, osl, context)), _capped_env(env))


def request_overhead_s(backend: str, env) -> float:
    """The engine's fitted fixed time to first token beyond the prefill."""
    return env[SM.REQUEST_OVERHEAD[backend].name]
