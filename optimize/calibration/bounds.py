"""A physical floor under a serving row's time per output token, independent of every fitted parameter: the bytes
a decode step cannot avoid reading, over the card's datasheet HBM bandwidth.

Every step of a worker decoding ``B`` sequences streams, on each chip, (a) its share of the weights every token
reads (all but the routed experts: attention, dense and shared-expert FFNs, norms, embeddings; sharded over the
attention TP, one copy per attention-DP group) at the row's stated weight precision, and (b) the KV cache of its
group's sequences at the mean context ``isl + osl/2`` (:func:`.serving_model.resident_memory`'s per-rank bytes)
at one byte per element, FP8, the smallest KV format the engines run on these cards, however the row's
precision is labelled; at most the cache a chip can hold (the fraction ``kv_memory_fraction`` of its HBM after
its stored weights). Nothing else enters (no routed expert, no arithmetic, no collective, no launch), and at the
datasheet rate no kernel reaches. A TPOT below this floor cannot be a decode step of ``B`` sequences: the run
held fewer than its row records.
"""

from __future__ import annotations

import numpy as np

from inferonomics.symbolic import catalog
from inferonomics.symbolic.architecture import dense_params

from inferonomics.optimize.calibration.parameters import FIXED
from inferonomics.optimize.calibration.serving import architecture, decode_worker
from inferonomics.optimize.calibration.serving_model import _precision, resident_memory


def decode_floor_s(r: np.ndarray, hardware: str) -> np.ndarray:
    """Seconds per output token below which no decode step of each row's recorded batch runs (see the module
    docstring); NaN for rows of models missing from the catalog."""
    card = catalog.hardware(hardware)
    env = {"hbm_capacity_bytes": card.hbm_capacity_bytes, "fp4_tensor_cores": 0.0}
    tp, dp, seqs = decode_worker(r)
    out = np.full(len(r), np.nan)
    for i in range(len(r)):
        a = architecture(str(r["model_path"][i]))
        if a is None or not np.isfinite(seqs[i]):
            continue
        isl, osl, t, g = float(r["isl"][i]), float(r["osl"][i]), float(tp[i]), float(dp[i])
        b_w = _precision(str(r["precision"][i]), env)[2]
        stored, _ = resident_memory(a, isl, osl, t, g, str(r["precision"][i]), env)
        _, kv_seq = resident_memory(a, isl, osl, t, g, "fp8", env)  # one sequence's KV on its group, 1 B/element
        room = max(FIXED["kv_memory_fraction"] * card.hbm_capacity_bytes - float(stored) / (t * g), 0.0)
        kv_chip = min(seqs[i] / g * float(kv_seq) / t, room)
        out[i] = (dense_params(a) * b_w / t + kv_chip) / card.hbm_bandwidth_bytes_per_s
    return out
