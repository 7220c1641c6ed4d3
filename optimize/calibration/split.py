"""Which measured rows the calibration may use, and which it holds out for an honest test.

Filters (rows the model is not meant to predict), each a documented rule:

* collectives measured in *eager* mode (``kernel_source`` ending ``_eager``) time Python launch, not the
  link: serving runs collectives under CUDA graphs;
* decode-attention rows with 48 or more query heads per KV head (MQA/MLA-style kernels with one KV head,
  which run compute-bound in a different kernel the model does not describe);
* serving rows of models missing from the catalog are NaN-predicted and dropped;
* TPOT rows that are physically inconsistent: more than 20% faster than the same configuration at a
  smaller concurrency (a step with more sequences cannot be faster; e.g. gpt-oss-120b on vLLM at
  concurrency 512 reports a third of its concurrency-64 TPOT, so those runs did not hold 512 sequences);
* TPOT rows faster than a decode step of their recorded batch can physically run: below the bytes every such step
  must stream (the non-routed weights and the batch's KV at one byte per element) at the card's datasheet HBM
  bandwidth (:func:`.bounds.decode_floor_s`, no fitted parameter). Only vLLM's Qwen3-32B disaggregated run of
  NVIDIA's H100 gap analysis falls there: 8.7 ms per token for 224 sequences of 4,500 tokens per 4-GPU decode
  worker, whose floor is 12.3 ms (8.2 GB of weights and 33 GB of FP8 KV per chip at 3.35 TB/s); its rows record
  the decode worker's max batch, not the clients the benchmark ran;
* TTFT rows dominated by queueing: measured TTFT more than 3x the smallest TTFT of the same configuration
  (model, backend, precision, TP/DP/EP, isl, osl) at any concurrency.

Held-out (test) rows, by shape or by model, never by row:

* our GEMMs: the ``o_proj_70b`` shape; NVIDIA's GEMMs: n in {2560, 7168, 12288};
* layer decode: context 2048; layer prefill: seq 512; MoE: batch in {4, 64, 512}; mixed: prefill 256, 1024;
* collectives: 4 GPUs; decode attention: batch in {4, 64, 1024};
* serving (TPOT and TTFT): every model except Llama-3.1-8B, Llama-3.1-70B and Qwen3-32B on SGLang (the
  only SGLang rows, needed to fit SGLang's step overhead); and every disaggregated row: the fit sees
  aggregated runs only, and the disaggregated pools are predicted from what it fitted there.
"""

from __future__ import annotations

import numpy as np

from inferonomics.optimize.calibration.bounds import decode_floor_s
from inferonomics.optimize.calibration.readers import Table

FIT_SERVING = ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-70B")
TTFT_QUEUE_FACTOR = 3.0
MQA_GROUP_LIMIT = 48


def usable(table: Table, predicted: np.ndarray) -> np.ndarray:
    """Rows the model is meant to predict (see the module docstring)."""
    r = table.rows
    ok = np.isfinite(predicted) & (predicted > 0)
    if table.kind == "collectives":
        ok &= ~np.char.endswith(r["kernel_source"].astype(str), "_eager")
    if table.kind == "decode_attention":
        ok &= r["num_heads"] < MQA_GROUP_LIMIT * r["num_key_value_heads"]
    if table.kind == "serving_ttft":
        ok &= ~_queue_dominated(r)
    if table.kind == "serving_tpot":
        ok &= ~_faster_at_higher_concurrency(r)
        with np.errstate(invalid="ignore"):
            ok &= ~(r["latency_s"] < decode_floor_s(r, table.hardware))
    return ok


_CONFIG_FIELDS = ("model_path", "backend", "precision", "mode", "tp_size", "attention_dp_size", "moe_ep_size",
                  "moe_tp_size", "isl", "osl")
MONOTONE_TOLERANCE = 0.8


def _config_keys(r: np.ndarray) -> np.ndarray:
    return np.array(["|".join(str(r[f][i]) for f in _CONFIG_FIELDS) for i in range(len(r))])


def _faster_at_higher_concurrency(r: np.ndarray) -> np.ndarray:
    keys = _config_keys(r)
    out = np.zeros(len(r), dtype=bool)
    for key in np.unique(keys):
        idx = np.flatnonzero(keys == key)
        for i in idx:
            lower = idx[r["batch_size"][idx] < r["batch_size"][i]]
            if lower.size and r["latency_s"][i] < MONOTONE_TOLERANCE * r["latency_s"][lower].max():
                out[i] = True
    return out


def _queue_dominated(r: np.ndarray) -> np.ndarray:
    keys = _config_keys(r)
    out = np.zeros(len(r), dtype=bool)
    for key in np.unique(keys):
        sel = keys == key
        out[sel] = r["latency_s"][sel] > TTFT_QUEUE_FACTOR * r["latency_s"][sel].min()
    return out


def held_out(table: Table) -> np.ndarray:
    """True for the rows of the test set (see the module docstring)."""
    r, kind = table.rows, table.kind
    if kind == "gemm":
        if table.source == "ours":
            return r["shape"] == "o_proj_70b"
        return np.isin(r["n"], (2560, 7168, 12288))
    if kind == "layer_decode":
        return r["context"] == 2048
    if kind == "layer_prefill":
        return r["seq"] == 512
    if kind == "moe_decode":
        return np.isin(r["batch"], (4, 64, 512))
    if kind == "mixed_step":
        return np.isin(r["prefill_tokens"], (256, 1024))
    if kind == "collectives":
        return r["num_gpus"] == 4
    if kind == "decode_attention":
        return np.isin(r["batch_size"], (4, 64, 1024))
    if kind in ("serving_tpot", "serving_ttft"):
        fit = np.isin(r["model_path"], FIT_SERVING) | (r["backend"] == "sglang")
        return ~fit | (r["mode"] == "disagg")
    return np.zeros(len(r), dtype=bool)


#: decode GEMMs: at most this many tokens (the regime the decode-GEMM targets are stated on, and the fit's
#: heavier-weighted one)
DECODE_GEMM_MAX_M = 256


def decode_gemm_rows(table: Table) -> np.ndarray:
    """True for the rows of a GEMM table with at most :data:`DECODE_GEMM_MAX_M` tokens (ours: the batch)."""
    m = table.rows["batch"] if table.source == "ours" else table.rows["m"]
    return m <= DECODE_GEMM_MAX_M


def is_moe_model(model_path: str) -> bool:
    from inferonomics.optimize.calibration.serving import architecture  # noqa: PLC0415
    a = architecture(model_path)
    return bool(a is not None and a.n_experts)
