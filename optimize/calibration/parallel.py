"""Parallel shapes of a serving worker and the traffic between its ranks (NumPy over the SymPy builders).

Conventions (NVIDIA aiconfigurator's, which label the serving rows): a worker has ``tp x dp x pp`` chips;
attention runs on ``dp`` data-parallel groups of ``tp`` tensor-parallel ranks (each group holds ``1/dp`` of
the sequences, their KV cache and a full copy of the attention weights split ``tp`` ways); the routed experts
are split over all ``tp x dp`` chips as ``moe_ep`` expert-parallel groups of ``moe_tp`` ranks
(``moe_tp x moe_ep = tp x dp``); dense FFNs and shared experts run inside each attention group.

Traffic per layer:

* ``dp = 1``: every rank holds every token; the attention output and the FFN (experts split by EP and/or TP
  alike, each rank computing its share of every token) end in one all-reduce each over ``tp`` chips;
* ``dp > 1`` with expert parallelism: tokens are **dispatched** to the EP ranks holding their experts and
  the expert outputs **combined** back: two all-to-alls over ``tp x dp`` chips, each rank sending its
  ``1/tp`` share of its group's tokens once per distinct EP rank its ``k`` experts land on
  (:func:`dispatch_copies`, uniform routing), at the GEMM input precision out and 16 bits back;
* ``dp > 1`` without expert parallelism (``moe_tp = tp x dp``): an all-gather of every token's activation
  before the FFN and a reduce-scatter after it.

A collective that spans more than one scale-up domain (8 NVLink chips on an HGX H100) is hierarchical
(:func:`collective_span`): the part inside a node runs on NVLink, the part between nodes through NCCL over
each chip's own scale-out NIC (the DGX reference platform's 400 Gb/s per GPU), each network hop at NCCL's
own latency figure (:data:`SCALEOUT_HOP_LATENCY_S`).

Expert load is **uniform** (every EP rank gets ``k/ep`` of the token-expert pairs and ``E(1-(1-k/E)^T)/ep``
of the touched experts). Real routers are not uniform: the busiest rank sets the step, so measured MoE steps
at large EP run slower than this model by the routing imbalance (tens of percent for DeepSeek-V3 without its
load balancer, EPLB); see the README's serving section.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sympy import Symbol
from sympy.core.parameters import evaluate

from inferonomics.symbolic import serving as SM
from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.errors import InvalidInputError

from inferonomics.optimize.calibration.serving_model import compile_expr, scaleout

#: scale-out (RDMA NIC) bandwidth per chip, one direction, bytes/s, of each card's reference platform
#: (facts table ``scaleout_bw_Gbps_per_chip``: DGX H100/H200/B200 and GB200 NVL72 carry one 400 Gb/s
#: ConnectX-7 per GPU). Cards not listed have no scale-out figure: their collectives stay in one domain.
SCALEOUT_BYTES_PER_S = {"h100-sxm": 400e9 / 8, "h200-sxm": 400e9 / 8, "b200": 400e9 / 8, "gb200": 400e9 / 8}

#: latency of one network hop of an NCCL ring between nodes (:data:`inferonomics.symbolic.serving.SCALEOUT_HOP_LATENCY_S`)
SCALEOUT_HOP_LATENCY_S = SM.SCALEOUT_HOP_LATENCY_S

_NBYTES, _GPUS, _TOKENS = Symbol("nbytes", positive=True), Symbol("gpus", positive=True), Symbol("tokens", positive=True)


def dispatch_copies(top_k, ep):
    """Expected distinct EP ranks a token's ``top_k`` experts land on under uniform routing:
    ``ep (1 - (1 - 1/ep)^k)`` (1 at ``ep = 1``; at most ``min(k, ep)``)."""
    return SM.dispatch_copies(top_k, np.asarray(ep, dtype=float))


def alltoall_bytes(tokens_local, top_k, ep, d_model, bytes_per_element):
    """Bytes one rank puts into one dispatch (or combine) all-to-all: each of its ``tokens_local`` tokens'
    ``d_model`` activations once per distinct EP rank it is routed to (:func:`dispatch_copies`)."""
    return tokens_local * dispatch_copies(top_k, ep) * d_model * bytes_per_element


def per_rank_batch(batch, dp):
    """Sequences one attention-data-parallel group decodes (the worker's batch split evenly ``dp`` ways)."""
    return np.asarray(batch, dtype=float) / dp


@lru_cache(maxsize=None)
def _span(op: str, out: bool):
    with evaluate(False):
        return compile_expr(SM.collective_span(op, _NBYTES, _GPUS, out), (_NBYTES, _GPUS))


def collective_span(op: str, nbytes, gpus, env) -> np.ndarray:
    """One collective over ``gpus`` chips, hierarchical past one scale-up domain
    (:func:`inferonomics.symbolic.serving.collective_span`)."""
    return _span(op, scaleout(env))((nbytes, gpus), env)


@lru_cache(maxsize=None)
def _exchange(top_k, d_model, b_in, out: bool):
    with evaluate(False):
        expr = SM.moe_exchange(_TOKENS, s.t, top_k, d_model, b_in, out)
    return compile_expr(expr, (_TOKENS, s.t, SM.dp, SM.ep))


def moe_exchange_time(tokens_group, tp, dp, ep, top_k, d_model, b_in, env) -> np.ndarray:
    """Per MoE layer, the traffic that moves tokens to their experts and back when attention is data
    parallel (:func:`inferonomics.symbolic.serving.moe_exchange`); 0 at ``dp = 1``."""
    return _exchange(top_k, d_model, b_in, scaleout(env))((tokens_group, tp, dp, ep), env)


def check_shape(a, tp, dp, ep, mtp, where: str = "parallel shape") -> None:
    """Raise InvalidInputError when a parallel shape cannot hold the model: attention TP not dividing the
    query heads (or KV heads not dividing evenly when fewer ranks than KV heads), EP larger than the expert
    count or not dividing it, or ``moe_tp x moe_ep`` differing from ``tp x dp``."""
    for name, v in (("tp", tp), ("attention_dp", dp), ("moe_ep", ep), ("moe_tp", mtp)):
        if not (v >= 1 and float(v).is_integer()):
            raise InvalidInputError(f"{where} {name}", "a whole number >= 1", v)
    if a.n_heads % tp:
        raise InvalidInputError(f"{where} tp", f"a divisor of the model's {a.n_heads} attention heads", tp)
    if a.n_kv_heads > tp and a.n_kv_heads % tp and a.attention != "MLA":
        raise InvalidInputError(f"{where} tp", f"a divisor of the model's {a.n_kv_heads} KV heads", tp)
    if a.n_experts:
        if ep > a.n_experts or a.n_experts % ep:
            raise InvalidInputError(f"{where} moe_ep", f"a divisor of the model's {a.n_experts} experts", ep)
        if mtp * ep != tp * dp:
            raise InvalidInputError(f"{where} moe_tp x moe_ep", f"tp x attention_dp = {tp * dp:g} chips",
                                    mtp * ep)
