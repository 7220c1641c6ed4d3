"""The decision space of a deployment: hardware x precision x TP (x EP) options; batch and replicas are integers
chosen by the solver.

A *platform* is one (hardware, precision) pair bound to symbol values; an *option* adds the tensor-parallel
degree ``tp`` (= chips per replica) and, for an MoE, the expert-parallel degree ``ep``. The cluster is
``replicas x tp`` chips. TP candidates are the powers of two up to the hardware's scale-up domain (or a user
list), kept only where the model's heads split evenly: ``tp`` divides the attention heads and either divides
the KV heads or is a multiple of them (KV heads are then replicated, as vLLM does).

EP: the step model (symbolic/model.py) spreads bytes and FLOPs evenly over the replica's chips and has no
all-to-all builder, so EP does not change the step time here; ``ep`` is reported as the largest degree that
divides both ``tp`` and the expert count (experts spread over the replica's chips), 1 for a dense model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inferonomics.symbolic.errors import InvalidInputError

if TYPE_CHECKING:  # a type only: importing serving_step here would load the calibration for closed-form runs
    from inferonomics.optimize.serving_step import ServingSpec

#: the TP degrees tried when the user gives none: powers of two, capped by the scale-up domain
DEFAULT_MAX_TP = 64


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

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1


@dataclass(frozen=True)
class Option:
    """A platform at a tensor-parallel degree ``tp`` (chips per replica) and expert-parallel degree ``ep``."""

    platform: Platform
    tp: int
    ep: int = 1


@dataclass(frozen=True)
class DecisionSpace:
    """Everything the solver may choose from, plus the combinations left out and why."""

    model: str
    platforms: tuple[Platform, ...]
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def options(self) -> list[Option]:
        return [Option(p, t, expert_parallel_degree(t, p.n_experts)) for p in self.platforms for t in p.tps]


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


def _serving_spec(cal, arch, hw_name: str, weights: str, activation: str, backend: str):
    """The calibrated serving model's spec, or (None, why not) where it does not apply."""
    from inferonomics.optimize.serving_step import make_spec, serving_precision

    if arch is None:
        return None, "the catalog has no architecture for the model"
    prec = serving_precision(weights, activation)
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
                serving: bool = True) -> DecisionSpace:
    """Bind every (hardware, weight precision, KV precision) of the catalog to symbol values.

    Calibrated (the default unless ``ideal``): each platform also carries the calibrated serving model of
    ``backend`` (trtllm, vllm, sglang; :mod:`optimize.serving_step`), and the solver takes TPOT and TTFT from
    it; platforms it cannot cover keep the closed-form step model (listed in ``notes``). ``serving=False``
    keeps the closed-form (calibrated) step model everywhere (the sweep's grid).

    Combinations the hardware cannot compute at (e.g. fp8 on an A100), and cards ``backend`` does not run on
    (optimize.backends; calibrated only, where the backend is in effect), are skipped and listed in
    ``skipped``. ``prices`` maps a hardware name (as given) to $/chip-hour.
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
                        spec, why = _serving_spec(cal, arch, hw.name, wp.name, act, backend)
                        if spec is None:
                            closed_form.append(f"{hw.name} at {wp.name}: {why}")
                if not tps:
                    skipped.append(f"{hw.name}: no TP degree up to its scale-up domain "
                                   f"({hw.scaleup_domain_size or 1}) splits the model's heads")
                    continue
                price = prices.get(hw.name, values.get("price_usd_per_chip_hour"))
                platforms.append(Platform(hw.name, PrecisionChoice(wp.name, kvp.name, act), dict(values), tps,
                                          price, int(values.get("n_experts", 1)), hw.display_name, spec))
    notes = ([f"{hw}: {how}" for hw, how in used.items()] if cal_for is not None
             else ["ideal model (efficiencies 1, no fixed overheads)"])
    if cal_for is not None and serving:
        notes.append(f"TPOT and TTFT from the calibrated serving model (backend {backend}; as `validate` "
                     f"computes them)" + (f"; closed-form step model for {'; '.join(closed_form)}" if closed_form
                                          else ""))
    return DecisionSpace(m.name, tuple(platforms), tuple(skipped), tuple(notes))
