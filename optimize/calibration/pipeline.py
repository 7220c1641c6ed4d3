"""Pipeline parallelism of a serving worker: the one composition ``validate`` (:mod:`.serving`) and the
optimizer (:mod:`inferonomics.optimize.serving_step`) both evaluate PP through.

A worker of ``tp x dp x pp`` chips splits its layers over ``pp`` stages that pass ``pp`` micro-batches of
``B/pp`` sequences along: a token crosses every layer at ``B/pp`` sequences (the whole stack's step at
``B/pp``) plus ``pp - 1`` hand-offs of its micro-batch's activations between stages (one all-to-all between two
chips each). Each stage holds ``1/pp`` of the weights and of every sequence's KV cache, so the worker keeps
resident as many sequences as ``tp x dp x pp`` chips hold: the serving model's resident cap
(:func:`.serving_model.resident_batch`, over ``tp x dp`` chips) at ``pp`` times each chip's HBM
(:func:`stage_env`; exact: ``phi (pp M) t dp - W`` is the free KV memory of the whole worker). Embeddings and
the LM head sit on the first and last stage; the split is taken as even.
"""

from __future__ import annotations

import numpy as np

from inferonomics.optimize.calibration.parallel import collective_span
from inferonomics.optimize.calibration.serving_model import resident_batch


def stage_env(env, pp: float):
    """``env`` with each chip's HBM capacity times ``pp``: a ``tp x dp`` worker's resident cap then equals that
    of the ``tp x dp x pp`` pipelined worker (the same weights and KV spread over ``pp`` times the chips)."""
    if pp == 1 or not np.isfinite(env.get("hbm_capacity_bytes", np.nan)):
        return env
    return {**env, "hbm_capacity_bytes": env["hbm_capacity_bytes"] * pp}


def pipeline_hop_s(a, micro_batch, env) -> np.ndarray:
    """One hand-off of a micro-batch's activations (16-bit ``d_model`` per sequence) between two stages."""
    return collective_span("alltoall", np.maximum(micro_batch, 1.0) * a.d_model * 2.0, 2.0, env)


def stage_micro_batch(resident, pp: float):
    """Sequences one micro-batch carries through the stages: ``B_res / pp``, at least one."""
    return np.maximum(np.asarray(resident, dtype=float) / pp, 1.0)


def _stage(a, batch, isl, osl, shape, pp: float, prec, env, context):
    """(the stage's env, the micro-batch) of a pipelined worker at ``batch`` concurrent requests."""
    env_pp = stage_env(env, pp)
    return env_pp, stage_micro_batch(resident_batch(a, batch, isl, osl, shape[0], shape[1], prec, env_pp, context), pp)


def _one(fn, a, batch, isl, osl, shape, pp: float, prec, backend, env, **kw):
    if pp <= 1:
        return fn(a, batch, isl, osl, *shape, prec, backend, env, **kw)
    env_pp, micro = _stage(a, batch, isl, osl, shape, pp, prec, env, kw.get("context"))
    return fn(a, micro, isl, osl, *shape, prec, backend, env_pp, **kw) + (pp - 1) * pipeline_hop_s(a, micro, env)


def pipelined_parts(a, batch, isl, osl, shape, pp: float, prec, backend, env, **kw) -> dict:
    """The named parts of :func:`pipelined`'s TPOT (:func:`.serving_model.serving_tpot_s` with ``parts``) of one
    pipeline degree: the stack's parts at the micro-batch, the ``pp - 1`` stage hand-offs counted as
    communication; they sum to :func:`pipelined`'s TPOT."""
    from inferonomics.optimize.calibration.serving_model import serving_tpot_s  # noqa: PLC0415

    tp, dp, ep, mtp = shape
    if pp <= 1:
        return serving_tpot_s(a, batch, isl, osl, tp, dp, ep, mtp, prec, backend, env, parts=True, **kw)
    env_pp, micro = _stage(a, batch, isl, osl, shape, pp, prec, env, kw.get("context"))
    out = dict(serving_tpot_s(a, micro, isl, osl, tp, dp, ep, mtp, prec, backend, env_pp, parts=True, **kw))
    out["communication"] = out["communication"] + (pp - 1) * pipeline_hop_s(a, micro, env)
    return out


def pipelined(fn, a, batch, isl, osl, shape, pp, prec, backend, env, **kw) -> np.ndarray:
    """``fn`` (TPOT or TTFT, :mod:`.serving_model`) of a worker of parallel shape ``shape = (tp, dp, ep, mtp)``
    whose layers are split over ``pp`` pipeline stages (see the module docstring): the whole stack at the
    micro-batch of ``B/pp`` resident sequences, plus ``pp - 1`` stage hand-offs. ``pp`` may be an array (one
    evaluation per distinct degree: the HBM scaling is per call)."""
    pp = np.asarray(pp, dtype=float)
    if np.all(pp <= 1):
        return fn(a, batch, isl, osl, *shape, prec, backend, env, **kw)
    if pp.ndim == 0:
        return _one(fn, a, batch, isl, osl, shape, float(pp), prec, backend, env, **kw)
    arrays = np.broadcast_arrays(np.asarray(batch, dtype=float), np.asarray(isl, dtype=float),
                                 np.asarray(osl, dtype=float), *(np.asarray(x, dtype=float) for x in shape), pp)
    out = np.full(arrays[0].shape, np.nan)
    for k in np.unique(arrays[-1]):
        sel = arrays[-1] == k
        b, i, o, *sh = (x[sel] for x in arrays[:-1])
        out[sel] = _one(fn, a, b, i, o, tuple(sh), float(k), prec, backend, env, **kw)
    return out
