"""Brute-force oracle for the deployment optimizer: every parallel shape (TP x PP x attention DP x EP), integer batch
and replica count of a small instance.

Independent of the solver's closed forms: each point's step comes from symbolic.evaluate.evaluate_step,
TTFT and memory are written out here by hand, and the demand is met by counting replicas up from one.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from inferonomics.optimize import serving_step
from inferonomics.optimize.constraints import REL_TOL
from inferonomics.symbolic.evaluate import evaluate_step


def _le(x: float, limit: float) -> bool:
    return x <= limit * (1 + REL_TOL)


def moe_weights_text(mixed: bool) -> str:
    tokens = "batch*(1 + prompt_len/output_len)" if mixed else "batch"
    return ("(dense_params + n_experts*(1 - (1 - experts_per_token/n_experts)**(" + tokens + "))*expert_params)"
            "*bytes_per_weight")


@dataclass(frozen=True)
class OraclePoint:
    hardware: str
    precision: str
    tp: int
    batch: int
    replicas: int
    step_s: float
    price: float | None
    pp: int = 1
    dp: int = 1
    ep: int = 1
    #: disaggregated: the prefill pool's chips (replicas are the decode workers)
    prefill_chips: int = 0

    @property
    def per_replica(self) -> int:
        """Chips of one replica: tp ranks in each of dp attention groups, on each of pp stages."""
        return self.tp * self.dp * self.pp

    @property
    def tokens_per_s(self) -> float:
        return self.batch / self.step_s

    @property
    def usd_per_hour(self) -> float:
        return self.chips * self.price

    @property
    def usd_per_mtok(self) -> float:
        """Dollars of every chip (both pools) per million tokens of the whole fleet."""
        return self.chips * self.price * self.step_s / (3600 * self.replicas * self.batch) * 1e6

    @property
    def chips(self) -> int:
        return self.replicas * self.per_replica + self.prefill_chips

    @property
    def chip_hours_per_mtok(self) -> float:
        """Written out on its own (not usd_per_mtok at price 1), so the two cannot share a slip."""
        chip_hours_per_token = self.chips * (self.step_s / 3600) / (self.replicas * self.batch)
        return chip_hours_per_token * 1e6


def ttft(v: dict, tp: int, isl: float, moe: bool) -> float:
    g = lambda k, d=0.0: v.get(k, d)  # noqa: E731
    d_attn = g("d_attn", g("d_model"))
    flops = 2 * g("active_params", g("total_params")) * isl + 2 * g("n_layers") * d_attn * isl * isl
    compute = flops / (tp * g("eta_flop", 1.0) * g("peak_flop_per_s"))
    if moe:
        e, k = g("n_experts"), g("experts_per_token")
        wbytes = (g("dense_params") + e * (1 - (1 - k / e) ** isl) * g("expert_params")) * g("bytes_per_weight")
    else:
        wbytes = g("total_params") * g("bytes_per_weight")
    memory = wbytes / (tp * g("eta_bw", 1.0) * g("hbm_bandwidth_bytes_per_s"))
    beta = g("link_bandwidth_bytes_per_s", math.inf)
    ar = (2 * (tp - 1) * g("link_latency_s")
          + 2 * (tp - 1) / tp * isl * g("d_model") * g("bytes_per_activation", 2.0) / beta)
    comm = g("n_layers") * g("allreduces_per_layer", 2.0) * ar
    return max(compute, memory) + comm + g("n_layers") * g("layer_overhead_s") + g("overhead_s")


def step_of(problem, opt, batch: int) -> float:
    """TPOT at ``batch``: the calibrated serving model (the same evaluator as validate) where the platform has
    one, else symbolic.evaluate.evaluate_step, one batch at a time."""
    wl, v = problem.workload, dict(opt.platform.values)
    if opt.platform.serving is not None:
        return float(serving_step.tpot(opt.platform.serving, opt.tp, float(batch), wl.isl, wl.osl, ep=opt.ep,
                                       dp=opt.attention_dp, pp=opt.pp, mixed=wl.mixed, speculation=opt.speculation))
    point = dict(v, tp=opt.tp, batch=batch, context=wl.context, prompt_len=wl.isl, output_len=wl.osl)
    return evaluate_step(point, wl.policy, mixed=wl.mixed,
                         weights=moe_weights_text(wl.mixed) if opt.platform.is_moe else None).step_s


def evaluate_choice(problem, point) -> OraclePoint:
    """The solver's choice re-evaluated by the oracle's own evaluator (for a gap measured on one scale)."""
    if point.mode == "disagg":
        return _evaluate_disagg_choice(problem, point)
    opt = next(o for o in problem.options() if o.platform.hardware == point.hardware
               and o.platform.precision.label == point.precision and o.tp == point.tp and o.pp == point.pp
               and o.attention_dp == point.attention_dp and o.ep == point.ep and o.speculation == point.speculation)
    return OraclePoint(point.hardware, point.precision, point.tp, point.batch, point.replicas,
                       step_of(problem, opt, point.batch), opt.platform.price_usd_per_chip_hour, opt.pp,
                       opt.attention_dp, opt.ep)


def memory_per_chip(v: dict, tp: int, pp: int, dp: int, batch: int, context: float) -> float:
    """Weights and KV on one chip, written out: each of pp stages holds 1/pp of the layers; each of dp attention
    groups a copy of everything but the routed experts (n_experts x expert_params, split over all tp x dp
    chips) and the KV cache of its sequences (the busiest group: ceil(batch/dp)); a KV head is never split:
    past tp = n_kv_heads each chip stores whole (replicated) heads."""
    routed = v.get("n_experts", 0.0) * v.get("expert_params", 0.0) if dp > 1 else 0.0
    weights = ((v["total_params"] - routed) / tp + routed / (tp * dp)) * v["bytes_per_weight"]
    kv_split = min(tp, v.get("n_kv_heads", float("inf")))
    kv = -(-batch // dp) * context * v.get("kv_bytes_per_token", 0.0) / kv_split
    return (weights + kv) / pp


def feasible_points(problem) -> list[tuple[object, int, float]]:
    """Every (option, batch, step_s) meeting TTFT, TPOT and memory, over batch 1..max_batch."""
    wl, out = problem.workload, []
    for opt in problem.options():
        p = opt.platform
        v = dict(p.values)
        moe = p.is_moe
        served = p.serving is not None
        if not served and problem.ttft_slo_s is not None and not _le(ttft(v, opt.tp, wl.isl, moe),
                                                                     problem.ttft_slo_s):
            continue
        usable = problem.reserve.usable(v["hbm_capacity_bytes"])
        resident = (serving_step.resident_cap(p.serving, opt.tp, wl.isl, wl.osl, ep=opt.ep, dp=opt.attention_dp,
                                              pp=opt.pp) if served else float("inf"))
        for b in range(1, problem.max_batch + 1):
            if b > resident:
                break
            mem = memory_per_chip(v, opt.tp, opt.pp, opt.attention_dp, b, wl.context)
            if not _le(mem, usable):
                break
            step = step_of(problem, opt, b)
            if problem.tpot_slo_s is not None and not _le(step, problem.tpot_slo_s):
                continue
            if served and problem.ttft_slo_s is not None and not _le(
                    float(serving_step.ttft(p.serving, opt.tp, float(b), wl.isl, wl.osl, ep=opt.ep,
                                            dp=opt.attention_dp, pp=opt.pp)),
                    problem.ttft_slo_s):
                continue  # the serving model's TTFT grows with the running batch: checked per batch
            out.append((opt, b, step))
    return out


def homogeneous_optimum(problem, r_cap: int = 100_000) -> OraclePoint | None:
    """The best homogeneous fleet by the problem's objective (None if nothing is feasible), over aggregated and
    (``problem.mode`` disagg or auto) disaggregated deployments."""
    best, best_key = None, None
    if problem.mode != "agg":
        for pt in disagg_points(problem):
            key = objective_value(problem.objective, pt)
            if best_key is None or key < best_key:
                best, best_key = pt, key
        if problem.mode == "disagg":
            return best
    d = problem.demand.tokens_per_s if problem.demand is not None else None
    for opt, b, step in feasible_points(problem):
        p = opt.platform
        for r in range(1, r_cap + 1):
            if d is None or r * b / step >= d * (1 - REL_TOL):
                break
        else:
            continue
        pt = OraclePoint(p.hardware, p.precision.label, opt.tp, b, r, step, p.price_usd_per_chip_hour, opt.pp,
                         opt.attention_dp, opt.ep)
        if problem.budget_usd_per_hour is not None and not _le(pt.usd_per_hour, problem.budget_usd_per_hour):
            continue
        limit = (problem.max_chips or {}).get(p.hardware)
        if limit is not None and pt.chips > limit:
            continue
        key = objective_value(problem.objective, pt)
        if best_key is None or key < best_key:
            best, best_key = pt, key
    return best


def objective_value(name: str, pt: OraclePoint) -> float:
    """The number the oracle minimizes (maximized objectives negated)."""
    if name == "usd_per_hour":
        return pt.usd_per_hour
    if name == "usd_per_mtok":
        return pt.usd_per_mtok
    if name == "tokens_per_usd":
        return -1e6 / pt.usd_per_mtok
    if name == "chips":
        return pt.chips
    if name == "chip_hours_per_mtok":
        return pt.chip_hours_per_mtok
    if name == "tokens_per_chip_hour":
        return -pt.batch / (pt.per_replica * pt.step_s / 3600)
    raise ValueError(name)


def fleet_optimum(problem, r_cap: int = 6) -> float | None:
    """Cheapest $/h (objective chips: fewest chips) of any mix: per option one batch and 0..r_cap replicas
    (small instances only)."""
    d = problem.demand.tokens_per_s
    per_option: dict = {}
    opts_by_key: dict = {}
    for opt, b, step in feasible_points(problem):
        key = (opt.platform.hardware, opt.platform.precision.label, opt.tp, opt.pp, opt.attention_dp, opt.ep)
        opts_by_key[key] = opt
        per_option.setdefault(key, []).append((b, step))
    opts = [opts_by_key[k] for k in per_option]
    choices = [[(0, 0, 1.0)] + [(r, b, st) for b, st in per_option[k] for r in range(1, r_cap + 1)]
               for k in per_option]
    best = None
    for combo in itertools.product(*choices):
        tokens = sum(r * b / st for r, b, st in combo)
        if tokens < d * (1 - REL_TOL):
            continue
        per = [r * o.tp * o.pp * o.attention_dp for o, (r, _, _) in zip(opts, combo)]  # chips of each option
        cost = sum(n * (o.platform.price_usd_per_chip_hour if problem.objective == "usd_per_hour" else 1)
                   for o, n in zip(opts, per))
        usd = (cost if problem.objective == "usd_per_hour" else
               sum(n * (o.platform.price_usd_per_chip_hour or 0) for o, n in zip(opts, per)))
        chips: dict = {}
        for o, n in zip(opts, per):
            chips[o.platform.hardware] = chips.get(o.platform.hardware, 0) + n
        if any(chips.get(h, 0) > n for h, n in (problem.max_chips or {}).items()):
            continue
        if problem.budget_usd_per_hour is not None and not _le(usd, problem.budget_usd_per_hour):
            continue
        if best is None or cost < best:
            best = cost
    return best


# -- disaggregated deployments: every decode shape x prefill shape x batch, pools counted up ------------------


def _decode_step(problem, opt, b: int) -> float:
    wl = problem.workload
    return float(serving_step.tpot(opt.platform.serving, opt.tp, float(b), wl.isl, wl.osl, ep=opt.ep,
                                   dp=opt.attention_dp, pp=opt.pp, mixed=False, speculation=opt.speculation))


def _disagg_ttft(problem, pre, concurrency: float, n_p: int, tpot: float) -> float:
    from inferonomics.optimize.calibration.disagg import disagg_ttft_s

    wl, spec = problem.workload, pre.platform.serving
    shape = (pre.tp, pre.attention_dp, pre.ep, pre.tp * pre.attention_dp / pre.ep)
    return float(disagg_ttft_s(spec.arch, concurrency, wl.isl, wl.osl, shape, 1.0, float(n_p), tpot, spec.precision,
                               spec.backend, spec.env))


def prefill_pool(problem, pre, concurrency: float, tpot: float) -> tuple[int, float]:
    """The fewest prefill workers that keep up with the closed loop (``concurrency`` prompts per cycle of prefill +
    KV transfer + ``osl`` decode steps, at most ``n dp / t_p`` prompts per second: counted up from one), and the
    TTFT the serving model gives at that pool (its wait for the pool included)."""
    from inferonomics.optimize.calibration import disagg

    wl, spec = problem.workload, pre.platform.serving
    shape = (pre.tp, pre.attention_dp, pre.ep, pre.tp * pre.attention_dp / pre.ep)
    t_p = float(disagg.prefill_time(spec.arch, wl.isl, wl.osl, shape, 1.0, spec.precision, spec.backend, spec.env))
    kv = float(disagg.kv_transfer_time(spec.arch, wl.isl, spec.precision, pre.tp, spec.env))
    cycle = t_p + kv + wl.osl * tpot
    n = 1
    while concurrency / (n * 1.0 * pre.attention_dp / t_p) - cycle > 0:
        n += 1
    return n, _disagg_ttft(problem, pre, concurrency, n, tpot)


def disagg_points(problem, r_cap: int = 100_000) -> list[OraclePoint]:
    """Every disaggregated deployment meeting the SLOs, memory, budget and chip limits (decode workers counted up
    to the demand; one without a demand)."""
    wl, out = problem.workload, []
    d = problem.demand.tokens_per_s if problem.demand is not None else None
    opts = [o for o in problem.options() if o.platform.serving is not None]
    for dec in opts:
        p = dec.platform
        v = dict(p.values)
        usable = problem.reserve.usable(v["hbm_capacity_bytes"])
        pres = [o for o in opts if o.platform is p and o.pp == 1 and o.speculation is None
                and _le(memory_per_chip(v, o.tp, 1, o.attention_dp, o.attention_dp, wl.context), usable)]
        resident = serving_step.resident_cap(p.serving, dec.tp, wl.isl, wl.osl, ep=dec.ep, dp=dec.attention_dp,
                                             pp=dec.pp)
        for b in range(1, problem.max_batch + 1):
            if b > resident or not _le(memory_per_chip(v, dec.tp, dec.pp, dec.attention_dp, b, wl.context), usable):
                break
            tpot = _decode_step(problem, dec, b)
            if problem.tpot_slo_s is not None and not _le(tpot, problem.tpot_slo_s):
                continue
            n_d = next((r for r in range(1, r_cap + 1) if d is None or r * b / tpot >= d * (1 - REL_TOL)), None)
            if n_d is None:
                continue
            for pre in pres:
                n_p, ttft = prefill_pool(problem, pre, float(n_d * b), tpot)
                if problem.ttft_slo_s is not None and not _le(ttft, problem.ttft_slo_s):
                    continue
                pt = OraclePoint(p.hardware, p.precision.label, dec.tp, b, n_d, tpot, p.price_usd_per_chip_hour,
                                 dec.pp, dec.attention_dp, dec.ep, n_p * pre.tp * pre.attention_dp)
                if problem.budget_usd_per_hour is not None and not _le(pt.usd_per_hour, problem.budget_usd_per_hour):
                    continue
                limit = (problem.max_chips or {}).get(p.hardware)
                if limit is not None and pt.chips > limit:
                    continue
                out.append(pt)
    return out


def _evaluate_disagg_choice(problem, point) -> OraclePoint:
    f = dict(point.form)
    dec = next(o for o in problem.options() if o.platform.hardware == point.hardware
               and o.platform.precision.label == point.precision and o.tp == point.tp and o.pp == point.pp
               and o.attention_dp == point.attention_dp and o.ep == point.ep and o.speculation == point.speculation)
    tpot = _decode_step(problem, dec, point.batch)
    chips_p = f["prefill_workers"] * f["prefill_tp"] * f["prefill_attention_dp"]
    return OraclePoint(point.hardware, point.precision, point.tp, point.batch, point.replicas, tpot,
                       dec.platform.price_usd_per_chip_hour, dec.pp, dec.attention_dp, dec.ep, chips_p)
