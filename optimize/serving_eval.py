"""The calibrated serving model at one deployment, as `evaluate` reports it and `sweep` tabulates it: the
mean step (TPOT) and its named parts, TTFT, the resident batch and the per-chip memory under the serving
model's own KV rule.

Workload: ``isl``/``osl`` set the prompt work of in-flight batching (``B isl/osl`` prompt tokens per step
on average); ``context`` sets the decode attention's and the resident KV cache's context and defaults to
the serving model's average context ``isl + osl/2`` (a sequence's cache grows from ``isl`` to
``isl + osl`` while it decodes).

Memory (:func:`memory_per_chip`): the engine fills ``kv_memory_fraction`` (``phi``, 0.9) of the replica's
HBM with the weights and the KV cache; the rest holds activations and the engine's runtime. The resident
batch is the sequences whose KV fits there (:func:`inferonomics.optimize.calibration.serving.resident_batch`);
requests beyond it queue. A deployment fits when the weights and at least one sequence's KV do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: defaults of the workload lengths, as optimize's
DEFAULT_ISL = DEFAULT_OSL = 1024.0


def average_context(isl: float, osl: float) -> float:
    """The serving model's average context of a request: ``isl + osl/2``."""
    return isl + osl / 2


@dataclass(frozen=True)
class Memory:
    """Per-chip HBM bytes under the serving model's rule, and the KV capacity in sequences, of a worker of
    ``chips`` chips (``tp x attention_dp x pp``)."""

    weights: float  # the worker's stored weights, bytes
    kv_per_seq: float  # one sequence's KV on its attention group, bytes
    hbm: float
    phi: float
    chips: float
    resident: float

    @property
    def capacity_seqs(self) -> float:
        """Sequences whose KV fits beside the weights in ``phi`` of the worker's HBM (may be < 1)."""
        return (self.phi * self.hbm * self.chips - self.weights) / self.kv_per_seq if self.kv_per_seq else np.inf

    @property
    def fits(self) -> bool:
        return bool(self.capacity_seqs >= 1)

    def as_json(self) -> dict:
        parts = {"weights": self.weights / self.chips, "kv_cache": self.resident * self.kv_per_seq / self.chips,
                 "activations_and_runtime": (1 - self.phi) * self.hbm}
        gb = {k: v / 1e9 for k, v in parts.items()}
        return {"fits_in_memory": self.fits,
                "memory_per_chip_gb": {**gb, "total": sum(parts.values()) / 1e9, "hbm": self.hbm / 1e9},
                # none where the weights alone overflow (the shortfall is in memory_per_chip_gb, not a negative count)
                "kv_capacity_sequences": max(self.capacity_seqs, 0.0)}


def memory_per_chip(spec, tp: float, batch: float, isl: float, osl: float, context: float, *, dp: float = 1.0,
                    pp: float = 1.0) -> Memory:
    """The weights, the KV of the resident batch and the reserve on one chip of a worker of ``tp x dp x pp``
    chips (each attention-DP group its own copy of all but the routed experts; every stage ``1/pp`` of both)."""
    from inferonomics.optimize.calibration.serving import resident_memory  # noqa: PLC0415
    from inferonomics.optimize.serving_step import resident_cap  # noqa: PLC0415

    weights, kv_seq = resident_memory(spec.arch, isl, osl, float(tp), float(dp), spec.precision, spec.env, context)
    resident = min(batch, resident_cap(spec, tp, isl, osl, dp=dp, pp=pp, context=context))
    return Memory(float(weights), float(kv_seq), float(spec.env["hbm_capacity_bytes"]),
                  float(spec.env["kv_memory_fraction"]), float(tp * dp * pp), float(resident))


@dataclass(frozen=True)
class ServingPoint:
    """One deployment under the serving model (seconds; parts sum to ``step_s``)."""

    step_s: float
    parts_s: dict
    ttft_s: float
    resident_batch: float
    memory: Memory


def evaluate_serving(spec, tp: int, ep: int, batch: float, isl: float, osl: float,
                     context: float | None = None, *, dp: int = 1, pp: int = 1) -> ServingPoint:
    """TPOT (the mean in-flight step), its parts, TTFT and memory of ``spec`` on a worker of ``tp x dp x pp``
    chips (``dp`` attention-DP groups, ``ep``-way expert parallelism, ``pp`` pipeline stages) at one deployment,
    by the functions ``validate`` scores (:func:`inferonomics.optimize.serving_step.tpot`, ``ttft``)."""
    from inferonomics.optimize import serving_step as S  # noqa: PLC0415

    ctx = average_context(isl, osl) if context is None else context
    step = float(S.tpot(spec, tp, batch, isl, osl, ep=ep, dp=dp, pp=pp, context=ctx))
    parts = {k: float(v) for k, v in S.tpot(spec, tp, batch, isl, osl, ep=ep, dp=dp, pp=pp, context=ctx,
                                             parts=True).items()}
    ttft = float(S.ttft(spec, tp, batch, isl, osl, ep=ep, dp=dp, pp=pp, context=ctx))
    mem = memory_per_chip(spec, tp, batch, isl, osl, ctx, dp=dp, pp=pp)
    return ServingPoint(step, parts, ttft, mem.resident, mem)
