"""The ideal limit of the serving model, symbolically: pooled (``per-op`` / ``step``), with efficiencies 1, fixed
costs 0 and collective latency 0, the serving step of a dense model IS ``model.t_step`` -- for tp = 1 and for
every tp in [2, n_kv_heads] (a symbol on that interval, not sample points), any batch >= 1 and context.

The two models count the weights differently in one place, stated here and checked by hand: ``t_step`` reads
and multiplies every stored parameter (N = total), the serving step only the parameters its GEMMs touch (the
input embedding is a gather of B rows; the norm vectors are fused into the kernels). So ``t_step`` is bound with
N = N_a = total - embedding - norms, the parameters of the layers' GEMMs and the LM head."""

from __future__ import annotations

import pytest
import sympy as sp

from inferonomics.symbolic import catalog, model
from inferonomics.symbolic import serving as SM
from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.catalog.binding import model_values

u = sp.Symbol("u", nonnegative=True)  # tp within its regime
beta = sp.Symbol("beta_b", nonnegative=True)  # batch = 1 + beta

#: the serving model's ideal values: efficiencies 1, fixed costs 0, collective latency 0
IDEAL = {s.eta_F: 1, s.eta_W: 1, s.eta_kv: 1, s.eta_link: 1, s.t_coll: 0, s.alpha: 0, s.t_seq: 0,
         s.t_o_trt: 0, SM.PEAKS["bf16"]: s.F, SM.dp: 1, SM.domain: sp.oo}


def _exact(v: float):
    return sp.Integer(int(v)) if float(v).is_integer() else sp.Rational(v)


def _gemm_params(a) -> int:
    """Parameters of the GEMMs one step runs, by hand from the architecture: per layer q, k, v, o and the gated
    MLP's three matrices, plus the LM head (untied)."""
    per_layer = (a.d_model * a.n_heads * a.head_dim + 2 * a.d_model * a.n_kv_heads * a.head_dim
                 + a.n_heads * a.head_dim * a.d_model + 3 * a.d_model * a.ffn_dim)
    return a.n_layers * per_layer + a.vocab * a.d_model


def _t_step(name: str, policy: str):
    a = catalog.model(name).architecture
    v = model_values(name, "bf16", "bf16")
    n = _gemm_params(a)
    # what t_step reads beyond the GEMMs: the input embedding table and the norm vectors (2 per layer + final)
    assert v["total_params"] - n == a.vocab * a.d_model + (2 * a.n_layers + 1) * a.d_model
    bind = {s.N: n, s.Na: n, s.L: a.n_layers, s.d: a.d_model, s.d_attn: _exact(v["d_attn"]),
            s.kv: _exact(v["kv_bytes_per_token"]), s.h_kv: _exact(v["n_kv_heads"]), s.b_w: 2, s.b_a: 2, s.n_ar: 2,
            s.alpha: 0}
    return a, model.ideal(model.t_step(policy)).xreplace(bind)


def _canon(expr):
    """Every Max/Min argument as one canonical rational function (so equal arguments compare equal)."""
    return expr.replace(lambda n: isinstance(n, (sp.Max, sp.Min)), lambda n: n.func(*map(sp.cancel, n.args)))


def _resolve(expr, t, lo, hi):
    """Decide every Max/Min and relation in ``t`` alone over t in [lo, hi] (symbolically: the solution set of the
    inequality contains the interval), so that the expression is the one branch valid there."""
    dom = sp.Interval(lo, hi)

    def holds(rel) -> bool:
        return dom.is_subset(sp.solveset(rel, t, sp.S.Reals))

    def minmax(node):
        for cand in node.args:
            others = [o for o in node.args if o != cand]
            if all(holds(cand >= o if isinstance(node, sp.Max) else cand <= o) for o in others):
                return cand
        return node

    def rel(node):
        return sp.true if holds(node) else (sp.false if dom.is_subset(sp.solveset(~node, t, sp.S.Reals)) else node)

    only_t = lambda n: n.free_symbols == {t}  # noqa: E731
    expr = expr.replace(lambda n: isinstance(n, (sp.Max, sp.Min)) and only_t(n), minmax)
    return expr.replace(lambda n: isinstance(n, sp.core.relational.Relational) and only_t(n), rel)


@pytest.mark.parametrize("policy", model.POLICIES)
@pytest.mark.parametrize("name", ["llama3.1-8b", "llama3.1-70b"])
def test_the_pooled_ideal_serving_step_is_t_step(name, policy):
    a, ideal = _t_step(name, policy)
    ops = SM.step_ops(a, "bf16", "trtllm", batch_=s.B, p=sp.S.Zero, context=s.ctx, tp=s.t)
    serving = SM.compose(ops, policy).xreplace(IDEAL)
    for t_value in (1, None):  # tp = 1, then tp on [2, n_kv_heads]
        diff = (_canon(serving) - _canon(ideal)).xreplace({s.B: 1 + beta})
        if t_value == 1:
            diff = diff.xreplace({s.t: 1})
        else:
            diff = _resolve(diff, s.t, 2, a.n_kv_heads)
        assert diff.free_symbols <= {beta, s.t, s.ctx, s.F, s.W, s.beta}
        assert sp.simplify(diff) == 0


def test_the_limit_sees_a_changed_term():
    """The check can fail: counting the LM head twice leaves a difference."""
    a, ideal = _t_step("llama3.1-8b", "step")
    ops = SM.step_ops(a, "bf16", "trtllm", batch_=s.B, p=sp.S.Zero, context=s.ctx, tp=s.t)
    head = [o for o in ops if o.part == "lm_head"]
    serving = SM.compose(ops + tuple(head), "step").xreplace(IDEAL)
    assert sp.simplify((_canon(serving) - _canon(ideal)).xreplace({s.B: 1 + beta, s.t: 1})) != 0
