"""Builders of one decode step: FLOPs, bytes, and the times they take (pure functions returning SymPy).

Conventions. A replica is ``t`` chips in tensor parallelism; each chip does 1/t of the FLOPs and reads
1/t of the weights, and 1/min(t, h_kv) of the KV cache: beyond t = h_kv KV heads, heads are replicated and
every chip reads whole heads (:func:`kv_chips`). Rates are per chip. Efficiencies (``eta_*``) scale the datasheet
rates; the ideal model sets them to 1 and the overheads to 0 (see :func:`ideal`).
"""

from __future__ import annotations

from sympy import Expr, Integer, Max, Min, S

from . import symbols as s
from .errors import UnknownNameError

#: how compute and memory time overlap within one step
POLICIES = ("step", "per-op")


def prefill_tokens_per_step(batch: Expr = s.B) -> Expr:
    r"""Prompt tokens processed in an average step under continuous batching, :math:`B\,n_{in}/n_{out}`.

    Every request brings ``prompt_len`` tokens and leaves after ``output_len`` steps, so in steady
    state each step admits ``batch/output_len`` new requests' prompts.
    """
    return batch * s.isl / s.osl


def matmul_flops(batch: Expr = s.B, prefill: Expr = S.Zero) -> Expr:
    """FLOPs of the weight matmuls in one step: 2 per active parameter per token (multiply + add)."""
    return 2 * s.Na * (batch + prefill)


def attention_flops(batch: Expr = s.B, context: Expr = s.ctx, prefill: Expr = S.Zero) -> Expr:
    r"""FLOPs of attention over the KV cache: :math:`4 L d_{attn} c` per decoded token (QK^T and AV).

    A prefill token attends on average to half its prompt (causal mask), hence :math:`2 L d_{attn} n_{in}`.
    """
    return 4 * s.L * s.d_attn * batch * context + 2 * s.L * s.d_attn * prefill * s.isl


def weight_bytes() -> Expr:
    """Bytes of weights read in one step by a dense model: every weight once, shared by the batch."""
    return s.N * s.b_w


def kv_read_bytes(batch: Expr = s.B, context: Expr = s.ctx) -> Expr:
    """Bytes of KV cache read in one step: each sequence reads its own cache."""
    return batch * context * s.kv


def kv_chips() -> Expr:
    r"""Chips among which the KV cache is split, :math:`\min(t, h_{kv})`: a head is never split, so past
    t = h_kv each head is replicated and a chip reads :math:`B c k / h_{kv}` (= :math:`B c k \max(1, t/h_{kv})/t`).
    With the head count unknown (h_kv = +inf) this is t."""
    return Min(s.t, s.h_kv)


def t_kv(nbytes: Expr, efficiency: Expr = s.eta_kv) -> Expr:
    """Time to stream ``nbytes`` of KV cache from HBM: split over :func:`kv_chips`, not over ``t``."""
    return nbytes / (kv_chips() * efficiency * s.W)


def t_compute(flops: Expr) -> Expr:
    """Time to do ``flops`` on ``t`` chips at the achieved fraction ``eta_flop`` of peak."""
    return flops / (s.t * s.eta_F * s.F)


def t_memory(nbytes: Expr, efficiency: Expr = s.eta_W) -> Expr:
    """Time to stream ``nbytes`` from HBM on ``t`` chips at the achieved fraction of bandwidth."""
    return nbytes / (s.t * efficiency * s.W)


def allreduce_time(message_bytes: Expr) -> Expr:
    r"""One ring all-reduce over ``t`` chips: :math:`2(t-1)\alpha + 2\frac{t-1}{t}\frac{size}{\beta}`.

    A ring all-reduce is a reduce-scatter then an all-gather: 2(t-1) hops, each paying the hop latency
    and moving 1/t of the message. At t = 1 it costs nothing.
    """
    return 2 * (s.t - 1) * s.alpha + 2 * (s.t - 1) / s.t * message_bytes / s.beta


def t_comm(tokens: Expr = s.B) -> Expr:
    """Tensor-parallel communication per step: ``n_ar`` all-reduces per layer of the activations of every
    token in the step (under continuous batching that is the decoded AND the prompt tokens)."""
    return s.L * s.n_ar * allreduce_time(tokens * s.d * s.b_a)


def t_overhead() -> Expr:
    """Fixed costs per step: per-layer kernel tails and launches, plus a per-step overhead."""
    return s.L * s.t_layer + s.t_o


def t_step(policy: str = "step", *, weights: Expr | None = None, mixed: bool = False,
           comm: bool = True) -> Expr:
    """Time of one decode step (= time per output token of every sequence in the batch).

    ``policy="step"``: one roofline for the whole step, ``max(compute, weights + KV)`` (the essay, Epoch).
    ``policy="per-op"``: the weight matmuls and attention each on their own roofline, then summed
    (the JAX scaling book); never faster than ``step``.
    ``weights`` replaces the dense weight bytes (an MoE passes the experts it touches);
    ``mixed`` adds the continuous-batching prefill tokens of :func:`prefill_tokens_per_step`.
    """
    if policy not in POLICIES:
        raise UnknownNameError("overlap policy", policy, POLICIES)
    wbytes = weight_bytes() if weights is None else weights
    prefill = prefill_tokens_per_step() if mixed else S.Zero
    mm, att = matmul_flops(prefill=prefill), attention_flops(prefill=prefill)
    kvb = kv_read_bytes()
    # evaluate=False: SymPy would otherwise search for provably-larger arguments (~25 ms per Max),
    # which never succeeds here and dominated the CLI's start-up
    if policy == "step":
        roof = Max(t_compute(mm + att), t_memory(wbytes) + t_kv(kvb), evaluate=False)
    else:
        roof = (Max(t_compute(mm), t_memory(wbytes), evaluate=False)
                + Max(t_compute(att), t_kv(kvb), evaluate=False))
    return roof + (t_comm(s.B + prefill) if comm else S.Zero) + t_overhead()


def step_parts(policy: str = "step", *, weights: Expr | None = None, mixed: bool = False) -> dict[str, Expr]:
    """The named parts of a step, for tables: compute, memory, comm, overhead, and the total."""
    wbytes = weight_bytes() if weights is None else weights
    prefill = prefill_tokens_per_step() if mixed else S.Zero
    return {
        "compute": t_compute(matmul_flops(prefill=prefill) + attention_flops(prefill=prefill)),
        "memory": t_memory(wbytes) + t_kv(kv_read_bytes()),
        "comm": t_comm(s.B + prefill),
        "overhead": t_overhead(),
        "step": t_step(policy, weights=weights, mixed=mixed),
    }


def ideal(expr: Expr) -> Expr:
    """The ideal analytic model: efficiencies 1, no fixed overheads."""
    return expr.subs({s.eta_F: 1, s.eta_W: 1, s.eta_kv: 1, s.t_o: 0, s.t_layer: 0})


IDEAL_VALUES = {"eta_flop": 1.0, "eta_bw": 1.0, "eta_kv": 1.0, "overhead_s": 0.0, "layer_overhead_s": 0.0}
ZERO = Integer(0)
