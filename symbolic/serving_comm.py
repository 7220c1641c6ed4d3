"""The collectives of the serving step (:mod:`.serving`): the worker's shape symbols they depend on (attention DP,
expert parallelism, the scale-up domain and the scale-out NIC) and the per-layer communication of a parallel
shape, hierarchical past one scale-up domain."""

from __future__ import annotations

from sympy import Expr, Float, Max, Min, Piecewise, S, Symbol

from . import kernels as K
from . import symbols as s

dp = Symbol("attention_dp", positive=True)
ep = Symbol("moe_ep", positive=True)
domain = Symbol("scaleup_domain_size", positive=True)
scaleout_bw = Symbol("scaleout_bandwidth_bytes_per_s", positive=True)

#: latency of one network hop of an NCCL ring between nodes, seconds: NCCL's own tuning model
#: (src/graph/tuning.cc, ``hwLat[NCCL_HW_NET]``, Ring/LL: 2.7 us, against 0.6 us for an NVLink hop)
SCALEOUT_HOP_LATENCY_S = 2.7e-6

_ARGS = tuple(Symbol(f"kernel_arg{i}", positive=True) for i in range(8))


def kernel_expr(builder, *args, replace=None, **kw) -> Expr:
    """``builder(*args, **kw)`` with the symbols of ``replace`` replaced: built over placeholder arguments and
    then substituted, so that neither the replacement nor SymPy's evaluation walks the (large) arguments."""
    ph = _ARGS[:len(args)]
    return builder(*ph, **kw).xreplace({**(replace or {}), **dict(zip(ph, args))})


def collective_span(op: str, nbytes, gpus, scaleout: bool) -> Expr:
    """One collective over ``gpus`` chips, hierarchical past one scale-up domain of ``D`` chips: inside a node
    over ``min(gpus, D)`` chips; with ``scaleout`` (the card has a NIC figure) across the ``gpus/D`` nodes an NCCL
    collective over each chip's own NIC, moving its ``1/D`` shard (an all-to-all: its whole message)."""
    inside = Min(gpus, domain)
    t = Piecewise((kernel_expr(K.collective_time, nbytes, Max(inside, 2), op=op), inside > 1), (S.Zero, True))
    if not scaleout:
        return t
    nodes = gpus / inside
    shard = nbytes if op == "alltoall" else nbytes / inside
    across = kernel_expr(K.collective_time, shard, Max(nodes, 2), op=op, nccl=True,
                     replace={s.beta: scaleout_bw, s.alpha: Float(SCALEOUT_HOP_LATENCY_S)})
    return t + Piecewise((across, nodes > 1), (S.Zero, True))


def dispatch_copies(top_k, ep_ranks):
    """Expected distinct EP ranks a token's ``top_k`` experts land on (uniform routing): ``ep (1-(1-1/ep)^k)``."""
    return ep_ranks * (1 - (1 - 1 / ep_ranks) ** top_k)


def moe_exchange(tokens_group, tp, top_k, d_model, b_in, scaleout: bool) -> Expr:
    """Per MoE layer with attention DP (``dp > 1``; 0 otherwise), moving tokens to their experts and back: with
    ``ep > 1`` two all-to-alls (each rank's ``1/tp`` share of its group's tokens once per distinct EP rank, at the
    GEMM input precision out and 16 bits back), else an all-gather of every token and a reduce-scatter."""
    chips = tp * dp
    local = tokens_group / tp
    copies = dispatch_copies(top_k, ep)
    a2a = (collective_span("alltoall", local * copies * d_model * b_in, chips, scaleout)
           + collective_span("alltoall", local * copies * d_model * 2, chips, scaleout))
    every = tokens_group * dp
    agrs = (collective_span("all_gather", every * d_model * b_in, chips, scaleout)
            + collective_span("reduce_scatter", every * d_model * 2, chips, scaleout))
    return Piecewise((Piecewise((a2a, ep > 1), (agrs, True)), dp > 1), (S.Zero, True))


def layer_comm(a, tokens_group, tp, b_in, scaleout: bool) -> Expr:
    """Collectives of one layer: the attention output's all-reduce over ``tp``; then the FFN's all-reduce
    (``dp = 1``, or a dense FFN) or, for an MoE with attention DP, :func:`moe_exchange`."""
    d = a.d_model
    ar = Piecewise((collective_span("all_reduce", tokens_group * d * 2, Max(tp, 2), scaleout), tp > 1), (S.Zero, True))
    if not a.n_experts:
        return 2 * ar
    return ar + Piecewise((moe_exchange(tokens_group, tp, a.experts_per_token, d, b_in, scaleout), dp > 1),
                          (ar, True))
