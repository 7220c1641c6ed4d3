r"""Prediction intervals: how far a calibrated prediction may be from the measurement, per kind of row.

An interval is read off the rows the fit saw: the :data:`LEVEL` central quantiles of
:math:`\log(\text{measured}/\text{predicted})` over the fit split of each kind, widened on both sides by
:math:`z\,\sigma_p`, the spread of the log prediction that the fitted parameters' own 1-sigma uncertainties
cause (propagated one parameter at a time, median over the rows). The held-out rows never enter it, so
``validate``'s coverage of the held-out rows is an honest check of the stated level.

A serving kind (:data:`SERVING_KINDS`) is a composite of kernels whose own errors the serving fit absorbed on
its few fit models; a model it never saw brings its kernels' errors along. Its interval is therefore the fit
rows' serving interval composed with the fit rows' interval of :data:`SERVING_KERNEL` (the GEMMs, most of a
step's time): same centre, the half-widths added in quadrature (:func:`composed`; independent errors).

A card predicted with another card's fit (:mod:`.shipped`) gets the spread measured for that kind of transfer
where one was measured (:data:`TRANSFER`), else its fit's own.
"""

from __future__ import annotations

import math

import numpy as np

#: nominal coverage of every interval
LEVEL = 0.8
#: standard normal quantile of (1 + LEVEL) / 2
Z = 1.2815515655446004

#: log(measured/predicted) quantiles at LEVEL of a kind predicted across architectures: the B200's held-out
#: kernel rows predicted with the H100 fit carried over by datasheet ratios (tests/benchmarks/bench_intervals.py
#: prints them). No Hopper sibling (H200) or Blackwell sibling (B300) has kernel rows here, so a sibling
#: transfer is ASSUMED to spread like this too: a conservative choice, since a sibling shares the kernels
TRANSFER: dict[str, tuple[float, float]] = {
    "gemm": (-0.287, 0.363), "decode_attention": (-0.274, 0.415), "collectives": (0.024, 0.539),
}


#: the kinds whose interval is composed with a kernel kind's (:func:`composed`), and that kernel kind
SERVING_KINDS = ("serving_tpot", "serving_ttft")
SERVING_KERNEL = "gemm"


def quantiles(log_ratio: np.ndarray) -> tuple[float, float]:
    """The central :data:`LEVEL` interval of ``log_ratio`` (log measured/predicted)."""
    lo, hi = np.quantile(log_ratio, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(lo), float(hi)


def widened(bounds: tuple[float, float], sigma_p: float) -> tuple[float, float]:
    """``bounds`` widened by the parameters' own spread :math:`z\\sigma_p` on each side."""
    return bounds[0] - Z * sigma_p, bounds[1] + Z * sigma_p


def composed(bounds: tuple[float, float], kernel: tuple[float, float]) -> tuple[float, float]:
    """``bounds`` about their centre, their half-width and ``kernel``'s added in quadrature: the interval of a
    composite whose own spread and its kernel's error are independent."""
    mid, half = (bounds[0] + bounds[1]) / 2, math.hypot((bounds[1] - bounds[0]) / 2, (kernel[1] - kernel[0]) / 2)
    return mid - half, mid + half


def apply(predicted, bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of a prediction (seconds; arrays broadcast) under log-ratio ``bounds``."""
    p = np.asarray(predicted, dtype=float)
    return p * math.exp(bounds[0]), p * math.exp(bounds[1])


def coverage(measured: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float | None:
    """Fraction of ``measured`` inside [lo, hi] (None without rows)."""
    ok = np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return None
    m = measured[ok]
    return float(np.mean((m >= lo[ok]) & (m <= hi[ok])))


def pessimistic_factor(bounds: tuple[float, float], confidence: float) -> float:
    """The factor a prediction is multiplied by so that the measurement stays below it with probability
    ``confidence``: exp of that quantile of log(measured/predicted), taken as normal with the 80% bounds'
    centre and spread (at 0.9 it is exp(hi) exactly)."""
    from statistics import NormalDist  # noqa: PLC0415

    mid, sd = (bounds[0] + bounds[1]) / 2, (bounds[1] - bounds[0]) / (2 * Z)
    return math.exp(mid + sd * NormalDist().inv_cdf(confidence))
