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

import numpy as np

#: scale-out (RDMA NIC) bandwidth per chip, one direction, bytes/s, of each card's reference platform
#: (facts table ``scaleout_bw_Gbps_per_chip``: DGX H100/H200/B200 and GB200 NVL72 carry one 400 Gb/s
#: ConnectX-7 per GPU). Cards not listed have no scale-out figure: their collectives stay in one domain.
SCALEOUT_BYTES_PER_S = {"h100-sxm": 400e9 / 8, "h200-sxm": 400e9 / 8, "b200": 400e9 / 8, "gb200": 400e9 / 8}


#: latency of one network hop of an NCCL ring (InfiniBand/RoCE between nodes), seconds: NCCL's own tuning
#: model (src/graph/tuning.cc, ``hwLat[NCCL_HW_NET]``, Ring/LL: 2.7 us, against 0.6 us for an NVLink hop,
#: where our fitted ``link_latency_s`` is 0.48 us). Used for the hops of a collective between nodes.
SCALEOUT_HOP_LATENCY_S = 2.7e-6


def dispatch_copies(top_k, ep):
    """Expected distinct EP ranks a token's ``top_k`` experts land on under uniform routing:
    ``ep (1 - (1 - 1/ep)^k)`` (1 at ``ep = 1``; at most ``min(k, ep)``)."""
    ep = np.asarray(ep, dtype=float)
    return ep * (1 - (1 - 1 / ep) ** top_k)


def alltoall_bytes(tokens_local, top_k, ep, d_model, bytes_per_element):
    """Bytes one rank puts into one dispatch (or combine) all-to-all: each of its ``tokens_local`` tokens'
    ``d_model`` activations once per distinct EP rank it is routed to (:func:`dispatch_copies`)."""
    return tokens_local * dispatch_copies(top_k, ep) * d_model * bytes_per_element


def per_rank_batch(batch, dp):
    """Sequences one attention-data-parallel group decodes (the worker's batch split evenly ``dp`` ways)."""
    return np.asarray(batch, dtype=float) / dp


def collective_span(op: str, nbytes, gpus, env) -> np.ndarray:
    """One collective over ``gpus`` chips, hierarchical past one scale-up domain of ``D`` chips
    (``scaleup_domain_size``): the intra-node collective over ``min(gpus, D)`` chips, plus, across the
    ``N = gpus/D`` nodes, an NCCL collective over the scale-out NICs (``scaleout_bandwidth_bytes_per_s``
    replaces the link bandwidth, :data:`SCALEOUT_HOP_LATENCY_S` the hop latency). Each chip drives its own
    NIC (NCCL runs one ring per NIC), so an all-reduce/all-gather/reduce-scatter moves its ``1/D`` shard
    between nodes, an all-to-all the ``(N-1)/N`` of its message bound for other nodes."""
    from inferonomics.optimize.calibration.predict import collective  # noqa: PLC0415

    gpus = np.asarray(gpus, dtype=float)
    domain = env.get("scaleup_domain_size", np.inf)
    out_bw = env.get("scaleout_bandwidth_bytes_per_s", np.nan)
    inside = np.minimum(gpus, domain)
    t = np.where(inside > 1, collective(op, nbytes, np.maximum(inside, 2), env), 0.0)
    nodes = gpus / inside
    if not np.isfinite(out_bw) or not np.any(nodes > 1):
        return t
    shard = nbytes if op == "alltoall" else nbytes / inside
    nic = {**env, "link_bandwidth_bytes_per_s": out_bw, "link_latency_s": SCALEOUT_HOP_LATENCY_S}
    across = collective(op, shard, np.maximum(nodes, 2), nic, nccl=True)
    return t + np.where(nodes > 1, across, 0.0)


def moe_exchange_time(tokens_group, tp, dp, ep, top_k, d_model, b_in, env) -> np.ndarray:
    """Per MoE layer, the traffic that moves tokens to their experts and back when attention is data
    parallel (``dp > 1``); 0 at ``dp = 1`` (the FFN all-reduce of :func:`layer_comm_time` covers it).
    ``tokens_group``: tokens of one attention group."""
    chips = tp * dp
    local = tokens_group / tp  # the group's tokens, split among its TP ranks for the exchange
    a2a = (collective_span("alltoall", alltoall_bytes(local, top_k, ep, d_model, b_in), chips, env)
           + collective_span("alltoall", alltoall_bytes(local, top_k, ep, d_model, 2.0), chips, env))
    every = tokens_group * dp  # all-gather every token, reduce-scatter the outputs (experts split by TP only)
    agrs = (collective_span("all_gather", every * d_model * b_in, chips, env)
            + collective_span("reduce_scatter", every * d_model * 2.0, chips, env))
    return np.where(dp > 1, np.where(ep > 1, a2a, agrs), 0.0)


def layer_comm_time(tokens_group, tp, dp, ep, moe: bool, top_k, d_model, b_in, env) -> np.ndarray:
    """Collectives of one layer: the attention output's all-reduce over ``tp``; then for the FFN either
    the same all-reduce (``dp = 1``) or the exchange of :func:`moe_exchange_time` (``dp > 1``; a dense FFN
    inside an attention group keeps its all-reduce over ``tp``)."""
    ar = np.where(tp > 1, collective_span("all_reduce", tokens_group * d_model * 2.0, np.maximum(tp, 2), env), 0.0)
    if not moe:
        return 2 * ar
    return ar + np.where(dp > 1, moe_exchange_time(tokens_group, tp, dp, ep, top_k, d_model, b_in, env), ar)


def check_shape(a, tp, dp, ep, mtp, where: str = "parallel shape") -> None:
    """Raise InvalidInputError when a parallel shape cannot hold the model: attention TP not dividing the
    query heads (or KV heads not dividing evenly when fewer ranks than KV heads), EP larger than the expert
    count or not dividing it, or ``moe_tp x moe_ep`` differing from ``tp x dp``."""
    from inferonomics.symbolic.errors import InvalidInputError  # noqa: PLC0415

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
