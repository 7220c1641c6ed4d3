"""The exact solver: enumerate hardware x precision x TP, take each option's largest feasible batch in closed
form, size the replicas, and keep the cheapest.

Method. The decode step of a dense model is a maximum of functions affine in the batch ``B`` (the
roofline ``Max`` of symbolic.model plus communication and overhead), so the largest batch meeting a TPOT
SLO ``S`` is ``floor(min_j (S - a_j) / b_j)`` over the pieces ``a_j + b_j B``, which are read off the
SymPy builders once (:func:`affine_pieces`). The memory bound is affine in ``B`` too. An MoE's weight
read grows with the experts touched, ``E (1 - (1 - k/E)^T)``, which has no closed-form inverse: that piece
is solved with ``scipy.optimize.brentq``. Every floor is then checked on the integers (one step up, one
step down) with the full step function, so float rounding never costs or gains a batch.
Replicas: ``R = ceil(D / tokens_per_s(B_max))`` (tokens/s per replica rises with ``B``); the operating batch
is then the smallest ``B`` with which ``R`` replicas still meet the demand (same $/h, lower latency).

Calibrated platforms (``Platform.serving`` set, the default for catalog models on catalog hardware unless
``--ideal``) take TPOT and TTFT from the calibrated serving model (:mod:`optimize.serving_step`, the numbers
``validate`` checks). That step is not guaranteed monotone in ``B`` (nor is TTFT, which grows with the running
batch), so nothing is bisected: TPOT and TTFT are evaluated at every integer ``B`` in 1..cap (cap = the memory
bound and the batch cap) in one vectorised call per option (cached per option and workload), the feasible set
is read off exactly, ``B_max`` is its largest member, and the replicas and operating batch come from the
feasible batch of highest tokens/s and a scan of the feasible set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import sympy as sp

from inferonomics.symbolic import model as M
from inferonomics.symbolic import symbols as s
from inferonomics.symbolic.errors import InvalidInputError
from inferonomics.symbolic.evaluate import ARGS, bind_values

from inferonomics.optimize.constraints import (REL_TOL, Budget, ChipLimit, Demand, DemandCovered, MemoryFits,
                                               MemoryReserve, TpotSLO, TtftSLO, Workload)
from inferonomics.optimize.objectives import objective as get_objective
from inferonomics.optimize.result import DeploymentResult, Point, Status
from inferonomics.optimize.space import DecisionSpace, Option
from inferonomics.symbolic.numeric import compile_scalar
from inferonomics.symbolic.numpy_lambdify import lambdify_numpy

if TYPE_CHECKING:  # a type only: importing serving_step loads the calibration for closed-form runs too
    from inferonomics.optimize.serving_step import ServingSpec

_INDEX = {a.name: i for i, a in enumerate(ARGS)}
_B = _INDEX["batch"]


# -- symbolic pieces, compiled once ------------------------------------------------------------------


def experts_touched(tokens: sp.Expr) -> sp.Expr:
    """Expected distinct experts hit by ``tokens`` tokens routed top-k among E (symbolic.moe)."""
    from inferonomics.symbolic.moe import expected_experts_touched

    return expected_experts_touched(tokens, s.E, s.k_top)


def moe_weights(tokens: sp.Expr) -> sp.Expr:
    """Weight bytes read by a step of ``tokens`` tokens: the dense part plus each expert touched."""
    return (s.N_dense + experts_touched(tokens) * s.N_exp) * s.b_w


def step_tokens(mixed: bool) -> sp.Expr:
    return s.B + (M.prefill_tokens_per_step() if mixed else 0)


def affine_pieces(expr: sp.Expr) -> list[sp.Expr]:
    """Write ``expr`` (sums and Max of terms) as the list of pieces whose maximum it is."""
    if isinstance(expr, sp.Max):
        return [p for a in expr.args for p in affine_pieces(a)]
    if isinstance(expr, sp.Add):
        out = [sp.S.Zero]
        for term in expr.args:
            out = [o + p for o in out for p in affine_pieces(term)]
        return out
    if expr.has(sp.Max):
        raise ValueError(f"cannot split {expr} into pieces")
    return [expr]


@dataclass
class Compiled:
    """Scalar (math) callables over evaluate.ARGS for one (policy, mixed, moe)."""

    affine: Callable[..., list[float]]  # -> [a_0, b_0, a_1, b_1, ...]
    n_affine: int
    curved: list[Callable[..., float]]  # each -> value of a non-affine piece at the point (batch inside the vector)
    parts: Callable[..., list[float]]  # -> [compute, memory, comm, overhead, step, flops]
    ttft: Callable[..., float]
    parts_np: Callable[..., list[np.ndarray]]  # numpy version of parts, batch may be an array


@cache
def compile_step_model(policy: str, mixed: bool, moe: bool) -> Compiled:
    """The step model of (policy, mixed, moe) as scalar callables over ARGS: its affine pieces, its curved
    pieces, its parts and the TTFT; the parts also over NumPy arrays of batch."""
    weights = moe_weights(step_tokens(mixed)) if moe else None
    parts = M.step_parts(policy, weights=weights, mixed=mixed)
    prefill = M.prefill_tokens_per_step() if mixed else sp.S.Zero
    flops = M.matmul_flops(prefill=prefill) + M.attention_flops(prefill=prefill)
    affine, curved = [], []
    for p in affine_pieces(parts["step"]):
        if sp.diff(p, s.B, 2) == 0:
            affine += [p.subs(s.B, 0), sp.diff(p, s.B)]
        else:
            curved.append(compile_scalar(ARGS, p))
    exprs = [parts[k] for k in ("compute", "memory", "comm", "overhead", "step")] + [flops]
    return Compiled(
        affine=compile_scalar(ARGS, affine), n_affine=len(affine) // 2, curved=curved,
        parts=compile_scalar(ARGS, exprs), ttft=compile_scalar(ARGS, ttft_expr(moe)),
        parts_np=lambdify_numpy(ARGS, exprs),
    )


def ttft_expr(moe: bool) -> sp.Expr:
    r"""Prefill of one prompt of ``isl`` tokens on the replica: compute-bound roofline plus comm and overhead.

    :math:`\max(\frac{2 N_a n_{in} + 2 L d_{attn} n_{in}^2}{t \eta_F F}, \frac{N b_w}{t \eta_W W})
    + t_{comm}(n_{in}) + L t_\ell + t_o` (the weights are read once for the whole prompt).
    """
    zero = sp.S.Zero
    flops = M.matmul_flops(batch=zero, prefill=s.isl) + M.attention_flops(batch=zero, context=zero, prefill=s.isl)
    weights = moe_weights(s.isl) if moe else M.weight_bytes()
    return (sp.Max(M.t_compute(flops), M.t_memory(weights), evaluate=False)  # see model.t_step
            + M.t_comm(s.isl) + M.t_overhead())


# -- one option ----------------------------------------------------------------------------------------


@dataclass
class OptionEval:
    """An option with its bound values and the limits on its batch."""

    option: Option
    vec: list
    batch_max: int = 0
    limited_by: str = ""
    miss: tuple[float, str] | None = None  # (need/have ratio > 1, sentence) when infeasible
    ttft_s: float = 0.0
    usable: float = 0.0
    # calibrated serving model only: TPOT and TTFT at batches 1..cap, the feasible batches (ascending)
    tpot: np.ndarray | None = None
    ttft: np.ndarray | None = None
    feasible: np.ndarray | None = None
    best_batch: int = 0  # the feasible batch of highest tokens/s per replica (B_max for the closed form)

    @property
    def serving(self) -> ServingSpec | None:
        return self.option.platform.serving

    @property
    def curves(self) -> ServingCurves | None:
        """The serving model's curves (set together by _evaluate_serving); None on the closed-form model."""
        spec = self.option.platform.serving
        if spec is None or self.tpot is None or self.ttft is None or self.feasible is None:
            return None
        return ServingCurves(spec, self.tpot, self.ttft, self.feasible)


class ServingCurves(NamedTuple):
    """An option's calibrated serving model and its TPOT, TTFT (batches 1..cap) and feasible batches."""

    spec: ServingSpec
    tpot: np.ndarray
    ttft: np.ndarray
    feasible: np.ndarray


def option_vector(option: Option, workload: Workload) -> list:
    values = dict(option.platform.values)
    values.update(tp=float(option.tp), prompt_len=workload.isl, output_len=workload.osl,
                  context=workload.context, batch=1.0)
    v = bind_values(values)
    v.setdefault("active_params", v["total_params"])
    return [v.get(a.name, 1.0) for a in ARGS]


def step_at(c: Compiled, vec: list, batch: float) -> float:
    vec[_B] = float(batch)
    return c.parts(*vec)[4]


def kv_chips(vec: list) -> float:
    """Chips the KV cache is split over, min(t, h_kv): replicated KV heads take memory on every chip holding
    them, as they cost reads (symbolic.model.kv_chips)."""
    return min(vec[_INDEX["tp"]], vec[_INDEX["n_kv_heads"]])


def memory_per_chip(vec: list, batch: float, workload: Workload) -> float:
    g = vec.__getitem__
    return (g(_INDEX["total_params"]) * g(_INDEX["bytes_per_weight"]) / g(_INDEX["tp"])
            + batch * workload.context * g(_INDEX["kv_bytes_per_token"]) / kv_chips(vec))


@dataclass(frozen=True)
class Problem:
    """A deployment question. Times in seconds; ``max_chips`` maps hardware name -> chips available."""

    space: DecisionSpace
    workload: Workload = Workload()
    tpot_slo_s: float | None = None
    ttft_slo_s: float | None = None
    demand: Demand | None = None
    objective: str = "usd_per_hour"
    budget_usd_per_hour: float | None = None
    max_chips: Mapping[str, int] | None = None
    reserve: MemoryReserve = MemoryReserve()
    max_batch: int = 4096
    fleet: str = "auto"  # homogeneous | mixed | auto (mixed when chip limits are given)
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("tpot_slo_s", "ttft_slo_s", "budget_usd_per_hour"):
            x = getattr(self, name)
            if x is not None and not (math.isfinite(x) and x > 0):
                raise InvalidInputError(name, "a finite number > 0", x)
        if self.max_batch < 1:
            raise InvalidInputError("max_batch", "an integer >= 1", self.max_batch)
        if self.fleet not in ("auto", "homogeneous", "mixed"):
            raise InvalidInputError("fleet", "auto, homogeneous or mixed", self.fleet)
        if not self.space.platforms:
            raise InvalidInputError("hardware", "at least one (hardware, precision) the model can run on"
                                    + (f" ({'; '.join(self.space.skipped)})" if self.space.skipped else ""))

    @property
    def mixed_fleet(self) -> bool:
        return self.fleet == "mixed" or (self.fleet == "auto" and bool(self.max_chips))

    def constraints(self) -> list:
        out: list = [MemoryFits(self.reserve)]
        if self.tpot_slo_s is not None:
            out.append(TpotSLO(self.tpot_slo_s))
        if self.ttft_slo_s is not None:
            out.append(TtftSLO(self.ttft_slo_s))
        if self.demand is not None:
            out.append(DemandCovered(self.demand))
        if self.budget_usd_per_hour is not None:
            out.append(Budget(self.budget_usd_per_hour))
        out += [ChipLimit(h, n) for h, n in (self.max_chips or {}).items()]
        return out


def _le(x: float, limit: float) -> bool:
    return x <= limit * (1 + REL_TOL)


def covers(tokens_per_s: float, demand: float) -> bool:
    """Demand coverage with the shared tolerance (so the solver and the oracle decide ties alike)."""
    return tokens_per_s >= demand * (1 - REL_TOL)


def _tpot_bound(c: Compiled, vec: list, slo: float, cap: int) -> float:
    """Largest real B <= cap with every piece <= slo (the pieces are non-decreasing in B)."""
    coef = c.affine(*vec)
    bound = float(cap)
    for j in range(c.n_affine):
        a, b = coef[2 * j], coef[2 * j + 1]
        if b > 0:
            bound = min(bound, (slo - a) / b)
        elif a > slo:
            bound = -1.0
    for piece in c.curved:
        bound = min(bound, _curved_root(piece, vec, slo, bound))
    return bound


def _curved_root(piece, vec: list, slo: float, hi: float) -> float:
    from scipy.optimize import brentq

    def f(b: float) -> float:
        vec[_B] = b
        return piece(*vec) - slo

    if hi < 1 or f(hi) <= 0:
        return hi
    if f(1.0) > 0:
        return 0.0
    return brentq(f, 1.0, hi, xtol=1e-6)


def evaluate_options(problem: Problem, options: list[Option] | None = None) -> list[OptionEval]:
    """:func:`evaluate_option` for every option; the calibrated serving model's curves of all of a platform's
    TP degrees are computed first in one vectorised call per platform (the same numbers, fewer calls)."""
    from inferonomics.optimize.serving_step import prefetch

    options = problem.space.options() if options is None else options
    wl = problem.workload
    groups: dict = {}
    for o in options:
        if o.platform.serving is None:
            continue
        ev = OptionEval(o, option_vector(o, wl))
        ev.usable = _usable(o, ev.vec, problem)
        if memory_per_chip(ev.vec, 0.0, wl) < ev.usable:
            groups.setdefault(o.platform.serving, []).append((o.tp, o.ep, max(_memory_cap(ev, problem)[0], 1)))
    for spec, items in groups.items():
        prefetch(spec, items, wl.isl, wl.osl, wl.mixed)
    return [evaluate_option(o, problem) for o in options]


def _usable(option: Option, vec: list, problem: Problem) -> float:
    return problem.reserve.usable(vec[_INDEX["hbm_capacity_bytes"]]) if option.platform.values.get(
        "hbm_capacity_bytes") else math.inf


def evaluate_option(option: Option, problem: Problem) -> OptionEval:
    """Bind one option, check TTFT and weights-in-memory, and find its largest feasible integer batch."""
    wl = problem.workload
    c = compile_step_model(wl.policy, wl.mixed, option.platform.is_moe)
    vec = option_vector(option, wl)
    ev = OptionEval(option, vec)
    ev.usable = _usable(option, vec, problem)
    where = _where(option)
    w_chip = memory_per_chip(vec, 0.0, wl)
    if option.platform.serving is not None and w_chip < ev.usable:
        return _evaluate_serving(ev, option.platform.serving, problem, where)
    ev.ttft_s = c.ttft(*vec)
    if not w_chip < ev.usable:
        t, hbm = option.tp, vec[_INDEX["hbm_capacity_bytes"]]
        ev.miss = (w_chip / max(ev.usable, 1e-300), f"{problem.space.model} at {option.platform.precision.weights} "
                   f"needs {w_chip * t / 1e9:.0f} GB of weights; {t} x {option.platform.hardware} hold "
                   f"{t * hbm / 1e9:.0f} GB ({t * ev.usable / 1e9:.0f} GB usable after reserves)")
        return ev
    if problem.ttft_slo_s is not None and not _le(ev.ttft_s, problem.ttft_slo_s):
        ev.miss = (ev.ttft_s / problem.ttft_slo_s, f"prefill of {wl.isl:g} tokens takes {ev.ttft_s * 1e3:.4g} ms "
                   f"on {where}; the TTFT SLO is {problem.ttft_slo_s * 1e3:g} ms")
        return ev
    kv_chip = wl.context * vec[_INDEX["kv_bytes_per_token"]] / kv_chips(vec)
    b_mem = (ev.usable - w_chip) / kv_chip if kv_chip > 0 else math.inf
    bounds = {"max_batch": float(problem.max_batch), "memory": b_mem}
    if problem.tpot_slo_s is not None:
        bounds["tpot"] = _tpot_bound(c, vec, problem.tpot_slo_s, problem.max_batch)
    limited_by = min(bounds, key=bounds.__getitem__)
    b = int(math.floor(min(min(bounds.values()), problem.max_batch)))

    def ok(x: int) -> bool:
        if x > problem.max_batch or not _le(memory_per_chip(vec, x, wl), ev.usable):
            return False
        return problem.tpot_slo_s is None or _le(step_at(c, vec, x), problem.tpot_slo_s)

    b = max(b, 0)
    while b >= 1 and not ok(b):
        b -= 1
    while ok(b + 1):
        b += 1
    ev.batch_max, ev.limited_by, ev.best_batch = b, limited_by, b
    if b < 1:
        step1 = step_at(c, vec, 1)
        slo = problem.tpot_slo_s or math.inf
        ev.miss = (step1 / slo, f"batch 1 takes {step1 * 1e3:.4g} ms per token on {where}; "
                   f"the TPOT SLO is {slo * 1e3:g} ms")
    return ev


def _memory_cap(ev: OptionEval, problem: Problem) -> tuple[int, str]:
    """Largest integer B <= max_batch whose weights + KV fit (checked on the integers), and which bound it is."""
    wl, vec = problem.workload, ev.vec
    kv_chip = wl.context * vec[_INDEX["kv_bytes_per_token"]] / kv_chips(vec)
    w_chip = memory_per_chip(vec, 0.0, wl)
    b_mem = (ev.usable - w_chip) / kv_chip if kv_chip > 0 else math.inf
    b = int(max(0, math.floor(min(b_mem, problem.max_batch))))

    def fits(x: int) -> bool:
        return x <= problem.max_batch and _le(memory_per_chip(vec, x, wl), ev.usable)

    while b >= 1 and not fits(b):
        b -= 1
    while fits(b + 1):
        b += 1
    by = "max_batch" if b >= problem.max_batch else "memory"
    spec = ev.option.platform.serving
    if spec is not None:  # the serving engine keeps only this many sequences resident; more would queue
        from inferonomics.optimize.serving_step import resident_cap

        resident = resident_cap(spec, ev.option.tp, wl.isl, wl.osl, ep=ev.option.ep)
        if resident < b:
            b, by = int(math.floor(resident)), "kv_residency"
    return b, by


def _evaluate_serving(ev: OptionEval, spec: ServingSpec, problem: Problem, where: str) -> OptionEval:
    """Every integer batch up to the memory/batch cap at once on the calibrated serving model."""
    from inferonomics.optimize.serving_step import curves

    o, wl = ev.option, problem.workload
    cap, cap_by = _memory_cap(ev, problem)
    tpot, ttft = curves(spec, o.tp, o.ep, wl.isl, wl.osl, wl.mixed, max(cap, 1))
    ev.tpot, ev.ttft, ev.ttft_s = tpot, ttft, float(ttft[0])
    ok = np.ones(tpot.size, dtype=bool) if cap >= 1 else np.zeros(tpot.size, dtype=bool)
    ok_tpot = ok_ttft = ok
    if problem.tpot_slo_s is not None:
        ok_tpot = tpot <= problem.tpot_slo_s * (1 + REL_TOL)
    if problem.ttft_slo_s is not None:
        ok_ttft = ttft <= problem.ttft_slo_s * (1 + REL_TOL)
    ok = ok & ok_tpot & ok_ttft
    idx = np.flatnonzero(ok)
    ev.feasible = idx + 1
    if idx.size == 0:
        ev.batch_max, ev.limited_by = 0, cap_by
        if cap >= 1 and not ok_ttft[0] and (slo := problem.ttft_slo_s) is not None:
            from inferonomics.optimize.calibration.serving import request_overhead_s

            fixed = request_overhead_s(spec.backend, spec.env)
            ev.miss = (ttft[0] / slo, f"the first token of a {wl.isl:g}-token prompt takes {ttft[0] * 1e3:.4g} ms on "
                       f"{where} ({fixed * 1e3:.4g} ms of it {spec.backend}'s fitted request overhead); the TTFT "
                       f"SLO is {slo * 1e3:g} ms")
        else:
            slo = problem.tpot_slo_s or math.inf
            ev.miss = (tpot[0] / slo, f"batch 1 takes {tpot[0] * 1e3:.4g} ms per token on {where}; "
                       f"the TPOT SLO is {slo * 1e3:g} ms")
        return ev
    b = int(idx[-1]) + 1
    ev.batch_max = b
    if b >= cap:
        ev.limited_by = cap_by
    else:
        ev.limited_by = "tpot" if not ok_tpot[b] else "ttft"  # index b is batch b + 1
    tps = ev.feasible / tpot[idx]
    ev.best_batch = int(ev.feasible[int(np.argmax(tps))])
    return ev


def _where(option: Option) -> str:
    p = option.platform
    return f"{option.tp} x {p.hardware} at {p.precision.label}"


def make_point(ev: OptionEval, problem: Problem, batch: int, replicas: int) -> Point:
    """The option at ``batch``. Calibrated serving platforms: step (TPOT) and TTFT from the serving model;
    utilization = useful FLOPs of the step (2 N_a tokens + attention, symbolic.model) / (t F step); the
    compute/memory/comm/overhead breakdown is the closed-form step model's (``breakdown_model`` says so)."""
    o = ev.option
    c = compile_step_model(problem.workload.policy, problem.workload.mixed, o.platform.is_moe)
    ev.vec[_B] = float(batch)
    compute, memory, comm, over, step, flops = c.parts(*ev.vec)
    ttft, step_model, breakdown = ev.ttft_s, CLOSED_FORM, CLOSED_FORM
    if (sv := ev.curves) is not None:
        step, ttft = float(sv.tpot[batch - 1]), float(sv.ttft[batch - 1])
        step_model, breakdown = sv.spec.label, CLOSED_FORM_BREAKDOWN
    peak = ev.vec[_INDEX["peak_flop_per_s"]]
    return Point(o.platform.hardware, o.platform.precision.label, o.tp, o.ep, batch, replicas, compute, memory,
                 comm, over, step, ttft, flops / (o.tp * peak * step),
                 memory_per_chip(ev.vec, batch, problem.workload), ev.usable, o.platform.price_usd_per_chip_hour,
                 ev.batch_max, step_model, breakdown)


CLOSED_FORM = "closed-form step model (symbolic.model)"
CLOSED_FORM_BREAKDOWN = ("closed-form step model's parts (symbolic.model, calibrated values), not the serving "
                         "model's; they need not add up to step_ms")


def replicas_for(ev: OptionEval, problem: Problem, tps_max: float) -> int:
    """Smallest R with R x tokens_per_s(B_max) >= D (1 without a demand)."""
    if problem.demand is None:
        return 1
    d = problem.demand.tokens_per_s
    # the smallest R with covers(R x tps_max, d), up to the rounding of one division; a few unit steps
    # settle that rounding (unbounded loops spun forever past 2**53, where R - 1 and R are one float)
    r = max(1, math.ceil(d * (1 - REL_TOL) / tps_max))
    for _ in range(4):
        if r > 1 and covers((r - 1) * tps_max, d):
            r -= 1
        elif not covers(r * tps_max, d):
            r += 1
        else:
            break
    return r


def smallest_batch(ev: OptionEval, problem: Problem, replicas: int) -> int:
    """Smallest B <= B_max at which ``replicas`` replicas still meet the demand (tokens/s rises with B)."""
    if problem.demand is None:
        return ev.best_batch
    d = problem.demand.tokens_per_s
    if (sv := ev.curves) is not None:  # the serving step need not be monotone: scan the feasible set
        b = sv.feasible
        hit = np.flatnonzero(replicas * b / sv.tpot[b - 1] >= d * (1 - REL_TOL))
        return int(b[hit[0]]) if hit.size else ev.best_batch
    c = compile_step_model(problem.workload.policy, problem.workload.mixed, ev.option.platform.is_moe)
    lo, hi = 1, ev.batch_max
    while lo < hi:
        mid = (lo + hi) // 2
        if covers(replicas * mid / step_at(c, ev.vec, mid), d):
            hi = mid
        else:
            lo = mid + 1
    return lo


def candidate_point(ev: OptionEval, problem: Problem) -> Point:
    """The option's best point for the objective: sized to the demand, at B_min ($/h) or B_max (per token)."""
    top = make_point(ev, problem, ev.best_batch, 1)
    r = replicas_for(ev, problem, top.tokens_per_s)
    if get_objective(problem.objective).needs_demand:  # $/h or chips for the demand: the smallest batch
        return make_point(ev, problem, smallest_batch(ev, problem, r), r)
    return replace(top, replicas=r)


def check_prices(problem: Problem, required: bool = True) -> bool:
    """Whether the problem is priced: a price for every hardware (True) or for none (False). Prices for some
    and not others are refused (a $ answer would silently ignore the unpriced cards), as is none at all
    when ``required``."""
    missing = sorted({p.hardware for p in problem.space.platforms if p.price_usd_per_chip_hour is None})
    if not missing:
        return True
    priced = sorted({p.hardware for p in problem.space.platforms} - set(missing))
    if priced or required:
        given = f"prices were given for {', '.join(priced)} but not for the rest; " if priced else ""
        raise InvalidInputError("--price-usd-per-hour", f"a price for every hardware or for none ({given}the "
                                f"catalog has none, no citable figure exists): add "
                                f"{' '.join(h + '=<$/chip-hour>' for h in missing)}")
    return False


def solve(problem: Problem) -> DeploymentResult:
    """The cheapest deployment under the problem's constraints; INFEASIBLE says which constraint and by how much."""
    t0 = time.perf_counter()
    obj = get_objective(problem.objective)
    check_prices(problem, required=obj.priced or problem.budget_usd_per_hour is not None)
    if obj.needs_demand and problem.demand is None:
        raise InvalidInputError("demand", f"a demand (--demand-tokens-per-s or --users) for objective {obj.name}")
    evals = evaluate_options(problem)
    feasible = [e for e in evals if e.batch_max >= 1]
    if problem.mixed_fleet:
        from inferonomics.optimize.fleet import solve_fleet

        res = solve_fleet(problem, feasible, evals)
    else:
        res = _homogeneous(problem, obj, feasible, evals)
    return replace(res, solve_ms=(time.perf_counter() - t0) * 1e3,
                   notes=tuple(problem.space.notes) + tuple(problem.notes) + tuple(
                       f"skipped {x}" for x in problem.space.skipped))


def _limits_miss(point: Point, problem: Problem) -> tuple[float, str] | None:
    cost = point.cost_usd_per_hour or 0.0
    if problem.budget_usd_per_hour is not None and not _le(cost, problem.budget_usd_per_hour):
        return cost / problem.budget_usd_per_hour, (
            f"{point.replicas} x {point.tp} x {point.hardware} at {point.precision} cost ${cost:.4g}/h; "
            f"the budget is ${problem.budget_usd_per_hour:g}/h")
    limit = (problem.max_chips or {}).get(point.hardware)
    if limit is not None and point.chips > limit:
        return point.chips / limit, (f"the demand needs {point.replicas} replicas = {point.chips} x "
                                     f"{point.hardware}; at most {limit} are available")
    return None


def _homogeneous(problem: Problem, obj, feasible: list[OptionEval], evals: list[OptionEval]) -> DeploymentResult:
    best, best_key, misses, limit_misses = None, None, [e.miss for e in evals if e.miss], []
    for ev in feasible:
        pt = candidate_point(ev, problem)
        miss = _limits_miss(pt, problem)
        if miss:
            limit_misses.append(miss)
            continue
        key = (obj.key(pt), pt.step_s, pt.chips, pt.hardware, pt.precision, pt.tp)
        if best_key is None or key < best_key:
            best, best_key = (ev, pt), key
    if best is None:
        # an option that met every SLO and fit in memory failed only on the budget or the chip limit: that is
        # what to relax, whatever the ratio of another option's SLO miss
        return infeasible(problem, limit_misses or misses)
    ev, pt = best
    return DeploymentResult(Status.OPTIMAL, obj.name, obj.value(pt), pt, (pt,), *explain(problem, ev, pt))


def infeasible(problem: Problem, misses: list) -> DeploymentResult:
    if not misses:
        return DeploymentResult(Status.INFEASIBLE, problem.objective, reason="no option to choose from")
    ratio, why = min(misses, key=lambda m: m[0])
    return DeploymentResult(Status.INFEASIBLE, problem.objective,
                            reason=f"{why} (closest miss of {len(misses)} options: {ratio:.3g}x over)")


def explain(problem: Problem, ev: OptionEval, pt: Point) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Binding constraints and every constraint's slack, in words."""
    binding = []
    cap = {"tpot": "the TPOT SLO", "ttft": "the TTFT SLO (TTFT grows with the running batch)",
           "memory": "HBM capacity", "max_batch": f"the batch cap {problem.max_batch}",
           "kv_residency": "the sequences whose KV cache the serving engine keeps resident"}
    binding.append(f"batch per replica at most {ev.batch_max}, set by {cap[ev.limited_by]}")
    if problem.demand is not None:
        binding.append(f"demand {problem.demand.tokens_per_s:.6g} tokens/s sets {pt.replicas} replica(s)"
                       + (f" at batch {pt.batch}" if pt.batch < ev.batch_max else ""))
    slack = tuple(f"{c.describe()}: slack {c.residual(pt):.4g} {c.unit}" for c in problem.constraints())
    return tuple(binding), slack


@dataclass(frozen=True)
class UserBase:
    """The smallest user base at which one replica of an option reaches a target utilization under the SLO."""

    status: Status
    users: float | None
    concurrency: int | None
    point: Point | None
    target_utilization: float
    minutes_per_day: float
    mean_to_trough: float
    reason: str = ""

    def as_json(self) -> dict:
        p = self.point.as_json() if self.point else {}
        return {"status": self.status.value, "min_user_base": self.users, "concurrency": self.concurrency,
                "target_utilization": self.target_utilization, "minutes_per_day": self.minutes_per_day,
                "mean_to_trough": self.mean_to_trough, "reason": self.reason,
                **{k: p.get(k) for k in ("hardware", "precision", "tp", "batch", "batch_max", "step_ms",
                                         "utilization", "tokens_per_s", "cost_usd_per_million_tokens")}}


def utilization_at(ev: OptionEval, problem: Problem, batch: int) -> float:
    return make_point(ev, problem, batch, 1).utilization


def users_at_utilization(problem: Problem, target: float, minutes_per_day: float, mean_to_trough: float = 1.0,
                         only: tuple[str, str, int] | None = None) -> UserBase:
    r"""Utilization rises with the batch (tokens per step over a step that grows at most affinely), so the
    smallest batch ``B_u`` reaching ``target`` is found by bisection on the integers up to ``B_max``; the user
    base is the closed form min_user_base, :math:`1440\,C\rho_{tr}/m` with ``C = B_u`` concurrent users on one
    replica even at the daily trough (``mean_to_trough`` = mean/trough concurrency). ``only`` = (hardware,
    precision label, tp) restricts the search to one option; otherwise the option needing the fewest users wins."""
    from inferonomics.symbolic.formulas import get_formula

    if not 0 < target <= 1:
        raise InvalidInputError("target_utilization", "a fraction in (0, 1]", target)
    if not 0 < minutes_per_day <= 1440:
        raise InvalidInputError("minutes_per_day", "a number in (0, 1440]", minutes_per_day)
    form = get_formula("min_user_base")
    best, closest = None, None
    opts = [o for o in problem.space.options()
            if only is None or (o.platform.hardware, o.platform.precision.label, o.tp) == only]
    for ev in evaluate_options(problem, opts):
        o = ev.option
        if ev.batch_max < 1:
            continue
        if (sv := ev.curves) is not None:  # calibrated serving model: utilization at every feasible batch at once
            util = _utilization_curve(ev, problem, sv.feasible, sv.tpot)
            i_top = int(np.argmax(util))
            top = float(util[i_top])
            if top < target:
                if closest is None or top > closest[0]:
                    closest = (top, f"{_where(o)} peaks at {top:.1%} utilization at batch {sv.feasible[i_top]} "
                                    f"(largest feasible {ev.batch_max}, set by {ev.limited_by}); the target is "
                                    f"{target:.0%}")
                continue
            lo = int(sv.feasible[np.flatnonzero(util >= target)[0]])
            if best is None or lo < best[0]:
                best = (lo, make_point(ev, problem, lo, 1))
            continue
        top = utilization_at(ev, problem, ev.batch_max)
        if top < target:
            if closest is None or top > closest[0]:
                closest = (top, f"{_where(o)} peaks at {top:.1%} utilization at batch {ev.batch_max} "
                                f"(set by {ev.limited_by}); the target is {target:.0%}")
            continue
        lo, hi = 1, ev.batch_max
        while lo < hi:
            mid = (lo + hi) // 2
            if utilization_at(ev, problem, mid) >= target:
                hi = mid
            else:
                lo = mid + 1
        if best is None or lo < best[0]:
            best = (lo, make_point(ev, problem, lo, 1))
    if best is None:
        why = closest[1] if closest else "no option meets the SLO and memory constraints at batch 1"
        return UserBase(Status.INFEASIBLE, None, None, None, target, minutes_per_day, mean_to_trough, why)
    b, pt = best
    users = form.evaluate({"concurrency": float(b), "minutes_per_day": minutes_per_day,
                           "mean_to_trough": mean_to_trough})
    return UserBase(Status.OPTIMAL, users, b, pt, target, minutes_per_day, mean_to_trough)


def _utilization_curve(ev: OptionEval, problem: Problem, batches: np.ndarray, tpot: np.ndarray) -> np.ndarray:
    """make_point's utilization at each of ``batches`` (vectorised; exact same formula), ``tpot`` the serving
    model's TPOT at batches 1..cap."""
    c = compile_step_model(problem.workload.policy, problem.workload.mixed, ev.option.platform.is_moe)
    vec = list(ev.vec)
    vec[_B] = batches.astype(float)
    flops = np.broadcast_to(c.parts_np(*vec)[5], batches.shape)
    step = tpot[batches - 1]
    return flops / (ev.option.tp * vec[_INDEX["peak_flop_per_s"]] * step)


def relaxed_tp_degree(values: Mapping[str, float], policy: str = "step") -> float:
    """The continuous relaxation of the TP choice: the real ``t >= 1`` minimizing the batch-1 step time
    (symbolic.model's t_step at B = 1), by ``scipy.optimize.minimize`` over log t. With the closed form's
    assumptions (memory-bound, no KV, latency-only all-reduce) it equals ``optimal_tp_degree``; the solver
    itself compares the integer neighbours on the full model."""
    import numpy as np
    from scipy.optimize import minimize

    v = bind_values(dict(values, batch=1.0, tp=1.0))
    v.setdefault("active_params", v["total_params"])
    fn = _batch1_step(policy)
    vec = [v.get(a.name, 1.0) for a in ARGS]
    it = _INDEX["tp"]

    def f(z: np.ndarray) -> float:
        vec[it] = float(np.exp(z[0]))
        return fn(*vec) / 1e-3  # milliseconds keep the gradient well scaled

    res = minimize(f, x0=np.array([math.log(8.0)]), bounds=[(0.0, math.log(1e5))], method="L-BFGS-B",
                   options={"ftol": 1e-15, "gtol": 1e-12})
    return float(np.exp(res.x[0]))


@cache
def _batch1_step(policy: str):
    return compile_scalar(ARGS, M.t_step(policy))
