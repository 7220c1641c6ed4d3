"""The decision space of a deployment: hardware x precision x parallel shape (TP x PP x attention DP x EP)
options; batch and replicas are integers chosen by the solver.

A *platform* is one (hardware, precision) pair bound to symbol values; an *option* adds the parallel shape of
one replica (a *worker*, :mod:`.calibration.parallel`'s convention): ``tp`` tensor-parallel ranks in each of
``attention_dp`` attention data-parallel groups, the routed experts split ``ep`` ways, the layers split over
``pp`` pipeline stages: ``tp x attention_dp x pp`` chips per replica, ``replicas x`` that in the cluster.

Candidates: TP the powers of two up to the hardware's scale-up domain (or a user list), kept where the model's
heads split evenly (``tp`` divides the attention heads and divides or is a multiple of the KV heads: KV heads
are then replicated, as vLLM does). On platforms with the calibrated serving model (the only one that composes
pipeline stages and attention-DP/EP traffic, as ``validate`` does): PP in {1, 2, 4} (divisors of the layer
count); for an MoE, attention DP and EP powers of two up to the scale-up domain with ``tp x attention_dp``
inside it and EP dividing both ``tp x attention_dp`` and the expert count; an MoE whose weights fit in no domain
(DeepSeek-V3 at fp8 on H100 nodes: 671 GB, 592 GB usable) gets wide EP, as NVIDIA's DeepSeek-R1 H100 runs do:
workers up to :data:`WIDE_EP_CHIPS` chips (:func:`needs_wide_ep`; TP inside a domain, the all-to-alls over the
scale-out NICs). User lists (``--attention-dp 16 --ep 16``: wide workers on any MoE) replace the defaults and are
checked (a PP not dividing the layers, an EP above or not dividing the experts: refused). The closed-form step
model spreads bytes and FLOPs evenly over the replica's chips and has no PP or all-to-all builder: its options
keep PP 1, attention DP 1 and report ``ep`` as the largest degree dividing both ``tp`` and the expert count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inferonomics.symbolic.errors import InvalidInputError

if TYPE_CHECKING:  # a type only: importing serving_step here would load the calibration for closed-form runs
    from inferonomics.optimize.serving_step import ServingSpec
    from inferonomics.optimize.speculation import Speculation

#: the TP degrees tried when the user gives none: powers of two, capped by the scale-up domain
DEFAULT_MAX_TP = 64
#: the pipeline degrees tried when the user gives none (those dividing the layer count)
DEFAULT_PP = (1, 2, 4)
#: the widest default worker (tp x attention_dp chips) of an MoE whose weights fit in no scale-up domain (wide EP)
WIDE_EP_CHIPS = 64


@dataclass(frozen=True)
class PrecisionChoice:
    """Weight, KV-cache and activation (compute) precisions, by catalog name."""

    weights: str
    kv: str
    activations: str

    @property
    def label(self) -> str:
        if self.kv == self.weights and self.activations == self.weights:
            return self.weights
        return f"w={self.weights},kv={self.kv},a={self.activations}"


@dataclass(frozen=True)
class Platform:
    """One hardware at one precision, bound to SI symbol values (``values``), with its TP candidates."""

    hardware: str
    precision: PrecisionChoice
    values: Mapping[str, float]
    tps: tuple[int, ...]
    price_usd_per_chip_hour: float | None = None
    n_experts: int = 1
    display: str = ""
    #: the calibrated serving model of this platform (optimize.serving_step); None: the closed-form step model
    serving: ServingSpec | None = None
    #: pipeline degrees and attention-DP degrees tried (serving platforms only)
    pps: tuple[int, ...] = (1,)
    dps: tuple[int, ...] = (1,)
    #: EP degrees tried (each kept where it divides tp x attention_dp); None: gcd(tp, experts) alone
    eps: tuple[int, ...] | None = None
    #: default candidates only: the largest tp x attention_dp (the scale-up domain); None: no cap
    group_cap: int | None = None

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    def shapes(self) -> list[tuple[int, int, int, int]]:
        """Every (tp, attention_dp, ep, pp) of this platform."""
        out = []
        for t in self.tps:
            for d in self.dps:
                if d > 1 and self.group_cap is not None and t * d > self.group_cap:
                    continue
                eps = ((expert_parallel_degree(t * d, self.n_experts),) if self.eps is None
                       else tuple(e for e in self.eps if (t * d) % e == 0))
                out += [(t, d, e, p) for e in eps for p in self.pps]
        return out


@dataclass(frozen=True)
class Option:
    """A platform at one parallel shape: ``tp`` tensor-parallel ranks per attention group, ``attention_dp``
    groups, ``ep``-way expert parallelism and ``pp`` pipeline stages (``chips`` = tp x attention_dp x pp per
    replica)."""

    platform: Platform
    tp: int
    ep: int = 1
    pp: int = 1
    attention_dp: int = 1
    #: speculative decoding in effect (optimize.speculation.Speculation), None: plain decoding
    speculation: Speculation | None = None

    @property
    def chips(self) -> int:
        return self.tp * self.attention_dp * self.pp

    @property
    def plain(self) -> bool:
        """TP alone (no pipeline stages, no attention DP, no speculation)."""
        return self.pp == 1 and self.attention_dp == 1 and self.speculation is None

    @property
    def shape_label(self) -> str:
        return shape_words(self.tp, self.pp, self.attention_dp, self.ep, self.speculation)


def shape_words(tp: int, pp: int = 1, attention_dp: int = 1, ep: int = 1, speculation=None) -> str:
    """A replica's parallel shape in words, as every table and message prints it: ``TP 8``, ``TP 8 x PP 2``,
    ``TP 1 x attention DP 8 x EP 8 + speculation (G 3)``."""
    parts = [f"TP {tp}"] + [f"PP {pp}"] * (pp > 1) + [f"attention DP {attention_dp}"] * (attention_dp > 1) \
        + [f"EP {ep}"] * (ep > 1)
    return " x ".join(parts) + (f" + speculation (G {speculation.draft_tokens})" if speculation is not None else "")


@dataclass(frozen=True)
class DecisionSpace:
    """Everything the solver may choose from, plus the combinations left out and why."""

    model: str
    platforms: tuple[Platform, ...]
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def options(self) -> list[Option]:
        return [Option(p, t, e, pp, d) for p in self.platforms for t, d, e, pp in p.shapes()]


def expert_parallel_degree(tp: int, n_experts: int) -> int:
    """The EP degree reported for an option: experts spread over as many of the replica's chips as divide evenly."""
    return math.gcd(tp, n_experts) if n_experts > 1 else 1


def heads_allow(tp: int, n_heads: int | None, n_kv_heads: int | None) -> str | None:
    """None if ``tp`` splits the heads evenly, else the reason in words."""
    if n_heads is None:
        return None
    if n_heads % tp:
        return f"TP {tp} does not divide the model's {n_heads} attention heads"
    if n_kv_heads and n_kv_heads % tp and tp % n_kv_heads:
        return f"TP {tp} neither divides nor is a multiple of the model's {n_kv_heads} KV heads"
    return None


def powers_of_two(limit: int) -> tuple[int, ...]:
    out, t = [], 1
    while t <= limit:
        out.append(t)
        t *= 2
    return tuple(out)


def tp_candidates(domain: int | None, n_heads: int | None = None, n_kv_heads: int | None = None,
                  user: Sequence[int] | None = None, max_tp: int = DEFAULT_MAX_TP) -> tuple[int, ...]:
    """TP degrees for one hardware: the user's list (checked against the heads: a violation raises), else
    the powers of two up to the scale-up domain that split the heads. Degrees above the domain are dropped."""
    cap = min(domain or 1, max_tp) if user is None else (domain or 1)
    if user is not None:
        check_tp_list(user, n_heads, n_kv_heads)
        return tuple(sorted({t for t in user if t <= cap}))
    return tuple(t for t in powers_of_two(cap) if heads_allow(t, n_heads, n_kv_heads) is None)


def pp_candidates(n_layers: int | None, user: Sequence[int] | None = None) -> tuple[int, ...]:
    """Pipeline degrees: the user's list (each must divide the layers: else InvalidInputError), else those of
    {1, 2, 4} that divide the layer count."""
    if user is not None:
        check_degrees("--pp", user)
        for p in user:
            if n_layers and n_layers % p:
                raise InvalidInputError("--pp", f"divisors of the model's {n_layers} layers", p)
        return tuple(sorted(set(int(p) for p in user)))
    return tuple(p for p in DEFAULT_PP if not n_layers or n_layers % p == 0)


def ep_candidates(n_experts: int, domain: int | None, user: Sequence[int] | None = None) -> tuple[int, ...]:
    """EP degrees of an MoE: the user's list (each must divide the expert count: else InvalidInputError), else
    the powers of two up to the scale-up domain that divide it."""
    if user is not None:
        check_degrees("--ep", user)
        for e in user:
            if e > n_experts or n_experts % e:
                raise InvalidInputError("--ep", f"divisors of the model's {n_experts} experts", e)
        return tuple(sorted(set(int(e) for e in user)))
    return tuple(e for e in powers_of_two(domain or 1) if n_experts % e == 0)


def check_degrees(flag: str, user: Sequence[int]) -> None:
    if not user:
        raise InvalidInputError(flag, "a non-empty list of positive integers", list(user))
    for t in user:
        if int(t) != t or t < 1:
            raise InvalidInputError(flag, "positive integers", t)


def check_tp_list(user: Sequence[int], n_heads: int | None, n_kv_heads: int | None) -> None:
    """Raise InvalidInputError naming the first TP degree the model's heads do not allow."""
    if not user:
        raise InvalidInputError("--tp", "a non-empty list of positive integers", list(user))
    for t in user:
        if int(t) != t or t < 1:
            raise InvalidInputError("--tp", "positive integers", t)
        why = heads_allow(int(t), n_heads, n_kv_heads)
        if why is not None:
            raise InvalidInputError("--tp", f"degrees the model's heads split evenly: {why}", int(t))


def _calibrator(calibration: str | None, ideal: bool):
    """The calibration each catalog card gets: None for the ideal model; else a function of the card's name
    returning (calibration, a sentence saying which one and how it was carried over)."""
    if ideal:
        if calibration:
            raise InvalidInputError("--ideal", "not together with --calibration")
        return None
    from inferonomics.optimize.calibration import calibration_for

    calibration_for(_ANY_CARD, calibration)  # a bad file fails here, before any card is bound
    return lambda hw: calibration_for(hw, calibration)


_ANY_CARD = "h100-sxm"


def _apply(cal, values: dict, activation: str, backend: str) -> dict:
    """Calibrated values: the fitted matmul efficiency is taken at the compute (activation) precision."""
    try:
        return cal.apply(values, precision=activation, backend=backend)
    except TypeError:  # a calibration object without per-precision or per-backend fits
        try:
            return cal.apply(values, precision=activation)
        except TypeError:
            return cal.apply(values)


def _serving_spec(cal, model, hw_name: str, weights: str, activation: str, backend: str):
    """The calibrated serving model's spec for catalog ``model``, or (None, why not) where it does not apply."""
    from inferonomics.optimize.serving_step import make_spec, serving_precision

    arch = model.architecture
    if arch is None:
        return None, "the catalog has no architecture for the model"
    prec = serving_precision(weights, activation, model)
    if prec is None:
        return None, f"weights {weights} with {activation} compute have no calibrated serving model"
    try:
        return make_spec(arch, hw_name, prec, backend, cal), ""
    except Exception as exc:  # noqa: BLE001 - e.g. no datasheet figures for the card
        return None, f"no datasheet figures for the serving model ({exc})"


def _backend_excludes(backend: str, hw) -> str | None:
    from inferonomics.optimize.backends import why_not

    return why_not(backend, hw)


def build_space(model: str, hardware: Sequence[str], precisions: Sequence[str], *,
                kv_precisions: Sequence[str] | None = None, tp: Sequence[int] | None = None,
                prices: Mapping[str, float] | None = None, calibration: str | None = None,
                ideal: bool = False, max_tp: int = DEFAULT_MAX_TP, backend: str = "trtllm",
                serving: bool = True, pp: Sequence[int] | None = None, attention_dp: Sequence[int] | None = None,
                ep: Sequence[int] | None = None) -> DecisionSpace:
    """Bind every (hardware, weight precision, KV precision) of the catalog to symbol values.

    Calibrated (the default unless ``ideal``): each platform also carries the calibrated serving model of
    ``backend`` (trtllm, vllm, sglang; :mod:`optimize.serving_step`), and the solver takes TPOT and TTFT from
    it; platforms it cannot cover keep the closed-form step model (listed in ``notes``). ``serving=False``
    keeps the closed-form (calibrated) step model everywhere (the sweep's grid).

    Combinations the hardware cannot compute at (e.g. fp8 on an A100), and cards ``backend`` does not run on
    (optimize.backends; calibrated only, where the backend is in effect), are skipped and listed in
    ``skipped``. ``prices`` maps a hardware name (as given) to $/chip-hour. ``pp``, ``attention_dp`` and ``ep``:
    user lists of degrees replacing the default candidates (module docstring); PP, attention DP and EP degrees
    other than 1 need the calibrated serving model.
    """
    from inferonomics.symbolic import catalog

    if not hardware:
        raise InvalidInputError("--hardware", "at least one hardware name")
    if not precisions:
        raise InvalidInputError("--precision", "at least one precision name")
    m = catalog.model(model)
    arch = m.architecture
    n_heads = arch.n_heads if arch else None
    n_kv = arch.n_kv_heads if arch and arch.attention != "MLA" else None
    if tp is not None:
        check_tp_list(tp, n_heads, n_kv)
    pps, dps_user, eps_user = parallel_lists(arch, pp, attention_dp, ep, ideal or not serving)
    from inferonomics.optimize.serving_step import check_backend

    check_backend(backend)
    cal_for = _calibrator(calibration, ideal)
    used: dict[str, str] = {}  # card -> which calibration it got
    closed_form: list[str] = []
    prices = {catalog.hardware(k).name: v for k, v in (prices or {}).items()}
    platforms, skipped = [], []
    for hw_name in dict.fromkeys(hardware):
        hw = catalog.hardware(hw_name)
        if cal_for is not None and (why_not := _backend_excludes(backend, hw)):  # the backend is in effect
            skipped.append(f"{hw.name}: {why_not}")
            continue
        tps = tp_candidates(hw.scaleup_domain_size, n_heads, n_kv, tp, max_tp)
        for w in dict.fromkeys(precisions):
            for kv in dict.fromkeys(kv_precisions or [None]):  # type: ignore[list-item]
                wp = catalog.precision(w)
                kvp = catalog.precision(kv or m.kv_precision)
                act = catalog.default_activation_precision(wp, hw)
                try:
                    values = catalog.bind(m, hw, wp, kvp, act)
                except InvalidInputError as exc:
                    skipped.append(f"{hw.name} at {wp.name}: {exc}")
                    continue
                if "peak_flop_per_s" not in values:
                    skipped.append(f"{hw.name}: publishes no FLOP/s rate")
                    continue
                spec, cal = None, None
                if cal_for is not None:
                    cal, used[hw.name] = cal_for(hw.name)
                    values = _apply(cal, values, act, backend)
                    if serving:
                        spec, why = _serving_spec(cal, m, hw.name, wp.name, act, backend)
                        if spec is None:
                            closed_form.append(f"{hw.name} at {wp.name}: {why}")
                if not tps:
                    skipped.append(f"{hw.name}: no TP degree up to its scale-up domain "
                                   f"({hw.scaleup_domain_size or 1}) splits the model's heads")
                    continue
                price = prices.get(hw.name, values.get("price_usd_per_chip_hour"))
                wide = needs_wide_ep(values, hw.scaleup_domain_size)
                shapes = (_shapes(arch, hw.scaleup_domain_size, pps, dps_user, eps_user, wide) if spec is not None
                          else {})
                platforms.append(Platform(hw.name, PrecisionChoice(wp.name, kvp.name, act), dict(values), tps,
                                          price, int(values.get("n_experts", 1)), hw.display_name, spec,
                                          **shapes))
    notes = ([f"{hw}: {how}" for hw, how in used.items()] if cal_for is not None
             else ["ideal model (efficiencies 1, no fixed overheads)"])
    if cal_for is not None and serving:
        notes.append(f"TPOT and TTFT from the calibrated serving model (backend {backend}; as `validate` "
                     f"computes them)" + (f"; closed-form step model for {'; '.join(closed_form)}" if closed_form
                                          else ""))
    return DecisionSpace(m.name, tuple(platforms), tuple(skipped), tuple(notes))


def parallel_lists(arch, pp, attention_dp, ep, closed_form: bool):
    """The user's PP, attention-DP and EP lists checked against the model (None where not given; one element each
    from `evaluate` and `sweep`)."""
    n_layers = arch.n_layers if arch else None
    n_experts = (arch.n_experts or 1) if arch else 1
    given = {"--pp": pp, "--attention-dp": attention_dp, "--ep": ep}
    for flag, v in given.items():
        if v is not None:
            check_degrees(flag, v)
    if closed_form and any(v is not None and max(v) > 1 for v in given.values()):
        raise InvalidInputError(next(f for f, v in given.items() if v is not None and max(v) > 1),
                                "1 on the closed-form step model (--ideal): PP, attention DP and EP need the "
                                "calibrated serving model")
    for flag, v in (("--attention-dp", attention_dp), ("--ep", ep)):
        if v is not None and max(v) > 1 and n_experts <= 1:
            raise InvalidInputError(flag, "1 for a dense model (attention DP and EP split an MoE's experts)", max(v))
    pps = pp_candidates(n_layers, pp)
    eps = ep_candidates(n_experts, 1, ep) if ep is not None else None
    return pps, (tuple(sorted(set(int(d) for d in attention_dp))) if attention_dp is not None else None), eps


def needs_wide_ep(values: Mapping[str, float], domain: int | None) -> bool:
    """Whether a model's weights at its bound precision (``total_params x bytes_per_weight``) exceed one scale-up
    domain's HBM after optimize's default reserves (:class:`.constraints.MemoryReserve`)."""
    from inferonomics.optimize.constraints import MemoryReserve  # noqa: PLC0415

    weights = values.get("total_params", 0.0) * values.get("bytes_per_weight", 0.0)
    return weights > (domain or 1) * MemoryReserve().usable(values.get("hbm_capacity_bytes", math.inf))


def _shapes(arch, domain: int | None, pps, dps_user, eps_user, wide: bool = False) -> dict:
    """The Platform fields of a serving platform's parallel candidates (module docstring); ``wide``: an MoE
    whose weights fit in no domain, its workers up to :data:`WIDE_EP_CHIPS` chips."""
    n_experts = (arch.n_experts or 1) if arch else 1
    if n_experts <= 1:
        return {"pps": pps}
    cap = max(domain or 1, WIDE_EP_CHIPS) if wide else (domain or 1)
    dps = dps_user if dps_user is not None else powers_of_two(cap)
    eps = eps_user if eps_user is not None else ep_candidates(n_experts, cap)
    return {"pps": pps, "dps": dps, "eps": eps, "group_cap": None if dps_user is not None else cap}
