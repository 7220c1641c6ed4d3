"""Disaggregated serving (``mode = disagg``): separate prefill and decode pools, as NVIDIA's Dynamo runs
label them (``prefill_*`` and ``decode_*`` pool shapes and worker counts; NVIDIA aiconfigurator-core 0.12.0
measurement data, Apache-2.0).

* **TPOT** is a decode-only step of one decode worker at its batch (no prompt work ever enters it):
  :func:`.serving_model.serving_tpot_s` with ``mixed=False``, the resident-batch cap included.
* **TTFT** = queue + prefill + KV transfer + the engine's request overhead. The prefill is one step of a
  prefill worker carrying ``prefill_batch_size`` prompts per attention-DP group (context ``isl``, no decode
  batch). The KV transfer moves the request's cache (:func:`kv_transfer_time`) from the prefill to the
  decode worker over the chips' scale-out NICs (separate nodes). The queue is the closed-loop bound: ``C``
  clients each cycle through prefill, transfer and ``osl`` decode steps; when the prefill pool's throughput
  ``mu_p = n_p b_p dp_p / t_p`` cannot keep up with ``C / cycle``, the cycle stretches to ``C / mu_p``
  and the difference is spent waiting for a prefill slot.

Missing pool fields take the engine defaults: one worker, a prefill batch of one request per group, a
decode batch of ``C / n_d``; a concurrency that is missing is ``n_d x decode_batch_size``.
"""

from __future__ import annotations

import numpy as np

from inferonomics.symbolic.architecture import kv_elements_per_token

from inferonomics.optimize.calibration.serving_model import (_precision, request_overhead_s, serving_tpot_s,
                                                             step_time)

#: a worker's parallel shape (tp, dp, ep, mtp), as in :mod:`.parallel`
Shape = tuple[int, int, int, int]


def kv_transfer_time(a, isl, precision: str, tp_prefill, env) -> np.ndarray:
    """Seconds to move one request's KV cache of ``isl`` tokens (every layer, unreplicated, at the row's KV
    precision) from its prefill group's ``tp`` ranks, each over its own NIC (NCCL-class transport: the
    fitted NCCL fixed time and bandwidth fraction); over the scale-up link where no NIC figure is known."""
    _, _, _, b_kv = _precision(precision, env)
    nbytes = float(kv_elements_per_token(a)) * isl * b_kv
    bw = env.get("scaleout_bandwidth_bytes_per_s", env["link_bandwidth_bytes_per_s"])
    return env["nccl_base_s"] + nbytes / (tp_prefill * env["eta_link_nccl"] * bw)


def disagg_tpot_s(a, batch_decode, isl, osl, shape: Shape, precision: str, backend: str, env) -> np.ndarray:
    """Seconds per output token on a decode worker of ``shape = (tp, dp, ep, mtp)`` at ``batch_decode``."""
    return serving_tpot_s(a, batch_decode, isl, osl, *shape, precision, backend, env, mixed=False)


def prefill_time(a, isl, osl, shape: Shape, prefill_batch, precision: str, backend: str, env) -> np.ndarray:
    """Seconds of one prefill-only step of a prefill worker: ``prefill_batch`` prompts of ``isl`` tokens
    per attention-DP group."""
    dp = shape[1]
    return step_time(a, np.zeros_like(np.asarray(isl, dtype=float)), isl, osl, *shape, precision, backend, env,
                     prefill_tokens=prefill_batch * dp * isl, context=isl)


def disagg_ttft_s(a, concurrency, isl, osl, prefill_shape: Shape, prefill_batch, prefill_workers, tpot, precision: str,
                  backend: str, env) -> np.ndarray:
    """Seconds to the first token (see the module docstring); ``tpot`` is the decode pool's."""
    t_p = prefill_time(a, isl, osl, prefill_shape, prefill_batch, precision, backend, env)
    kv = kv_transfer_time(a, isl, precision, prefill_shape[0], env)
    rate = prefill_workers * prefill_batch * prefill_shape[1] / t_p  # requests per second the pool prefills
    queue = np.maximum(0.0, concurrency / rate - (t_p + kv + osl * tpot))
    return queue + t_p + kv + request_overhead_s(backend, env)
