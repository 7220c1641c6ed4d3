"""Predict end-to-end serving TPOT and TTFT rows (NVIDIA aiconfigurator-core 0.12.0 measurement data,
Apache-2.0) from the catalog's model architecture and the calibration, with the symbolic serving model
(:mod:`inferonomics.symbolic.serving`, compiled by :mod:`.serving_model`, whose :func:`serving_tpot_s`,
:func:`step_time` and :func:`resident_batch` this module re-exports; ``validate`` and the optimizer's
:mod:`inferonomics.optimize.serving_step` both call them). At ``B`` concurrent requests a replica of ``t`` chips
decodes only the sequences whose KV cache fits in the fraction ``kv_memory_fraction`` of its HBM after the
weights (the resident batch); the others queue, so TPOT is the step time at that resident batch. Under in-flight
batching (``mode == agg``) every step decodes the resident batch ``B`` and admits ``B/osl`` new requests on
average, so a fraction ``min(1, B/osl)`` of the steps also prefill a whole prompt, of which a backend's share
``prefill_share`` lands inside the decode steps (:func:`inferonomics.symbolic.kernels.serving_step_time`).
Per layer: the weight GEMMs over all step tokens
(sharded over TP), decode attention over the average context ``isl + osl/2`` (split-KV kernels), causal
prefill attention of the prompt tokens, the per-layer fixed cost and two all-reduces; per step: the LM head
and the backend's fixed overhead. MoE layers run as grouped GEMMs over the experts the step's tokens touch
(uniform routing), split by expert parallelism. A worker is ``tp x attention_dp`` chips
(:mod:`.parallel`: per-group batch, all-to-all dispatch/combine, collectives across nodes, KV and
non-expert weights per attention group); MLA (DeepSeek-V3) runs its absorbed projections and reads its
one latent per token. Disaggregated rows (separate prefill/decode pools) are :mod:`.disagg`'s; pipeline
stages pass micro-batches (:func:`.pipeline.pipelined`). Rows of models missing from the catalog get NaN.
"""

from __future__ import annotations

import numpy as np

from inferonomics.symbolic import catalog
from inferonomics.symbolic.errors import UnknownNameError

from inferonomics.optimize.calibration import disagg
from inferonomics.optimize.calibration.parallel import check_shape
from inferonomics.optimize.calibration.pipeline import pipelined as _pipelined
from inferonomics.optimize.calibration.serving_model import (  # noqa: F401 - the serving model's public names
    BACKENDS as _BACKENDS, QUANTIZES_FP8_INPUTS, STEP_PARTS, _precision, checkpoint_precision, decode_attention_layer,
    fp4_compute,
    request_overhead_s, resident_batch, resident_memory, serving_tpot_s, serving_ttft_s, step_time, ttft_step_s)


def architecture(model_path: str):
    """The catalog architecture for a Hugging Face model path (resolved as engines write names, e.g.
    ``nvidia/Llama-3.1-8B-Instruct-FP8``, and including models registered from a measurement folder's
    ``configs/*.json``), or None when neither knows it."""
    try:
        return catalog.resolve_model(model_path).model.architecture
    except UnknownNameError:
        return None


def _col(r: np.ndarray, name: str, default: float) -> np.ndarray:
    v = r[name].astype(float)
    return np.where(np.isfinite(v) & (v > 0), v, default)




def _shape(r: np.ndarray, pool: str, n_experts, implied_dp=None) -> tuple[np.ndarray, ...]:
    """(tp, dp, ep, moe_tp) of each row's pool (``pool`` is "" for aggregated rows, else "prefill_" or
    "decode_"); empty or 0 = the engine default: attention DP 1, EP 1, the experts' TP over the rest.

    ``tp_size`` is the attention TP of each of ``attention_dp_size`` groups (aiconfigurator's convention,
    ``moe_tp x moe_ep = tp x dp``). Where a row leaves ``attention_dp_size`` empty but its concurrency is a
    multiple ``k > 1`` of its per-rank ``batch_size`` (``implied_dp``: TRT-LLM's attention DP over the TP
    ranks, as on NVIDIA's gpt-oss rows), the worker is the ``moe_tp x moe_ep = tp`` chips run as ``k``
    attention-DP groups of ``tp/k``. Where the attention DP is as wide as the TP (``dp == tp > 1``), the DP groups
    are the TP ranks (SGLang's ``--tp t --dp t``, TensorRT-LLM's attention DP): ``tp`` chips, attention TP 1, and an
    EP given over ``tp x dp`` chips spans the ``tp`` (NVIDIA's MiniMax-M2.5 DP-4 rows, recorded as EP 16, are runs
    named ``tp4_ep4`` that repeat its TP-4 EP-4 runs' TPOTs)."""
    tp, dp = _col(r, f"{pool}tp_size", 1.0), _col(r, f"{pool}attention_dp_size", np.nan)
    over_tp = (dp > 1) & (dp == tp)  # a recorded attention DP as wide as the TP: the DP groups are the TP ranks
    if implied_dp is not None:
        k = np.where(np.isfinite(dp), 1.0, implied_dp)
        tp = np.where(k > 1, tp / k, tp)
        dp = np.where(k > 1, k, dp)
    dp = np.where(np.isfinite(dp) & (dp > 0), dp, 1.0)
    ep = _col(r, f"{pool}moe_ep_size", 1.0)
    mtp = _col(r, f"{pool}moe_tp_size", np.nan)
    ep = np.where(over_tp & (ep * np.where(np.isfinite(mtp), mtp, 1.0) == tp * dp), ep / dp, ep)
    tp = np.where(over_tp, 1.0, tp)
    return tp, dp, ep, np.where(np.isfinite(mtp), mtp, tp * dp / ep)


#: clients per decode slot in NVIDIA's TRT-LLM disaggregated sweep: its concurrency is ``ceil(1.2 b)`` of the
#: decode pool's max batch ``b`` (the unlabelled DeepSeek-R1 rows' 77, 154, 308, 615, 1229, 4916 are ceil(1.2 x 2^k),
#: k = 6..12; cfg494/503's clients per decode worker 2, 3, 10, 20, 77 are ceil(1.2 x {1, 2, 8, 16, 64}))
TRTLLM_SWEEP_CLIENTS_PER_SLOT = 1.2


def _trtllm_sweep(r: np.ndarray) -> np.ndarray:
    """The rows of NVIDIA's TRT-LLM disaggregated sweep (concurrency per :data:`TRTLLM_SWEEP_CLIENTS_PER_SLOT`)."""
    return (r["mode"] == "disagg") & (r["backend"] == "trtllm")


def decode_max_batch(r: np.ndarray, clients_per_worker, batch) -> np.ndarray:
    """Sequences a decode worker of each disaggregated row runs at most (``batch`` elsewhere): the rows carry
    the benchmark's clients, not the engine's max batch. NVIDIA's TRT-LLM disaggregated runs offer each decode
    worker ``ceil(1.2 b)`` clients for a max batch ``b`` (:data:`TRTLLM_SWEEP_CLIENTS_PER_SLOT`, read off the
    concurrency column), so ``b = floor(C_w / 1.2)``; the surplus clients wait for a slot
    (:func:`.disagg.decode_slot_wait`). The other engines' runs ran every client (SGLang's DeepSeek-R1 TTFTs at
    2 clients show no wait for a slot)."""
    trt = _trtllm_sweep(r)
    b = np.maximum(1.0, np.floor(clients_per_worker / TRTLLM_SWEEP_CLIENTS_PER_SLOT + 1e-9))
    return np.where(trt, np.minimum(batch, b), batch)


#: the max batches of NVIDIA's TRT-LLM disaggregated sweep: powers of two (cfg494/503's 1, 2, 8, 16, 64; the
#: unlabelled runs' single-worker concurrencies 77 ... 4916 are ceil(1.2 x 2^k))
SWEEP_MAX_BATCH_LOG2 = 16


def sweep_decode_workers(r: np.ndarray, concurrency) -> np.ndarray:
    """Decode workers of each disaggregated row: the ``decode_num_workers`` column where given, else (TRT-LLM's
    sweep, whose rows leave the pools unlabelled) the fewest workers ``n`` that put each on the sweep's grid,
    ``C = n ceil(1.2 b)`` with ``b`` a power of two (derived from the concurrency column: C = 9, 30, 60, 117, 231,
    462, 924, 1845 are 3 workers, as the labelled cfg494 runs of the same sweep; 77, 154, 308, 615, 1229, 4916 one;
    C = 6 is 2 x 2 or 3 x 1, the labelled cfg494 run 3 x 1; 154 is 1 x 128 or 2 x 64, cfg503 2 x 64). One worker
    where no decomposition exists (and for the other engines, whose runs ran every client)."""
    given = _col(r, "decode_num_workers", np.nan)
    grid = np.ceil(TRTLLM_SWEEP_CLIENTS_PER_SLOT * 2.0 ** np.arange(SWEEP_MAX_BATCH_LOG2 + 1) - 1e-9)
    c = np.asarray(concurrency, dtype=float)
    n = np.arange(1, 65, dtype=float)[:, None]
    per = c[None, :] / n  # clients per worker for n = 1 .. 64 workers
    fits = np.isclose(per[..., None], grid).any(axis=-1)
    fewest = np.where(fits.any(axis=0), n[np.argmax(fits, axis=0), 0], 1.0)
    sweep = _trtllm_sweep(r) & np.isfinite(c)
    return np.where(np.isfinite(given), given, np.where(sweep, fewest, 1.0))


def _check_rows(a, r, shapes, mask) -> None:
    seen = set()
    for i in np.flatnonzero(mask):
        for pool, (tp, dp, ep, mtp) in shapes.items():
            key = (pool, tp[i], dp[i], ep[i], mtp[i])
            if key not in seen:
                seen.add(key)
                check_shape(a, tp[i], dp[i], ep[i], mtp[i], f"serving row line {int(r['line'][i])} {pool}".strip())


def _pools(r: np.ndarray):
    """(disaggregated?, agg shape, decode shape, prefill shape, concurrency, decode workers, batch, decode max
    batch) of each row: a worker decodes batch_size sequences per attention-DP group; a disaggregated row's
    concurrency C spreads over n_d decode workers."""
    dis = r["mode"] == "disagg"
    per_rank = r["silicon_concurrency"] / r["batch_size"]  # sequences per attention-DP rank (agg rows)
    implied = np.where(np.isfinite(per_rank) & (per_rank > 1), np.round(per_rank), 1.0)
    agg = _shape(r, "", None, implied)
    dec, pre = _shape(r, "decode_", None), _shape(r, "prefill_", None)
    conc = np.where(np.isfinite(r["silicon_concurrency"]), r["silicon_concurrency"], r["batch_size"] * agg[1])
    nd = sweep_decode_workers(r, conc)
    conc = np.where(dis & ~np.isfinite(conc), r["decode_batch_size"] * dec[1] * nd, conc)
    batch = np.where(dis, r["decode_batch_size"] * dec[1], r["batch_size"] * agg[1])
    batch = np.where(~np.isfinite(batch), conc / np.where(dis, nd, 1.0), batch)
    return dis, agg, dec, pre, conc, nd, batch, decode_max_batch(r, conc / nd, batch)


def decode_worker(r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(attention TP, attention-DP groups, sequences decoded) of each row's decoding worker, as the predictions read
    them: the aggregated replica, or one decode worker of a disaggregated row (at most its max batch)."""
    dis, agg, dec, _, _, _, batch, cap = _pools(r)
    return (np.where(dis, dec[0], agg[0]), np.where(dis, dec[1], agg[1]),
            np.where(dis, np.minimum(batch, cap), batch))


def _serving(r: np.ndarray, env, ttft: bool) -> np.ndarray:
    """Predictions for aggregated and disaggregated rows (:mod:`.disagg`); pipeline parallelism splits the
    layers over ``pp`` stages that pass ``pp`` micro-batches of ``B/pp`` along: a token's step is the
    whole stack at ``B/pp`` (:func:`_pipelined`)."""
    out = np.full(len(r), np.nan)
    dis, agg, dec, pre, conc, nd, batch, cap = _pools(r)
    keys = np.char.add(np.char.add(r["model_path"].astype(str), "|"),
                       np.char.add(np.char.add(r["precision"].astype(str), "|"), r["backend"].astype(str)))
    ok = np.isin(r["mode"], ("agg", "disagg")) & np.isfinite(batch)
    for key in np.unique(keys[ok]):
        model_path, prec, backend = str(key).split("|")
        a = architecture(model_path)
        if a is None or backend not in _BACKENDS:
            continue
        prec = checkpoint_precision(catalog.resolve_model(model_path).model, prec)
        sel = ok & (keys == key)
        _check_rows(a, r, {"": agg}, sel & ~dis)
        _check_rows(a, r, {"decode": dec, "prefill": pre}, sel & dis)
        shape = tuple(np.where(dis, d, g)[sel] for d, g in zip(dec, agg))
        pp = np.where(dis, _col(r, "decode_pp_size", 1.0), _col(r, "pp_size", 1.0))[sel]
        isl, osl, b = r["isl"][sel], r["osl"][sel], batch[sel]
        tpot_agg = _pipelined(serving_tpot_s, a, b, isl, osl, shape, pp, prec, backend, env, mixed=True)
        b_dis = np.minimum(b, cap[sel])  # a decode worker runs at most its max batch
        tpot_dis = _pipelined(serving_tpot_s, a, b_dis, isl, osl, shape, pp, prec, backend, env, mixed=False)
        d = dis[sel]
        tpot = np.where(d, tpot_dis, tpot_agg)
        if not ttft:
            out[sel] = tpot
            continue
        ttft_agg = _pipelined(serving_ttft_s, a, b, isl, osl, shape, pp, prec, backend, env)
        pshape = tuple(x[sel] for x in pre)
        ttft_dis = disagg.disagg_ttft_s(a, conc[sel], isl, osl, pshape, _col(r, "prefill_batch_size", 1.0)[sel],
                                        _col(r, "prefill_num_workers", 1.0)[sel], tpot_dis, prec, backend, env,
                                        slots=nd[sel] * resident_batch(a, b_dis, isl, osl, shape[0], shape[1], prec,
                                                                       env))
        out[sel] = np.where(d, ttft_dis, ttft_agg)
    return out


def parallel_rows(r: np.ndarray) -> np.ndarray:
    """Rows whose serving worker (the decode pool of a disaggregated row) runs attention data parallelism
    (given, or implied by a concurrency that is a multiple of the per-rank batch) or expert parallelism."""
    dis, (_, dp_a, ep_a, _), (_, dp_d, ep_d, _), *_ = _pools(r)  # the shapes the predictions read
    return np.where(dis, (dp_d > 1) | (ep_d > 1), (dp_a > 1) | (ep_a > 1))


def serving_tpot(r: np.ndarray, env) -> np.ndarray:
    return _serving(r, env, ttft=False)


def serving_ttft(r: np.ndarray, env) -> np.ndarray:
    return _serving(r, env, ttft=True)
