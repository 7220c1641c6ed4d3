"""The calibrated serving model as the optimizer (and other commands) use it: TPOT and TTFT of one replica.

These are the numbers ``inferonomics validate`` checks against NVIDIA's serving rows, computed by the same
compiled symbolic model (:mod:`inferonomics.symbolic.serving`) through the same functions
(:func:`~inferonomics.optimize.calibration.serving.serving_tpot_s` and
:func:`~inferonomics.optimize.calibration.serving.serving_ttft_s`; :func:`tpot` and :func:`ttft` only bind a
spec's model, precision, backend and ``env``): ``env`` is the card's datasheet figures
(:func:`~inferonomics.optimize.calibration.predict.hardware_env`) overlaid with the calibration's fitted
values, the step is :func:`inferonomics.symbolic.serving.step_ops` kernel by kernel, and under in-flight batching
the time per output token is :func:`inferonomics.symbolic.kernels.inflight_step_time` of a pure-decode step
(no prompt tokens) and a mixed step (``isl * max(1, B/osl)`` prompt tokens): ``t_dec + min(1, B/osl)
(t_mix - t_dec)``, both at the average context ``isl + osl/2``. TTFT is one step carrying the request's
whole prompt (context ``isl``) beside the running batch, plus the backend's ``request_overhead_<backend>_s``;
it grows with ``B``.

**Resident batch.** The serving model decodes at most the *resident* batch
(:func:`~inferonomics.optimize.calibration.serving.resident_batch`, :func:`resident_cap` here): the sequences
whose KV cache, at the average context ``isl + osl/2``, fits in ``kv_memory_fraction`` (0.9) of the
replica's HBM after the weights; at a larger ``batch`` (concurrency) the extra requests queue, and TPOT/TTFT
are those of the resident batch (NVIDIA's runs at concurrencies beyond the cap measure exactly that). The optimizer's
``batch`` means sequences decoding together, so the solver caps it at the tighter of its memory bound (weights/TP
plus KV at the *full* context ``isl + osl`` in HBM less 5 % and 2 GB) and :func:`resident_cap` (the bound is then
reported as ``kv_residency``): with the full context the memory bound is the tighter except where the weights
leave little room for KV (e.g. Qwen3-32B bf16 on one H100 at isl 1024, osl 512: 21 sequences by the memory bound,
19 resident), where a batch past the resident cap would count as throughput what the engine queues.

``batch`` (and ``tp``) may be NumPy arrays: one call evaluates every batch of an option.
Conventions (:mod:`.calibration.parallel`'s): a worker has ``tp x dp x pp`` chips (``dp`` attention-DP groups of
``tp`` ranks, ``pp`` pipeline stages, :mod:`.calibration.pipeline`); for an MoE the routed experts are split ``ep``
ways and each expert's FFN ``tp x dp / ep`` ways. Serving precisions: 16-bit weights -> ``bf16``; fp8 weights with fp8
compute -> ``fp8``, ``fp8_block`` for a checkpoint that block-scales them
(the serving model then reads the KV cache at 1 byte, as NVIDIA's fp8 rows do); 4-bit weights with 16-bit
compute -> ``w4a16`` (4.25 bits per weight); NVFP4/MXFP4 weights with FP4 compute -> ``fp4`` (the FP4 kernel class,
on cards with FP4 tensor cores). Other combinations have no calibrated serving model.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from inferonomics.symbolic.symbols import BACKEND_OVERHEADS

#: the serving backends the calibration has a fixed per-step overhead for
BACKENDS = tuple(BACKEND_OVERHEADS)
DEFAULT_BACKEND = "trtllm"

_SIXTEEN = {"bf16", "fp16", "f16", "float16", "bfloat16"}
_FOUR = {"int4", "fp4", "mxfp4", "nvfp4", "w4a16", "int4-awq", "int4-gptq"}
#: 4-bit formats with block scales that FP4 tensor cores compute on directly (both operands 4-bit)
_FP4_COMPUTE = {"fp4", "mxfp4", "nvfp4"}


def serving_precision(weights: str, activations: str, model=None) -> str | None:
    """The serving model's precision for catalog (weight, activation) precisions; None when it has none. With the
    catalog ``model``, its checkpoint's: ``fp8_block`` for a block-scaled fp8 checkpoint
    (:func:`.calibration.serving_model.checkpoint_precision`), so every command serves it alike."""
    w, a = weights.lower(), activations.lower()
    if w in _SIXTEEN and a in _SIXTEEN:
        return "bf16"
    if w.startswith("fp8") and a.startswith("fp8"):
        from inferonomics.optimize.calibration.serving_model import checkpoint_precision  # noqa: PLC0415

        return checkpoint_precision(model, "fp8")
    if w in _FOUR and a in _SIXTEEN:
        return "w4a16"
    if w in _FP4_COMPUTE and a in _FP4_COMPUTE:
        return "fp4"
    return None


@dataclass(frozen=True, eq=False)
class ServingSpec:
    """What the calibrated serving model needs for one (model, hardware, precision, backend): hashed by identity."""

    arch: object  # catalog Architecture
    precision: str  # serving precision: bf16 | fp8 | fp8_block (a block-scaled checkpoint's fp8) | w4a16 | fp4
    backend: str
    env: Mapping[str, float]
    hardware: str = ""

    @property
    def label(self) -> str:
        return f"calibrated serving model ({self.backend}, {self.precision})"


def check_backend(backend: str) -> str:
    from inferonomics.symbolic.errors import InvalidInputError  # noqa: PLC0415

    if backend not in BACKENDS:
        raise InvalidInputError("--backend", "one of " + ", ".join(BACKENDS), backend)
    return backend


def serving_env(hardware: str, calibration) -> dict[str, float]:
    """Datasheet figures of ``hardware`` overlaid with the calibration's values, as ``validate`` builds them.

    A calibration fitted on measured ceilings (``ceilings = "measured"``) needs the measurement directory's
    ceilings.csv, which is not at hand here: its efficiencies are then applied to the datasheet rates."""
    from inferonomics.optimize.calibration.predict import hardware_env  # noqa: PLC0415

    return {**hardware_env(hardware), **calibration.values}


_SPECS: dict = {}


def make_spec(arch, hardware: str, precision: str, backend: str, calibration) -> ServingSpec:
    """A (cached) :class:`ServingSpec`; the same inputs give the same object, so per-option caches hit."""
    values = calibration.values
    key = (id(arch), hardware, precision, backend, tuple(sorted(values.items())))
    spec = _SPECS.get(key)
    if spec is None or spec.arch is not arch:
        spec = ServingSpec(arch, precision, check_backend(backend), serving_env(hardware, calibration), hardware)
        _SPECS[key] = spec
    return spec


def _shape(tp, dp, ep) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The worker's parallel shape ``(tp, dp, ep, moe_tp)`` (:mod:`.calibration.parallel`: the routed experts split
    ``ep`` ways and each expert ``tp x dp / ep`` ways)."""
    tp = np.asarray(tp, dtype=float)
    dp = np.asarray(dp, dtype=float)
    ep = np.asarray(ep, dtype=float)
    return tp, dp, ep, tp * dp / ep


def _run(fn, spec: ServingSpec, tp, ep, dp, pp, batch, isl, osl, **kw):
    from inferonomics.optimize.calibration.pipeline import pipelined  # noqa: PLC0415

    return pipelined(fn, spec.arch, np.asarray(batch, dtype=float), isl, osl, _shape(tp, dp, ep), pp,
                     spec.precision, spec.backend, spec.env, **kw)


def tpot(spec: ServingSpec, tp, batch, isl: float, osl: float, *, ep=1, dp=1, pp=1, mixed: bool = True,
         context=None, parts: bool = False, speculation=None):
    """Seconds per output token (mean step) of a worker of ``tp x dp x pp`` chips (``dp`` attention-DP groups,
    ``ep``-way expert parallelism, ``pp`` pipeline stages) at ``batch`` sequences:
    :func:`inferonomics.optimize.calibration.serving.serving_tpot_s` through the pipeline composition
    :func:`inferonomics.optimize.calibration.pipeline.pipelined`, as ``validate`` computes them (``context``:
    decode attention and resident KV at that context instead of ``isl + osl/2``; ``parts``: the step's named
    parts, the pipeline's stage hand-offs in ``communication`` (one scalar ``pp``); ``speculation``: a
    :class:`~inferonomics.optimize.speculation.Speculation`, TPOT with it,
    :func:`~inferonomics.optimize.speculation.spec_tpot_s`)."""
    from inferonomics.optimize.calibration import serving  # noqa: PLC0415

    if speculation is not None:
        from functools import partial  # noqa: PLC0415

        from inferonomics.optimize.speculation import spec_tpot_s  # noqa: PLC0415

        fn = partial(spec_tpot_s, speculation=speculation)
        return _run(fn, spec, tp, ep, dp, pp, batch, isl, osl, mixed=mixed, context=context)
    if parts:
        from inferonomics.optimize.calibration.pipeline import pipelined_parts  # noqa: PLC0415

        if np.ndim(pp):
            raise ValueError("tpot(parts=True) takes one pipeline degree")
        return pipelined_parts(spec.arch, np.asarray(batch, dtype=float), isl, osl, _shape(tp, dp, ep), float(pp),
                               spec.precision, spec.backend, spec.env, mixed=mixed, context=context)
    return _run(serving.serving_tpot_s, spec, tp, ep, dp, pp, batch, isl, osl, mixed=mixed, context=context)


def ttft(spec: ServingSpec, tp, batch, isl: float, osl: float, *, ep=1, dp=1, pp=1, context=None) -> np.ndarray:
    """Seconds to the first token: the whole prompt in one step beside ``batch`` running sequences
    (:func:`inferonomics.optimize.calibration.serving.serving_ttft_s`, pipelined like :func:`tpot`)."""
    from inferonomics.optimize.calibration import serving  # noqa: PLC0415

    return _run(serving.serving_ttft_s, spec, tp, ep, dp, pp, batch, isl, osl, context=context)


def resident_cap(spec: ServingSpec, tp, isl: float, osl: float, *, ep=1, dp=1, pp=1, context=None):
    """The serving model's KV-capacity cap on the resident batch of a worker of ``tp x dp x pp`` chips
    (sequences; ``inf`` when the card's HBM capacity is unknown); an array over an array ``context``."""
    from inferonomics.optimize.calibration.pipeline import stage_env  # noqa: PLC0415
    from inferonomics.optimize.calibration.serving import resident_batch  # noqa: PLC0415

    key = (spec, tp, dp, pp, float(isl), float(osl)) if context is None and np.ndim(tp) == 0 else None
    if key is not None and (hit := _RESIDENT.get(key)) is not None:
        return hit
    raw = resident_batch(spec.arch, np.inf, isl, osl, float(tp), float(dp), spec.precision,
                         stage_env(spec.env, pp), context)
    out = float(raw) if np.ndim(raw) == 0 else raw
    if key is not None:
        if len(_RESIDENT) > 4096:
            _RESIDENT.clear()
        _RESIDENT[key] = out
    return out


#: per (spec, tp, dp, pp, isl, osl): the resident cap (the solver asks for each option's twice)
_RESIDENT: dict = {}


#: per (spec, tp, ep, dp, pp, isl, osl, mixed, cap): (tpot, ttft) over batches 1..cap
_CURVES: OrderedDict = OrderedDict()
_CURVES_MAX = 4096


def _key(spec, tp, ep, dp, pp, isl, osl, mixed, cap, speculation=None):
    return (spec, tp, ep, dp, pp, float(isl), float(osl), bool(mixed), int(cap), speculation)


def curves(spec: ServingSpec, tp: int, ep: int, isl: float, osl: float, mixed: bool, cap: int, dp: int = 1,
           pp: int = 1, speculation=None) -> tuple[np.ndarray, np.ndarray]:
    """TPOT and TTFT at every batch 1..cap (read-only arrays, cached per option and workload; TTFT is the same
    with or without ``speculation``)."""
    key = _key(spec, tp, ep, dp, pp, isl, osl, mixed, cap, speculation)
    hit = _CURVES.get(key)
    if hit is not None:
        _CURVES.move_to_end(key)
        return hit
    b = np.arange(1, cap + 1, dtype=float)
    out = (np.broadcast_to(tpot(spec, tp, b, isl, osl, ep=ep, dp=dp, pp=pp, mixed=mixed, speculation=speculation),
                           b.shape),
           np.broadcast_to(ttft(spec, tp, b, isl, osl, ep=ep, dp=dp, pp=pp), b.shape))
    for a in out:
        a.flags.writeable = False
    _CURVES[key] = out
    if len(_CURVES) > _CURVES_MAX:
        _CURVES.popitem(last=False)
    return out


def prefetch(spec: ServingSpec, items, isl: float, osl: float, mixed: bool) -> None:
    """Fill the :func:`curves` cache for several ``(tp, ep, cap[, dp, pp, speculation])`` of one spec with a single
    vectorised call per curve, pipeline degree and speculation (the shape and batch as arrays): elementwise the
    same arithmetic as one option at a time."""
    full = [(tuple(it) + (1, 1, None))[:6] for it in items]
    todo = [it for it in dict.fromkeys(full)
            if _key(spec, it[0], it[1], it[3], it[4], isl, osl, mixed, it[2], it[5]) not in _CURVES]
    by_pp: dict = {}
    for it in todo:
        by_pp.setdefault((it[4], it[5]), []).append(it)
    for (pp, sp), group in by_pp.items():
        if len(group) < 2:
            continue
        b = np.concatenate([np.arange(1, it[2] + 1, dtype=float) for it in group])
        col = lambda j: np.concatenate([np.full(it[2], float(it[j])) for it in group])  # noqa: E731
        tp, ep, dp = col(0), col(1), col(3)
        t_all = np.broadcast_to(tpot(spec, tp, b, isl, osl, ep=ep, dp=dp, pp=pp, mixed=mixed, speculation=sp),
                                b.shape)
        f_all = np.broadcast_to(ttft(spec, tp, b, isl, osl, ep=ep, dp=dp, pp=pp), b.shape)
        start = 0
        for t, e, cap, d, _, _ in group:
            out = (np.array(t_all[start:start + cap]), np.array(f_all[start:start + cap]))
            start += cap
            for x in out:
                x.flags.writeable = False
            _CURVES[_key(spec, t, e, d, pp, isl, osl, mixed, cap, sp)] = out
    while len(_CURVES) > _CURVES_MAX:
        _CURVES.popitem(last=False)


# -- the public functions for other commands -----------------------------------------------------------


@lru_cache(maxsize=8)
def _shipped(path: str | None, hardware: str):
    from inferonomics.optimize.calibration import load_calibration  # noqa: PLC0415

    return load_calibration(path, hardware=hardware)


def spec_for(model, hardware: str, precision: str, backend: str = DEFAULT_BACKEND, calibration=None,
             activations: str | None = None) -> ServingSpec:
    """The spec of a catalog model (name or Model) on catalog hardware at a catalog weight precision.

    ``calibration``: None (the shipped one), a path, or a loaded Calibration. ``activations`` defaults to
    the catalog's compute precision for those weights on that hardware."""
    from inferonomics.symbolic import catalog  # noqa: PLC0415
    from inferonomics.symbolic.errors import InvalidInputError  # noqa: PLC0415

    m = catalog.model(model) if isinstance(model, str) else model
    if m.architecture is None:
        raise InvalidInputError("model", "a catalog model with an architecture (the serving model needs one)",
                                m.name)
    hw = catalog.hardware(hardware)
    if activations is None:
        activations = catalog.default_activation_precision(catalog.precision(precision), hw)
    prec = serving_precision(catalog.precision(precision).name, activations, m)
    if prec is None:
        raise InvalidInputError("precision", "bf16/fp16, fp8 (fp8 compute) or a 4-bit weight format with 16-bit "
                                "compute (the calibrated serving model's precisions)", precision)
    cal = (_shipped(calibration, hw.name) if calibration is None or isinstance(calibration, str)
           else calibration)
    return make_spec(m.architecture, hw.name, prec, backend, cal)


def calibrated_tpot_s(model, hardware: str, precision: str, tp, batch, isl: float, osl: float,
                      backend: str = DEFAULT_BACKEND, calibration=None, *, ep=1, mixed: bool = True):
    """Calibrated time per output token (s) under in-flight batching; float for scalar inputs, else an array."""
    out = tpot(spec_for(model, hardware, precision, backend, calibration), tp, batch, isl, osl, ep=ep, mixed=mixed)
    return float(out) if np.ndim(out) == 0 else out


def calibrated_ttft_s(model, hardware: str, precision: str, tp, batch, isl: float, osl: float,
                      backend: str = DEFAULT_BACKEND, calibration=None, *, ep=1):
    """Calibrated time to first token (s) beside ``batch`` running sequences; float or array like the inputs."""
    out = ttft(spec_for(model, hardware, precision, backend, calibration), tp, batch, isl, osl, ep=ep)
    return float(out) if np.ndim(out) == 0 else out
