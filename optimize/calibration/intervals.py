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

A kind whose error trends along a covariate every row has (:data:`TRENDS`: a collective's GPU count) gets an
interval that depends on it (:class:`Trend`): each fit row's log error is carried to the covariate value ``x`` along
the least-squares line of the fit rows of its configuration (the rows that share every other column), and the
interval at ``x`` is the :data:`LEVEL` quantiles of the carried errors (:func:`carried_quantiles`). At a fit row's
own ``x`` that is the fit rows' spread; between the fit values it is the spread that the trends leave there (the
2- and 8-GPU errors of one collective lie on either side of its 4-GPU error); beyond them it widens as the trends
part. It is used where the trends explain at least :data:`MIN_TREND_R2` of the fit rows' spread within their
configurations (:func:`slopes`), else the kind keeps one interval.

A card predicted with another card's fit (:mod:`.shipped`) gets the spread measured for that kind of transfer
where one was measured (:data:`TRANSFER`), else its fit's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: nominal coverage of every interval
LEVEL = 0.8
#: standard normal quantile of (1 + LEVEL) / 2
Z = 1.2815515655446004

#: log(measured/predicted) quantiles at LEVEL of a kind predicted across architectures: the B200's held-out
#: kernel rows predicted with the H100 fit carried over by datasheet ratios (tests/benchmarks/bench_intervals.py
#: prints them). No Hopper sibling (H200) or Blackwell sibling (B300) has kernel rows here, so a sibling
#: transfer is ASSUMED to spread like this too: a conservative choice, since a sibling shares the kernels
#: (gemm was (-0.261, 0.307) until the B200's block-scaled fp8 rows were predicted with DeepGEMM's SM100 tiles and
#: epilogue, the H100's fp8_block terms carried onto that kernel; (-0.152, 0.391) while the H100 fit's free FP4
#: exponent had drifted to 7.97 instead of keeping its start)
TRANSFER: dict[str, tuple[float, float]] = {
    "gemm": (-0.153, 0.288), "decode_attention": (-0.592, 0.427), "collectives": (0.024, 0.539),
}


#: the kinds whose interval is composed with a kernel kind's (:func:`composed`), and that kernel kind
SERVING_KINDS = ("serving_tpot", "serving_ttft")
SERVING_KERNEL = "gemm"


#: kind -> (the covariate a row's interval depends on, taken as log2; the columns that name a configuration, whose
#: fit rows share one trend along it)
TRENDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "collectives": ("num_gpus", ("op_name", "kernel_source", "dtype", "message_size")),
}
#: a trend is used where the configurations' lines explain at least this share of the fit rows' squared log
#: error about their configurations' means (half: the trend carries more of the spread than it leaves)
MIN_TREND_R2 = 0.5
#: the trend's knots are this far apart in log2 of the covariate, over the fit rows' range and as far again
#: beyond each end (2 to 8 GPUs: 0.5 to 32); outside them a row takes the end knot's bounds
KNOT_STEP = 0.5


@dataclass(frozen=True)
class Trend:
    """Bounds of log(measured/predicted) that depend on a row's ``column``: ``lo[i], hi[i]`` at
    ``log2(column) = at[i]``, linear in between, the end knots' outside."""

    column: str
    at: tuple[float, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]

    def bounds(self, values) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) arrays at the covariate ``values`` (NaN where a value is not positive and finite)."""
        x = np.log2(np.where(np.asarray(values, dtype=float) > 0, values, np.nan))
        return np.interp(x, self.at, self.lo), np.interp(x, self.at, self.hi)


def slopes(x: np.ndarray, log_ratio: np.ndarray, config: np.ndarray) -> tuple[np.ndarray, float]:
    """Per row, the least-squares slope of ``log_ratio`` on ``x`` over the rows of its ``config`` (0 where they
    have one ``x``), and the share of the rows' squared deviation from their configuration's mean that the lines
    explain (0 without any)."""
    _, g = np.unique(config, return_inverse=True)
    n = np.bincount(g).astype(float)
    xm, em = np.bincount(g, x) / n, np.bincount(g, log_ratio) / n
    dx, de = x - xm[g], log_ratio - em[g]
    sxx, sxe = np.bincount(g, dx * dx), np.bincount(g, dx * de)
    b = np.divide(sxe, sxx, out=np.zeros_like(sxx), where=sxx > 1e-12 * np.maximum(1.0, xm * xm))
    total = float(np.sum(de * de))
    return b[g], (float(np.sum((b[g] * dx) ** 2)) / total if total > 0 else 0.0)


def carried_quantiles(x: np.ndarray, log_ratio: np.ndarray, slope: np.ndarray, at: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """At each ``at``: the :func:`quantiles` of every row's ``log_ratio`` carried along its ``slope`` from its
    ``x`` there (``log_ratio + slope (at - x)``)."""
    bounds = [quantiles(log_ratio + slope * (a - x)) for a in at]
    return np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])


def covariates(kind: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """log2 of ``kind``'s covariate and each row's configuration name, for the rows of a structured array (None
    where the kind has no covariate)."""
    if kind not in TRENDS:
        return None
    column, names = TRENDS[kind]
    config = np.array(["|".join(str(rows[c][i]) for c in names) for i in range(len(rows))])
    return np.log2(rows[column].astype(float)), config


def trend_of(kind: str, x: np.ndarray, config: np.ndarray, log_ratio: np.ndarray, sigma_p: float) -> Trend | None:
    """The :class:`Trend` of ``kind``'s fit rows (their :func:`covariates` and log errors), widened by ``sigma_p``
    like :func:`widened`; None where its trends explain less than :data:`MIN_TREND_R2`."""
    b, r2 = slopes(x, log_ratio, config)
    if r2 < MIN_TREND_R2:
        return None
    lo_x, hi_x = 2 * x.min() - x.max(), 2 * x.max() - x.min()
    at = np.arange(np.floor(lo_x / KNOT_STEP), np.ceil(hi_x / KNOT_STEP) + 1) * KNOT_STEP
    lo, hi = carried_quantiles(x, log_ratio, b, at)
    return Trend(TRENDS[kind][0], tuple(float(a) for a in at), tuple(float(v) for v in lo - Z * sigma_p),
                 tuple(float(v) for v in hi + Z * sigma_p))


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


def apply_rows(predicted, rows: np.ndarray, bounds: tuple[float, float], trend: Trend | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of each row's prediction: under its ``trend``'s bounds at the row's covariate where there is one,
    else under ``bounds``."""
    if trend is None:
        return apply(predicted, bounds)
    lo, hi = trend.bounds(rows[trend.column])
    p = np.asarray(predicted, dtype=float)
    return p * np.exp(lo), p * np.exp(hi)


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
