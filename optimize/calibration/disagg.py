"""Disaggregated serving (``mode = disagg``): separate prefill and decode pools, as NVIDIA's Dynamo runs
label them (``prefill_*`` and ``decode_*`` pool shapes and worker counts; NVIDIA aiconfigurator-core 0.12.0
measurement data, Apache-2.0).

* **TPOT** is a decode-only step of one decode worker at its batch (no prompt work ever enters it):
  :func:`.serving_model.serving_tpot_s` with ``mixed=False``, the resident-batch cap included.
* **TTFT** = queue + prefill + KV transfer + the decode worker's first step + the engine's request
  overhead. The prefill is one step of a prefill worker carrying ``prefill_batch_size`` prompts per
  attention-DP group (context ``isl``, no decode batch). The KV transfer moves the request's cache
  (:func:`kv_transfer_time`) from the prefill to the decode worker over the chips' scale-out NICs (separate
  nodes). The client's first token comes from the decode worker, which admits the transferred request into
  its running batch and emits the token with its next step: one decode step (``tpot``) more than the
  prefill. The queue (:func:`prefill_wait`): ``C`` clients each cycle through prefill, transfer and ``osl``
  decode steps, offering their prompts to a pool that prefills ``k = n_p b_p dp_p`` of them per step of
  ``t_p``; mean-value analysis of that closed loop gives the wait at any load: none for one client, the
  others' prompts ahead at moderate load, and past saturation the cycle stretched to ``C / mu_p`` (``mu_p =
  k / t_p``), the difference spent waiting for a prefill slot. Where the decode pool holds fewer sequences
  (``slots``: its workers' max batch, or the KV cache's resident batch) than there are clients, a transferred
  request also waits for a free decode slot (:func:`decode_slot_wait`, the aggregated queue's free-slot term
  :func:`inferonomics.symbolic.kernels.closed_loop_ttft_wait`), which lengthens every client's cycle.

Columns: the concurrency ``C`` is the benchmark's total over the deployment and ``decode_batch_size`` a decode
worker's batch per attention-DP group (NVIDIA's DeepSeek-V3 ``cfg494``/``cfg503`` rows: ``C = n_d x
decode_batch_size`` exactly, 3 x 2 = 6 ... 2 x 77 = 154). Missing pool fields take the engine defaults: one
worker (an unlabelled TRT-LLM sweep row: the fewest decode workers that put its concurrency on the sweep's grid,
:func:`.serving.sweep_decode_workers`), a prefill batch of one request per group, a decode batch of ``C / n_d``; a
concurrency that is missing is ``n_d x decode_batch_size``. No column records speculative decoding (MTP), which
some DeepSeek runs used: the same labelled configuration is measured at 7.7 and 14.0 ms per token at concurrency
6, the first faster than any batch of the stated pool allows.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from inferonomics.symbolic import kernels as K

from inferonomics.optimize.calibration.serving_model import (_precision, compile_expr, request_overhead_s,
                                                             resident_memory, serving_tpot_s, step_time)

#: a worker's parallel shape (tp, dp, ep, mtp), as in :mod:`.parallel`
Shape = tuple[int, int, int, int]


def kv_transfer_time(a, isl, precision: str, tp_prefill, env) -> np.ndarray:
    """Seconds to move one request's KV cache of ``isl`` tokens (every layer, at the row's KV precision) from its
    prefill group's ``tp`` ranks, each over its own NIC (NCCL-class transport: the fitted NCCL fixed time and
    bandwidth fraction); over the scale-up link where no NIC figure is known. Each rank sends the KV it holds, the
    serving model's own per-rank bytes (:func:`.serving_model.resident_memory`: ``max(1, h_kv/t)`` KV heads per
    rank, a head replicated when ranks outnumber them; MLA's one latent on every rank, so every rank of an MLA
    group sends the whole latent cache: the decode group's ranks each need all of it)."""
    _, kv_group = resident_memory(a, isl, isl, tp_prefill, 1.0, precision, env, context=isl)
    nbytes = kv_group / tp_prefill  # one rank's share of the group's KV, at context isl
    bw = env.get("scaleout_bandwidth_bytes_per_s", env["link_bandwidth_bytes_per_s"])
    return env["nccl_base_s"] + nbytes / (env["eta_link_nccl"] * bw)


def disagg_tpot_s(a, batch_decode, isl, osl, shape: Shape, precision: str, backend: str, env) -> np.ndarray:
    """Seconds per output token on a decode worker of ``shape = (tp, dp, ep, mtp)`` at ``batch_decode``."""
    return serving_tpot_s(a, batch_decode, isl, osl, *shape, precision, backend, env, mixed=False)


def prefill_time(a, isl, osl, shape: Shape, prefill_batch, precision: str, backend: str, env) -> np.ndarray:
    """Seconds of one prefill-only step of a prefill worker: ``prefill_batch`` prompts of ``isl`` tokens
    per attention-DP group."""
    dp = shape[1]
    return step_time(a, np.zeros_like(np.asarray(isl, dtype=float)), isl, osl, *shape, precision, backend, env,
                     prefill_tokens=prefill_batch * dp * isl, context=isl)


def prefill_wait(concurrency, t_p, per_step, cycle) -> np.ndarray:
    """Seconds a prompt waits for the prefill pool (see the module docstring): ``concurrency`` closed-loop clients
    whose requests take ``cycle`` seconds besides this wait, a pool prefilling ``per_step`` prompts per step of
    ``t_p`` seconds, i.e. ``s = t_p / per_step`` seconds of the pool per prompt. Exact mean-value analysis of
    one queue (demand ``s``) and a delay (the rest of the cycle, ``Z = cycle - s``) for ``n = 1 .. C`` clients:
    ``R(n) = s (1 + Q(n-1))``, ``Q(n) = n R(n) / (R(n) + Z)``; the wait is ``R(C) - s``: 0 for one client,
    ``s^2 / (s + Z)`` for two, tending to the closed-loop bound ``C s - cycle`` past saturation."""
    if all(np.ndim(x) == 0 for x in (concurrency, t_p, per_step, cycle)):
        return np.asarray(_prefill_wait_one(float(concurrency), float(t_p) / float(per_step), float(cycle)))
    c, t_p, k, cycle = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (concurrency, t_p, per_step, cycle)))
    c = np.floor(np.where(np.isfinite(c), c, 1.0))
    demand = t_p / k
    think = cycle - demand
    q = np.zeros_like(demand)
    r = demand.copy()
    for n in range(1, int(np.max(c, initial=1.0)) + 1):
        live = n <= c
        r = np.where(live, demand * (1 + q), r)
        q = np.where(live, n * r / (r + think), q)
    return r - demand


def _prefill_wait_one(c: float, demand: float, cycle: float) -> float:
    """:func:`prefill_wait` for one deployment in Python floats (the same IEEE arithmetic, without NumPy's per-call
    cost: the optimizer checks one candidate at a time)."""
    import math

    c = math.floor(c) if math.isfinite(c) else 1.0
    think, q, r = cycle - demand, 0.0, demand
    for n in range(1, int(max(c, 1.0)) + 1):
        r = demand * (1 + q)
        q = n * r / (r + think)
    return r - demand


@lru_cache(maxsize=1)
def _slot_wait():
    c, b, n, t = sp.symbols("concurrency slots osl tpot", positive=True)
    return compile_expr(K.closed_loop_ttft_wait(c, b, sp.S.Zero, n, t), (c, b, n, t))


def decode_slot_wait(concurrency, slots, osl, tpot) -> np.ndarray:
    """Seconds a transferred request waits for a free slot of a decode pool that holds ``slots`` sequences at
    ``concurrency`` closed-loop clients: ``max(0, C / slots - 1) osl tpot`` (Little's law on the saturated
    pool: :func:`inferonomics.symbolic.kernels.closed_loop_ttft_wait`'s free-slot term, its prompt term at 0)."""
    return _slot_wait()((concurrency, slots, osl, tpot), {})


def disagg_ttft_s(a, concurrency, isl, osl, prefill_shape: Shape, prefill_batch, prefill_workers, tpot, precision: str,
                  backend: str, env, slots=None) -> np.ndarray:
    """Seconds to the first token (see the module docstring); ``tpot`` is the decode pool's, ``slots`` the
    sequences the decode pool holds (default: every client's)."""
    t_p = prefill_time(a, isl, osl, prefill_shape, prefill_batch, precision, backend, env)
    kv = kv_transfer_time(a, isl, precision, prefill_shape[0], env)
    first = t_p + kv + tpot + request_overhead_s(backend, env)  # the first token, unqueued
    slot = 0.0 if slots is None else decode_slot_wait(concurrency, slots, osl, tpot)
    per_step = prefill_workers * prefill_batch * prefill_shape[1]  # prompts the pool prefills per step
    return prefill_wait(concurrency, t_p, per_step, first + slot + osl * tpot) + first + slot
